"""The registered functions, invoked the way the worker invokes them: real azure.functions objects built
from raw payloads, against Azurite and the emulator. The adapters' error mapping is what is tested here.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from shared import runtime
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.records import PushMessage
from tests.conftest import registered_functions
from tests.integration.conftest import register_model
from tests.support import model_registered

FUNCTIONS = {name: function.get_user_function() for name, function in registered_functions().items()}
SUB1 = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def app_engine(seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The function adapters use the test's engine (the runtime's cached one is built from settings)."""
    monkeypatch.setattr(runtime, "engine", lambda: seeded)
    yield seeded


def grid_event(raw: dict[str, Any]) -> Any:
    return EventGridEventInConverter.decode(Datum(json.dumps(raw), "json"), trigger_metadata={})


def ledger(engine: Engine) -> list[Any]:
    return list(engine.store.list_ledger())


@pytest.mark.parametrize("cloud", [False, True], ids=["event-grid-schema", "cloudevents"])
def test_a_model_registered_event_shares_and_fans_out(
    app_engine: Engine, ml: Callable[[str], Any], model_folder: Path, cloud: bool
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version

    FUNCTIONS["on_workspace_event"](
        grid_event(model_registered("workspace1", "credit-card-default", version, cloud=cloud))
    )

    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=version)
    rows = {e.target: e.status for e in app_engine.store.entries_for_asset(ref.key)}
    assert rows == {"share": LedgerStatus.SUCCEEDED, "push|workspace3": LedgerStatus.PENDING}


def test_a_malformed_event_is_refused_and_writes_nothing(app_engine: Engine) -> None:
    raw = model_registered("workspace1", "credit-card-default", "1")
    raw["subject"] = "models/credit-card-default"  # no version

    FUNCTIONS["on_workspace_event"](grid_event(raw))  # acknowledged: never retried forever

    assert ledger(app_engine) == []
    assert app_engine.store.recent_audit() == []


def test_a_temporary_azureml_failure_raises_so_event_grid_redelivers(
    app_engine: Engine, ml: Callable[[str], Any], model_folder: Path, emulator: RunningEmulator
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    admin = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    admin.set_fault(
        r"/workspaces/workspace1/models/credit-card-default/versions/", status=503, method="GET", count=20
    )
    try:
        with pytest.raises(TemporaryError, match="503"):
            FUNCTIONS["on_workspace_event"](
                grid_event(model_registered("workspace1", "credit-card-default", version))
            )
    finally:
        admin.clear_faults()
        admin.close()
    assert ledger(app_engine) == []


def queue_message(body: str, dequeue_count: int = 1) -> QueueMessage:
    return QueueMessage(id=str(uuid.uuid4()), body=body.encode(), dequeue_count=dequeue_count)


def test_a_malformed_push_message_is_dropped_and_writes_nothing(app_engine: Engine) -> None:
    FUNCTIONS["run_push"](queue_message('{"kind": "model", "name": "x"}'))

    assert ledger(app_engine) == []


def test_a_push_message_for_an_asset_the_rules_refuse_is_refused_not_pushed(
    app_engine: Engine, ml: Callable[[str], Any]
) -> None:
    message = PushMessage(
        kind=AssetKind.MODEL,
        name="credit-card-default",
        version="999",
        target="workspace2",
        correlation_id="c",
    )

    FUNCTIONS["run_push"](queue_message(message.model_dump_json()))

    [row] = ledger(app_engine)
    assert (row.target, row.status) == ("push|workspace2", LedgerStatus.REFUSED)
    assert "is not in registry" in row.message


def test_the_timer_queues_one_reconcile_per_workspace_and_one_for_the_registry(app_engine: Engine) -> None:
    FUNCTIONS["schedule_reconcile"](TimerRequest(past_due=False))

    assert app_engine.reconciles is not None
    messages = list(app_engine.reconciles.client.receive_messages(max_messages=32))
    bodies = [json.loads(m.content) for m in messages]
    assert sorted(b.get("name", "") for b in bodies) == [
        "",
        "workspace1",
        "workspace2",
        "workspace3",
        "workspace4",
        "workspace5",
    ]
    assert {b["scope"] for b in bodies} == {"workspace", "registry"}


def test_the_function_json_declares_the_bindings_the_host_needs() -> None:
    bindings = {
        f.get_function_name(): json.loads(f.get_function_json())["bindings"][0]
        for f in registered_functions().values()
    }
    assert bindings["on_workspace_event"]["type"] == "eventGridTrigger"
    assert bindings["run_push"]["queueName"] == "%REGSYNC_PUSH_QUEUE%"
    assert bindings["run_reconcile"]["queueName"] == "%REGSYNC_RECONCILE_QUEUE%"
    assert bindings["schedule_reconcile"]["schedule"] == "%REGSYNC_RECONCILE_SCHEDULE%"


def test_push_bodies_are_plain_json_text(app_engine: Engine) -> None:
    """The host base64-decodes queue messages; what the engine sends must decode to the message JSON."""
    message = PushMessage(
        kind=AssetKind.MODEL, name="m", version="1", target="workspace3", correlation_id="c"
    )
    app_engine.pushes.send(message.model_dump(mode="json"))
    [raw] = list(app_engine.pushes.client.receive_messages(max_messages=1))
    assert PushMessage.model_validate_json(raw.content) == message
    assert base64.b64decode(base64.b64encode(raw.content.encode())).decode() == raw.content


def test_fifty_concurrent_deliveries_of_one_event_are_all_acknowledged_and_share_once(
    app_engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    """Issue 9, "Also": 50 deliveries of one event at once gave 1x202 and 49x500. Now the one that claims
    the share does the work; every other is answered without an error (no Event Grid retry, no logged
    failure), because the holder fans out itself and the reconcile converges if it does not."""
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    raw = model_registered("workspace1", "credit-card-default", version, event_id="evt-burst")
    start = threading.Barrier(50)
    failures: list[BaseException] = []

    def deliver() -> None:
        event = grid_event(raw)
        start.wait()
        try:
            FUNCTIONS["on_workspace_event"](event)  # returning is the host's 2xx; raising its 500
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=version)
    rows = {entry.target: entry for entry in app_engine.store.entries_for_asset(ref.key)}
    assert rows["share"].status is LedgerStatus.SUCCEEDED and rows["share"].attempts == 1
    assert rows["push|workspace3"].status is LedgerStatus.PENDING
    queued = [json.loads(m.content) for m in app_engine.pushes.client.peek_messages(max_messages=32)]
    assert [(m["name"], m["version"], m["target"]) for m in queued] == [
        ("credit-card-default", version, "workspace3")
    ]
