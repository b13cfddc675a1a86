"""The local host's Event Grid webhook: keys, headers, handshake, batches and CloudEvents."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.host import LocalHost
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


def post_raw(client: httpx.Client, content: bytes, **headers: str) -> httpx.Response:
    params = {"functionName": "on_sample_event", "code": KEYS.eventgrid}
    return client.post(WEBHOOK, params=params, content=content, headers=headers)


def invalid_input(response: httpx.Response) -> str:
    """The message of a 400 with RegSync's error body."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    return str(error["message"])


@pytest.mark.parametrize(
    "content",
    [b"not json", b'[{"id": "a", "id": "b"}]', b"[NaN]", b"\xff", b"[]", b"[1]", b'"text"'],
    ids=["not json", "duplicate key", "NaN", "not UTF-8", "empty batch", "not an event", "a string"],
)
def test_malformed_body_is_400_with_a_json_error(host: HostUnderTest, content: bytes) -> None:
    with host.client() as client:
        assert invalid_input(post_raw(client, content, **NOTIFY)).startswith("the delivery")


def test_a_body_nested_100000_deep_is_400_not_a_recursion_error(host: HostUnderTest) -> None:
    with host.client() as client:
        message = invalid_input(post_raw(client, b"[" * 100_000 + b"]" * 100_000, **NOTIFY))
    assert "deeper than 32 levels" in message  # the default of REGSYNC_MAX_JSON_DEPTH


def test_the_depth_limit_is_the_hosts_setting(start_sample_host: Callable[..., HostUnderTest]) -> None:
    host = start_sample_host(settings={"REGSYNC_MAX_JSON_DEPTH": "4"})
    shallow, deep = grid_event(), grid_event()
    deep["data"] = {"a": {"b": {}}}  # batch, event, data, a, b: 5 levels
    with host.client() as client:
        assert post(client, [shallow], **NOTIFY).status_code == 202  # batch, event, data: 3 levels
        assert "deeper than 4 levels" in invalid_input(post(client, [deep], **NOTIFY))
    assert seen(shallow)
    assert not seen(deep)


@pytest.mark.parametrize("value", ["", "x", "0", "-1", "1e3"])
def test_a_depth_setting_that_is_not_a_positive_integer_stops_the_host(value: str) -> None:
    with pytest.raises(ValueError, match="REGSYNC_MAX_JSON_DEPTH") if value else contextlib.nullcontext():
        host = LocalHost(sample_app.app, settings={"REGSYNC_MAX_JSON_DEPTH": value}, keys=KEYS)
        assert host.max_json_depth == 32  # blank: the default


@pytest.mark.parametrize(
    "data",
    [["code"], "code", None, {}, {"validationCode": ""}, {"validationCode": 42}],
    ids=["a list", "text", "null", "no code", "empty code", "code not text"],
)
def test_subscription_validation_without_a_code_string_is_400(host: HostUnderTest, data: Any) -> None:
    validation = {
        **grid_event(),
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "data": data,
    }
    with host.client() as client:
        response = post(client, [validation], **{"aeg-event-type": "SubscriptionValidation"})
    assert "validationCode" in invalid_input(response)


def test_an_undecodable_event_is_acknowledged_and_its_neighbours_delivered(host: HostUnderTest) -> None:
    # The library's converter raises ValueError on this eventTime: the function never sees the event.
    before, bad, after = grid_event(), {**grid_event(), "eventTime": "yesterday"}, grid_event()
    with host.client() as client:
        assert post(client, [before, bad, after], **NOTIFY).status_code == 202
    assert seen(before)
    assert seen(after)
    assert not seen(bad)


def test_a_function_failure_next_to_an_undecodable_event_is_still_500(host: HostUnderTest) -> None:
    bad, failing = {**grid_event(), "eventTime": "yesterday"}, grid_event(subject="models/fail:1")
    with host.client() as client:
        assert post(client, [bad, failing], **NOTIFY).status_code == 500


def test_401_and_404_keep_the_hosts_plain_text_bodies(host: HostUnderTest) -> None:
    # As in Azure, where neither is JSON (devstack/host/http.py, LocalHost.eventgrid_webhook).
    with host.client() as client:
        unauthorized = client.post(
            WEBHOOK, params={"functionName": "on_sample_event"}, json=[], headers=NOTIFY
        )
        unknown = post(client, [grid_event()], function="nope", **NOTIFY)
    for response in (unauthorized, unknown):
        assert response.headers["content-type"].startswith("text/plain")
    assert (unauthorized.status_code, unknown.status_code) == (401, 404)
