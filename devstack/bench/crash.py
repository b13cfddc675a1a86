"""e. Crash recovery: a fan-out to N targets whose host dies with every push claimed (each push's
AzureML call raises SystemExit, as a killed process never settles its row). The original messages stay
in flight at the dead host (the Functions host leases a message for 10 minutes), so they are deleted
here; the host comes back at once. Measured: from the host's return until every target's row succeeded,
with the real clock: the claims' watches (shared.engine.lease) arrive one lease after the claims and
take the pushes over.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from devstack.bench.propagation import fanout_policy, settled_propagation
from devstack.bench.stack import Stack, err, new_engine, push_queue, register_model, watch_queue
from shared.domain import AssetRef, LedgerStatus, Pushed, Registry, Workspace
from shared.engine import Engine
from shared.ledger import LEASE
from shared.policy import PushAction
from shared.ports import Catalog
from shared.queues import WorkQueue
from shared.records import PushMessage
from shared.storage import StateStore

DEADLINE_S = 15 * 60  # the old lease: give up well after it


@dataclass
class DyingHost:
    """The real gateway, except that a push kills the 'process' before AzureML answers."""

    gateway: Catalog

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)

    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> Pushed:
        raise SystemExit("host crashed in the middle of a push")


def all_succeeded(engine: Engine[StateStore], ref: AssetRef) -> bool:
    rows = [row for row in engine.store.entries_for_asset(ref.key) if row.target.startswith("push|")]
    return bool(rows) and all(row.status is LedgerStatus.SUCCEEDED for row in rows)


def run_and_delete(engine: Engine[StateStore], queue: WorkQueue, message: Any) -> None:
    engine.execute_push(PushMessage.model_validate(json.loads(message.content)))
    queue.client.delete_message(message)


def bench_crash(stack: Stack, targets: int, concurrency: int) -> dict[str, Any]:
    origin, peers = stack.workspaces[0], stack.workspaces[1 : targets + 1]
    engine = new_engine(
        stack, [*stack.workspaces, stack.outside], fanout_policy(origin, peers), uuid.uuid4().hex[:10]
    )
    ref = register_model(stack, origin, f"prop-crash-{uuid.uuid4().hex[:6]}")
    settled_propagation(engine, origin, ref)
    err.print(f"[dim]e. crash with {targets} pushes claimed; recovery takes about one lease ({LEASE})[/dim]")
    gateway = engine.applier.catalog
    engine.applier.catalog = DyingHost(gateway)
    queue = push_queue(engine)
    claimed = 0
    while batch := list(queue.client.receive_messages(max_messages=32, visibility_timeout=600)):
        for message in batch:
            try:
                engine.execute_push(PushMessage.model_validate(json.loads(message.content)))
            except SystemExit:
                claimed += 1
            queue.client.delete_message(message)  # in flight at the dead host for its 10-minute lease
    engine.applier.catalog = gateway  # the host is back
    back = time.perf_counter()
    watches = watch_queue(engine)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while not all_succeeded(engine, ref) and time.perf_counter() - back < DEADLINE_S:
            # The watches come due one lease after their claims; a retried push sends a watch of its
            # own, which is not waited for: recovery ends when every row has succeeded.
            due = list(watches.client.receive_messages(max_messages=32, visibility_timeout=600))
            if not due:
                time.sleep(0.2)
                continue
            list(pool.map(lambda message: run_and_delete(engine, watches, message), due))
    recovery_s = time.perf_counter() - back
    rows = [row for row in engine.store.entries_for_asset(ref.key) if row.target.startswith("push|")]
    return {
        "targets": targets,
        "claimed": claimed,
        "recovered": sum(1 for row in rows if row.status is LedgerStatus.SUCCEEDED),
        "max_attempts": max((row.attempts for row in rows), default=0),
        "recovery_s": round(recovery_s, 1),
        "lease_s": LEASE.total_seconds(),
    }
