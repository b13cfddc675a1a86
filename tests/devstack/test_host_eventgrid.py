"""The local host's Event Grid webhook: keys, headers, handshake, batches and CloudEvents."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.devstack import sample_app
from tests.devstack.conftest import KEYS, HostUnderTest

pytestmark = pytest.mark.integration

WORKSPACE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
WEBHOOK = "/runtime/webhooks/EventGrid"
NOTIFY = {"aeg-event-type": "Notification"}


@pytest.fixture
def host(start_sample_host: Callable[..., HostUnderTest]) -> HostUnderTest:
    return start_sample_host()


def grid_event(subject: str = "models/m:1") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": WORKSPACE,
        "subject": subject,
        "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
        "eventTime": "2017-06-26T18:41:00.9584103Z",
        "data": {"ModelName": "m", "ModelVersion": 1},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def cloud_event(subject: str = "models/m:1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": WORKSPACE,
        "subject": subject,
        "type": "Microsoft.MachineLearningServices.ModelRegistered",
        "time": "2017-06-26T18:41:00Z",
        "data": {"modelName": "m", "modelVersion": "1"},
    }


def post(
    client: httpx.Client, body: Any, *, function: str = "on_sample_event", **headers: str
) -> httpx.Response:
    params = {"functionName": function, "code": KEYS.eventgrid}
    return client.post(WEBHOOK, params=params, json=body, headers=headers)


def seen(event: dict[str, Any]) -> bool:
    return any(event_id == event["id"] for event_id, _ in sample_app.EVENTS_SEEN)


def test_webhook_needs_the_system_key(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.post(
            WEBHOOK, params={"functionName": "on_sample_event"}, json=[grid_event()], headers=NOTIFY
        )
    assert response.status_code == 401


def test_missing_or_unknown_event_type_header_is_400(host: HostUnderTest) -> None:
    with host.client() as client:
        assert post(client, [grid_event()]).status_code == 400
        assert post(client, [grid_event()], **{"aeg-event-type": "Gossip"}).status_code == 400


def test_unknown_or_non_eventgrid_function_is_404(host: HostUnderTest) -> None:
    with host.client() as client:
        assert post(client, [grid_event()], function="nope", **NOTIFY).status_code == 404
        assert post(client, [grid_event()], function="greet", **NOTIFY).status_code == 404


def test_subscription_validation_echoes_the_code(host: HostUnderTest) -> None:
    validation = {**grid_event(), "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent"}
    validation["data"] = {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    with host.client() as client:
        response = post(client, [validation], **{"aeg-event-type": "SubscriptionValidation"})
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}


def test_lowercase_webhook_path_is_accepted(host: HostUnderTest) -> None:
    event = grid_event()
    with host.client() as client:
        params = {"functionName": "on_sample_event", "code": KEYS.eventgrid}
        response = client.post("/runtime/webhooks/eventgrid", params=params, json=[event], headers=NOTIFY)
    assert response.status_code == 202
    assert seen(event)


def test_batch_is_delivered_one_invocation_per_event(host: HostUnderTest) -> None:
    batch = [grid_event(), grid_event(), grid_event()]
    with host.client() as client:
        assert post(client, batch, **NOTIFY).status_code == 202
    assert all(seen(event) for event in batch)


def test_one_failing_event_makes_the_batch_500_but_the_others_still_run(host: HostUnderTest) -> None:
    good, bad = grid_event(), grid_event(subject="models/fail:1")
    with host.client() as client:
        assert post(client, [bad, good], **NOTIFY).status_code == 500
    assert seen(good)
    assert not seen(bad)


def test_cloudevents_single_and_batch_are_accepted(host: HostUnderTest) -> None:
    single, first, second = cloud_event(), cloud_event(), cloud_event()
    with host.client() as client:
        assert post(client, single, **NOTIFY).status_code == 202
        assert post(client, [first, second], **NOTIFY).status_code == 202
    assert all(seen(event) for event in (single, first, second))
    kinds = {kind for event_id, kind in sample_app.EVENTS_SEEN if event_id == single["id"]}
    assert kinds == {"Microsoft.MachineLearningServices.ModelRegistered"}


def test_cloudevents_abuse_protection_handshake(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.options(
            WEBHOOK,
            params={"functionName": "on_sample_event", "code": KEYS.eventgrid},
            headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
        )
    assert response.status_code == 200
    assert response.headers["webhook-allowed-origin"] == "eventgrid.azure.net"


def test_malformed_body_is_400(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.post(
            WEBHOOK,
            params={"functionName": "on_sample_event", "code": KEYS.eventgrid},
            content=b"not json",
            headers=NOTIFY,
        )
    assert response.status_code == 400
