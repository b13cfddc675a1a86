"""RegSync benchmarks: `make bench` (= `python -m devstack.bench [--workspaces 10,50] [--assets N] [--quick]
[--json]`). They print tables; they are not pass/fail tests (tests/e2e/test_bench.py only smoke-runs
`--quick --json`). Method and numbers: docs/benchmarks.md.

Four sections, on a stack this module starts and stops itself (Azurite and the AzureML emulator on a
generated world; the engine driven in-process as the triggers would, with the real azure-ai-ml SDK):

a. decide/plan: pure `decide_targets` + `plan_fanout` throughput for W workspaces x R rules;
b. propagation: one model shared and fanned out to 1, 5, 20 targets; wall time per phase and AzureML
   calls counted by the emulator's request log;
c. reconcile: after convergence, one reconcile of every workspace and the registry, for W workspaces
   with `--assets` models each: AzureML calls grow with workspaces, not with assets x workspaces;
d. throttling: 429 + Retry-After 1 on the share's first registry import and, with probability p, on
   the pushes' PUTs; propagation still ends succeeded, only later.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rich.console import Console
from rich.table import Table

from devstack.azurite import RunningAzurite, start_azurite
from devstack.emulator.launch import EmulatorAdmin, RunningEmulator, apply_env, restore_env, start_emulator
from shared.azureml import StaticDevCredential
from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus, Registry, Tenant, Workspace
from shared.engine import Engine
from shared.errors import TemporaryError
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
from shared.records import PushMessage, ReconcileMessage, Status
from shared.runtime import build_engine
from shared.settings import Settings

T = TypeVar("T")
SUBSCRIPTIONS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
GROUPS = ("rg-bench-a", "rg-bench-b")
TENANTS = ("tenant-a", "tenant-b")
REGIONS = ("eastus", "westeurope")
REGISTRY = "bench-registry"
OUTSIDE = "ws-outside"  # in westus, which the registry does not cover
# SDK bootstrap (cloud metadata, registry discovery) is counted apart from AzureML API calls.
BOOTSTRAP_ROUTES = ("/metadata", "/registrymanagement")
WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}
MAX_ENGINE_RETRIES = 8
err = Console(stderr=True)


@dataclass(frozen=True)
class Options:
    decide_workspaces: tuple[int, ...]
    decide_rules: tuple[int, ...]
    repeats: int
    fanouts: tuple[int, ...]
    reconcile_workspaces: tuple[int, ...]
    assets: int
    probabilities: tuple[float, ...]
    throttle_targets: int
    as_json: bool


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", help="reconcile sizes, comma separated (default 10,50)")
    parser.add_argument("--assets", type=int, help="models per workspace for the reconcile (default 5)")
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    sizes = tuple(int(part) for part in args.workspaces.split(",")) if args.workspaces else None
    return Options(
        decide_workspaces=(100, 1000) if quick else (100, 1000, 5000),
        decide_rules=(10,) if quick else (10, 100),
        repeats=3 if quick else 5,
        fanouts=(1, 5) if quick else (1, 5, 20),
        reconcile_workspaces=sizes or ((5,) if quick else (10, 50)),
        assets=args.assets or (2 if quick else 5),
        probabilities=(0.5,) if quick else (0.0, 0.3, 0.6),
        throttle_targets=2 if quick else 5,
        as_json=bool(args.json),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop Azurite and the emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.ERROR)  # the engine's retry warnings are expected here
    results: dict[str, Any] = {"machine": machine(), "decide": bench_decide(options)}
    workspace_count = max(*options.reconcile_workspaces, *options.fanouts, options.throttle_targets) + 1
    with running_stack(workspace_count) as stack:
        results["propagation"] = bench_propagation(stack, options.fanouts)
        results["reconcile"] = bench_reconcile(stack, options.reconcile_workspaces, options.assets)
        results["throttling"] = bench_throttling(stack, options.probabilities, options.throttle_targets)
    if options.as_json:
        print(json.dumps(results, separators=(",", ":")))
    else:
        print_report(results)
    return 0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


# --- a. pure decide / plan ------------------------------------------------------------------------


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


def bench_decide(options: Options) -> list[dict[str, Any]]:
    registry = Registry(name=REGISTRY, subscription_id=SUBSCRIPTIONS[0], resource_group="rg", regions=REGIONS)
    asset = Asset(ref=AssetRef(kind=AssetKind.MODEL, name="shared-model", version="1"))
    rows = []
    for count in options.decide_workspaces:
        workspaces = synthetic_workspaces(count, tenants=50)
        for rules in options.decide_rules:
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

            decide_s = median_seconds(decide, options.repeats)
            plan_s = median_seconds(plan, options.repeats)
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


# --- the stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    azurite: RunningAzurite
    emulator: RunningEmulator
    admin: EmulatorAdmin
    workspaces: list[Workspace]  # in the registry's regions, in name order
    outside: Workspace
    registry: Registry
    clients: dict[str, Any] = field(default_factory=dict)

    def tenant_client(self, workspace: Workspace) -> Any:
        """An MLClient as the tenant uses it (not RegSync's): registers the models to propagate."""
        from azure.ai.ml import MLClient

        if workspace.name not in self.clients:
            self.clients[workspace.name] = MLClient(
                StaticDevCredential(), workspace.subscription_id, workspace.resource_group, workspace.name
            )
        return self.clients[workspace.name]


def bench_workspaces(count: int) -> tuple[list[Workspace], Workspace]:
    inside = [
        Workspace(
            name=f"ws-{i + 1:03d}",
            tenant=TENANTS[i % 2],
            subscription_id=SUBSCRIPTIONS[i % 2],
            resource_group=GROUPS[i % 2],
            region=REGIONS[i % 2],
        )
        for i in range(count)
    ]
    outside = Workspace(
        name=OUTSIDE,
        tenant=TENANTS[0],
        subscription_id=SUBSCRIPTIONS[0],
        resource_group=GROUPS[0],
        region="westus",
    )
    return inside, outside


def world_document(workspaces: list[Workspace], registry: Registry) -> dict[str, Any]:
    """The emulator's world file (docs/emulator.md): two subscriptions, one resource group each."""
    subscriptions = []
    for subscription, group in zip(SUBSCRIPTIONS, GROUPS, strict=True):
        members = [w for w in workspaces if w.subscription_id == subscription]
        entries = [{"name": w.name, "region": w.region} for w in members]
        subscriptions.append({"id": subscription, "resourceGroups": [{"name": group, "workspaces": entries}]})
    subscriptions[0]["resourceGroups"].append({"name": registry.resource_group, "workspaces": []})
    registries = [
        {
            "name": registry.name,
            "subscription": registry.subscription_id,
            "resourceGroup": registry.resource_group,
            "regions": list(registry.regions),
        }
    ]
    return {"subscriptions": subscriptions, "registries": registries, "eventSubscriptions": []}


@contextlib.contextmanager
def running_stack(workspace_count: int) -> Iterator[Stack]:
    """Azurite + the emulator on a generated world, the SDK pointed at it; everything stopped after."""
    inside, outside = bench_workspaces(workspace_count)
    registry = Registry(
        name=REGISTRY, subscription_id=SUBSCRIPTIONS[0], resource_group="rg-registry", regions=REGIONS
    )
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="regsync-bench-") as tmp:
        world = Path(tmp) / "world.yaml"
        world.write_text(yaml.safe_dump(world_document([*inside, outside], registry)), encoding="utf-8")
        err.print(f"[dim]starting Azurite and the emulator ({workspace_count + 1} workspaces)[/dim]")
        azurite = stack.enter_context(start_azurite())
        emulator = stack.enter_context(start_emulator(world, Path(tmp) / "emulator"))
        previous = apply_env(emulator.env)
        stack.callback(restore_env, previous)
        admin = emulator.admin()
        stack.callback(admin.close)
        yield Stack(azurite, emulator, admin, inside, outside, registry)


