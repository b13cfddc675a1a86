"""RegSync's own outbound events, published to an Event Grid custom topic so tenants' pipelines can react.

Who calls it: the engine, after a share or a push ends. Optional: without a configured topic nothing is
sent. Publishing is best effort: a failed publish is logged and never undoes or retries the work that
already happened (the ledger and audit remain the record).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from shared.settings import Settings

ASSET_SHARED = "RegSync.AssetShared"
ASSET_PUSHED = "RegSync.AssetPushed"
PUSH_FAILED = "RegSync.PushFailed"

log = logging.getLogger("regsync.notify")


class Publisher(Protocol):
    def publish(self, event_type: str, subject: str, data: Mapping[str, str]) -> None: ...


class NoPublisher:
    """Used when no topic is configured."""

    def publish(self, event_type: str, subject: str, data: Mapping[str, str]) -> None:
        return None


class EventGridPublisher:
    def __init__(self, endpoint: str, key: str) -> None:
        from azure.core.credentials import AzureKeyCredential
        from azure.eventgrid import EventGridPublisherClient

        self._client = EventGridPublisherClient(endpoint, AzureKeyCredential(key))

    def publish(self, event_type: str, subject: str, data: Mapping[str, str]) -> None:
        from azure.eventgrid import EventGridEvent

        event = EventGridEvent(subject=subject, event_type=event_type, data=dict(data), data_version="1.0")
        try:
            self._client.send([event])
        except Exception as error:  # best effort by design, see the module docstring
            log.warning(
                "publishing %s for %s failed (%s); the ledger keeps the record", event_type, subject, error
            )


def publisher_from_settings(settings: Settings) -> Publisher:
    if settings.eventgrid_topic_endpoint and settings.eventgrid_topic_key:
        return EventGridPublisher(settings.eventgrid_topic_endpoint, settings.eventgrid_topic_key)
    return NoPublisher()
