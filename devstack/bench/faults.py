"""d. Throttling and outages: one model to N targets with a share `fault_rate` of every AzureML call
answering 429 or 503 (half each, `Retry-After: 1`), against the same run without faults, at the same
injected latency. Converged = every target's row succeeded; duplicates = a target (or the registry)
holding the version more than once; lost = a target whose row did not succeed.
"""

from __future__ import annotations

import uuid
from typing import Any

from devstack.bench.propagation import fanout_policy, regsync_propagation
from devstack.bench.stack import AZUREML_CALLS, Stack, err, new_engine


def copies(stack: Stack, name: str, places: list[Any]) -> list[int]:
    """How many versions of `name` each place holds (read after the run, faults cleared)."""
    counts = []
    for place in places:
        client = stack.tenant_client(place)
        counts.append(sum(1 for _ in client.models.list(name=name)))
    return counts


def bench_faults(
    stack: Stack, targets: int, latency_ms: int, fault_rate: float, concurrency: int
) -> dict[str, Any]:
    origin, peers = stack.workspaces[0], stack.workspaces[1 : targets + 1]
    engine = new_engine(
        stack, [*stack.workspaces, stack.outside], fanout_policy(origin, peers), uuid.uuid4().hex[:10]
    )
    stack.latency(latency_ms)
    try:  # untimed: the engine builds its AzureML clients, so both runs below are warm
        regsync_propagation(stack, engine, origin, f"prop-fault-warmup-{uuid.uuid4().hex[:6]}", concurrency)
    finally:
        stack.latency(0)
    runs: dict[str, Any] = {}
    for label, rate in (("fault_free", 0.0), ("faulted", fault_rate)):
        err.print(f"[dim]d. {targets} targets, {rate:.0%} of AzureML calls 429/503[/dim]")
        name = f"prop-fault-{label}-{uuid.uuid4().hex[:6]}"
        stack.latency(latency_ms)
        if rate:
            # The first matching rule that fires answers: 429 with p/2, else 503 with (p/2)/(1-p/2).
            stack.admin.set_fault(AZUREML_CALLS, status=429, probability=rate / 2, retry_after=1)
            stack.admin.set_fault(
                AZUREML_CALLS, status=503, probability=(rate / 2) / (1 - rate / 2), retry_after=1
            )
        try:
            run = regsync_propagation(stack, engine, origin, name, concurrency)
        finally:
            stack.latency(0)
        held = copies(stack, name, [stack.registry, *peers])
        run["duplicates"] = sum(1 for count in held if count > 1)
        run["lost"] = run["pushes"] - run["succeeded"] + (targets - run["pushes"])
        run["faulted"] = run["share"]["faulted"] + run["push"]["faulted"]
        runs[label] = run
    return {"targets": targets, "latency_ms": latency_ms, "fault_rate": fault_rate, **runs}