def new_engine(stack: Stack, workspaces: Sequence[Workspace], policy: Policy) -> Engine:
    """An engine on its own tables and queues, seeded through shared.storage."""
    suffix = uuid.uuid4().hex[:10]
    settings = Settings(
        storage_connection_string=stack.azurite.connection_string,
        table_prefix=f"bench{suffix}",
        push_queue=f"pushes-{suffix}",
        reconcile_queue=f"reconcile-{suffix}",
        azureml_emulator=True,
        world_cache_seconds=0,  # the bench grows the inventory between runs
    )
    engine = build_engine(settings)
    for tenant in TENANTS:
        engine.store.put_tenant(Tenant(id=tenant))
    engine.store.put_registry(stack.registry)
    add_workspaces(engine, workspaces)
    engine.store.put_policy(policy)
    return engine


def add_workspaces(engine: Engine, workspaces: Sequence[Workspace]) -> None:
    for workspace in workspaces:
        engine.store.put_workspace(workspace)


def register_model(stack: Stack, workspace: Workspace, name: str) -> AssetRef:
    """Register a model as a tenant would, from a datastore path (no upload), version 1."""
    from azure.ai.ml.entities import Model

    model = Model(
        name=name,
        version="1",
        path=f"azureml://datastores/workspaceblobstore/paths/models/{name}/",
        type="custom_model",
    )
    stack.tenant_client(workspace).models.create_or_update(model)
    return AssetRef(kind=AssetKind.MODEL, name=name, version="1")


