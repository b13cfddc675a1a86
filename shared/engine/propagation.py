"""Share, then fan out: one asset, from an event, a reconcile, a person's sync of that asset, or explain.

Who calls it: the Event Grid adapter (`handle_event`), the reconcile (`propagate` per listed asset and
`fan_out` per registry version), `sync` of an asset scope, and `regsync explain` (`plan_propagation`
with the asset as the caller describes it). Observe -> plan -> apply: the share wave first, and only
after the share landed the push wave (gitops-engine's waves); a dry run returns both plans and writes
nothing. `plan_propagation` is the plan as a value: what explain shows is what propagate would do.
Spans: `regsync.propagate` (share, then fan-out) and `regsync.fanout`, under the caller's span; the
pushes the fan-out queues carry its trace context (shared.engine.apply).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared import telemetry
from shared.domain import Asset, AssetRef, Workspace
from shared.engine.core import EngineCore, StoreT
from shared.engine.logs import logger_for
from shared.events import RESOURCE_WRITE_SUCCESS, AssetEvent, IgnoredEvent
from shared.planner import (
    Retry,
    World,
    decide_fanout,
    newest_numeric,
    plan_fanout,
    plan_own_copy,
    plan_share,
    recorded,
)
from shared.policy import NameOwners, PushDecision, ShareDecision, decide_share
from shared.records import Action, Outcome, Status, push_target
from shared.steps import Share, Step, WriteRow, preview

_FANS_OUT = frozenset({Status.SUCCEEDED, Status.DONE})


@dataclass(frozen=True)
class PropagationPlan:
    """The share step, and (if the share lands or has landed) the push decisions and steps after it."""

    share: Step
    destination: AssetRef | None
    share_decision: ShareDecision | None = None  # None when there was nothing to judge
    decisions: list[PushDecision] = field(default_factory=list)
    pushes: list[Step] = field(default_factory=list)
    in_registry: Asset | None = None  # what the registry held at the destination when observed
    registry_versions: tuple[str, ...] = ()  # the destination name's versions then, newest first

    def previews(self) -> list[Outcome]:
        return [outcome for step in (self.share, *self.pushes) if (outcome := preview(step)) is not None]


class Propagation(EngineCore[StoreT]):
    def handle_event(self, event: AssetEvent | IgnoredEvent, *, correlation_id: str) -> list[Outcome]:
        """An event names one asset in one workspace: share it if the rules say so, then fan out."""
        if isinstance(event, IgnoredEvent):
            return [self._ignore(event.event_id, event.subject, event.reason, correlation_id)]
        origin = self.store.workspace_by_topic(event.workspace_arm_id)
        if origin is None:
            reason = f"topic `{event.workspace_arm_id}` is not a workspace RegSync manages"
            return [self._ignore(event.event_id, str(event.ref), reason, correlation_id)]
        # Our own pushes echo back as events: told apart from the event and the ledger, not AzureML.
        row = (
            self.store.get_entry(event.ref.key, push_target(origin.name))
            if event.event_type == RESOURCE_WRITE_SUCCESS
            else None
        )
        own = plan_own_copy(event.ref, origin, event.tags, row)
        if own is not None:
            return [outcome] if (outcome := self.applier.run(own)) else []
        return self.propagate(origin, event.ref, event_id=event.event_id, correlation_id=correlation_id)

    def _ignore(self, event_id: str, subject: str, reason: str, correlation_id: str) -> Outcome:
        logger_for(correlation_id).info("event %s ignored: %s", event_id, reason)
        outcome = Outcome(Action.EVENT, subject, event_id, Status.IGNORED, reason)
        self.applier.run(recorded(outcome, correlation_id=correlation_id))
        return outcome

    def plan_propagation(
        self,
        origin: Workspace,
        ref: AssetRef,
        *,
        world: World,
        correlation_id: str,
        event_id: str = "",
        retry: Retry = Retry.NEVER,
        source: Asset | None = None,
    ) -> PropagationPlan:
        """Observe and plan both waves; write nothing. `source` stands in for the workspace's asset
        (explain describes an asset that may not exist yet)."""
        snapshot, destination = self.observe_share(origin, ref, world, source=source)
        share = plan_share(
            snapshot, world, now=self.clock(), correlation_id=correlation_id, event_id=event_id
        )
        judged = (
            decide_share(snapshot.source, origin, world.registry, world.policy) if snapshot.source else None
        )
        if destination is None or not _lands(share):
            return PropagationPlan(
                share,
                destination,
                judged,
                in_registry=snapshot.in_registry,
                registry_versions=snapshot.registry_versions,
            )
        stamped = share.tags if isinstance(share, Share) else {}
        source_tags = snapshot.source.tags if snapshot.source else {}
        would_hold = snapshot.in_registry or Asset(ref=destination, tags={**source_tags, **stamped})
        owners = snapshot.owners
        assert owners is not None  # observed with the destination
        decisions = decide_fanout(would_hold, world, world.workspaces.values(), owners=owners)
        pushes = self.plan_fan_out(
            would_hold,
            decisions,
            owners,
            world=world,
            correlation_id=correlation_id,
            event_id=event_id,
            retry=retry,
            latest_version=_latest_after(
                destination, snapshot.registry_versions, created=snapshot.in_registry is None
            ),
            latest_known=True,
        )
        return PropagationPlan(
            share,
            destination,
            judged,
            decisions,
            pushes,
            snapshot.in_registry,
            snapshot.registry_versions,
        )

    def propagate(
        self,
        origin: Workspace,
        ref: AssetRef,
        *,
        correlation_id: str,
        event_id: str = "",
        world: World | None = None,
        dry_run: bool = False,
        retry: Retry = Retry.NEVER,
    ) -> list[Outcome]:
        """Share `ref` from `origin` to the registry as the rules say, then fan out its pushes."""
        with telemetry.span(
            "regsync.propagate",
            correlation_id=correlation_id,
            tenant=origin.tenant,
            workspace=origin.name,
            asset=f"{ref.kind.value}:{ref.name}",
            version=ref.version,
        ) as span:
            outcomes = self._propagate(
                origin,
                ref,
                correlation_id=correlation_id,
                event_id=event_id,
                world=world,
                dry_run=dry_run,
                retry=retry,
            )
            if outcomes:
                telemetry.set_outcome(span, outcomes[0].status.value)
            return outcomes

    def _propagate(
        self,
        origin: Workspace,
        ref: AssetRef,
        *,
        correlation_id: str,
        event_id: str,
        world: World | None,
        dry_run: bool,
        retry: Retry,
    ) -> list[Outcome]:
        world = world or self.world()
        plan = self.plan_propagation(
            origin, ref, world=world, correlation_id=correlation_id, event_id=event_id, retry=retry
        )
        if dry_run:
            return plan.previews()
        copy = None
        if isinstance(plan.share, Share):
            outcome, copy = self.applier.share(plan.share)
        else:
            answered = self.applier.run(plan.share)
            if answered is None:
                return []
            outcome = answered
        if plan.destination is None or outcome.action is not Action.SHARE or outcome.status not in _FANS_OUT:
            return [outcome]
        # The second wave fans out the registry's copy as the share's tag update answered it (or as it
        # was observed, if it was there already): no read again. Its latest version is known too.
        shared = copy or plan.in_registry
        if shared is None:
            return [outcome]
        pushes = self.fan_out(
            shared,
            world=world,
            correlation_id=correlation_id,
            event_id=event_id,
            retry=retry,
            latest_version=_latest_after(
                shared.ref, plan.registry_versions, created=plan.in_registry is None
            ),
            latest_known=True,
        )
        return [outcome, *pushes]

    def plan_fan_out(
        self,
        asset: Asset,
        decisions: list[PushDecision],
        owners: NameOwners,
        *,
        world: World,
        correlation_id: str,
        event_id: str = "",
        retry: Retry = Retry.NEVER,
        latest_version: str | None = None,
        latest_known: bool = False,
    ) -> list[Step]:
        """The fan-out's steps. `latest_known`: `latest_version` was just observed, so it is used as it
        is; else it is a guess, confirmed by a read before any row is written."""

        def plan(latest: str) -> list[Step]:
            snapshot = self.observe_fanout(asset, latest, owners)
            return plan_fanout(
                snapshot,
                decisions,
                retry=retry,
                now=self.clock(),
                correlation_id=correlation_id,
                event_id=event_id,
            )

        steps = plan(latest_version or asset.ref.version)
        if not (latest_known and latest_version) and any(isinstance(step, WriteRow) for step in steps):
            # Before acting, confirm which version is the latest (steady state never pays this read).
            steps = plan(self.latest_version(world.registry, asset.ref))
        return steps

    def fan_out(
        self,
        asset: Asset,
        *,
        world: World,
        correlation_id: str,
        event_id: str = "",
        retry: Retry = Retry.NEVER,
        latest_version: str | None = None,
        latest_known: bool = False,
        targets: Iterable[Workspace] | None = None,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """One ledger row and one queued push per allowed target of a registry asset version (none if
        its provenance tenant does not own its name)."""
        with telemetry.span(
            "regsync.fanout",
            correlation_id=correlation_id,
            asset=f"{asset.ref.kind.value}:{asset.ref.name}",
            version=asset.ref.version,
            target=world.registry.name,
        ) as span:
            outcomes = self._fan_out(
                asset,
                world=world,
                correlation_id=correlation_id,
                event_id=event_id,
                retry=retry,
                latest_version=latest_version,
                latest_known=latest_known,
                targets=targets,
                dry_run=dry_run,
            )
            span.set_attribute("regsync.targets", len(outcomes))
            return outcomes

    def _fan_out(
        self,
        asset: Asset,
        *,
        world: World,
        correlation_id: str,
        event_id: str,
        retry: Retry,
        latest_version: str | None,
        latest_known: bool,
        targets: Iterable[Workspace] | None,
        dry_run: bool,
    ) -> list[Outcome]:
        owners = self.observe_owners(world, asset.ref.kind, asset.ref.name)
        reached = world.workspaces.values() if targets is None else targets
        decisions = decide_fanout(asset, world, reached, owners=owners)
        steps = self.plan_fan_out(
            asset,
            decisions,
            owners,
            world=world,
            correlation_id=correlation_id,
            event_id=event_id,
            retry=retry,
            latest_version=latest_version,
            latest_known=latest_known,
        )
        if dry_run:
            return [outcome for step in steps if (outcome := preview(step)) is not None]
        return self.applier.apply(steps)


def _latest_after(ref: AssetRef, listed: tuple[str, ...], *, created: bool) -> str:
    """The registry's latest version of `ref`'s name once the share is done, from the versions listed
    before it (newest first): AzureML's integers compare as numbers (`newest_numeric`), other versions
    by creation, and a version the share just created is the newest."""
    if ref.version.isdigit():
        return newest_numeric(ref.version, listed)
    return ref.version if created or not listed else listed[0]


def _lands(step: Step) -> bool:
    """Is the share done, or would the step do it (so the push wave follows)?"""
    return (
        step.outcome is not None and step.outcome.action is Action.SHARE and step.outcome.status in _FANS_OUT
    )
