"""Drift: where a workspace differs from what RegSync delivered and the rules say, and self-heal.

Who calls it: `regsync drift` and GET /api/drift (through the Engine: `drift`), and the reconcile of a
workspace (`heal_drift`, only where a push rule reaching it says `self_heal: true`). Observation reuses the
reconcile's own list calls: the workspace's latest versions per kind (the reconcile passes its listing),
the registry's latest versions per kind (the report only), and one read of each endpoint RegSync deployed
to. The workspace's push rows are one ledger query. No asset version is read unless a report asks for
tags (`tags=True`: one read per delivered copy). Plans are shared.planner.drift's; repairs are applied by
shared.engine.apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.domain import Asset, AssetKind, EndpointView, Workspace
from shared.engine.core import StoreT
from shared.engine.propagation import Propagation
from shared.planner import World
from shared.planner.drift import (
    DriftSnapshot,
    delivered,
    heal_steps,
    plan_drift,
    still_reaches,
)
from shared.policy import PushMode
from shared.records import Action, Outcome


class SelfHeal(Propagation[StoreT]):
    def observe_drift(
        self,
        workspace: Workspace,
        world: World,
        *,
        listed: Mapping[AssetKind, Iterable[Asset]] | None = None,
        registry_latest: Mapping[tuple[AssetKind, str], str] | None = None,
        tags: bool = False,
    ) -> DriftSnapshot:
        rows = tuple(self.store.list_ledger(workspace=workspace.name))
        wanted = delivered(rows, world)
        kinds = {d.ref.kind for d in wanted}
        if listed is None:
            listed = {kind: self.gateway.workspace_latest(workspace, kind) for kind in sorted(kinds)}
        by_name = {kind: {asset.ref.name: asset for asset in assets} for kind, assets in listed.items()}
        endpoints: dict[str, EndpointView | None] = {}
        for d in wanted:
            action = d.rule.action if d.rule else None
            if (
                action is not None
                and action.mode is not PushMode.REGISTER
                and action.endpoint not in endpoints
            ):
                endpoints[action.endpoint or ""] = self.gateway.endpoint_view(workspace, action)
        copies = None
        if tags:
            copies = {
                d.ref.key: self.gateway.get_asset(workspace, d.ref)
                for d in wanted
                if d.rule and d.rule.action.mode is PushMode.REGISTER
            }
        return DriftSnapshot(workspace, rows, by_name, endpoints, registry_latest or {}, copies)

    def heal_drift(
        self,
        workspace: Workspace,
        world: World,
        listed: Mapping[AssetKind, Iterable[Asset]],
        *,
        correlation_id: str,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """The reconcile's repair of what was changed by hand, for rules with `self_heal: true` only;
        nothing is read when no such rule reaches the workspace."""
        if not any(rule.self_heal and still_reaches(rule, workspace) for rule in world.policy.push):
            return []

        def heal() -> list[Outcome]:
            snapshot = self.observe_drift(workspace, world, listed=listed)
            steps = heal_steps(
                plan_drift(snapshot, world), snapshot, world, now=self.clock(), correlation_id=correlation_id
            )
            if dry_run:
                return [outcome for step in steps if (outcome := step.outcome) is not None]
            return self.applier.apply(steps)

        return self.isolated(Action.RECONCILE, f"drift of {workspace.name}", workspace.name, heal)