def settled_propagation(engine: Engine, origin: Workspace, ref: AssetRef, name: str) -> list[Any]:
    """One propagation; a share still retrying raises, as the Event Grid trigger does (it redelivers)."""
    outcomes = engine.propagate(origin, ref, correlation_id=f"bench-{name}")
    again = [outcome for outcome in outcomes if outcome.status is Status.RETRYING]
    if again:
        raise TemporaryError(again[0].reason, retry_after=2)
    return outcomes


def with_retries(action: Callable[[int], T]) -> tuple[T, int]:
    """Run `action(attempt)`; on TemporaryError wait its retry_after and run it again, as a redelivered
    event or queue message would (Azure waits longer: Event Grid 10 s first, the queue its visibility
    timeout). Returns the result and the number of retries."""
    for attempt in range(1, MAX_ENGINE_RETRIES + 1):
        try:
            return action(attempt), attempt - 1
        except TemporaryError as error:
            if attempt == MAX_ENGINE_RETRIES:
                raise
            time.sleep(min(error.retry_after, 5.0))
    raise AssertionError("unreachable")


def drain(engine: Engine) -> tuple[list[float], int]:
    """Run every queued push through the engine as the queue trigger would; durations and retries."""
    durations: list[float] = []
    retries = 0
    queue = engine.pushes.client
    # A throttled push re-sends itself with AzureML's delay: drain until no message is left, visible or not.
    while queue.get_queue_properties().approximate_message_count:
        messages = list(queue.receive_messages(max_messages=32, visibility_timeout=300))
        if not messages:
            time.sleep(0.2)  # a re-sent push is still invisible: poll, as the queue trigger does
            continue
        for message in messages:
            push = PushMessage.model_validate(json.loads(message.content))
            start = time.perf_counter()
            outcome, retried = with_retries(lambda _attempt, push=push: engine.execute_push(push))
            durations.append(time.perf_counter() - start)
            retries += retried + (outcome.status is Status.RETRYING)
            queue.delete_message(message)
    return durations, retries


