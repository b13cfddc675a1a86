"""c. Idle reconcile: W workspaces grown to 10, 100, 1,000 models each (seeded in the emulator in one
admin call per workspace, as the model version PUT would register them), converged once, then with
nothing to do: the daily full pass (every workspace and the registry, `concurrency` at a time as the
reconcile queue's workers take them) and the timer's incremental tick (the Activity Log read since the
watermarks the full pass left, then what it queued): wall time, AzureML calls per workspace, writes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devstack.bench.stack import Stack, err, new_engine, summarise_calls
from shared.domain import AssetKind, Workspace
from shared.engine import Engine
from shared.engine.feed import FULL_PASS, feed_key
from shared.policy import AssetSelector, Policy, ShareRule
from shared.queues import WorkQueue
from shared.records import Outcome, ReconcileMessage, utc_now
from shared.storage import StateStore

QUIET = frozenset({"done", "refused", "skipped", "ignored"})


def reconcile_policy() -> Policy:
    """Every model is judged once (a share rule is there) and none is shared (none is named `shared-*`)."""
    share = ShareRule(id="rc-shares", assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("shared-*",)))
    return Policy(share=(share,), push=())


def reconcile_everything(engine: Engine[StateStore], concurrency: int) -> list[Outcome]:
    """What the timer's messages make the reconcile queue's workers do: every workspace, the registry."""
    messages = [
        ReconcileMessage(scope="workspace", name=workspace.name, correlation_id="bench")
        for workspace in engine.store.list_workspaces()
    ]
    messages.append(ReconcileMessage(scope="registry", correlation_id="bench"))
    return run_all(engine, messages, concurrency)


def run_all(engine: Engine[StateStore], messages: list[ReconcileMessage], concurrency: int) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return [outcome for outcomes in pool.map(engine.reconcile, messages) for outcome in outcomes]


def incremental_tick(engine: Engine[StateStore], concurrency: int) -> tuple[int, list[Outcome]]:
    """The timer's tick between full passes, then the reconcile messages it queued, run as the workers
    would: (workspaces it named, outcomes)."""
    engine.schedule_reconcile(correlation_id="bench")
    queue = engine.reconciles
    assert isinstance(queue, WorkQueue)
    messages = []
    while batch := list(queue.client.receive_messages(max_messages=32)):
        for message in batch:
            messages.append(ReconcileMessage.model_validate_json(message.content))
            queue.client.delete_message(message)
    named = sum(1 for message in messages if message.scope == "workspace")
    return named, run_all(engine, messages, concurrency)


def bench_reconcile(
    stack: Stack, workspaces: int, asset_steps: Sequence[int], concurrency: int
) -> list[dict[str, Any]]:
    managed = stack.workspaces[:workspaces]
    engine = new_engine(stack, managed, reconcile_policy(), uuid.uuid4().hex[:10])
    # Idle: nothing written since the last pass. The overlap (the Activity Log's ingestion delay) would
    # re-read the seeding minutes ago as new writes; at idle it reads nothing more than the tick itself.
    engine.change_feed_overlap_seconds = 0
    held = 0
    rows = []
    for assets in sorted(asset_steps):
        err.print(f"[dim]c. reconcile: {workspaces} workspaces x {assets} models, seeding, converging[/dim]")
        start = time.perf_counter()
        for workspace in managed:
            stack.admin.seed_models(workspace.name, f"rc{assets}-", assets - held)
        held = assets
        seed_s = time.perf_counter() - start
        start = time.perf_counter()
        converge_like_the_first(engine, managed)
        if not rows:  # untimed: every workspace's AzureML client built once, as a running host has them
            reconcile_everything(engine, concurrency)
        converge_s = time.perf_counter() - start
        stack.admin.reset_request_log()
        start = time.perf_counter()
        outcomes = reconcile_everything(engine, concurrency)
        seconds = time.perf_counter() - start
        calls = summarise_calls(stack.admin.request_counts())
        for key in {FULL_PASS} | {feed_key(ws.subscription_id) for ws in managed}:
            engine.store.advance(key, utc_now())  # what the timer records after the full pass it queued
        stack.admin.reset_request_log()
        start = time.perf_counter()
        named, tick_outcomes = incremental_tick(engine, concurrency)
        tick_seconds = time.perf_counter() - start
        tick_calls = summarise_calls(stack.admin.request_counts())
        rows.append(
            {
                "workspaces": workspaces,
                "assets_per_workspace": assets,
                "seed_s": round(seed_s, 1),
                "converge_s": round(converge_s, 1),
                "seconds": round(seconds, 2),
                "acted": len(outcomes),  # idle: nothing judged, so no outcome at all
                "calls_per_workspace": round(calls["azureml_calls"] / (workspaces + 1), 2),
                **calls,
                "tick_seconds": round(tick_seconds, 2),
                "tick_named": named,  # workspaces the incremental tick queued: idle, none
                "tick_calls": tick_calls["azureml_calls"],
                "tick_writes": tick_calls["azureml_writes"] + len(tick_outcomes),
                "tick_calls_per_workspace": round(tick_calls["azureml_calls"] / workspaces, 3),
                "tick_routes": tick_calls["routes"],
            }
        )
    return rows


def converge_like_the_first(engine: Engine[StateStore], managed: Sequence[Workspace]) -> None:
    """The first workspace and the registry are reconciled by the engine (every new model judged once,
    its memo written); every other workspace holds the same models under the same rules, so the engine
    would write the same memos there: they are copied, 100 per table transaction, instead of judging
    100,000 models one by one (26 ms each on this machine). The idle pass then shows whether they hold:
    a memo that did not would make its model judged again, an outcome in `acted`."""
    first = managed[0].name
    engine.reconcile(ReconcileMessage(scope="workspace", name=first, correlation_id="bench"))
    engine.reconcile(ReconcileMessage(scope="registry", correlation_id="bench"))
    seen = engine.store.seen
    template = list(seen.query_entities("PartitionKey eq @pk", parameters={"pk": first}))
    for workspace in managed[1:]:
        copies = [{**entity, "PartitionKey": workspace.name} for entity in template]
        for start in range(0, len(copies), 100):
            seen.submit_transaction([("upsert", entity) for entity in copies[start : start + 100]])
