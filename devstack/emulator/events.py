"""Event Grid delivery: turns `State` writes into Azure-shaped events and POSTs them to webhooks.

`State` calls `Dispatcher.publish` for each write; the admin routes call `Dispatcher.subscribe` (with
the validation handshake) and read `subscriptions()` / `attempts()`. Delivery runs in one background
thread so the SDK call that caused the event returns first. At-least-once: a non-2xx answer or a
connection error is retried on Event Grid's schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then
hourly), divided by the --speed factor, for at most `MAX_ATTEMPTS` attempts.

Schemas: EventGridSchema -> a JSON array with one event, content-type application/json;
CloudEventSchemaV1_0 -> one structured CloudEvent, content-type application/cloudevents+json.
Both carry the `aeg-event-type: Notification` header.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.emulator.state import now_iso
from devstack.emulator.world import PROVIDER, EventSubscription, Workspace

RETRY_SCHEDULE_S = (10, 30, 60, 300, 600, 1800, 3600)
MAX_ATTEMPTS = 30
TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
KIND_OPERATION = {
    "models": "models/versions",
    "environments": "environments/versions",
    "components": "components/versions",
    "data": "data/versions",
}


class SubscriptionRefusedError(Exception):
    """The webhook did not answer the validation handshake as Event Grid requires."""


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    subscription: EventSubscription = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)


def model_registered(ws: Workspace, name: str, version: str, tags: Any, props: Any) -> dict[str, Any]:
    """ModelRegistered as in the AzureML docs (camelCase data, as the SDK typings have it)."""
    return {
        "id": str(uuid.uuid4()),
        "topic": ws.arm_id,
        "subject": f"models/{name}:{version}",
        "eventType": f"{PROVIDER}.ModelRegistered",
        "eventTime": now_iso(),
        "data": {"modelName": name, "modelVersion": version, "modelTags": tags, "modelProperties": props},
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def resource_write(ws: Workspace, kind: str, name: str, version: str) -> dict[str, Any]:
    """ResourceWriteSuccess from the subscription's system topic, as ARM emits it for a PUT."""
    uri = f"{ws.arm_id}/{kind}/{name}/versions/{version}"
    correlation = str(uuid.uuid4())
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{ws.subscription}",
        "subject": uri,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": now_iso(),
        "data": {
            "resourceUri": uri,
            "operationName": f"{PROVIDER}/workspaces/{KIND_OPERATION[kind]}/write",
            "status": "Succeeded",
            "subscriptionId": ws.subscription,
            "resourceGroup": ws.resource_group,
            "resourceProvider": PROVIDER,
            "tenantId": TENANT_ID,
            "correlationId": correlation,
            "authorization": {"scope": uri, "action": f"{PROVIDER}/workspaces/{KIND_OPERATION[kind]}/write"},
            "claims": {},
            "httpRequest": {"clientRequestId": correlation, "method": "PUT", "url": uri},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def as_cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same event in CloudEvents 1.0, as Event Grid maps it (source = topic)."""
    return {
        "specversion": "1.0",
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "datacontenttype": "application/json",
        "data": event["data"],
    }


def validation_event(topic: str) -> tuple[dict[str, Any], str]:
    code = str(uuid.uuid4())
    event = {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": "",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": now_iso(),
        "data": {"validationCode": code, "validationUrl": None},
        "dataVersion": "2",
        "metadataVersion": "1",
    }
    return event, code


class Dispatcher:
    """Holds the Event Grid subscriptions and delivers events to them in a background thread."""

    def __init__(self, speed: float = 1.0, ca_verify: bool = False) -> None:
        self.speed = speed
        self._subs: dict[str, EventSubscription] = {}
        self._queue: list[Delivery] = []
        self._attempts: list[dict[str, Any]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._client = httpx.Client(timeout=10.0, verify=ca_verify)
        self._thread = threading.Thread(target=self._run, name="eventgrid-delivery", daemon=True)
        self._thread.start()

    # -- subscriptions ----------------------------------------------------------------------------
    def subscribe(self, sub: EventSubscription) -> None:
        """Run the validation handshake (POST, aeg-event-type: SubscriptionValidation), then keep it."""
        event, code = validation_event(sub.scope)
        headers = {"aeg-event-type": "SubscriptionValidation", "content-type": "application/json"}
        try:
            reply = self._client.post(sub.endpoint, json=[event], headers=headers)
            answer = reply.json().get("validationResponse") if reply.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise SubscriptionRefusedError(f"webhook `{sub.endpoint}` unreachable: {exc}") from exc
        if answer != code:
            raise SubscriptionRefusedError(
                f"webhook `{sub.endpoint}` failed the validation handshake (HTTP {reply.status_code})"
            )
        with self._cond:
            self._subs[sub.name] = sub

    def add_validated(self, sub: EventSubscription) -> None:
        """A subscription from the world file: it exists already, as in Azure, so no handshake."""
        with self._cond:
            self._subs[sub.name] = sub

    def unsubscribe(self, name: str) -> bool:
        with self._cond:
            return self._subs.pop(name, None) is not None

    def subscriptions(self) -> list[EventSubscription]:
        with self._cond:
            return list(self._subs.values())

    def attempts(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._attempts)

    def reset_attempts(self) -> None:
        with self._cond:
            self._attempts.clear()

    # -- publishing ---------------------------------------------------------------------------------
    def publish(self, what: str, info: dict[str, Any]) -> None:
        """Called by State for each workspace write; routes the event to matching subscriptions."""
        ws: Workspace = info["workspace"]
        if what == "model":
            event = model_registered(ws, info["name"], info["version"], info["tags"], info["properties"])
            scopes = {ws.arm_id.lower(), f"/subscriptions/{ws.subscription}".lower()}
        else:
            event = resource_write(ws, info["kind"], info["name"], info["version"])
            scopes = {f"/subscriptions/{ws.subscription}".lower()}
        with self._cond:
            for sub in self._subs.values():
                wanted = not sub.event_types or event["eventType"] in sub.event_types
                if sub.scope.lower() in scopes and wanted:
                    heapq.heappush(self._queue, Delivery(time.monotonic(), next(self._seq), sub, event))
            self._cond.notify()

    # -- delivery -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue or self._queue[0].due > time.monotonic():
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                item = heapq.heappop(self._queue)
            self._deliver(item)

    def _deliver(self, item: Delivery) -> None:
        status, error = self._post(item.subscription, item.event)
        ok = status is not None and 200 <= status < 300
        record = {
            "subscription": item.subscription.name,
            "eventId": item.event["id"],
            "eventType": item.event["eventType"],
            "subject": item.event["subject"],
            "attempt": item.attempt,
            "status": status,
            "error": error,
            "delivered": ok,
            "at": now_iso(),
        }
        with self._cond:
            self._attempts.append(record)
            if not ok and item.attempt < MAX_ATTEMPTS:
                delay = RETRY_SCHEDULE_S[min(item.attempt - 1, len(RETRY_SCHEDULE_S) - 1)] / self.speed
                retry = Delivery(
                    time.monotonic() + delay, next(self._seq), item.subscription, item.event, item.attempt + 1
                )
                heapq.heappush(self._queue, retry)
                self._cond.notify()

    def _post(self, sub: EventSubscription, event: dict[str, Any]) -> tuple[int | None, str | None]:
        headers = {"aeg-event-type": "Notification", "aeg-subscription-name": sub.name.upper()}
        try:
            if sub.schema == "CloudEventSchemaV1_0":
                headers["content-type"] = "application/cloudevents+json; charset=utf-8"
                reply = self._client.post(sub.endpoint, json=as_cloud_event(event), headers=headers)
            else:
                headers["content-type"] = "application/json"
                reply = self._client.post(sub.endpoint, json=[event], headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return reply.status_code, None