def summarise_calls(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """AzureML API calls (by method and route) apart from the SDK's bootstrap (metadata, discovery)."""
    api = [c for c in counts if not c["route"].startswith(BOOTSTRAP_ROUTES)]
    return {
        "azureml_calls": sum(c["count"] for c in api),
        "azureml_writes": sum(c["count"] for c in api if c["method"] in WRITE_METHODS),
        "bootstrap_calls": sum(c["count"] for c in counts if c["route"].startswith(BOOTSTRAP_ROUTES)),
        "faulted": sum(c["faulted"] for c in counts),
        "routes": [{"method": c["method"], "route": c["route"], "count": c["count"]} for c in api],
    }


# --- b. propagation of one model ----------------------------------------------------------------


def propagation_policy(origin: Workspace, fanouts: Sequence[int], targets: Sequence[Workspace]) -> Policy:
    """`prop{k}-*` models of the origin go to its first k peers (the out-of-region one is always asked)."""
    share = ShareRule(
        id="bench-shares", workspaces=(origin.name,), assets=AssetSelector(include=("prop*", "thr*"))
    )
    push = [
        PushRule(
            id=f"bench-fanout-{k}",
            targets=Targets(workspaces=tuple(w.name for w in targets[:k])),
            assets=AssetSelector(kinds=(AssetKind.MODEL,), include=(f"prop{k}-*", f"thr{k}-*")),
        )
        for k in sorted(set(fanouts))
    ]
    return Policy(share=(share,), push=tuple(push))


def propagate_once(stack: Stack, engine: Engine, name: str) -> dict[str, Any]:
    """Register `name` in the origin, then propagate and drain, timing each phase."""
    origin = stack.workspaces[0]
    ref = register_model(stack, origin, name)
    fanout_seconds: list[float] = []
    fan_out = engine.fan_out

    def timed_fan_out(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fan_out(*args, **kwargs)
        finally:
            fanout_seconds.append(time.perf_counter() - start)

    engine.fan_out = timed_fan_out  # type: ignore[method-assign]  # timing probe on this instance only
    stack.admin.reset_request_log()
    start = time.perf_counter()
    _, propagate_retries = with_retries(lambda _attempt: settled_propagation(engine, origin, ref, name))
    propagate_s = time.perf_counter() - start
    pushes, push_retries = drain(engine)
    total_s = time.perf_counter() - start
    calls = summarise_calls(stack.admin.request_counts())
    statuses = [entry.status for entry in engine.store.entries_for_asset(ref.key)]
    return {
        "share_s": round(propagate_s - sum(fanout_seconds[-1:]), 3),
        "fanout_s": round(sum(fanout_seconds[-1:]), 3),
        "push_median_s": round(statistics.median(pushes), 3) if pushes else 0.0,
        "push_max_s": round(max(pushes), 3) if pushes else 0.0,
        "total_s": round(total_s, 3),
        "pushes": len(pushes),
        "retries": propagate_retries + push_retries,
        "succeeded": all(status is LedgerStatus.SUCCEEDED for status in statuses) and len(statuses) > 1,
        **calls,
    }


def propagation_engine(stack: Stack, fanouts: Sequence[int]) -> Engine:
    origin, peers = stack.workspaces[0], stack.workspaces[1:]
    policy = propagation_policy(origin, fanouts, peers)
    return new_engine(stack, [*stack.workspaces, stack.outside], policy)


def bench_propagation(stack: Stack, fanouts: Sequence[int]) -> list[dict[str, Any]]:
    engine = propagation_engine(stack, fanouts)
    rows = []
    for k in fanouts:
        err.print(f"[dim]b. propagation: one model to {k} target(s)[/dim]")
        rows.append({"targets": k, **propagate_once(stack, engine, f"prop{k}-model")})
    return rows


# --- c. steady-state reconcile ------------------------------------------------------------------


def reconcile_policy() -> Policy:
    """Each workspace shares its first model (`rc-*-0`), which goes to the hub (ws-001); its other models
    stay private. Every model is judged once either way; sharing them all would only slow the setup."""
    share = ShareRule(id="rc-shares", assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("rc-*-0",)))
    push = PushRule(
        id="rc-hub",
        targets=Targets(workspaces=("ws-001",)),
        assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("rc-*-0",)),
    )
    return Policy(share=(share,), push=(push,))


def reconcile_everything(engine: Engine) -> list[Any]:
    """What the timer's messages make the queue workers do, run inline (the workspaces, then the registry)."""
    outcomes = []
    for workspace in engine.store.list_workspaces():
        message = ReconcileMessage(scope="workspace", name=workspace.name, correlation_id="bench")
        outcomes += engine.reconcile(message)
    outcomes += engine.reconcile(ReconcileMessage(scope="registry", correlation_id="bench"))
    return outcomes


def converge(engine: Engine, rounds: int = 5) -> None:
    for _ in range(rounds):
        acted = [o for o in reconcile_everything(engine) if o.status not in {"done", "refused", "skipped"}]
        pushed, _ = drain(engine)
        if not acted and not pushed:
            return
    raise RuntimeError("the reconcile did not converge")


