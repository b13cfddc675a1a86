"""The one engine behind every trigger: observe -> decide -> plan -> apply.

Who calls it: the Event Grid adapter (an event is a reconcile narrowed to one asset), the queue adapter
(one push), the timer/reconcile and the HTTP adapters (sync, pull, plan). Decide (shared.policy) and
plan (shared.planner) are pure; this module is the narrated orchestration around them and the only
place that applies a plan. Apply is idempotent and claims its ledger row with an ETag first, so
at-least-once delivery (duplicate or concurrent events, redelivered messages) has exactly-once effects.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.azureml import AzureMLGateway
from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus, Registry, Workspace
from shared.errors import InvalidInputError, PermanentError, TemporaryError
from shared.events import AssetEvent, IgnoredEvent
from shared.notify import ASSET_PUSHED, ASSET_SHARED, PUSH_FAILED, Publisher
from shared.planner import (
    DEFAULT_LEASE,
    FanoutPlan,
    FanoutStep,
    LedgerStatusView,
    PushStep,
    ShareStep,
    newest_numeric,
    origin_of,
    plan_fanout,
    plan_push,
    plan_share,
    provenance_tags,
    registry_copy,
)
from shared.policy import (
    Policy,
    PushDecision,
    VersionPolicy,
    decide_share,
    decide_targets,
    pinned_versions,
    region_refusal,
)
from shared.storage import (
    AuditRecord,
    ConcurrentUpdateError,
    LedgerEntry,
    SeenAsset,
    StateStore,
    WorkQueue,
    utc_now,
)

log = logging.getLogger("regsync.engine")
REGISTRY_SCOPE = "@registry"
# Share outcomes that need no second look until the rules change.
_SETTLED = frozenset({"succeeded", "done", "refused", "conflict", "ignored"})


class RegSyncLog(logging.LoggerAdapter[logging.Logger]):
    """Every line carries the correlation id, and the asset and target it is about."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return f"[{extra.get('correlation_id', '-')}] {msg}", kwargs


def logger_for(correlation_id: str, subject: str = "", target: str = "") -> RegSyncLog:
    return RegSyncLog(log, {"correlation_id": correlation_id, "subject": subject, "target": target})


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


class ReconcileMessage(BaseModel):
    """One unit of reconcile work: a workspace's share side, or the registry's push side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Literal["workspace", "registry"]
    name: str = ""
    correlation_id: str


class PushMessage(BaseModel):
    """One push, as queued for the push worker: the registry asset version and the target workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AssetKind
    name: str
    version: str
    target: str
    correlation_id: str
    event_id: str = ""

    @property
    def ref(self) -> AssetRef:
        return AssetRef(kind=self.kind, name=self.name, version=self.version)


@dataclass(frozen=True)
class Outcome:
    """What one step did (or, in a dry run, would do). Returned to HTTP callers and the CLI."""

    action: str  # share | push | fanout | ignore
    subject: str
    target: str
    status: str  # a LedgerStatus value, or planned / refused / ignored / done
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class World:
    """Inventory and policy for one operation, read once at its start."""

    registry: Registry
    policy: Policy
    workspaces: Mapping[str, Workspace]


