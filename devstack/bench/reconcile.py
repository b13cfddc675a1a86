"""c. Idle reconcile: W workspaces grown to 10, 100, 1,000 models each (seeded in the emulator in one
admin call per workspace, as the model version PUT would register them), converged once, then one
reconcile of every workspace and the registry with nothing to do, the workspaces `concurrency` at a
time as the reconcile queue's workers take them: wall time, AzureML calls per workspace, writes.
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
from shared.policy import AssetSelector, Policy, ShareRule
from shared.records import Outcome, ReconcileMessage
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
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return [outcome for outcomes in pool.map(engine.reconcile, messages) for outcome in outcomes]


def bench_reconcile(
    stack: Stack, workspaces: int, asset_steps: Sequence[int], concurrency: int
) -> list[dict[str, Any]]:
    managed = stack.workspaces[:workspaces]
    engine = new_engine(stack, managed, reconcile_policy(), uuid.uuid4().hex[:10])
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
