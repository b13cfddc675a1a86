"""a. decide + plan (pure, no I/O): `decide_targets` for one model over W workspaces and R rules, then
`plan_fanout` over its decisions; median of `repeats` runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from devstack.bench.stack import GROUPS, REGIONS, REGISTRY, SUBSCRIPTIONS, err
from shared.domain import Asset, AssetKind, AssetRef, Registry, Workspace
from shared.planner import FanoutSnapshot, Retry, plan_fanout
from shared.policy import (
    AssetSelector,
    Effect,
    NameOwners,
    Policy,
    PushRule,
    ShareRule,
    Targets,
    decide_targets,
)


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def synthetic_policy(rules: int, tenants: int) -> Policy:
    """Half share, half push rules; tenant-scoped, some denies, one provider share of `shared-*`."""
    share = [ShareRule(id="provider-shares", assets=AssetSelector(include=("shared-*",)))]
    share += [
        ShareRule(
            id=f"share-{i}", tenant=f"t{i % tenants:02d}", assets=AssetSelector(include=(f"team{i}-*",))
        )
        for i in range(1, rules // 2)
    ]
    push = [
        PushRule(
            id=f"push-{i}",
            tenant=f"t{i % tenants:02d}",
            effect=Effect.DENY if i % 10 == 9 else Effect.ALLOW,
            targets=Targets(stages=(("dev", "test", "prod")[i % 3],)),
            assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("shared-*",)),
        )
        for i in range(rules - rules // 2)
    ]
    return Policy(share=tuple(share), push=tuple(push))


def synthetic_workspaces(count: int, tenants: int) -> list[Workspace]:
    regions = (*REGIONS, "westus")  # every third workspace is outside the registry's regions
    return [
        Workspace(
            name=f"ws{i:05d}",
            tenant=f"t{i % tenants:02d}",
            subscription_id=SUBSCRIPTIONS[i % 2],
            resource_group=GROUPS[i % 2],
            region=regions[i % 3],
            stage=("dev", "test", "prod")[i % 3],
        )
        for i in range(count)
    ]


def bench_decide(sizes: Sequence[int], rule_counts: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    registry = Registry(name=REGISTRY, subscription_id=SUBSCRIPTIONS[0], resource_group="rg", regions=REGIONS)
    asset = Asset(ref=AssetRef(kind=AssetKind.MODEL, name="shared-model", version="1"))
    rows = []
    for count in sizes:
        workspaces = synthetic_workspaces(count, tenants=50)
        for rules in rule_counts:
            err.print(f"[dim]a. decide/plan: {count} workspaces x {rules} rules[/dim]")
            policy = synthetic_policy(rules, tenants=50)
            decisions = decide_targets(asset, workspaces[0], workspaces, registry, policy)

            def decide(policy: Policy = policy, workspaces: list[Workspace] = workspaces) -> object:
                return decide_targets(asset, workspaces[0], workspaces, registry, policy)

            def plan(decisions: list[Any] = decisions) -> object:
                snapshot = FanoutSnapshot(
                    asset, NameOwners(asset.ref.kind, asset.ref.name), latest_version="1"
                )
                return plan_fanout(
                    snapshot, decisions, retry=Retry.NEVER, now=datetime.now(UTC), correlation_id="bench"
                )

            decide_s = median_seconds(decide, repeats)
            plan_s = median_seconds(plan, repeats)
            rows.append(
                {
                    "workspaces": count,
                    "rules": rules,
                    "allowed": sum(1 for decision in decisions if decision.allowed),
                    "decide_ms": round(decide_s * 1000, 2),
                    "decisions_per_s": round(count / decide_s),
                    "plan_ms": round(plan_s * 1000, 2),
                    "plans_per_s": round(count / plan_s),
                }
            )
    return rows
