"""What a person asks for, through the HTTP API or the CLI alike: sync (or plan) a scope, pull, approve.

Who calls it: shared.api and shared.cli, with the caller (the CLI in-process acts as the provider).
One use case per verb: the scope is resolved and the caller checked here, once, so both front ends
answer the same question the same way (unknown names are NotFoundError, not yours is ForbiddenError).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

from shared.auth import Caller
from shared.domain import AssetKind, AssetRef, Workspace
from shared.engine.core import StoreT
from shared.engine.pushes import Pushes
from shared.errors import ConflictError, NotFoundError
from shared.planner import Retry, World, decide_fanout, plan_approve, plan_fanout, recorded
from shared.policy import VersionPolicy
from shared.records import Action, Outcome, Status
from shared.steps import WriteRow, preview

PROVIDER = Caller(name="regsync-cli", provider=True)


@dataclass(frozen=True)
class SyncScope:
    """Everything, a tenant's workspaces, one workspace, or one asset of a workspace."""

    scope: Literal["all", "tenant", "workspace", "asset"]
    tenant: str | None = None
    workspace: str | None = None
    asset: AssetRef | None = None
    dry_run: bool = False

    @property
    def label(self) -> str:
        named = self.asset or self.workspace or self.tenant
        return f"{self.scope} {named}" if named else "everything"


@dataclass(frozen=True)
class SyncResult:
    correlation_id: str
    scope: str
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    scheduled: int | None = None  # set when the reconcile was queued rather than run inline


