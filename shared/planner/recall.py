"""Planning a recall, and the rule that a recalled version is never delivered again. Pure.

Who calls it: shared.engine.fleet (the recall use case), shared.planner.fanout (`recall_refusal`, so
every event, reconcile, pull and queued push refuses a recalled version). The plan: the tombstone first
(from then on nothing delivers the version), then each workspace that received it takes it back (a
registered copy is archived; an endpoint's traffic, or a batch endpoint's default, goes back to RegSync's
previous deployment, or the recalled deployment is removed when there is none and the rule allows it),
then the registry version is tagged and archived. Re-running a recall resumes what is not done yet.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain import Asset, AssetRef, EndpointView, ServingDeployment, Workspace
from shared.ledger import transition
from shared.planner.world import S, World, answer, audit_line, outbound_event
from shared.policy import PushAction, PushDecision, PushMode
from shared.records import ASSET_RECALLED, Action, LedgerEntry, Status, Tombstone
from shared.steps import ArchiveInRegistry, Bury, Report, Retire, Step, WriteRow

TAG_RECALLED = "regsync.recalled"  # on a recalled registry version: when, and by whom
_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
_IN_A_WORKSPACE = frozenset({S.SUCCEEDED, S.DEPLOYING})  # the version may be there: take it back


@dataclass(frozen=True)
class RecallTarget:
    """A workspace's push row of the recalled version, the rule's action, its endpoint as it stands."""

    row: LedgerEntry
    workspace: Workspace | None
    action: PushAction | None  # None: the rule that pushed it is gone
    endpoint: EndpointView | None = None


@dataclass(frozen=True)
class RecallSnapshot:
    ref: AssetRef
    asset: Asset | None  # the registry version (None: not in the registry)
    buried: Tombstone | None  # an earlier recall of it
    targets: tuple[RecallTarget, ...] = ()


def recall_refusal(world: World, ref: AssetRef) -> str | None:
    """Why `ref` is delivered nowhere: it was recalled. None: it was not."""
    tombstone = world.recalled.get(ref.key)
    if tombstone is None:
        return None
    return f"recalled by {tombstone.actor} at {_when(tombstone.at)}: {tombstone.reason}"


def withhold_recalled(ref: AssetRef, world: World, decisions: list[PushDecision]) -> list[PushDecision]:
    """The decisions, each allowed one refused if `ref` was recalled ("not subscribed" stays silent)."""
    refusal = recall_refusal(world, ref)
    if refusal is None:
        return decisions
    return [replace(d, allowed=False, reason=refusal) if d.allowed else d for d in decisions]


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def recalled_model(deployment: ServingDeployment, recalled: Collection[str]) -> bool:
    found = _MODEL_ID.search(deployment.model)
    return found is not None and f"model:{found['name']}:{found['version']}" in recalled


def deployment_of(view: EndpointView, ref: AssetRef) -> str | None:
    """The endpoint's deployment that serves `ref` (its model id names it), if any."""
    for deployment in view.deployments:
        if recalled_model(deployment, {ref.key}):
            return deployment.name
    return None


def previous_deployment(view: EndpointView, ref: AssetRef, recalled: Collection[str]) -> str | None:
    """RegSync's newest ready deployment on the endpoint that serves neither `ref` nor another recalled
    version: where a recall moves the traffic back to. None: there is none."""
    keys = {*recalled, ref.key}
    candidates = [
        d
        for d in view.deployments
        if d.deployed_at and d.state == "Succeeded" and not recalled_model(d, keys)
    ]
    return max(candidates, key=lambda d: d.deployed_at).name if candidates else None


def action_of(row: LedgerEntry, rules: Mapping[str, PushAction]) -> PushAction | None:
    """The action that pushed the row: its rule's; a register push needs no rule to be taken back."""
    action = rules.get(str(row.detail.get("rule", "")))
    if action is None and row.detail.get("mode", PushMode.REGISTER.value) == PushMode.REGISTER.value:
        return PushAction()
    return action


