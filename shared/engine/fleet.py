"""Fleet control: recall (take a version back from every workspace that received it) and the drift
report (where workspaces differ from what RegSync delivered; the self-heal is the reconcile's,
shared.engine.drift).

Who calls it: shared.api (POST /api/recall) and shared.cli (`regsync recall`), through the Engine.
Observe (the registry version, its tombstone, its push rows and, for deployments, their endpoints), plan
(shared.planner.recall, pure), apply (shared.engine.apply, the only writer). The provider may recall
anything; a tenant only what it published (the version's provenance tenant). A dry run answers the plan
and writes nothing.
"""

from __future__ import annotations

from shared.auth import Caller
from shared.domain import AssetKind, AssetRef, LedgerStatus, Workspace
from shared.engine.core import StoreT
from shared.engine.requests import PROVIDER, Requests, for_caller
from shared.errors import NotFoundError
from shared.ledger import transition
from shared.planner import World, decide_fanout
from shared.planner.drift import DriftLine, plan_drift, ref_of
from shared.planner.recall import RecallSnapshot, RecallTarget, action_of, plan_recall, take_back
from shared.planner.rollout import rollout_target
from shared.planner.world import audit_line
from shared.policy import OnRemove, PushMode, PushRule, provenance_tenant
from shared.records import Action, Outcome, Status, Tombstone
from shared.steps import WriteRow, preview


