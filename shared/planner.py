"""Desired state minus actual state -> the steps to take. Pure: no I/O, no Azure import.

Who calls it: the engine's use cases, after they observed what the plan needs into snapshots; also
`regsync explain`, which shows the very plan the engine would make. In the spirit of gitops-engine's
sync: the diff is a pure function returning values (shared.steps), apply is the engine's job, and
"already there with the same content" counts as done. How a claimed row settles after its AzureML call
is decided here too (`settle_share`, `settle_push`), so apply only carries the result out.

Ownership of registry names (docs/policy.md, "Who owns a registry name"): a share is planned only if
its origin's tenant owns the destination name (or nobody does yet, and apply's claim makes it the
owner: `lost_claim` judges that claim); a fan-out or a push delivers a version only if its provenance
tenant owns the name; a name published before ownership existed is adopted (a `Claim` step).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from shared.domain import Asset, AssetRef, LedgerStatus, Registry, Workspace
from shared.errors import Failure, Kind
from shared.ledger import abandoned, held, transition
from shared.policy import (
    Gate,
    NameOwners,
    Policy,
    PushDecision,
    ShareDecision,
    decide_share,
    decide_targets,
    provenance_tenant,
    version_wanted,
)
from shared.provenance import Origin, carried_tags, origin_of, provenance_tags, registry_copy
from shared.records import (
    ASSET_PUSHED,
    ASSET_SHARED,
    CONFLICT_TARGET_PREFIX,
    PUSH_FAILED,
    SHARE_TARGET,
    Action,
    AuditRecord,
    LedgerEntry,
    Memo,
    OutboundEvent,
    Outcome,
    PushMessage,
    Status,
    digest,
    push_target,
)
from shared.steps import Claim, Defer, Push, Record, Report, Settlement, Share, Step, WriteRow

S = LedgerStatus
# Part of every world's fingerprint: decisions made before ownership of names existed are judged again
# (once) under it, which is when the reconcile adopts the names published before.
DECISION_RULES = "names-owned"
MAX_AUTOMATIC_ROUNDS = 2  # the reconcile queues a failed push afresh once; after that a person decides


class Retry(StrEnum):
    """May a failed push be queued afresh?"""

    NEVER = "never"  # an event: the reconcile or a person decides
    AUTOMATIC = "automatic"  # the reconcile: while the row has had fewer than MAX_AUTOMATIC_ROUNDS
    ALWAYS = "always"  # a person asked (sync, pull)


@dataclass(frozen=True)
class World:
    """Inventory and policy for one operation, read once at its start."""

    registry: Registry
    policy: Policy
    workspaces: Mapping[str, Workspace]

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever a rule, a workspace or the registry changes: memos made under another world
        no longer hold (a new subscriber, a workspace moved to prod, a region added)."""
        parts = [DECISION_RULES, self.policy.fingerprint, self.registry.model_dump_json()]
        parts += [self.workspaces[name].model_dump_json() for name in sorted(self.workspaces)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _outcome(action: Action, ref: AssetRef | str, target: str, status: Status, reason: str) -> Outcome:
    return Outcome(action, str(ref), target, status, reason)


def _audit(
    outcome: Outcome, actor: str = "regsync", correlation_id: str = "", *, tenant: str | None = None
) -> AuditRecord:
    """The outcome's audit line, concerning `tenant` (the origin's or the target's; None: provider only)."""
    return AuditRecord(
        outcome.action,
        outcome.status,
        outcome.reason,
        subject=outcome.subject,
        target=outcome.target,
        actor=actor,
        correlation_id=correlation_id,
        tenants=(tenant,) if tenant else (),
    )


def _event(event_type: str, ref: AssetRef, data: Mapping[str, str]) -> OutboundEvent:
    return OutboundEvent(event_type=event_type, subject=str(ref), data=dict(data), id=uuid.uuid4().hex)


# --- share ----------------------------------------------------------------------------------------


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


def plan_share(s: ShareSnapshot, world: World, *, now: datetime, correlation_id: str, event_id: str) -> Step:
    """One step: ignore, refuse, share, stamp, settle as done, or record a conflict."""
    origin, ref, registry = s.origin, s.ref, world.registry
    if s.source is None:
        outcome = _outcome(
            Action.SHARE, ref, origin.name, Status.IGNORED, f"{ref} is not (or no longer) in {origin.name}"
        )
        return Record(outcome, _audit(outcome, correlation_id=correlation_id, tenant=origin.tenant))
    copy_reason = registry_copy(s.source)
    if copy_reason:  # our own pushes echo back as workspace events: not news, not audited
        return Report(_outcome(Action.SHARE, ref, origin.name, Status.IGNORED, copy_reason))
    decision = decide_share(s.source, origin, registry, world.policy)
    refusal = _share_refusal(decision, s.owners, origin, ref)
    if refusal is not None or decision.destination is None or s.owners is None:
        outcome = _outcome(Action.SHARE, ref, origin.name, Status.REFUSED, refusal or decision.reason)
        if (
            s.memo is not None
            and s.memo.fingerprint == world.fingerprint
            and s.memo.outcome is Status.REFUSED
        ):
            return Report(outcome)  # audited once per world already
        memo = Memo(ref.key, world.fingerprint, "", Status.REFUSED)
        audit = _audit(outcome, correlation_id=correlation_id, tenant=origin.tenant)
        return Record(outcome, audit, (origin.name, memo))
    destination, source, owners = decision.destination, s.source, s.owners
    tags = provenance_tags(source, origin, rule_id=decision.rule_id, correlation_id=correlation_id)
    planned = _outcome(Action.SHARE, destination, registry.name, Status.SUCCEEDED, decision.reason)

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
        )

    busy = Report(
        _outcome(
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
            return Report(_outcome(Action.SHARE, destination, registry.name, Status.SKIPPED, reason))
        return share(stamp_only=False)
    found = origin_of(s.in_registry.tags)
    if found == Origin(origin.name, ref.name, ref.version):
        done = _outcome(Action.SHARE, destination, registry.name, Status.DONE, "already in the registry")
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
    conflict = _outcome(Action.SHARE, destination, origin.name, Status.CONFLICT, reason)
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
    audit = _audit(conflict, correlation_id=correlation_id, tenant=origin.tenant)
    return WriteRow(conflict, None, row, "conflict", audit=audit)


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
        outcome = _outcome(Action.SHARE, destination, registry, Status.SUCCEEDED, reason)
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
            _audit(outcome, correlation_id=step.correlation_id, tenant=step.origin.tenant),
            _event(ASSET_SHARED, destination, data),
        )
    status = {
        Kind.TEMPORARY: S.RETRYING,
        Kind.UNEXPECTED: S.RETRYING,
        Kind.CONFLICT: S.CONFLICT,
        Kind.REFUSED: S.REFUSED,
    }.get(failure.kind, S.FAILED)
    outcome = _outcome(Action.SHARE, destination, registry, Status.of(status), failure.message)
    row = transition(
        claimed, status, key=claimed.asset_key, target=claimed.target, now=now, message=failure.message
    )
    audit = (
        None
        if status is S.RETRYING
        else _audit(outcome, correlation_id=step.correlation_id, tenant=step.origin.tenant)
    )
    return Settlement(outcome, row, audit)


# --- fan-out --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanoutSnapshot:
    """A registry asset version, who owns its name, its push rows, and the registry's latest version."""

    asset: Asset
    owners: NameOwners
    rows: Mapping[str, LedgerEntry] = field(default_factory=dict)  # push rows by target workspace
    share_in_flight: bool = False  # our share of it has not stamped its provenance yet
    latest_version: str = ""


def delivery_refusal(asset: Asset, owners: NameOwners) -> str | None:
    """Why no workspace may receive registry `asset`: its provenance tenant does not own its name (a copy
    that got into the registry some other way, or before ownership existed). None: it may be delivered."""
    return owners.refusal(provenance_tenant(asset), f"{asset.ref} is never delivered")


def decide_fanout(
    asset: Asset, world: World, targets: Iterable[Workspace], *, owners: NameOwners
) -> list[PushDecision]:
    """The push decision for each target, judged as coming from the origin its provenance names; none
    is allowed when the provenance tenant does not own the name."""
    refusal = delivery_refusal(asset, owners)
    if refusal:
        return [PushDecision(False, refusal, target.name) for target in sorted(targets, key=lambda w: w.name)]
    found = origin_of(asset.tags)
    origin = world.workspaces.get(found.workspace) if found else None
    source = (
        Asset(ref=AssetRef(kind=asset.ref.kind, name=found.name, version=found.version), tags=asset.tags)
        if found
        else None
    )
    return decide_targets(asset, origin, targets, world.registry, world.policy, source=source)


def worth_reporting(decision: PushDecision) -> bool:
    """Refusals an operator wants to see one by one; 'not subscribed' is the silent majority."""
    return not decision.allowed and not decision.reason.startswith("not subscribed")


def plan_fanout(
    s: FanoutSnapshot,
    decisions: Iterable[PushDecision],
    *,
    retry: Retry,
    now: datetime,
    correlation_id: str,
    event_id: str = "",
    action: Action = Action.PUSH,
) -> list[Step]:
    """One step per target the decisions allow and whose version policy wants this version; refusals
    worth reporting as outcomes; and one audit line summing up what was queued."""
    ref = s.asset.ref
    if s.share_in_flight:  # without provenance the audience could not be checked
        reason = "its share is still in flight; the share fans out when it is done"
        return [Report(_outcome(Action.FANOUT, ref, "", Status.SKIPPED, reason))]
    steps: list[Step] = list(_adoption(s.owners, correlation_id))
    refusal = delivery_refusal(s.asset, s.owners)
    if refusal:  # one line for the version, not one per target
        outcome = _outcome(Action.FANOUT, ref, "", Status.REFUSED, refusal)
        return [*steps, Record(outcome, _audit(outcome, correlation_id=correlation_id))]
    silent = 0
    for decision in decisions:
        if not decision.allowed:
            if worth_reporting(decision):
                steps.append(Report(_outcome(action, ref, decision.target, Status.REFUSED, decision.reason)))
            else:
                silent += 1
            continue
        if version_wanted(decision, ref.version, s.latest_version or ref.version):
            message = PushMessage(
                kind=ref.kind,
                name=ref.name,
                version=ref.version,
                target=decision.target,
                correlation_id=correlation_id,
                event_id=event_id,
            )
            steps.append(_fanout_step(decision, message, s.rows.get(decision.target), retry, now, action))
    queued = [step.outcome.target for step in steps if isinstance(step, WriteRow)]
    if queued:
        refused = [
            f"{step.outcome.target} ({step.outcome.reason})"
            for step in steps
            if step.outcome and step.outcome.status is Status.REFUSED
        ]
        reason = f"queued for [{', '.join(queued)}]; refused: [{'; '.join(refused)}]; {silent} not subscribed"
        summary = AuditRecord(
            Action.FANOUT, "planned", reason, subject=str(ref), correlation_id=correlation_id
        )
        steps.append(Record(None, summary))
    return steps


def _adoption(owners: NameOwners, correlation_id: str) -> list[Claim]:
    """Write down the owner of a name published before ownership existed, once (insert-if-absent)."""
    if owners.recorded or owners.declared or len(owners.tenants) != 1:
        return []
    (tenant,) = owners.tenants
    reason = f"{owners.kind.value} name `{owners.name}` adopted by {tenant}: {owners.basis}"
    subject = f"{owners.kind.value} {owners.name}"
    audit = AuditRecord(Action.FANOUT, "adopted", reason, subject=subject, correlation_id=correlation_id)
    return [Claim(owners, tenant, audit)]


def _fanout_step(
    decision: PushDecision,
    message: PushMessage,
    row: LedgerEntry | None,
    retry: Retry,
    now: datetime,
    action: Action,
) -> Step:
    ref, target = message.ref, decision.target
    detail = {"rule": decision.rule_id or "", "mode": decision.action.mode.value if decision.action else ""}
    gated = decision.gate is Gate.APPROVAL

    def queue(status: LedgerStatus, reason: str, name: str) -> WriteRow:
        after = transition(
            row,
            status,
            key=ref.key,
            target=push_target(target),
            now=now,
            message=reason,
            event_id=message.event_id,
            correlation_id=message.correlation_id,
            detail=detail,
        )
        send = message if status is S.PENDING else None
        return WriteRow(_outcome(action, ref, target, Status.of(status), reason), row, after, name, send=send)

    if row is None:
        if gated:
            return queue(S.AWAITING_APPROVAL, f"{decision.reason}: waits for approval", "await_approval")
        return queue(S.PENDING, decision.reason, "enqueue")
    if abandoned(row, now):
        return queue(S.PENDING, f"{row.status.value} since {row.updated}: abandoned, sent again", "requeue")
    retried = retry is Retry.ALWAYS or (retry is Retry.AUTOMATIC and row.rounds < MAX_AUTOMATIC_ROUNDS)
    if row.status is S.FAILED and retried:
        return queue(S.PENDING, f"failed after {row.attempts} attempt(s): retried", "requeue")
    if row.status is S.REFUSED:
        return queue(S.AWAITING_APPROVAL if gated else S.PENDING, "refused earlier, allowed now", "requeue")
    return Report(
        _outcome(action, ref, target, Status.of(row.status), f"already {row.status.value}: {row.message}"),
        "skip",
    )


# --- one push (the queue path) ----------------------------------------------------------------------


def plan_push_before_observing(
    message: PushMessage, row: LedgerEntry | None, *, now: datetime
) -> Step | None:
    """What a push message needs without asking AzureML: nothing (done, held, failed for this round),
    or a later try (another worker holds the row). None: observe and `plan_push`."""
    ref, target = message.ref, message.target
    if row is None or row.status in {S.PENDING, S.RETRYING, S.REFUSED} or abandoned(row, now):
        return None
    if row.status is S.RUNNING:
        reason = f"push of {ref} to {target} is running elsewhere; tried again later"
        return Defer(_outcome(Action.PUSH, ref, target, Status.SKIPPED, reason), message, 60)
    return Report(
        _outcome(Action.PUSH, ref, target, Status.of(row.status), f"nothing to do: {row.status.value}")
    )


def plan_push(
    message: PushMessage,
    row: LedgerEntry | None,
    *,
    asset: Asset | None,
    owners: NameOwners | None,
    target: Workspace | None,
    world: World,
    now: datetime,
) -> Step:
    """Check the rules (and who owns the name) again just before acting: push, or record the refusal."""
    ref = message.ref
    if target is None:
        decision = PushDecision(
            False, f"workspace {message.target} is no longer managed by RegSync", message.target
        )
    elif asset is None or owners is None:
        decision = PushDecision(False, f"{ref} is not in registry {world.registry.name}", message.target)
    else:
        decision = decide_fanout(asset, world, [target], owners=owners)[0]
    if not decision.allowed or decision.action is None or target is None or asset is None:
        outcome = _outcome(Action.PUSH, ref, message.target, Status.REFUSED, decision.reason)
        after = transition(
            row,
            S.REFUSED,
            key=ref.key,
            target=push_target(message.target),
            now=now,
            message=decision.reason,
            correlation_id=message.correlation_id,
        )
        tenant = target.tenant if target else None
        audit = _audit(outcome, correlation_id=message.correlation_id, tenant=tenant)
        return WriteRow(outcome, row, after, "refuse", audit=audit)
    planned = _outcome(Action.PUSH, ref, target.name, Status.SUCCEEDED, decision.reason)
    tags = carried_tags(asset.tags, message.correlation_id)
    return Push(planned, message, row, target, world.registry, decision.action, tags, decision.rule_id or "")


def settle_push(
    step: Push, claimed: LedgerEntry, failure: Failure | None, what: str, *, max_attempts: int, now: datetime
) -> Settlement:
    """The push row after the AzureML call. A temporary failure is sent again after the delay AzureML
    asked for until `max_attempts` (counted in the message); then, or on a permanent failure, the push
    fails for good, once, with one audit record and one PushFailed event. A conflict is final."""
    message, ref, target = step.message, step.message.ref, step.target.name
    cid = message.correlation_id
    data = {"asset": ref.key, "target": target, "correlation_id": cid}
    if failure is None:
        outcome = _outcome(Action.PUSH, ref, target, Status.SUCCEEDED, what)
        row = transition(claimed, S.SUCCEEDED, key=ref.key, target=claimed.target, now=now, message=what)
        return Settlement(
            outcome,
            row,
            _audit(outcome, correlation_id=cid, tenant=step.target.tenant),
            _event(ASSET_PUSHED, ref, {**data, "what": what}),
        )
    if failure.retryable and message.attempt < max_attempts:
        delay = max(1, round(failure.retry_after))
        reason = f"{failure.message}; attempt {message.attempt} of {max_attempts}, next in {delay} s"
        outcome = _outcome(Action.PUSH, ref, target, Status.RETRYING, reason)
        row = transition(claimed, S.RETRYING, key=ref.key, target=claimed.target, now=now, message=reason)
        resend = message.model_copy(update={"attempt": message.attempt + 1})
        return Settlement(outcome, row, resend=resend, delay_seconds=delay)
    if failure.kind is Kind.CONFLICT:
        outcome = _outcome(Action.PUSH, ref, target, Status.CONFLICT, failure.message)
        row = transition(
            claimed, S.CONFLICT, key=ref.key, target=claimed.target, now=now, message=failure.message
        )
        return Settlement(outcome, row, _audit(outcome, correlation_id=cid, tenant=step.target.tenant))
    reason = (
        f"gave up after {message.attempt} attempts: {failure.message}"
        if failure.retryable
        else failure.message
    )
    outcome = _outcome(Action.PUSH, ref, target, Status.FAILED, reason)
    row = transition(claimed, S.FAILED, key=ref.key, target=claimed.target, now=now, message=reason)
    return Settlement(
        outcome,
        row,
        _audit(outcome, correlation_id=cid, tenant=step.target.tenant),
        _event(PUSH_FAILED, ref, {**data, "error": reason}),
    )


# --- approval -------------------------------------------------------------------------------------


def plan_approve(
    ref: AssetRef,
    workspace: str,
    row: LedgerEntry | None,
    *,
    approver: str,
    now: datetime,
    correlation_id: str,
    tenant: str | None = None,
) -> WriteRow | None:
    """Release a push that waits for approval: pending, and queued. None: it does not wait."""
    if row is None or row.status is not S.AWAITING_APPROVAL:
        return None
    reason = f"approved by {approver}"
    outcome = _outcome(Action.APPROVE, ref, workspace, Status.PENDING, reason)
    after = transition(
        row, S.PENDING, key=ref.key, target=row.target, now=now, message=reason, correlation_id=correlation_id
    )
    message = PushMessage(
        kind=ref.kind, name=ref.name, version=ref.version, target=workspace, correlation_id=correlation_id
    )
    return WriteRow(
        outcome,
        row,
        after,
        "approve",
        audit=_audit(outcome, approver, correlation_id, tenant=tenant),
        send=message,
        must_win=True,
    )


def read_digest(asset: Asset, policy: Policy) -> str:
    """What a decision about `asset` read of it, as a digest: the tags the rules look at. "" when no
    rule looks at tags, so a memo then holds without reading the asset again."""
    keys = sorted(policy.tag_keys)
    return digest({key: asset.tags.get(key, "\x00absent") for key in keys}) if keys else ""


def recorded(
    outcome: Outcome,
    *,
    actor: str = "regsync",
    correlation_id: str = "",
    tenant: str | None = None,
    once: bool = False,
) -> Record:
    """An outcome with its audit line (a pull, a sync, a refusal a person asked for). `once`: an
    identical record within the refusal window is not written again (a refusal asked for repeatedly)."""
    return Record(outcome, _audit(outcome, actor, correlation_id, tenant=tenant), once=once)


def oldest_version(versions: Iterable[str]) -> str | None:
    """The first version a name had: the smallest, if all are AzureML's integers; else the last listed
    (AzureML lists versions newest first)."""
    listed = list(versions)
    if not listed:
        return None
    if all(version.isdigit() for version in listed):
        return min(listed, key=int)
    return listed[-1]


def newest_numeric(version: str, others: Iterable[str]) -> str:
    """Under `latest`, AzureML's own integer versions compare as numbers, whatever their creation order:
    an older version shared late must not replace a newer one. Other versions keep creation order.
    The answer is one of the versions given, as written (`010` stays `010`)."""
    return max((candidate for candidate in (version, *others) if candidate.isdigit()), key=int)
