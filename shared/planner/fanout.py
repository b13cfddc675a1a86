"""Planning a fan-out: one step per target a registry version should reach (enqueue, wait for
approval, queue afresh, skip), the refusals worth reporting, and adoption of an unowned name. Pure.

Who calls it: shared.engine.propagation, .reconcile and .requests (pull).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.domain import Asset, AssetRef, LedgerStatus, Workspace
from shared.ledger import abandoned, transition
from shared.planner.recall import withhold_recalled
from shared.planner.rollout import hold_waves
from shared.planner.world import MAX_AUTOMATIC_ROUNDS, Retry, S, World, answer, audit_line
from shared.policy import (
    Gate,
    NameOwners,
    PushDecision,
    decide_targets,
    provenance_tenant,
    version_wanted,
)
from shared.provenance import origin_of
from shared.records import (
    Action,
    AuditRecord,
    LedgerEntry,
    PushMessage,
    Status,
    carried,
    push_target,
)
from shared.steps import Claim, Record, Report, Step, WriteRow


@dataclass(frozen=True)
class FanoutSnapshot:
    """A registry asset version, who owns its name, its push rows, and the registry's latest version."""

    asset: Asset
    owners: NameOwners
    rows: Mapping[str, LedgerEntry] = field(default_factory=dict)  # push rows by target workspace
    share_in_flight: bool = False  # our share of it has not stamped its provenance yet
    latest_version: str = ""
    resumed: frozenset[str] = frozenset()  # rules whose stopped rollout of it an operator resumed


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

    def decide(workspaces: Iterable[Workspace]) -> list[PushDecision]:
        return decide_targets(asset, origin, workspaces, world.registry, world.policy, source=source)

    decisions = decide(targets)
    return withhold_recalled(asset.ref, world, with_earlier_waves(decisions, world, decide))


def with_earlier_waves(
    decisions: list[PushDecision],
    world: World,
    decide: Callable[[Iterable[Workspace]], list[PushDecision]],
) -> list[PushDecision]:
    """Each allowed decision of a rule with waves, knowing the rule's targets in its earlier waves among
    ALL the world's workspaces: a sync, pull or fan-out narrowed to a later-wave workspace sees neither
    the earlier targets' decisions nor (before the canary has started) their rows, and must still wait."""
    if not any(d.allowed and d.rollout is not None for d in decisions):
        return decisions  # the common case pays nothing
    decided = {d.target for d in decisions}
    others = [ws for name, ws in world.workspaces.items() if name not in decided]
    everyone = [*decisions, *decide(others)] if others else decisions
    members = [(d.rule_id, d.target, d.wave) for d in everyone if d.allowed and d.rollout is not None]

    def earlier(d: PushDecision) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((ws, wave) for rule, ws, wave in members if rule == d.rule_id and wave < d.wave))

    return [
        replace(d, earlier_waves=earlier(d)) if d.allowed and d.rollout is not None else d for d in decisions
    ]


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
        return [Report(answer(Action.FANOUT, ref, "", Status.SKIPPED, reason))]
    steps: list[Step] = list(_adoption(s.owners, correlation_id))
    refusal = delivery_refusal(s.asset, s.owners)
    if refusal:  # one line for the version, not one per target
        outcome = answer(Action.FANOUT, ref, "", Status.REFUSED, refusal)
        return [*steps, Record(outcome, audit_line(outcome, correlation_id=correlation_id))]
    going, held = hold_waves(list(decisions), s.rows, s.resumed, now=now)  # rules with waves
    steps += [Report(answer(action, ref, d.target, Status.SKIPPED, why), "hold") for d, why in held]
    silent = 0
    for decision in going:
        if not decision.allowed:
            if worth_reporting(decision):
                steps.append(Report(answer(action, ref, decision.target, Status.REFUSED, decision.reason)))
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
                tags=carried(s.asset.tags),
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
    detail: dict[str, object] = {
        "rule": decision.rule_id or "",
        "mode": decision.action.mode.value if decision.action else "",
    }
    if decision.rollout is not None:
        detail["wave"] = decision.wave  # the rollout's later waves read it
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
        return WriteRow(answer(action, ref, target, Status.of(status), reason), row, after, name, send=send)

    if row is None:
        if gated:
            return queue(S.AWAITING_APPROVAL, f"{decision.reason}: waits for approval", "await_approval")
        return queue(S.PENDING, decision.reason, "enqueue")
    if abandoned(row, now):
        return queue(S.PENDING, f"{row.status.value} since {row.updated}: abandoned, sent again", "requeue")
    retried = retry is Retry.ALWAYS or (retry is Retry.AUTOMATIC and row.rounds < MAX_AUTOMATIC_ROUNDS)
    if row.status is S.FAILED and retried:
        return queue(S.PENDING, f"failed after {row.attempts} attempt(s): retried", "requeue")
    if row.status in {S.REFUSED, S.RECALLED}:  # a recalled version is never allowed: taken back by a rule
        earlier = row.status.value
        return queue(
            S.AWAITING_APPROVAL if gated else S.PENDING, f"{earlier} earlier, allowed now", "requeue"
        )
    return Report(
        answer(action, ref, target, Status.of(row.status), f"already {row.status.value}: {row.message}"),
        "skip",
    )
