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
from shared.domain import AssetKind
from shared.engine import Engine
from shared.policy import AssetSelector, Policy, ShareRule
from shared.records import Outcome, ReconcileMessage
from shared.storage import StateStore

QUIET = frozenset({"done", "refused", "skipped", "ignored"})


def reconcile_policy() -> Policy:
    """Every model is judged (the share rule looks at all of them) and none is shared: an idle world."""
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
        err.print(f"[dim]c. reconcile: {workspaces} workspaces x {assets} models, converging[/dim]")
        for workspace in managed:
            stack.admin.seed_models(workspace.name, f"rc{assets}-", assets - held)
        held = assets
        start = time.perf_counter()
        reconcile_everything(engine, concurrency)  # judges the new models once
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
                "converge_s": round(converge_s, 1),
                "seconds": round(seconds, 2),
                "acted": sum(1 for outcome in outcomes if outcome.status.value not in QUIET),
                "calls_per_workspace": round(calls["azureml_calls"] / (workspaces + 1), 2),
                **calls,
            }
        )
    return rows