def bench_reconcile(stack: Stack, sizes: Sequence[int], assets: int) -> list[dict[str, Any]]:
    """Grow one inventory to each size in turn (new workspaces bring `assets` models each), converge,
    then measure one steady-state reconcile of everything."""
    engine = new_engine(stack, [stack.outside], reconcile_policy())
    managed: list[Workspace] = []
    rows = []
    for size in sorted(sizes):
        added = stack.workspaces[len(managed) : size]
        err.print(f"[dim]c. reconcile: {size} workspaces x {assets} models, converging[/dim]")
        for workspace in added:
            for index in range(assets):
                register_model(stack, workspace, f"rc-{workspace.name}-{index}")
        add_workspaces(engine, added)
        managed += added
        converge(engine)
        stack.admin.reset_request_log()
        start = time.perf_counter()
        outcomes = reconcile_everything(engine)
        seconds = time.perf_counter() - start
        calls = summarise_calls(stack.admin.request_counts())
        rows.append(
            {
                "workspaces": size,
                "assets_per_workspace": assets,
                "workspace_assets": size * assets,
                "seconds": round(seconds, 3),
                "acted": sum(1 for o in outcomes if o.status not in {"done", "refused", "skipped"}),
                "calls_per_workspace": round(calls["azureml_calls"] / (size + 1), 2),
                **calls,
            }
        )
    return rows


# --- d. throttling ------------------------------------------------------------------------------

SHARE_ROUTE = r"/registries/[^/]+/import$"
PUSH_ROUTE = r"/workspaces/[^/]+/models/[^/]+/versions/[^/]+$"


def bench_throttling(stack: Stack, probabilities: Sequence[float], targets: int) -> list[dict[str, Any]]:
    engine = propagation_engine(stack, [targets])
    rows = []
    for index, probability in enumerate(probabilities):
        err.print(f"[dim]d. throttling: 429 with probability {probability} on share and push[/dim]")
        stack.admin.clear_faults()
        if probability > 0:
            # The share's import is throttled once for sure, the pushes' PUTs with probability p. The SDK
            # retries some 429s itself; what reaches the engine is counted as `retries`.
            stack.admin.set_fault(SHARE_ROUTE, status=429, method="POST", count=1)
            stack.admin.set_fault(PUSH_ROUTE, status=429, method="PUT", probability=probability)
        try:
            result = propagate_once(stack, engine, f"thr{targets}-model-{index}")
        finally:
            stack.admin.clear_faults()
        rows.append({"probability": probability, "targets": targets, **result})
    return rows


# --- output -------------------------------------------------------------------------------------


def table(title: str, rows: list[dict[str, Any]], columns: Sequence[str]) -> Table:
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, justify="right")
    for row in rows:
        result.add_row(*(str(row[column]) for column in columns))
    return result


def short_route(route: str) -> str:
    """`workspaces/{ws}/...` or `registries/{reg}/...`: the ARM prefix says nothing in a table."""
    return route.rpartition("Microsoft.MachineLearningServices/")[2]


def routes_table(title: str, routes: list[dict[str, Any]]) -> Table:
    rows = [{**route, "route": short_route(route["route"])} for route in routes]
    return table(title, rows, ("method", "route", "count"))


def print_report(results: dict[str, Any]) -> None:
    out = Console(width=160)
    info = results["machine"]
    out.print(f"RegSync benchmarks: {info['cpus']} CPUs, Python {info['python']}, {info['at']}")
    out.print(
        table(
            "a. decide + plan, one asset (pure, median)",
            results["decide"],
            ("workspaces", "rules", "allowed", "decide_ms", "decisions_per_s", "plan_ms", "plans_per_s"),
        )
    )
    propagation_columns = ("share_s", "fanout_s", "push_median_s", "push_max_s", "total_s", "azureml_calls")
    out.print(
        table(
            "b. propagation of one model (seconds; AzureML calls for share + fan-out + all pushes)",
            results["propagation"],
            ("targets", *propagation_columns, "azureml_writes", "bootstrap_calls", "succeeded"),
        )
    )
    out.print(routes_table("b. calls by route, largest fan-out", results["propagation"][-1]["routes"]))
    out.print(
        table(
            "c. steady-state reconcile of every workspace + the registry",
            results["reconcile"],
            (
                "workspaces",
                "workspace_assets",
                "seconds",
                "azureml_calls",
                "calls_per_workspace",
                "azureml_writes",
                "acted",
            ),
        )
    )
    out.print(routes_table("c. calls by route, largest size", results["reconcile"][-1]["routes"]))
    out.print(
        table(
            "d. throttling: 429 + Retry-After 1 on the first share import, on push PUTs with probability p",
            results["throttling"],
            ("probability", "targets", "faulted", "retries", "azureml_calls", "total_s", "succeeded"),
        )
    )


if __name__ == "__main__":
    sys.exit(main())
