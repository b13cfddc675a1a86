"""Issue 8 (9): RegSync's own events never hold up a share or a push. Apply queues them (the outbox);
the `publish_event` queue function publishes them with a short timeout, and a topic that does not
answer is a temporary failure of that message alone (the queue tries it again, then keeps it in poison).

Seen before: with the local topic not answering, 32 pushes that take 9 s took 602 s.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import azure.functions as func
import pytest

from shared import runtime
from shared.errors import TemporaryError
from shared.notify import EventGridPublisher
from shared.records import ASSET_PUSHED, OutboundEvent
from tests.conftest import registered_functions

pytestmark = pytest.mark.integration
EVENT = OutboundEvent(event_type=ASSET_PUSHED, subject="model m:1", data={"target": "workspace3"}, id="e-1")


@pytest.fixture
def hung_topic() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (bounded: closed after the test)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/api/events"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


def test_a_hung_topic_is_a_temporary_failure_of_the_publish_alone(hung_topic: str) -> None:
    publisher = EventGridPublisher(hung_topic, "test-key", timeout_seconds=0.5)
    with pytest.raises(TemporaryError, match="the outbox queue tries again"):
        publisher.publish(EVENT)


def test_the_outbox_function_raises_so_the_queue_tries_the_event_again(
    hung_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        runtime, "publisher", lambda: EventGridPublisher(hung_topic, "test-key", timeout_seconds=0.5)
    )
    message = func.QueueMessage(id="m-1", body=EVENT.model_dump_json().encode())
    with pytest.raises(TemporaryError):
        registered_functions()["publish_event"].get_user_function()(message)
