"""Event Grid delivery to real local webhooks: handshake, both schemas, scopes, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.entities import Environment, Model

from devstack.emulator.launch import EmulatorAdmin
from tests.emulator.conftest import SUB1, ws_arm_id
from tests.support import wait_for

MLFactory = Callable[[str], Any]


class Webhook:
    """A tiny Event Grid webhook: answers the handshake, fails the first `fail_first` notifications."""

    def __init__(self, *, fail_first: int = 0, wrong_validation: bool = False) -> None:
        self.fail_first, self.wrong_validation = fail_first, wrong_validation
        self.received: list[tuple[dict[str, str], Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/events"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, reply = hook.answer({k.lower(): v for k, v in self.headers.items()}, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        return Handler

    def answer(self, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("aeg-event-type") == "SubscriptionValidation":
            code = body[0]["data"]["validationCode"]
            return 200, {"validationResponse": "nope" if self.wrong_validation else code}
        with self.lock:
            self.received.append((headers, body))
            failing = len(self.received) <= self.fail_first
        return (500, {"error": "first delivery fails"}) if failing else (200, {})

    def notifications(self) -> list[tuple[dict[str, str], Any]]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhooks() -> Iterator[Callable[..., Webhook]]:
    made: list[Webhook] = []

    def make(**kwargs: Any) -> Webhook:
        made.append(Webhook(**kwargs))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


@pytest.fixture
def subscriptions(admin: EmulatorAdmin) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        admin.remove_event_subscription(name)


def events_of(hook: Webhook, event_type: str, subject_part: str) -> list[tuple[dict[str, str], Any]]:
    found = []
    for headers, body in hook.notifications():
        events = body if isinstance(body, list) else [body]
        for event in events:
            kind = event.get("eventType") or event.get("type")
            if kind == event_type and subject_part in event["subject"]:
                found.append((headers, event))
    return found


def test_model_registered_event_grid_schema_with_retry(
    ml: MLFactory,
    admin: EmulatorAdmin,
    webhooks: Callable[..., Webhook],
    subscriptions: list[str],
    model_dir: Path,
    unique: str,
) -> None:
    hook = webhooks(fail_first=1)
    admin.add_event_subscription(f"{unique}-ws", hook.url, ws_arm_id("workspace1"), "EventGridSchema")
    subscriptions.append(f"{unique}-ws")
    ml("workspace1").models.create_or_update(
        Model(name=unique, version="1", path=str(model_dir), tags={"k": "v"})
    )
    delivered = wait_for(
        lambda: len(events_of(hook, "Microsoft.MachineLearningServices.ModelRegistered", unique)) >= 2,
        what="ModelRegistered delivered again after the failed first attempt",
    )
    assert delivered
    headers, event = events_of(hook, "Microsoft.MachineLearningServices.ModelRegistered", unique)[-1]
    assert headers["aeg-event-type"] == "Notification"
    assert event["topic"] == ws_arm_id("workspace1")
    assert event["subject"] == f"models/{unique}:1"
    assert event["data"] == {
        "modelName": unique,
        "modelVersion": "1",
        "modelTags": {"k": "v"},
        "modelProperties": {},
    }
    ours = [d for d in admin.deliveries() if d["subscription"] == f"{unique}-ws"]
    assert [(d["attempt"], d["status"]) for d in ours] == [(1, 500), (2, 200)]


def test_resource_write_cloud_events_at_subscription_scope(
    ml: MLFactory,
    admin: EmulatorAdmin,
    webhooks: Callable[..., Webhook],
    subscriptions: list[str],
    unique: str,
) -> None:
    hook = webhooks()
    admin.add_event_subscription(f"{unique}-sub", hook.url, f"/subscriptions/{SUB1}", "CloudEventSchemaV1_0")
    subscriptions.append(f"{unique}-sub")
    env = Environment(name=unique, version="1", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04")
    ml("workspace2").environments.create_or_update(env)
    found = wait_for(
        lambda: events_of(
            hook, "Microsoft.Resources.ResourceWriteSuccess", f"/environments/{unique}/versions/1"
        ),
        what="ResourceWriteSuccess as a CloudEvent",
    )
    headers, event = found[0]
    assert headers["content-type"].startswith("application/cloudevents+json")
    assert event["specversion"] == "1.0"
    assert event["source"] == f"/subscriptions/{SUB1}"
    assert event["subject"] == f"{ws_arm_id('workspace2')}/environments/{unique}/versions/1"
    data = event["data"]
    assert data["operationName"] == "Microsoft.MachineLearningServices/workspaces/environments/versions/write"
    assert data["status"] == "Succeeded"
    assert data["resourceGroup"] == "rg-tenants"
    assert data["subscriptionId"] == SUB1


def test_events_only_reach_their_scope(
    ml: MLFactory,
    admin: EmulatorAdmin,
    webhooks: Callable[..., Webhook],
    subscriptions: list[str],
    model_dir: Path,
    unique: str,
) -> None:
    ws3_hook, ws1_hook = webhooks(), webhooks()
    admin.add_event_subscription(f"{unique}-3", ws3_hook.url, ws_arm_id("workspace3"))
    admin.add_event_subscription(f"{unique}-1", ws1_hook.url, ws_arm_id("workspace1"))
    subscriptions.extend([f"{unique}-3", f"{unique}-1"])
    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    wait_for(lambda: events_of(ws1_hook, "Microsoft.MachineLearningServices.ModelRegistered", unique))
    assert events_of(ws3_hook, "Microsoft.MachineLearningServices.ModelRegistered", unique) == []
    assert (
        events_of(ws1_hook, "Microsoft.Resources.ResourceWriteSuccess", unique) == []
    )  # subscription-scope only


def test_failed_handshake_refuses_the_subscription(
    admin: EmulatorAdmin, webhooks: Callable[..., Webhook], unique: str
) -> None:
    hook = webhooks(wrong_validation=True)
    with pytest.raises(RuntimeError, match="validation handshake"):
        admin.add_event_subscription(unique, hook.url, ws_arm_id("workspace1"))
    assert unique not in {s["name"] for s in admin.event_subscriptions()}
