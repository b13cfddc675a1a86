"""Queue and timer triggers of the local host: delete on success, retries, poison queue, schedules."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from azure.core.exceptions import ResourceNotFoundError

from devstack.azurite import RunningAzurite
from devstack.host import HostConfig, queue_client
from tests.devstack import sample_app
from tests.devstack.conftest import KEYS, HostUnderTest, unique
from tests.support import wait_for

pytestmark = pytest.mark.integration

FAST_RETRIES = HostConfig.from_host_json(
    {"extensions": {"queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:00", "batchSize": 4}}}
)


def peek_all(connection_string: str, queue_name: str) -> list[str]:
    try:
        return [m.content for m in queue_client(connection_string, queue_name).peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


def test_processed_message_is_deleted_and_its_effect_visible(
    start_sample_host: Callable[..., HostUnderTest], azurite: RunningAzurite
) -> None:
    host = start_sample_host()
    source, done = host.host.settings["SAMPLE_QUEUE"], unique("done-")
    body = json.dumps({"reply_to": done, "text": "hello"})
    queue_client(azurite.connection_string, source).send_message(body)

    replies = wait_for(lambda: peek_all(azurite.connection_string, done), what="the sample's reply")
    assert [json.loads(reply)["body"] for reply in replies] == [body]  # type: ignore[union-attr]
    wait_for(lambda: not peek_all(azurite.connection_string, source), what="the message's deletion")


def test_failing_message_is_retried_then_moved_to_poison_queue(
    start_sample_host: Callable[..., HostUnderTest], azurite: RunningAzurite
) -> None:
    host = start_sample_host(config=FAST_RETRIES)
    source = host.host.settings["SAMPLE_QUEUE"]
    sent = queue_client(azurite.connection_string, source).send_message("boom, always")

    poisoned = wait_for(lambda: peek_all(azurite.connection_string, f"{source}-poison"), what="poison")
    assert poisoned == ["boom, always"]
    attempts = [count for message_id, count in sample_app.FAILED_ATTEMPTS if message_id == sent.id]
    assert attempts == [1, 2, 3]
    wait_for(lambda: not peek_all(azurite.connection_string, source), what="removal from the source queue")


def test_good_messages_flow_past_a_poisoned_one(
    start_sample_host: Callable[..., HostUnderTest], azurite: RunningAzurite
) -> None:
    host = start_sample_host(config=FAST_RETRIES)
    source, done = host.host.settings["SAMPLE_QUEUE"], unique("done-")
    client = queue_client(azurite.connection_string, source)
    client.send_message("boom")
    for index in range(5):
        client.send_message(json.dumps({"reply_to": done, "text": f"m{index}"}))

    wait_for(lambda: len(peek_all(azurite.connection_string, done)) == 5, what="five replies")
    wait_for(lambda: peek_all(azurite.connection_string, f"{source}-poison") == ["boom"], what="poison")


def test_timer_fires_on_its_schedule(start_sample_host: Callable[..., HostUnderTest]) -> None:
    runs_before = len(sample_app.TIMER_RUNS)
    start_sample_host(settings={"SAMPLE_TIMER_SCHEDULE": "* * * * * *"})
    wait_for(lambda: len(sample_app.TIMER_RUNS) > runs_before + 1, what="two timer runs")


def test_admin_invoke_runs_a_timer_now(start_sample_host: Callable[..., HostUnderTest]) -> None:
    host = start_sample_host()  # the default schedule fires once a year
    runs_before = len(sample_app.TIMER_RUNS)
    with host.client() as client:
        assert client.post("/admin/functions/sample_tick", json={"input": ""}).status_code == 401
        response = client.post(
            "/admin/functions/sample_tick", params={"code": KEYS.master}, json={"input": ""}
        )
        assert response.status_code == 202
        assert client.post("/admin/functions/greet", params={"code": KEYS.master}).status_code == 404
    wait_for(lambda: len(sample_app.TIMER_RUNS) > runs_before, what="the admin-invoked run")