class Engine:
    def __init__(
        self,
        *,
        store: StateStore,
        gateway: AzureMLGateway,
        pushes: WorkQueue,
        publisher: Publisher,
        reconciles: WorkQueue | None = None,
        max_push_attempts: int = 5,
        world_ttl: float = 0.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.pushes = pushes
        self.reconciles = reconciles
        self.publisher = publisher
        self.max_push_attempts = max_push_attempts
        self.world_ttl = world_ttl
        self.clock = clock
        self._world: tuple[float, World] | None = None

    def world(self) -> World:
        """Inventory and rules, read at most once per `world_ttl` seconds: a burst of events must not
        re-read thousands of workspace rows each, and rule changes still apply within seconds."""
        if self._world is not None and time.monotonic() - self._world[0] < self.world_ttl:
            return self._world[1]
        registry = self.store.get_registry()
        if registry is None:
            raise PermanentError("no registry is configured: add one with `regsync registry add`")
        workspaces = {workspace.name: workspace for workspace in self.store.list_workspaces()}
        world = World(registry=registry, policy=self.store.load_policy(), workspaces=workspaces)
        self._world = (time.monotonic(), world)
        return world

    # --- the event path ------------------------------------------------------------------------

    def handle_event(self, event: AssetEvent | IgnoredEvent, *, correlation_id: str) -> list[Outcome]:
        """An event names one asset in one workspace: share it if the rules say so, then fan out."""
        if isinstance(event, IgnoredEvent):
            return [self._ignore(event.event_id, event.subject, event.reason, correlation_id)]
        origin = self.store.workspace_by_topic(event.workspace_arm_id)
        if origin is None:
            reason = f"topic `{event.workspace_arm_id}` is not a workspace RegSync manages"
            return [self._ignore(event.event_id, str(event.ref), reason, correlation_id)]
        return self.propagate(origin, event.ref, event_id=event.event_id, correlation_id=correlation_id)

    def _ignore(self, event_id: str, subject: str, reason: str, correlation_id: str) -> Outcome:
        logger_for(correlation_id).info("event %s ignored: %s", event_id, reason)
        self.store.audit(
            AuditRecord(
                "event", "ignored", reason, subject=subject, target=event_id, correlation_id=correlation_id
            )
        )
        return Outcome("ignore", subject, event_id, "ignored", reason)

    # --- share, then fan out: one asset ----------------------------------------------------------

    def propagate(
        self,
        origin: Workspace,
        ref: AssetRef,
        *,
        correlation_id: str,
        event_id: str = "",
        world: World | None = None,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """Share `ref` from `origin` to the registry as the rules say, then fan out its pushes."""
        world = world or self.world()
        logs = logger_for(correlation_id, str(ref), origin.name)
        # Observe: the asset as it is in its workspace (tags, training job), or nothing to do.
        source = self.gateway.get_asset(origin, ref)
        if source is None:
            reason = f"{ref} is not (or no longer) in workspace {origin.name}"
            logs.info("%s; nothing to share", reason)
            return [self._record("share", str(ref), origin.name, "ignored", reason, correlation_id, dry_run)]
        copy_reason = registry_copy(source)
        if copy_reason:  # our own pushes echo back as workspace events: not news, not audited
            logs.debug("%s", copy_reason)
            return [Outcome("share", str(ref), origin.name, "ignored", copy_reason)]
        # Decide, then observe only what the plan needs: the registry's copy and our ledger row.
        decision = decide_share(source, origin, world.registry, world.policy)
        if not decision.allowed or decision.destination is None:
            logs.info("not shared: %s", decision.reason)
            return [self._refuse_share(origin, ref, decision.reason, world, correlation_id, dry_run)]
        destination = decision.destination
        row = self.store.get_entry(destination.key, "share")
        in_registry = self.gateway.get_registry_asset(world.registry, destination)
        plan = plan_share(decision, source, origin, in_registry, row.status if row else None)
        if dry_run:
            shared = Asset(
                ref=destination,
                tags={
                    **source.tags,
                    **provenance_tags(
                        source, origin, rule_id=decision.rule_id, correlation_id=correlation_id
                    ),
                },
            )
            planned = Outcome(
                "share", str(destination), world.registry.name, f"planned:{plan.step.value}", plan.reason
            )
            return [planned, *self.fan_out(shared, world=world, correlation_id=correlation_id, dry_run=True)]
        # Apply the share step; conflicts are recorded, not retried.
        if plan.step is ShareStep.REFUSE:
            return [
                self._record("share", str(ref), origin.name, "refused", plan.reason, correlation_id, dry_run)
            ]
        if plan.step is ShareStep.CONFLICT:
            return [self._conflict(destination, origin, plan.reason, event_id, correlation_id)]
        tags = provenance_tags(source, origin, rule_id=decision.rule_id, correlation_id=correlation_id)
        outcome = self._apply_share(
            plan.step, source, origin, destination, tags, world, row, event_id, correlation_id
        )
        shared = self.gateway.get_registry_asset(world.registry, destination) or Asset(
            ref=destination, tags=tags
        )
        return [outcome, *self.fan_out(shared, world=world, correlation_id=correlation_id, event_id=event_id)]

    def _refuse_share(
        self, origin: Workspace, ref: AssetRef, reason: str, world: World, correlation_id: str, dry_run: bool
    ) -> Outcome:
        """Audit a refusal once per asset and policy version: one write makes several events and the
        reconcile judges the same asset again, and the audit should say it once."""
        outcome = Outcome("share", str(ref), origin.name, "refused", reason)
        fingerprint = world.policy.fingerprint
        note = self.store.recall(origin.name, ref.key)
        if dry_run or (note is not None and note.fingerprint == fingerprint and note.outcome == "refused"):
            return outcome
        self._record("share", str(ref), origin.name, "refused", reason, correlation_id, dry_run)
        self.store.remember(origin.name, SeenAsset(ref.key, fingerprint, "refused"))
        return outcome

    def _apply_share(
        self,
        step: ShareStep,
        source: Asset,
        origin: Workspace,
        destination: AssetRef,
        tags: dict[str, str],
        world: World,
        row: LedgerEntry | None,
        event_id: str,
        correlation_id: str,
    ) -> Outcome:
        logs = logger_for(correlation_id, str(destination), world.registry.name)
        detail = {"origin": origin.name, "source": f"{source.ref.name}:{source.ref.version}"}
        if step is ShareStep.DONE:
            self._settle_done(destination.key, "share", row, event_id, correlation_id, detail)
            return Outcome("share", str(destination), world.registry.name, "done", "already in the registry")
        claimed = self._claim(destination.key, "share", row, event_id, correlation_id, detail)
        try:
            if step is ShareStep.SHARE:
                self.gateway.share(origin, source.ref, world.registry, destination, tags)
            else:  # a share cut short before its provenance was stamped
                self.gateway.stamp_registry_tags(world.registry, destination, tags)
        except TemporaryError as error:
            self._finish(claimed, LedgerStatus.RETRYING, str(error))
            logs.warning("share of %s failed temporarily (%s); will be retried", destination, error)
            raise
        except PermanentError as error:
            self._finish(claimed, LedgerStatus.FAILED, str(error))
            self._audit("share", "failed", str(error), destination, world.registry.name, correlation_id)
            raise
        self._finish(claimed, LedgerStatus.SUCCEEDED, f"shared from {origin.name}")
        reason = f"shared {source.ref} from {origin.name} as {destination.name}:{destination.version}"
        self._audit("share", "succeeded", reason, destination, world.registry.name, correlation_id)
        self.publisher.publish(
            ASSET_SHARED,
            str(destination),
            {
                **tags,
                "asset": destination.key,
                "target": world.registry.name,
                "correlation_id": correlation_id,
            },
        )
        logs.info("%s; fanning out", reason)
        return Outcome("share", str(destination), world.registry.name, LedgerStatus.SUCCEEDED.value, reason)

    def _conflict(
        self, destination: AssetRef, origin: Workspace, reason: str, event_id: str, correlation_id: str
    ) -> Outcome:
        """Record, once, that `origin` cannot share to an occupied destination. The destination's own
        share row (the asset that holds it) is left alone; the conflict has a row of its own."""
        target = f"conflict|{origin.name}"
        row = self.store.get_entry(destination.key, target)
        if row is None:
            now = self.clock()
            entry = LedgerEntry(
                destination.key,
                target,
                LedgerStatus.CONFLICT,
                message=reason,
                updated=now,
                finished=now,
                event_ids=(event_id,) if event_id else (),
                correlation_id=correlation_id,
                detail={"origin": origin.name},
            )
            self._write(None, entry)
            self._audit("share", "conflict", reason, destination, origin.name, correlation_id)
        logger_for(correlation_id).warning("conflict: %s; not retried", reason)
        return Outcome("share", str(destination), origin.name, LedgerStatus.CONFLICT.value, reason)

    # --- fan-out ---------------------------------------------------------------------------------

    def fan_out(
        self,
        asset: Asset,
        *,
        world: World,
        correlation_id: str,
        event_id: str = "",
        retry_failed_below: int = 0,
        latest_version: str | None = None,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """One ledger row and one queued push per allowed target of a registry asset version."""
        entries = self.store.entries_for_asset(asset.ref.key)
        if origin_of(asset.tags) is None and any(entry.target == "share" for entry in entries):
            # Our own share, not stamped yet: without provenance the audience could not be checked.
            reason = "its share is still in flight; the share fans out when it is done"
            return [Outcome("fanout", str(asset.ref), "", "skipped", reason)]
        decisions = self._decisions(asset, world, world.workspaces.values())
        rows = {entry.workspace: entry for entry in entries if entry.workspace}
        views = {
            name: LedgerStatusView(entry.status, entry.attempts, entry.updated)
            for name, entry in rows.items()
        }

        def plans_for(latest: str) -> list[FanoutPlan]:
            return plan_fanout(
                decisions,
                views,
                version=asset.ref.version,
                latest_version=latest,
                now=self.clock(),
                retry_failed_below=retry_failed_below,
            )

        plans = plans_for(latest_version or asset.ref.version)
        if any(step.step is not FanoutStep.SKIP for step in plans):
            # Before acting, confirm which version is the latest (steady state never pays this read).
            plans = plans_for(self._latest_version(world.registry, asset.ref))
        outcomes = [self._refusal(decision, asset) for decision in decisions if _worth_reporting(decision)]
        for plan in plans:
            if dry_run:
                outcomes.append(
                    Outcome("push", str(asset.ref), plan.target, f"planned:{plan.step.value}", plan.reason)
                )
                continue
            outcomes.append(
                self._apply_fanout(
                    plan.step,
                    plan.decision,
                    asset,
                    rows.get(plan.target),
                    plan.reason,
                    event_id,
                    correlation_id,
                )
            )
        queued = {LedgerStatus.PENDING.value, LedgerStatus.AWAITING_APPROVAL.value}
        if not dry_run and any(outcome.status in queued for outcome in outcomes):
            # A steady-state reconcile writes nothing, not even audit lines.
            self._audit_fanout(asset, outcomes, decisions, correlation_id)
        return outcomes

    def _latest_version(self, registry: Registry, ref: AssetRef) -> str:
        if ref.version.isdigit():
            return newest_numeric(ref.version, self.gateway.registry_versions(registry, ref))
        return self.gateway.latest_registry_version(registry, ref) or ref.version

    def _apply_fanout(
        self,
        step: FanoutStep,
        decision: PushDecision,
        asset: Asset,
        row: LedgerEntry | None,
        reason: str,
        event_id: str,
        correlation_id: str,
    ) -> Outcome:
        target = f"push|{decision.target}"
        now = self.clock()
        message = PushMessage(
            kind=asset.ref.kind,
            name=asset.ref.name,
            version=asset.ref.version,
            target=decision.target,
            correlation_id=correlation_id,
            event_id=event_id,
        )
        detail = {
            "rule": decision.rule_id or "",
            "mode": decision.action.mode.value if decision.action else "",
        }
        if step is FanoutStep.SKIP:
            return Outcome("push", str(asset.ref), decision.target, "done", reason)
        if step in {FanoutStep.ENQUEUE, FanoutStep.AWAIT_APPROVAL}:
            status = LedgerStatus.PENDING if step is FanoutStep.ENQUEUE else LedgerStatus.AWAITING_APPROVAL
            entry = LedgerEntry(
                asset.ref.key,
                target,
                status,
                message=reason,
                updated=now,
                event_ids=(event_id,) if event_id else (),
                correlation_id=correlation_id,
                detail=detail,
            )
            if self.store.create_entry(entry) is None:
                return Outcome(
                    "push", str(asset.ref), decision.target, "done", "another worker created this push first"
                )
        else:
            assert row is not None  # REQUEUE is only planned for an existing row
            try:
                self.store.update_entry(
                    replace(
                        row,
                        status=LedgerStatus.PENDING,
                        message=reason,
                        updated=now,
                        event_ids=row.with_event(event_id),
                        correlation_id=correlation_id,
                    )
                )
            except ConcurrentUpdateError:
                return Outcome(
                    "push", str(asset.ref), decision.target, "done", "another worker took this push over"
                )
            status = LedgerStatus.PENDING
        if status is LedgerStatus.PENDING:
            self.pushes.send(message.model_dump(mode="json"))
        return Outcome("push", str(asset.ref), decision.target, status.value, reason)

    def _refusal(self, decision: PushDecision, asset: Asset) -> Outcome:
        return Outcome("push", str(asset.ref), decision.target, "refused", decision.reason)

    def _audit_fanout(
        self, asset: Asset, outcomes: list[Outcome], decisions: list[PushDecision], correlation_id: str
    ) -> None:
        queued = [
            o.target
            for o in outcomes
            if o.status in {LedgerStatus.PENDING.value, LedgerStatus.AWAITING_APPROVAL.value}
        ]
        refused = [f"{o.target} ({o.reason})" for o in outcomes if o.status == "refused"]
        silent = sum(1 for decision in decisions if not decision.allowed and not _worth_reporting(decision))
        reason = f"queued for [{', '.join(queued)}]; refused: [{'; '.join(refused)}]; {silent} not subscribed"
        self._audit("fanout", "planned", reason, asset.ref, "", correlation_id)

    # --- one push (the queue path) ---------------------------------------------------------------

    def execute_push(self, message: PushMessage, *, final_attempt: bool) -> Outcome:
        """Carry out one queued push, checking the rules again first. Idempotent."""
        ref, logs = message.ref, logger_for(message.correlation_id, str(message.ref), message.target)
        key, target_row = ref.key, f"push|{message.target}"
        row = self.store.get_entry(key, target_row)
        view = LedgerStatusView(row.status, row.attempts, row.updated) if row else None
        step = plan_push(view, now=self.clock())
        if step is PushStep.DONE or step is PushStep.HOLD:
            return Outcome(
                "push",
                str(ref),
                message.target,
                row.status.value if row else "done",
                f"nothing to do ({step.value})",
            )
        if step is PushStep.BUSY:
            raise TemporaryError(f"push of {ref} to {message.target} is running elsewhere", retry_after=60)
        world = self.world()
        target = world.workspaces.get(message.target)
        asset = self.gateway.get_registry_asset(world.registry, ref)
        decision = self._recheck(asset, target, world, ref, message.target)
        if not decision.allowed or target is None or asset is None or decision.action is None:
            return self._refuse_push(row, key, target_row, ref, message, decision.reason)
        claimed = self._claim(
            key,
            target_row,
            row,
            message.event_id,
            message.correlation_id,
            {"rule": decision.rule_id or "", "mode": decision.action.mode.value},
        )
        tags = {
            **{k: v for k, v in asset.tags.items() if k.startswith("regsync.")},
            "regsync.correlation": message.correlation_id,
        }
        try:
            what = self.gateway.push(target, world.registry, ref, decision.action, tags)
        except TemporaryError as error:
            if final_attempt or claimed.attempts >= self.max_push_attempts:
                self._push_failed(
                    claimed, ref, message, f"gave up after {claimed.attempts} attempts: {error}"
                )
            else:
                self._finish(claimed, LedgerStatus.RETRYING, str(error))
                logs.warning(
                    "push of %s to %s failed temporarily (%s); retry %d of %d follows",
                    ref,
                    message.target,
                    error,
                    claimed.attempts,
                    self.max_push_attempts,
                )
            raise
        except PermanentError as error:
            self._push_failed(claimed, ref, message, str(error))
            return Outcome("push", str(ref), message.target, LedgerStatus.FAILED.value, str(error))
        self._finish(claimed, LedgerStatus.SUCCEEDED, what)
        self._audit("push", "succeeded", what, ref, message.target, message.correlation_id)
        self.publisher.publish(
            ASSET_PUSHED,
            str(ref),
            {"asset": key, "target": message.target, "correlation_id": message.correlation_id, "what": what},
        )
        logs.info("push of %s to %s succeeded: %s", ref, message.target, what)
        return Outcome("push", str(ref), message.target, LedgerStatus.SUCCEEDED.value, what)

    def _recheck(
        self, asset: Asset | None, target: Workspace | None, world: World, ref: AssetRef, target_name: str
    ) -> PushDecision:
        if target is None:
            return PushDecision(
                False, f"workspace {target_name} is no longer managed by RegSync", target_name
            )
        if asset is None:
            return PushDecision(False, f"{ref} is not in registry {world.registry.name}", target_name)
        decisions = self._decisions(asset, world, [target])
        return decisions[0]

    def _decisions(self, asset: Asset, world: World, targets: Iterable[Workspace]) -> list[PushDecision]:
        found = origin_of(asset.tags)
        origin = world.workspaces.get(found.workspace) if found else None
        source = (
            Asset(ref=AssetRef(kind=asset.ref.kind, name=found.name, version=found.version), tags=asset.tags)
            if found
            else None
        )
        return decide_targets(asset, origin, targets, world.registry, world.policy, source=source)

    def _refuse_push(
        self,
        row: LedgerEntry | None,
        key: str,
        target_row: str,
        ref: AssetRef,
        message: PushMessage,
        reason: str,
    ) -> Outcome:
        now = self.clock()
        entry = LedgerEntry(
            key,
            target_row,
            LedgerStatus.REFUSED,
            attempts=row.attempts if row else 0,
            message=reason,
            updated=now,
            finished=now,
            correlation_id=message.correlation_id,
            etag=row.etag if row else None,
        )
        self._write(row, entry)
        self._audit("push", "refused", reason, ref, message.target, message.correlation_id)
        logger_for(message.correlation_id).info("push of %s to %s refused: %s", ref, message.target, reason)
        return Outcome("push", str(ref), message.target, LedgerStatus.REFUSED.value, reason)

    def _push_failed(self, claimed: LedgerEntry, ref: AssetRef, message: PushMessage, reason: str) -> None:
        self._finish(claimed, LedgerStatus.FAILED, reason)
        self._audit("push", "failed", reason, ref, message.target, message.correlation_id)
        self.publisher.publish(
            PUSH_FAILED,
            str(ref),
            {
                "asset": ref.key,
                "target": message.target,
                "correlation_id": message.correlation_id,
                "error": reason,
            },
        )
        logger_for(message.correlation_id).error(
            "push of %s to %s failed for good: %s", ref, message.target, reason
        )

    # --- pull and approval: a tenant asks, an approver releases ------------------------------------

    def pull(
        self,
        workspace: str,
        kind: AssetKind,
        name: str,
        version: str | None = None,
        *,
        correlation_id: str,
        actor: str = "regsync",
        dry_run: bool = False,
    ) -> Outcome:
        """A workspace asks for a registry asset (its latest version if none is named); the rules decide,
        as for any push. The version policy does not apply (the caller chose); gates and denies do.
        """
        world = self.world()
        target = world.workspaces.get(workspace)
        if target is None:
            raise PermanentError(f"workspace `{workspace}` is not managed by RegSync")
        probe = AssetRef(kind=kind, name=name, version=version or "latest")
        version = version or self.gateway.latest_registry_version(world.registry, probe)
        if version is None:
            reason = f"the registry has no {kind.value} named {name}"
            return Outcome("pull", f"{kind.value} {name}", workspace, "refused", reason)
        ref = AssetRef(kind=kind, name=name, version=version)
        asset = self.gateway.get_registry_asset(world.registry, ref)
        if asset is None:
            return Outcome(
                "pull", str(ref), workspace, "refused", f"{ref} is not in registry {world.registry.name}"
            )
        decision = replace(self._decisions(asset, world, [target])[0], version_policy=VersionPolicy.ALL)
        if not decision.allowed:
            if not dry_run:
                self.store.audit(
                    AuditRecord(
                        "pull", "refused", decision.reason, str(ref), workspace, actor, correlation_id
                    )
                )
            return Outcome("pull", str(ref), workspace, "refused", decision.reason)
        rows = {entry.workspace: entry for entry in self.store.entries_for_asset(ref.key) if entry.workspace}
        # A first pull has no row yet: the view must not read one.
        view = {
            name: LedgerStatusView(row.status, row.attempts, row.updated)
            for name, row in rows.items()
            if name == workspace
        }
        plans = plan_fanout(
            [decision],
            view,
            version=ref.version,
            latest_version=ref.version,
            now=self.clock(),
            retry_failed_below=2 * self.max_push_attempts,
        )
        plan = plans[0]
        if dry_run:
            return Outcome("pull", str(ref), workspace, f"planned:{plan.step.value}", plan.reason)
        outcome = self._apply_fanout(
            plan.step, decision, asset, rows.get(workspace), plan.reason, "", correlation_id
        )
        self.store.audit(
            AuditRecord("pull", outcome.status, plan.reason, str(ref), workspace, actor, correlation_id)
        )
        return replace(outcome, action="pull")

    def approve(self, workspace: str, ref: AssetRef, *, approver: str, correlation_id: str) -> Outcome:
        """Release a push that waits for approval: it becomes pending and is queued."""
        row = self.store.get_entry(ref.key, f"push|{workspace}")
        if row is None or row.status is not LedgerStatus.AWAITING_APPROVAL:
            state = row.status.value if row else "no push"
            raise InvalidInputError(f"{ref} -> {workspace} does not wait for approval (it is: {state})")
        reason = f"approved by {approver}"
        try:
            self.store.update_entry(
                replace(
                    row,
                    status=LedgerStatus.PENDING,
                    message=reason,
                    updated=self.clock(),
                    correlation_id=correlation_id,
                )
            )
        except ConcurrentUpdateError as error:
            raise TemporaryError(
                f"{ref} -> {workspace} changed meanwhile; try again", retry_after=1
            ) from error
        message = PushMessage(
            kind=ref.kind, name=ref.name, version=ref.version, target=workspace, correlation_id=correlation_id
        )
        self.pushes.send(message.model_dump(mode="json"))
        self.store.audit(
            AuditRecord("approve", "pending", reason, str(ref), workspace, approver, correlation_id)
        )
        return Outcome("approve", str(ref), workspace, LedgerStatus.PENDING.value, reason)

    # --- reconcile: events are hints, this is the guarantee ----------------------------------------

    def schedule_reconcile(self, *, correlation_id: str) -> int:
        """The timer's whole job: one reconcile message per workspace and one for the registry."""
        if self.reconciles is None:
            raise PermanentError("no reconcile queue is configured")
        names = [workspace.name for workspace in self.store.list_workspaces()]
        messages = [
            ReconcileMessage(scope="workspace", name=name, correlation_id=correlation_id) for name in names
        ]
        messages.append(ReconcileMessage(scope="registry", correlation_id=correlation_id))
        for message in messages:
            self.reconciles.send(message.model_dump(mode="json"))
        return len(messages)

    def reconcile(
        self, message: ReconcileMessage, *, dry_run: bool = False, world: World | None = None
    ) -> list[Outcome]:
        world = world or self.world()
        if message.scope == "registry":
            return self.reconcile_registry(
                correlation_id=message.correlation_id, dry_run=dry_run, world=world
            )
        return self.reconcile_workspace(
            message.name, correlation_id=message.correlation_id, dry_run=dry_run, world=world
        )

    def reconcile_workspace(
        self, name: str, *, correlation_id: str, dry_run: bool = False, world: World | None = None
    ) -> list[Outcome]:
        """Share side of one workspace: judge each latest asset version not yet judged under these rules.

        Cost with nothing to do: one paged list call per asset kind and one Seen partition query.
        """
        world = world or self.world()
        workspace = world.workspaces.get(name)
        if workspace is None:
            raise PermanentError(f"workspace `{name}` is not managed by RegSync")
        refusal = region_refusal(workspace, world.registry)
        if refusal:  # nothing it holds can be shared: spare AzureML the calls
            return [Outcome("reconcile", name, world.registry.name, "refused", refusal)]
        fingerprint, seen = world.policy.fingerprint, self.store.seen_in(name)
        outcomes: list[Outcome] = []
        for kind in AssetKind:
            for listed in self.gateway.workspace_latest(workspace, kind):
                note = seen.get(listed.ref.key)
                if note is not None and note.fingerprint == fingerprint and note.outcome in _SETTLED:
                    continue
                results = self._propagate_for_reconcile(workspace, listed.ref, world, correlation_id, dry_run)
                outcomes += results
                if not dry_run and results and results[0].status in _SETTLED:
                    self.store.remember(name, SeenAsset(listed.ref.key, fingerprint, results[0].status))
        return outcomes

    def _propagate_for_reconcile(
        self, workspace: Workspace, ref: AssetRef, world: World, correlation_id: str, dry_run: bool
    ) -> list[Outcome]:
        try:
            return self.propagate(workspace, ref, correlation_id=correlation_id, world=world, dry_run=dry_run)
        except (TemporaryError, PermanentError) as error:
            # One asset's trouble must not stop the reconcile of the others; the next run retries it.
            logger_for(correlation_id, str(ref), workspace.name).warning("reconcile of %s: %s", ref, error)
            status = "retrying" if isinstance(error, TemporaryError) else LedgerStatus.FAILED.value
            return [Outcome("share", str(ref), workspace.name, status, str(error))]

    def reconcile_registry(
        self, *, correlation_id: str, dry_run: bool = False, world: World | None = None
    ) -> list[Outcome]:
        """Push side: every latest registry version reaches every workspace the rules allow.

        Catches lost events, new subscribers, newer versions under `latest`, and failed pushes (retried
        up to twice the per-message attempt limit). Provenance tags are remembered in the Seen table,
        so with nothing to do the cost is one paged list call per asset kind (a page holds 20).
        """
        world = world or self.world()
        seen = self.store.seen_in(REGISTRY_SCOPE)
        outcomes: list[Outcome] = []
        for kind in AssetKind:
            for listed in self.gateway.registry_latest(world.registry, kind):
                # The latest version, and any older one that a rule pins (e.g. prod stays on 3).
                pinned = pinned_versions(world.policy, listed.ref)
                refs = [AssetRef(kind=kind, name=listed.ref.name, version=v) for v in sorted(pinned)]
                versions = [listed, *(Asset(ref=ref) for ref in refs)]
                for version in versions:
                    asset = self._registry_asset(version, seen.get(version.ref.key), world, dry_run)
                    if asset is None:
                        continue
                    outcomes += self.fan_out(
                        asset,
                        world=world,
                        correlation_id=correlation_id,
                        retry_failed_below=2 * self.max_push_attempts,
                        latest_version=listed.ref.version,
                        dry_run=dry_run,
                    )
        return outcomes

    def _registry_asset(
        self, listed: Asset, note: SeenAsset | None, world: World, dry_run: bool
    ) -> Asset | None:
        if note is not None:
            return Asset(ref=listed.ref, tags=note.tags)
        asset = self.gateway.get_registry_asset(world.registry, listed.ref)
        if asset is None or dry_run:
            return asset
        # Remember the tags unless provenance is missing because our own share is still in flight (a
        # share row exists); assets put in the registry directly have none and are remembered too.
        in_flight = (
            origin_of(asset.tags) is None and self.store.get_entry(listed.ref.key, "share") is not None
        )
        if not in_flight:
            self.store.remember(REGISTRY_SCOPE, SeenAsset(listed.ref.key, "", "listed", asset.tags))
        return asset

    # --- ledger rows ------------------------------------------------------------------------------

    def _claim(
        self,
        key: str,
        target: str,
        row: LedgerEntry | None,
        event_id: str,
        correlation_id: str,
        detail: dict[str, Any],
    ) -> LedgerEntry:
        """Take the row for this worker (running, one attempt more); TemporaryError if another has it."""
        now = self.clock()
        busy = TemporaryError(f"{key} -> {target} is being worked on elsewhere", retry_after=30)
        if row is None:
            entry = LedgerEntry(
                key,
                target,
                LedgerStatus.RUNNING,
                attempts=1,
                started=now,
                updated=now,
                event_ids=(event_id,) if event_id else (),
                correlation_id=correlation_id,
                detail=detail,
            )
            created = self.store.create_entry(entry)
            if created is None:
                raise busy
            return created
        if (
            row.status is LedgerStatus.RUNNING
            and row.updated is not None
            and now - row.updated <= DEFAULT_LEASE
        ):
            raise busy
        try:
            return self.store.update_entry(
                replace(
                    row,
                    status=LedgerStatus.RUNNING,
                    attempts=row.attempts + 1,
                    started=now,
                    updated=now,
                    finished=None,
                    event_ids=row.with_event(event_id),
                    correlation_id=correlation_id,
                    detail={**row.detail, **detail},
                )
            )
        except ConcurrentUpdateError:
            raise busy from None

    def _finish(self, row: LedgerEntry, status: LedgerStatus, message: str) -> None:
        now = self.clock()
        finished = now if status.final else None
        self._write(row, replace(row, status=status, message=message, updated=now, finished=finished))

    def _settle_done(
        self,
        key: str,
        target: str,
        row: LedgerEntry | None,
        event_id: str,
        correlation_id: str,
        detail: dict[str, Any],
    ) -> None:
        if row is not None and row.status is LedgerStatus.SUCCEEDED:
            return
        now = self.clock()
        entry = LedgerEntry(
            key,
            target,
            LedgerStatus.SUCCEEDED,
            attempts=row.attempts if row else 0,
            message="already done",
            started=row.started if row else None,
            finished=now,
            updated=now,
            event_ids=row.with_event(event_id) if row else ((event_id,) if event_id else ()),
            correlation_id=correlation_id,
            detail=detail,
            etag=row.etag if row else None,
        )
        self._write(row, entry)

    def _write(self, row: LedgerEntry | None, entry: LedgerEntry) -> None:
        try:
            if row is None:
                self.store.create_entry(entry)
            else:
                self.store.update_entry(replace(entry, etag=row.etag))
        except ConcurrentUpdateError:
            logger_for(entry.correlation_id).info(
                "ledger row %s -> %s was updated meanwhile", entry.asset_key, entry.target
            )

    def _record(
        self,
        action: str,
        subject: str,
        target: str,
        outcome: str,
        reason: str,
        correlation_id: str,
        dry_run: bool,
    ) -> Outcome:
        if not dry_run:
            self.store.audit(
                AuditRecord(
                    action, outcome, reason, subject=subject, target=target, correlation_id=correlation_id
                )
            )
        return Outcome(action, subject, target, outcome, reason)

    def _audit(
        self, action: str, outcome: str, reason: str, ref: AssetRef, target: str, correlation_id: str
    ) -> None:
        self.store.audit(
            AuditRecord(
                action, outcome, reason, subject=str(ref), target=target, correlation_id=correlation_id
            )
        )


def _worth_reporting(decision: PushDecision) -> bool:
    """Refusals an operator wants to see one by one; 'not subscribed' is the silent majority."""
    return not decision.allowed and not decision.reason.startswith("not subscribed")
