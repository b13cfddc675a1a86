"""Publishing RegSync's own outbound events to an Event Grid custom topic, off the critical path.

Who calls it: functions/outbox.py, the queue trigger of the outbox queue. Apply (shared.engine.apply)
only queues an event next to the ledger change it reports; this module sends it, with a short timeout
and no client-side retries: a failure raises TemporaryError, the queue makes the message visible again,
and after the host's attempts it rests in the poison queue. So a slow or hung topic delays only the
events, never a share or a push, and no event is lost.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.errors import TemporaryError
from shared.records import OutboundEvent
from shared.settings import Settings


class Publisher(Protocol):
    def publish(self, event: OutboundEvent) -> None: ...


class EventGridPublisher:
    """Key authentication where the topic has local auth; Entra ID (the app's identity) otherwise."""

    def __init__(self, endpoint: str, key: str | None, *, timeout_seconds: float) -> None:
        from azure.eventgrid import EventGridPublisherClient

        credential: Any
        if key:
            from azure.core.credentials import AzureKeyCredential

            credential = AzureKeyCredential(key)
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self._timeout = timeout_seconds
        # One try per delivery: the queue is the retry loop, so a hung topic holds a worker briefly.
        self._client = EventGridPublisherClient(endpoint, credential, retry_total=0)

    def publish(self, event: OutboundEvent) -> None:
        from azure.eventgrid import EventGridEvent

        outbound = EventGridEvent(
            id=event.id,
            subject=event.subject,
            event_type=event.event_type,
            data=event.data,
            data_version="1.0",
        )
        try:
            self._client.send([outbound], connection_timeout=self._timeout, read_timeout=self._timeout)
        except Exception as error:
            raise TemporaryError(
                f"publishing {event.event_type} for {event.subject} failed ({type(error).__name__}); "
                "the outbox queue tries again"
            ) from error


def publisher_from_settings(settings: Settings) -> Publisher | None:
    """The topic's publisher, or None when no topic is configured (then no event is queued either)."""
    if settings.eventgrid_topic_endpoint:
        return EventGridPublisher(
            settings.eventgrid_topic_endpoint,
            settings.eventgrid_topic_key,
            timeout_seconds=settings.publish_timeout_seconds,
        )
    return None
