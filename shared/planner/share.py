"""Planning a share (workspace -> registry) and settling it after its AzureML call. Pure.

Who calls it: shared.engine.propagation (plan) and shared.engine.apply (settle, lost claims).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain import Asset, AssetRef, Workspace
from shared.errors import Failure, Kind
from shared.ledger import held, transition
from shared.planner.verify import required_signature
from shared.planner.world import S, World, answer, audit_line, outbound_event
from shared.policy import (
    NameOwners,
    ShareDecision,
    decide_share,
)
from shared.provenance import Origin, origin_of, provenance_tags, registry_copy
from shared.records import (
    ASSET_SHARED,
    CONFLICT_TARGET_PREFIX,
    SHARE_TARGET,
    Action,
    LedgerEntry,
    Memo,
    Status,
)
from shared.steps import Record, Report, Settlement, Share, Step, WriteRow


@dataclass(frozen=True)
class ShareSnapshot:
    """What a share of `ref` from `origin` needs to have been observed."""

    origin: Workspace
    ref: AssetRef
    source: Asset | None  # the asset in its workspace, None if it is not there
    memo: Memo | None = None  # the origin's memo of `ref`: a refusal is audited once per world
    share_row: LedgerEntry | None = None  # the destination's share row
    conflict_row: LedgerEntry | None = None  # the destination's conflict row for this origin
    in_registry: Asset | None = None  # what the registry holds at the destination
    owners: NameOwners | None = None  # who owns the destination name (observed with the destination)
    registry_versions: tuple[str, ...] = ()  # the destination name's versions in the registry, newest first


def plan_share(s: ShareSnapshot, world: World, *, now: datetime, correlation_id: str, event_id: str) -> Step:
    """One step: ignore, refuse, share, stamp, settle as done, or record a conflict."""
    origin, ref, registry = s.origin, s.ref, world.registry
    if s.source is None:
        outcome = answer(
            Action.SHARE, ref, origin.name, Status.IGNORED, f"{ref} is not (or no longer) in {origin.name}"
        )
        return Record(outcome, audit_line(outcome, correlation_id=correlation_id, tenant=origin.tenant))
    copy_reason = registry_copy(s.source)
    if copy_reason:  # our own pushes echo back as workspace events: not news, not audited
        return Report(answer(Action.SHARE, ref, origin.name, Status.IGNORED, copy_reason))
    decision = decide_share(s.source, origin, registry, world.policy)
    refusal = _share_refusal(decision, s.owners, origin, ref)
    if refusal is not None or decision.destination is None or s.owners is None:
        outcome = answer(Action.SHARE, ref, origin.name, Status.REFUSED, refusal or decision.reason)
        if (
            s.memo is not None
            and s.memo.fingerprint == world.fingerprint
            and s.memo.outcome is Status.REFUSED
        ):
            return Report(outcome)  # audited once per world already
        memo = Memo(ref.key, world.fingerprint, "", Status.REFUSED)
        audit = audit_line(outcome, correlation_id=correlation_id, tenant=origin.tenant)
        return Record(outcome, audit, (origin.name, memo))
    destination, source, owners = decision.destination, s.source, s.owners
    tags = provenance_tags(source, origin, rule_id=decision.rule_id, correlation_id=correlation_id)
    planned = answer(Action.SHARE, destination, registry.name, Status.SUCCEEDED, decision.reason)

    def share(stamp_only: bool) -> Share:
        name = "stamp" if stamp_only else "share"
        return Share(
            planned,
            origin,
            source,
            registry,
            destination,
            tags,
            s.share_row,
            stamp_only,
            event_id,
            correlation_id,
            owners,
            name,
            require_signature=required_signature(world.policy, decision.rule_id),
        )

    busy = Report(
        answer(
            Action.SHARE,
            destination,
            registry.name,
            Status.SKIPPED,
            f"{destination} is being shared by another worker; it fans out when it is done",
        )
    )
    if s.in_registry is None:
        if held(s.share_row, now):
            return busy
        if s.share_row is not None and s.share_row.status in {S.SUCCEEDED, S.CONFLICT}:
            # The ledger says it was shared (or taken), the registry no longer holds it: deleted on
            # purpose, perhaps. Sharing it again would undo that; a person decides.
            reason = (
                f"the ledger says {destination} was {s.share_row.status.value} but the registry no longer "
                "holds it; not shared again"
            )
            return Report(answer(Action.SHARE, destination, registry.name, Status.SKIPPED, reason))
        return share(stamp_only=False)
    found = origin_of(s.in_registry.tags)
    if found == Origin(origin.name, ref.name, ref.version):
        done = answer(Action.SHARE, destination, registry.name, Status.DONE, "already in the registry")
        if s.share_row is not None and s.share_row.status in {S.SUCCEEDED, S.RUNNING}:
            return Report(done, "done")
        row = transition(
            s.share_row,
            S.SUCCEEDED,
            key=destination.key,
            target=SHARE_TARGET,
            now=now,
            message="already done",
            event_id=event_id,
            correlation_id=correlation_id,
            detail={"origin": origin.name},
        )
        return WriteRow(done, s.share_row, row, "done")
    if found is None and s.share_row is not None and s.share_row.status in {S.RUNNING, S.RETRYING}:
        return (
            busy if held(s.share_row, now) else share(stamp_only=True)
        )  # our share was cut short before its provenance was stamped
    holder = (
        f"{found.workspace}'s {found.name}:{found.version}" if found else "an asset RegSync did not share"
    )
    reason = (
        f"registry {destination.kind.value} {destination.name}:{destination.version} already holds {holder}; "
        f"registry versions are immutable, so {origin.name}'s {ref.name}:{ref.version} "
        "needs another version or a destination naming rule"
    )
    conflict = answer(Action.SHARE, destination, origin.name, Status.CONFLICT, reason)
    if s.conflict_row is not None:
        return Report(conflict, "conflict")
    row = transition(
        None,
        S.CONFLICT,
        key=destination.key,
        target=f"{CONFLICT_TARGET_PREFIX}{origin.name}",
        now=now,
        message=reason,
        event_id=event_id,
        correlation_id=correlation_id,
        detail={"origin": origin.name},
    )
    audit = audit_line(conflict, correlation_id=correlation_id, tenant=origin.tenant)
    return WriteRow(conflict, None, row, "conflict", audit=audit)


def plan_own_copy(
    ref: AssetRef, origin: Workspace, event_tags: Mapping[str, str], push_row: LedgerEntry | None
) -> Step | None:
    """An event about RegSync's own copy, told from what the event carries, without reading the asset:
    ModelRegistered's model tags name the registry source; a ResourceWriteSuccess (no tags) names an
    asset version whose push row into that workspace RegSync holds or finished. None: read and plan."""
    reason = registry_copy(Asset(ref=ref, tags=dict(event_tags)))
    if reason is None and push_row is not None and push_row.status in {S.RUNNING, S.SUCCEEDED}:
        reason = f"{ref} in {origin.name} was written by RegSync's push; copies are never shared back"
    return Report(answer(Action.SHARE, ref, origin.name, Status.IGNORED, reason)) if reason else None


def _share_refusal(
    decision: ShareDecision, owners: NameOwners | None, origin: Workspace, ref: AssetRef
) -> str | None:
    """Why a share is refused: the rules, or the destination name belongs to another tenant."""
    if not decision.allowed or decision.destination is None:
        return decision.reason
    if owners is None:  # not observed: never guess
        return f"who owns the destination name of {ref} was not observed"
    return owners.refusal(origin.tenant, f"{origin.name}'s {ref} is not published under it")


def lost_claim(step: Share, holder: str) -> str | None:
    """Why a share must not go ahead after apply claimed its destination name and `holder` owns it now
    (another tenant claimed the free name first); None if it may. A provider's claim stands above who
    was recorded first."""
    tenant = step.origin.tenant
    if step.owners.declared or holder == tenant:
        return None
    owners = replace(step.owners, tenants=frozenset({holder}), basis=f"first published by {holder}")
    return owners.refusal(tenant, f"{step.origin.name}'s {step.source.ref} is not published under it")


def settle_share(step: Share, claimed: LedgerEntry, failure: Failure | None, *, now: datetime) -> Settlement:
    """The share row after the AzureML call: succeeded, retrying, in conflict, or failed."""
    destination, registry = step.destination, step.registry.name
    if failure is None:
        reason = (
            f"shared {step.source.ref} from {step.origin.name} as {destination.name}:{destination.version}"
        )
        outcome = answer(Action.SHARE, destination, registry, Status.SUCCEEDED, reason)
        row = transition(
            claimed,
            S.SUCCEEDED,
            key=claimed.asset_key,
            target=claimed.target,
            now=now,
            message=f"shared from {step.origin.name}",
        )
        data = {
            **step.tags,
            "asset": destination.key,
            "target": registry,
            "correlation_id": step.correlation_id,
        }
        return Settlement(
            outcome,
            row,
            audit_line(outcome, correlation_id=step.correlation_id, tenant=step.origin.tenant),
            outbound_event(ASSET_SHARED, destination, data),
        )
    status = {
        Kind.TEMPORARY: S.RETRYING,
        Kind.UNEXPECTED: S.RETRYING,
        Kind.CONFLICT: S.CONFLICT,
        Kind.REFUSED: S.REFUSED,
    }.get(failure.kind, S.FAILED)
    outcome = answer(Action.SHARE, destination, registry, Status.of(status), failure.message)
    row = transition(
        claimed, status, key=claimed.asset_key, target=claimed.target, now=now, message=failure.message
    )
    audit = (
        None
        if status is S.RETRYING
        else audit_line(outcome, correlation_id=step.correlation_id, tenant=step.origin.tenant)
    )
    return Settlement(outcome, row, audit)
