"""What a person asks for, through the HTTP API or the CLI alike: sync (or plan) a scope, pull, approve.

Who calls it: shared.api and shared.cli, with the caller (the CLI in-process acts as the provider).
One use case per verb: the scope is resolved and the caller checked here, once, so both front ends
answer the same question the same way. What a tenant caller learns of other tenants is decided here too:
a workspace or tenant that is unknown or not its own is the same NotFoundError ("not found or not
yours"), and the outcomes it is answered with pass through `TenantView` (other tenants' workspaces left
out, reasons naming their workspaces, rules, tenant ids or regions replaced). The provider sees all.
ForbiddenError is left for what the caller's role may not do at all (sync everything, approve).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


_NAME_EDGE = r"[\w.-]"  # names are made of these: a foreign name must not match inside a longer one


@dataclass(frozen=True)
class TenantView:
    """The world as one tenant may see it: its own workspaces, its own and the provider's rules, the
    registry. The ONE place that filters and redacts what tenant callers are answered with."""

    tenant: str
    own: frozenset[str]  # its workspaces
    others: frozenset[str]  # other tenants' workspaces
    foreign: re.Pattern[str] | None  # any name of another tenant's: workspace, tenant id, rule id, region

    @classmethod
    def of(cls, tenant: str, world: World) -> TenantView:
        workspaces = world.workspaces.values()
        own = frozenset(ws.name for ws in workspaces if ws.tenant == tenant)
        others = frozenset(ws.name for ws in workspaces if ws.tenant != tenant)
        rules = (*world.policy.share, *world.policy.push)
        seen_regions = {ws.region for ws in workspaces if ws.tenant == tenant} | set(world.registry.regions)
        words = set(others)
        words |= {ws.tenant for ws in workspaces if ws.tenant != tenant}
        words |= {ws.region for ws in workspaces if ws.tenant != tenant and ws.region not in seen_regions}
        words |= {rule.id for rule in rules if rule.tenant not in (None, tenant)}
        words |= {rule.tenant for rule in rules if rule.tenant not in (None, tenant)}
        alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True) if word)
        pattern = re.compile(f"(?<!{_NAME_EDGE})(?:{alternatives})(?!{_NAME_EDGE})") if alternatives else None
        return cls(tenant, own, others, pattern)

    def names_foreign(self, text: str) -> bool:
        return self.foreign is not None and self.foreign.search(text) is not None

    def sees(self, outcome: Outcome) -> bool:
        """Not about another tenant's workspace, nor named by another tenant's things."""
        return outcome.target not in self.others and not self.names_foreign(outcome.subject)

    def reason(self, status: str, reason: str) -> str:
        """`reason`, or when it names another tenant's things, a sentence that names none."""
        if not self.names_foreign(reason):
            return reason
        if status == Status.REFUSED:
            return f"not shared with tenant {self.tenant}"
        return f"{status}: the details concern other tenants and are shown to the provider only"

    def redacted(self, outcome: Outcome) -> Outcome:
        return replace(outcome, reason=self.reason(outcome.status, outcome.reason))

    def outcomes(self, outcomes: Iterable[Outcome]) -> list[Outcome]:
        return [self.redacted(outcome) for outcome in outcomes if self.sees(outcome)]


def for_caller(caller: Caller, outcomes: list[Outcome], world: World) -> list[Outcome]:
    """The outcomes as `caller` is answered with them: all for the provider, a TenantView for a tenant."""
    if caller.provider or caller.tenant is None:
        return outcomes
    return TenantView.of(caller.tenant, world).outcomes(outcomes)


def answer_for(caller: Caller, outcome: Outcome, world: World) -> Outcome:
    """One outcome about the caller's own workspace (a pull), its reason as the caller may read it."""
    if caller.provider or caller.tenant is None:
        return outcome
    return TenantView.of(caller.tenant, world).redacted(outcome)


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
        """The tenant exists and the caller acts for it; else one NotFoundError for both cases."""
        if not caller.may_act_for(tenant) or self.store.get_tenant(tenant) is None:
            raise NotFoundError(caller.unseen(f"tenant `{tenant}`"))

    def workspace_for(self, caller: Caller, name: str, world: World | None = None) -> Workspace:
        """The workspace, if it exists and the caller acts for its tenant; else one NotFoundError."""
        workspace = (world or self.world()).workspaces.get(name)
        if workspace is None or not caller.may_act_for(workspace.tenant):
            raise NotFoundError(caller.unseen(f"workspace `{name}`"))
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
            scheduled = self.schedule_reconcile(correlation_id=cid, full=True)
            done = Outcome(Action.SYNC, "all", "", Status.SCHEDULED, f"{scheduled} reconcile messages queued")
            self.applier.run(recorded(done, actor=caller.name, correlation_id=cid))
            return SyncResult(cid, request.scope, dry, scheduled=scheduled)
        # The tenant a named scope concerns: its own sync is in its own audit trail.
        tenant = request.tenant or (workspaces[0].tenant if workspaces else None)
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
            self.applier.run(recorded(done, actor=caller.name, correlation_id=cid, tenant=tenant))
        return SyncResult(cid, request.scope, dry, for_caller(caller, outcomes, world))

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
            if not dry_run:  # asked again and again, it is audited once per refusal window
                self.applier.run(
                    recorded(
                        refused,
                        actor=caller.name,
                        correlation_id=correlation_id,
                        tenant=target.tenant,
                        once=True,
                    )
                )
            return answer_for(caller, refused, world)
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
            return answer_for(caller, planned, world)
        outcome = self.applier.run(step)
        assert outcome is not None
        self.applier.run(
            recorded(outcome, actor=caller.name, correlation_id=correlation_id, tenant=target.tenant)
        )
        return answer_for(caller, outcome, world)

    def approve(
        self, workspace: str, ref: AssetRef, *, approver: str, correlation_id: str, caller: Caller = PROVIDER
    ) -> Outcome:
        """Release a push that waits for approval: it becomes pending and is queued. Only the provider
        approves: gates are how provider rules bound tenants (e.g. prod)."""
        caller.require_provider("approve a gated push")
        target = self.workspace_for(caller, workspace)
        row = self.store.get_entry(ref.key, f"push|{workspace}")
        step: WriteRow | None = plan_approve(
            ref,
            workspace,
            row,
            approver=approver,
            now=self.clock(),
            correlation_id=correlation_id,
            tenant=target.tenant,
        )
        if step is None:
            state = row.status.value if row else "no push"
            raise ConflictError(f"{ref} -> {workspace} does not wait for approval (it is: {state})")
        outcome = self.applier.run(step)
        assert outcome is not None
        return outcome