def plan_recall(
    s: RecallSnapshot,
    world: World,
    *,
    tombstone: Tombstone,
    now: datetime,
    tenant: str | None = None,
) -> list[Step]:
    ref, cid, actor = s.ref, tombstone.correlation_id, tombstone.actor
    steps: list[Step] = []
    if s.buried is None:
        outcome = answer(Action.RECALL, ref, world.registry.name, Status.RECALLED, tombstone.reason)
        data = {"asset": ref.key, "actor": actor, "reason": tombstone.reason, "correlation_id": cid}
        audit = audit_line(outcome, actor, cid, tenant=tenant)
        steps.append(Bury(outcome, tombstone, audit, outbound_event(ASSET_RECALLED, ref, data)))
    else:
        said = f"recalled already by {s.buried.actor} at {_when(s.buried.at)}: {s.buried.reason}"
        steps.append(Report(answer(Action.RECALL, ref, world.registry.name, Status.DONE, said)))
    recalled = {*world.recalled, ref.key}
    for target in sorted(s.targets, key=lambda t: t.row.target):
        steps.append(take_back(target, ref, world, recalled, now=now, correlation_id=cid, actor=actor))
    if s.asset is not None and TAG_RECALLED not in s.asset.tags:
        outcome = answer(Action.RECALL, ref, world.registry.name, Status.RECALLED, "tagged and archived")
        tags = {TAG_RECALLED: f"{_when(tombstone.at)} by {actor}"}
        audit = audit_line(outcome, actor, cid)
        steps.append(ArchiveInRegistry(outcome, world.registry, ref, tags, audit))
    return steps


def take_back(
    t: RecallTarget,
    ref: AssetRef,
    world: World,
    recalled: Collection[str],
    *,
    now: datetime,
    correlation_id: str,
    actor: str,
) -> Step:
    """One workspace's part of a recall (or of removing a rule that says `on_remove: recall`)."""
    row, where = t.row, t.row.workspace or ""
    tenant = t.workspace.tenant if t.workspace else None

    def recalled_row(reason: str) -> LedgerEntry:
        return transition(
            row,
            S.RECALLED,
            key=ref.key,
            target=row.target,
            now=now,
            message=reason,
            correlation_id=correlation_id,
        )

    def written(reason: str) -> WriteRow:
        outcome = answer(Action.RECALL, ref, where, Status.RECALLED, reason)
        audit = audit_line(outcome, actor, correlation_id, tenant=tenant)
        return WriteRow(outcome, row, recalled_row(reason), "recall", audit=audit)

    if row.status is S.RECALLED:
        return Report(answer(Action.RECALL, ref, where, Status.DONE, f"already recalled: {row.message}"))
    if row.status is S.CONFLICT:
        reason = "the workspace holds its own copy, not RegSync's: left as it is"
        return Report(answer(Action.RECALL, ref, where, Status.SKIPPED, reason))
    if row.status is S.RUNNING:
        reason = "a push of it is running there right now; recall again once it settles"
        return Report(answer(Action.RECALL, ref, where, Status.RETRYING, reason))
    if row.status not in _IN_A_WORKSPACE:
        return written(f"recalled before it was delivered (it was {row.status.value})")
    if t.workspace is None or t.action is None:
        gone = "its workspace is no longer managed" if t.workspace is None else "its rule is gone"
        outcome = answer(Action.RECALL, ref, where, Status.FAILED, f"cannot take it back: {gone}")
        return Report(outcome)
    fallback = previous_deployment(t.endpoint, ref, recalled) if t.endpoint is not None else None
    if t.action.mode is not PushMode.REGISTER and fallback is None and not t.action.remove_when_recalled:
        return written(
            f"still serving on {t.action.endpoint}: no previous RegSync deployment, and the rule keeps it "
            "(action.remove_when_recalled: false)"
        )
    if t.action.mode is PushMode.REGISTER:
        plan = "archive its copy"
    elif fallback is not None:
        plan = f"move {t.action.endpoint} back to {fallback}"
    else:
        plan = f"remove its deployment from {t.action.endpoint} (no previous version)"
    outcome = answer(Action.RECALL, ref, where, Status.RECALLED, plan)
    audit = audit_line(outcome, actor, correlation_id, tenant=tenant)
    return Retire(
        outcome, row, recalled_row(plan), t.workspace, world.registry, ref, t.action, fallback, audit
    )