class Fleet(Requests[StoreT]):
    def recall(
        self,
        kind: AssetKind,
        name: str,
        version: str | None = None,
        *,
        reason: str,
        correlation_id: str,
        caller: Caller = PROVIDER,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """Recall a registry version (its latest if none is named) from the whole fleet. Idempotent: a
        recall run again resumes what is not done yet (a workspace that could not be reached)."""
        world = self.world()
        version = version or self.gateway.latest_registry_version(
            world.registry, AssetRef(kind=kind, name=name, version="latest")
        )
        what = f"{kind.value} `{name}:{version}`" if version else f"{kind.value} `{name}`"
        if version is None:
            raise NotFoundError(caller.unseen(what))
        ref = AssetRef(kind=kind, name=name, version=version)
        asset = self.gateway.get_registry_asset(world.registry, ref)
        buried = self.store.tombstone(ref.key)
        publisher = provenance_tenant(asset) if asset else (buried.tenant if buried else None)
        if (asset is None and buried is None) or not (caller.provider or caller.tenant == publisher):
            raise NotFoundError(caller.unseen(what))  # a tenant recalls only what it published
        tombstone = Tombstone(
            ref.key,
            caller.name,
            reason,
            self.clock(),
            tenant="" if caller.provider else publisher or "",
            correlation_id=correlation_id,
        )
        snapshot = RecallSnapshot(ref, asset, buried, self.observe_recall_targets(ref, world))
        steps = plan_recall(snapshot, world, tombstone=tombstone, now=self.clock(), tenant=publisher)
        if dry_run:
            planned = [outcome for step in steps if (outcome := preview(step)) is not None]
            return for_caller(caller, planned, world)
        return for_caller(caller, self.applier.apply(steps), world)

    def drift(
        self,
        *,
        caller: Caller = PROVIDER,
        tenant: str | None = None,
        workspace: str | None = None,
        tags: bool = False,
    ) -> list[DriftLine]:
        """Each workspace in scope (checked as for status: a tenant sees its own only) against what
        RegSync delivered to it. `tags`: also read each delivered copy to compare RegSync's tags."""
        world = self.world()
        if workspace is not None:
            scope = [self.workspace_for(caller, workspace, world)]
        else:
            if tenant is not None:
                self.tenant_for(caller, tenant)
            only = tenant or caller.tenant  # a tenant caller sees its own tenant only
            scope = [ws for _, ws in sorted(world.workspaces.items()) if only in (None, ws.tenant)]
        kinds = {kind for rule in world.policy.push for kind in rule.assets.kinds}
        latest = {
            (kind, asset.ref.name): asset.ref.version
            for kind in sorted(kinds)
            for asset in self.gateway.registry_latest(world.registry, kind)
        }
        lines: list[DriftLine] = []
        for target in scope:
            snapshot = self.observe_drift(target, world, registry_latest=latest, tags=tags)
            lines += plan_drift(snapshot, world)
        return lines

    def withdraw_rule(self, rule: PushRule, *, caller: Caller, correlation_id: str) -> list[Outcome]:
        """After `rule` was removed: if it says `on_remove: recall`, take back from each workspace what it
        delivered there and no rule still allows (a copy archived, an endpoint moved back). No tombstone:
        the version stays deliverable wherever a rule wants it."""
        if rule.on_remove is not OnRemove.RECALL:
            return []
        world = self.world()  # without the rule
        outcomes: list[Outcome] = []
        for row in self.store.list_ledger():  # an operator's action: one scan
            if row.workspace is None or row.detail.get("rule") != rule.id:
                continue
            ref, target = ref_of(row), world.workspaces.get(row.workspace)
            asset = self.gateway.get_registry_asset(world.registry, ref)
            if target is not None and asset is not None:
                owners = self.observe_owners(world, ref.kind, ref.name)
                still = decide_fanout(asset, world, [target], owners=owners)[0]
                if still.allowed:
                    kept = f"rule {still.rule_id} still delivers it: kept"
                    outcomes.append(Outcome(Action.RECALL, str(ref), target.name, Status.SKIPPED, kept))
                    continue
            endpoint = None
            if target is not None and rule.action.mode is not PushMode.REGISTER:
                endpoint = self.gateway.endpoint_view(target, rule.action)
            step = take_back(
                RecallTarget(row, target, rule.action, endpoint),
                ref,
                world,
                world.recalled,
                now=self.clock(),
                correlation_id=correlation_id,
                actor=caller.name,
            )
            outcome = self.applier.run(step)
            if outcome is not None:
                outcomes.append(outcome)
        return for_caller(caller, outcomes, world)

    def resume_rollout(
        self, ref: AssetRef, rule_id: str, *, caller: Caller = PROVIDER, correlation_id: str
    ) -> list[Outcome]:
        """Lift a rollout's stop for one version (the provider, or the tenant that owns the rule; any
        other rule is the same 404 as an unknown one): its later waves go on; the failed target stays
        failed (`regsync sync --workspace` queues it afresh). Then fan the version out."""
        world = self.world()
        rule = self.push_rule_for(caller, rule_id, world)
        asset = self.gateway.get_registry_asset(world.registry, ref) if rule.rollout is not None else None
        if asset is None:
            raise NotFoundError(f"no rollout of rule `{rule_id}` for {ref}")
        reason = f"rollout of rule {rule_id} resumed by {caller.name}"
        outcome = Outcome(Action.ROLLOUT, str(ref), rule_id, Status.DONE, reason)
        row = transition(
            None,
            LedgerStatus.SUCCEEDED,
            key=ref.key,
            target=rollout_target(rule_id),
            now=self.clock(),
            message=reason,
            correlation_id=correlation_id,
        )
        before = self.store.get_entry(ref.key, rollout_target(rule_id))
        outcomes: list[Outcome] = []
        if before is None:  # in the rule owner's audit trail too
            audit = audit_line(outcome, caller.name, correlation_id, tenant=rule.tenant)
            outcomes += self.applier.apply([WriteRow(outcome, None, row, "resume", audit=audit)])
        latest = self.latest_version(world.registry, ref)
        outcomes += self.fan_out(asset, world=world, correlation_id=correlation_id, latest_version=latest)
        return for_caller(caller, outcomes, world)

    def withdraw_workspace(self, name: str, *, caller: Caller, correlation_id: str) -> list[Outcome]:
        """Before a workspace leaves RegSync: take back what rules that say `on_remove: recall` delivered
        to it (a copy archived, an endpoint moved back), while it is still managed. No tombstone."""
        world = self.world()
        workspace = self.workspace_for(caller, name, world)
        rules = {rule.id: rule for rule in world.policy.push if rule.on_remove is OnRemove.RECALL}
        outcomes: list[Outcome] = []
        for row in self.store.list_ledger(workspace=name):
            rule = rules.get(str(row.detail.get("rule", "")))
            if rule is None:
                continue
            endpoint = None
            if rule.action.mode is not PushMode.REGISTER and row.status in {
                LedgerStatus.SUCCEEDED,
                LedgerStatus.DEPLOYING,
            }:
                endpoint = self.gateway.endpoint_view(workspace, rule.action)
            target = RecallTarget(row, workspace, rule.action, endpoint)
            step = take_back(
                target,
                ref_of(row),
                world,
                world.recalled,
                now=self.clock(),
                correlation_id=correlation_id,
                actor=caller.name,
            )
            if (outcome := self.applier.run(step)) is not None:
                outcomes.append(outcome)
        return outcomes

    def observe_recall_targets(self, ref: AssetRef, world: World) -> tuple[RecallTarget, ...]:
        """The version's push rows (one partition query) and, where it was deployed, the endpoint."""
        actions = {rule.id: rule.action for rule in world.policy.push}
        targets = []
        for row in self.store.entries_for_asset(ref.key):
            if row.workspace is None:
                continue
            workspace: Workspace | None = world.workspaces.get(row.workspace)
            action = action_of(row, actions)
            endpoint = None
            if workspace is not None and action is not None and action.mode is not PushMode.REGISTER:
                endpoint = self.gateway.endpoint_view(workspace, action)
            targets.append(RecallTarget(row, workspace, action, endpoint))
        return tuple(targets)
