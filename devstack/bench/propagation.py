"""b. One model to N targets at injected latency L: the naive script, RegSync cold (the first event of
a freshly built engine: no AzureML client yet) and warm, side by side in one world; AzureML requests per
share and per push by route; the critical path (one share + one parallel round of pushes) computed
from RegSync's own request counts x L.

RegSync's run: `engine.propagate` (share + fan-out, as the Event Grid trigger runs it), then every push
message drained as the queue trigger would, `concurrency` at a time (the platform's queue workers).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from devstack.bench.naive import naive_propagation
from devstack.bench.stack import (
    Stack,
    drain,
    engine_on,
    err,
    new_engine,
    push_queue,
    register_model,
    summarise_calls,
    with_retries,
)
from shared.domain import AssetKind, AssetRef, LedgerStatus, Workspace
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.policy import AssetSelector, Policy, PushRule, ShareRule, Targets
from shared.records import Status
from shared.storage import StateStore


def fanout_policy(origin: Workspace, targets: Sequence[Workspace]) -> Policy:
    """The origin's `prop-*` models go to every target."""
    share = ShareRule(id="bench-shares", workspaces=(origin.name,), assets=AssetSelector(include=("prop-*",)))
    push = PushRule(
        id="bench-fanout",
        targets=Targets(workspaces=tuple(w.name for w in targets)),
        assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("prop-*",)),
    )
    return Policy(share=(share,), push=(push,))


def settled_propagation(engine: Engine[StateStore], origin: Workspace, ref: AssetRef) -> None:
    """One propagation; a share still retrying raises, as the Event Grid trigger does (it redelivers)."""
    outcomes = engine.propagate(origin, ref, correlation_id=f"bench-{ref.name}")
    again = [outcome for outcome in outcomes if outcome.status is Status.RETRYING]
    if again:
        raise TemporaryError(again[0].reason, retry_after=2)


def regsync_propagation(
    stack: Stack, engine: Engine[StateStore], origin: Workspace, name: str, concurrency: int
) -> dict[str, Any]:
    """Register `name` in the origin (not timed), then propagate and drain, counting requests per phase."""
    ref = register_model(stack, origin, name)
    stack.admin.reset_request_log()
    start = time.perf_counter()
    _, share_retries = with_retries(lambda _attempt: settled_propagation(engine, origin, ref))
    share_s = time.perf_counter() - start
    share_calls = summarise_calls(stack.admin.request_counts())
    stack.admin.reset_request_log()
    cpu_before = time.process_time()  # this process's CPU in the push round: is the round CPU-bound?
    drained = drain(push_queue(engine), engine.execute_push, concurrency=concurrency)
    round_cpu_s = time.process_time() - cpu_before
    total_s = time.perf_counter() - start
    push_calls = summarise_calls(stack.admin.request_counts())
    rows = [entry for entry in engine.store.entries_for_asset(ref.key) if entry.target.startswith("push|")]
    return {
        "share_s": round(share_s, 3),
        "total_s": round(total_s, 3),
        "round_s": round(total_s - share_s, 3),
        "round_cpu_s": round(round_cpu_s, 3),
        "pushes": len(rows),
        "succeeded": sum(1 for row in rows if row.status is LedgerStatus.SUCCEEDED),
        "retries": share_retries + drained.retries,
        "share": share_calls,
        "push": push_calls,
    }


def critical_path_s(run: dict[str, Any], latency_ms: int) -> float:
    """One share + one parallel round of pushes: the requests each makes in sequence x L."""
    per_push = run["push"]["azureml_calls"] / max(1, run["pushes"])
    return round((run["share"]["azureml_calls"] + per_push) * latency_ms / 1000, 3)


def bench_fanout(
    stack: Stack, targets: int, latency_ms: int, repeats: int, concurrency: int
) -> dict[str, Any]:
    origin, peers = stack.workspaces[0], stack.workspaces[1 : targets + 1]
    suffix = uuid.uuid4().hex[:10]
    warm_engine = new_engine(stack, [*stack.workspaces, stack.outside], fanout_policy(origin, peers), suffix)
    stack.latency(latency_ms)
    try:
        err.print(f"[dim]b. {targets} targets at {latency_ms} ms: RegSync cold[/dim]")
        cold = regsync_propagation(stack, engine_on(stack, suffix), origin, "prop-cold", concurrency)
        warm_runs, naive_runs = [], []
        for index in range(repeats):
            err.print(
                f"[dim]b. {targets} targets at {latency_ms} ms: RegSync warm, naive ({index + 1})[/dim]"
            )
            warm_runs.append(
                regsync_propagation(stack, warm_engine, origin, f"prop-warm-{index}", concurrency)
            )
            register_model(stack, origin, f"naive-{index}")
            naive_runs.append(naive_propagation(stack, origin, f"naive-{index}", peers))
    finally:
        stack.latency(0)
    return {
        "targets": targets,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "naive": median_run(naive_runs),
        "cold": cold,
        "warm": median_run(warm_runs),
        "critical_s": critical_path_s(median_run(warm_runs), latency_ms),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: float(run["total_s"]))[len(runs) // 2]
