"""The local Event Grid topic (devstack/topic.py): the real EventGridPublisherClient publishes to it, a wrong
key is refused, and what arrived can be listed. The topic runs in-process (uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.eventgrid import EventGridEvent, EventGridPublisherClient

from devstack.azurite import free_port
from devstack.topic import KEY_HEADER, build_topic_app

KEY = "test-topic-key"


@pytest.fixture(scope="module")
def topic_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_topic_app(KEY), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < end, "the topic did not start"
        time.sleep(0.02)  # polling readiness with a deadline
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def publisher(url: str, key: str = KEY) -> EventGridPublisherClient:
    return EventGridPublisherClient(f"{url}/api/events", AzureKeyCredential(key))


def listed(url: str, **params: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/events", params=params).json()["value"])


def test_the_real_publisher_client_publishes_and_the_events_are_listed(topic_url: str) -> None:
    pushed = EventGridEvent(
        subject="model m:1", event_type="RegSync.AssetPushed", data={"target": "ws3"}, data_version="1.0"
    )
    failed = EventGridEvent(subject="model m:1", event_type="RegSync.PushFailed", data={}, data_version="1.0")

    publisher(topic_url).send([pushed, failed])

    [event] = listed(topic_url, type="RegSync.AssetPushed", subject="model m:1")
    assert (event["id"], event["data"]) == (str(pushed.id), {"target": "ws3"})
    assert {e["id"] for e in listed(topic_url)} >= {str(pushed.id), str(failed.id)}


def test_a_wrong_or_missing_key_is_refused_and_nothing_is_kept(topic_url: str) -> None:
    event = EventGridEvent(subject="s", event_type="RegSync.Wrong", data={}, data_version="1.0")

    with pytest.raises(ClientAuthenticationError):
        publisher(topic_url, key="not-the-key").send([event])
    body = [{"id": "1", "subject": "s", "eventType": "RegSync.Wrong", "eventTime": "2026-01-01T00:00:00Z",
             "data": {}, "dataVersion": "1.0"}]  # fmt: skip
    reply = httpx.post(f"{topic_url}/api/events", json=body)

    assert reply.status_code == 401
    assert listed(topic_url, type="RegSync.Wrong") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"{}", "non-empty JSON array"),
        (b"[]", "non-empty JSON array"),
        (b'[{"id": "1", "subject": "s"}]', "eventType, eventTime, data, dataVersion"),
    ],
)
def test_a_malformed_batch_is_a_400_naming_the_problem(topic_url: str, body: bytes, message: str) -> None:
    reply = httpx.post(f"{topic_url}/api/events", content=body, headers={KEY_HEADER: KEY})

    assert (reply.status_code, message in reply.text) == (400, True)


def test_a_batch_over_one_megabyte_is_refused(topic_url: str) -> None:
    reply = httpx.post(
        f"{topic_url}/api/events", content=b"[" + b" " * 1_048_576 + b"]", headers={KEY_HEADER: KEY}
    )

    assert reply.status_code == 413