class Requests(Pushes[StoreT]):
    def scope_workspaces(self, caller: Caller, request: SyncScope, world: World) -> list[Workspace]:
        """The workspaces a scope names, after checking they exist and the caller may act for them."""
        if request.scope == "all":
            caller.require_provider("sync or plan every tenant at once")
            return [world.workspaces[name] for name in sorted(world.workspaces)]
        if request.tenant is not None:
            self.tenant_for(caller, request.tenant)
            return [
                world.workspaces[name]
                for name in sorted(world.workspaces)
                if world.workspaces[name].tenant == request.tenant
            ]
        assert request.workspace is not None  # the scopes left name a workspace
        return [self.workspace_for(caller, request.workspace, world)]

    def tenant_for(self, caller: Caller, tenant: str) -> None:
        caller.require(tenant, f"tenant `{tenant}`")
        if self.store.get_tenant(tenant) is None:
            raise NotFoundError(f"tenant `{tenant}` is unknown")

    def workspace_for(self, caller: Caller, name: str, world: World | None = None) -> Workspace:
        workspace = (world or self.world()).workspaces.get(name)
        if workspace is None:
            raise NotFoundError(f"workspace `{name}` is unknown")
        caller.require(workspace.tenant, f"workspace `{name}`")
        return workspace

    def sync(
        self, request: SyncScope, *, caller: Caller, correlation_id: str, concurrency: int | None = None
    ) -> SyncResult:
        """Reconcile what the scope names now. `all` (not a dry run) is queued, one message per
        workspace, as the timer does; a named scope runs inline: the share side of its workspaces,
        then the push side narrowed to them, where a failed push is queued afresh (a person asked)."""
        world = self.world()
        workspaces = self.scope_workspaces(caller, request, world)  # checks the caller before anything runs
        dry, cid = request.dry_run, correlation_id
        if request.scope == "all" and not dry:
            scheduled = self.schedule_reconcile(correlation_id=cid)
            done = Outcome(Action.SYNC, "all", "", Status.SCHEDULED, f"{scheduled} reconcile messages queued")
            self.applier.run(recorded(done, actor=caller.name, correlation_id=cid))
            return SyncResult(cid, request.scope, dry, scheduled=scheduled)
        if request.asset is not None:
            outcomes = self.propagate(
                workspaces[0], request.asset, correlation_id=cid, world=world, dry_run=dry, retry=Retry.ALWAYS
            )
        else:
            outcomes = self._share_sides(workspaces, world, cid, dry, concurrency or self.max_concurrency)
            targets = None if request.scope == "all" else workspaces
            outcomes += self.reconcile_registry(
                correlation_id=cid, dry_run=dry, world=world, targets=targets, retry=Retry.ALWAYS
            )
        if not dry:
            done = Outcome(
                Action.SYNC,
                request.label,
                request.workspace or request.tenant or "",
                Status.DONE,
                f"scope {request.scope}: {len(outcomes)} outcomes",
            )
            self.applier.run(recorded(done, actor=caller.name, correlation_id=cid))
        return SyncResult(cid, request.scope, dry, outcomes)

    def _share_sides(
        self, workspaces: list[Workspace], world: World, cid: str, dry: bool, concurrency: int
    ) -> list[Outcome]:
        def one(workspace: Workspace) -> list[Outcome]:
            return self.reconcile_workspace(
                workspace.name, correlation_id=cid, dry_run=dry, world=world, retry=Retry.ALWAYS
            )

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="regsync-sync") as pool:
            return [outcome for batch in pool.map(one, workspaces) for outcome in batch]

    def pull(
        self,
        workspace: str,
        kind: AssetKind,
        name: str,
        version: str | None = None,
        *,
        correlation_id: str,
        caller: Caller = PROVIDER,
        dry_run: bool = False,
    ) -> Outcome:
        """A workspace asks for a registry asset (its latest version if none is named); the rules decide,
        as for any push. The version policy does not apply (the caller chose); gates and denies do."""
        world = self.world()
        target = self.workspace_for(caller, workspace, world)
        version = version or self.gateway.latest_registry_version(
            world.registry, AssetRef(kind=kind, name=name, version="latest")
        )
        asset = None
        if version is not None:
            ref = AssetRef(kind=kind, name=name, version=version)
            asset = self.gateway.get_registry_asset(world.registry, ref)
        if asset is None:
            what = f"{kind.value} {name}:{version}" if version else f"{kind.value} named {name}"
            return Outcome(Action.PULL, what, workspace, Status.REFUSED, f"the registry has no {what}")
        owners = self.observe_owners(world, kind, name)
        decision = replace(
            decide_fanout(asset, world, [target], owners=owners)[0], version_policy=VersionPolicy.ALL
        )
        if not decision.allowed:
            refused = Outcome(Action.PULL, str(asset.ref), workspace, Status.REFUSED, decision.reason)
            if not dry_run:
                self.applier.run(recorded(refused, actor=caller.name, correlation_id=correlation_id))
            return refused
        snapshot = self.observe_fanout(asset, asset.ref.version, owners)
        steps = plan_fanout(
            snapshot,
            [decision],
            retry=Retry.ALWAYS,
            now=self.clock(),
            correlation_id=correlation_id,
            action=Action.PULL,
        )
        step = steps[0]
        if dry_run:
            planned = preview(step)
            assert planned is not None
            return planned
        outcome = self.applier.run(step)
        assert outcome is not None
        self.applier.run(recorded(outcome, actor=caller.name, correlation_id=correlation_id))
        return outcome

    def approve(
        self, workspace: str, ref: AssetRef, *, approver: str, correlation_id: str, caller: Caller = PROVIDER
    ) -> Outcome:
        """Release a push that waits for approval: it becomes pending and is queued. Only the provider
        approves: gates are how provider rules bound tenants (e.g. prod)."""
        caller.require_provider("approve a gated push")
        self.workspace_for(caller, workspace)
        row = self.store.get_entry(ref.key, f"push|{workspace}")
        step: WriteRow | None = plan_approve(
            ref, workspace, row, approver=approver, now=self.clock(), correlation_id=correlation_id
        )
        if step is None:
            state = row.status.value if row else "no push"
            raise ConflictError(f"{ref} -> {workspace} does not wait for approval (it is: {state})")
        outcome = self.applier.run(step)
        assert outcome is not None
        return outcome
