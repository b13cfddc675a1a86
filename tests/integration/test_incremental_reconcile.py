"""The reconcile's incremental tick end to end, on Azurite and the emulator: the Activity Log (the
emulator's, tests/emulator/test_activity_log.py cites its shape) names the workspaces to look at.

A model registered by hand (no event delivered to RegSync) is found by the next incremental tick; an
untouched workspace is not listed, and the tick costs one Activity Log read per subscription; the full
pass, when due, repairs a deletion the feed did not report. The overlap is 0 here: the emulator logs at
once, and other tests' writes to the shared emulator must not fall into this test's windows.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.emulator.launch import EmulatorAdmin
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.engine.feed import FULL_PASS, feed_key
from shared.policy_file import parse_policy
from shared.queues import WorkQueue
from shared.records import ReconcileMessage, utc_now
from shared.runtime import build_engine
from shared.settings import Settings
from shared.storage import StateStore
from tests.integration.conftest import SEED_POLICY, apply_document, drain_pushes, register_model

pytestmark = pytest.mark.integration
FEED_ROUTE = "GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"
WORKSPACE_LIST = "GET /workspaces/{ws}/{kind}"


@pytest.fixture
def prefix() -> str:
    return f"inc{uuid.uuid4().hex[:8]}"


@pytest.fixture
def engine(settings: Settings, prefix: str) -> Engine[StateStore]:
    """The seed inventory; workspace1 shares `{prefix}-*`, workspace3 gets and self-heals the models."""
    built = build_engine(settings.model_copy(update={"change_feed_overlap_minutes": 0}))
    apply_document(built.store, parse_policy(SEED_POLICY.read_text(), source=str(SEED_POLICY)))
    document = parse_policy(
        f"""
share:
  - {{id: share-{prefix}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{prefix}-*]}}}}
push:
  - id: heal-{prefix}
    tenant: northwind
    targets: {{workspaces: [workspace3]}}
    assets: {{kinds: [model], include: [{prefix}-*]}}
    self_heal: true
""",
        known_tenants=["contoso", "northwind", "woodgrove"],
        known_workspaces=built.store.list_workspaces(),
    )
    built.store.put_policy(document.policy, replace_all=True)
    return built


def run_queued(engine: Engine[StateStore]) -> list[str]:
    """Run the reconcile messages a tick queued, as the queue worker would, then the pushes they made:
    the workspaces the tick named."""
    queue = engine.reconciles
    assert isinstance(queue, WorkQueue)
    named = []
    while messages := list(queue.client.receive_messages(max_messages=32, visibility_timeout=60)):
        for message in messages:
            parsed = ReconcileMessage.model_validate(json.loads(message.content))
            named += [parsed.name] if parsed.scope == "workspace" else []
            engine.reconcile(parsed)
            queue.client.delete_message(message)
    drain_pushes(engine)
    return sorted(named)


def tick(engine: Engine[StateStore]) -> list[str]:
    engine.schedule_reconcile(correlation_id="timer")
    return run_queued(engine)


def list_calls(dump: dict[str, Any], workspaces: list[str]) -> int:
    """The container list pages of these workspaces (20 containers a page, 4 kinds, at least 1 each)."""
    kinds = ("models", "environments", "components", "data")
    scopes = [dump["workspaces"][name] for name in workspaces]
    return sum(max(1, math.ceil(len(scope["assets"].get(k, {})) / 20)) for scope in scopes for k in kinds)


def test_a_hand_registered_model_is_found_by_the_next_incremental_tick_and_only_its_workspace_listed(
    engine: Engine[StateStore],
    prefix: str,
    ml: Callable[[str], Any],
    model_folder: Path,
    admin: EmulatorAdmin,
) -> None:
    assert len(tick(engine)) == 5  # no watermark yet: a full pass
    model = register_model(ml, "workspace1", f"{prefix}-churn", model_folder)  # no event reaches RegSync
    ref = AssetRef(kind=AssetKind.MODEL, name=model.name, version=model.version)
    admin.reset_request_log()

    engine.schedule_reconcile(correlation_id="count")  # the tick alone: what it reads to choose
    feed_calls = admin.api_requests()[FEED_ROUTE]
    named = run_queued(engine)

    assert feed_calls == 2  # one per subscription of the inventory
    assert named == ["workspace1"]  # workspace2..5 were not written since the watermark
    assert admin.api_requests()[WORKSPACE_LIST] == list_calls(admin.dump(), ["workspace1"])
    rows = {e.target: e.status for e in engine.store.entries_for_asset(ref.key)}
    assert rows["push|workspace3"] is LedgerStatus.SUCCEEDED


def test_the_due_full_pass_repairs_a_deletion_the_feed_did_not_report(
    engine: Engine[StateStore], prefix: str, ml: Callable[[str], Any], model_folder: Path
) -> None:
    model = register_model(ml, "workspace1", f"{prefix}-heal", model_folder)
    tick(engine)  # the full pass shares it and pushes it to workspace3
    ws3 = ml("workspace3")
    assert ws3.models.get(model.name, model.version)
    ws3.models._model_versions_operation.delete(  # deleted by hand
        resource_group_name="rg-tenants", workspace_name="workspace3", name=model.name, version=model.version
    )
    # The feed is past the deletion (as if its record were lost), and the daily full pass is due.
    later = utc_now() + timedelta(seconds=1)
    for ws in engine.store.list_workspaces():
        engine.store.advance(feed_key(ws.subscription_id), later)
    engine.store.advance(FULL_PASS, utc_now() - timedelta(days=2))

    named = tick(engine)

    assert len(named) == 5
    assert ws3.models.get(model.name, model.version).version == model.version
