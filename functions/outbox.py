"""Queue trigger: publish one of RegSync's own events (the outbox) to the Event Grid custom topic.

Replies: a failed publish raises (TemporaryError), so the host tries the message again after
host.json's visibilityTimeout and finally keeps it in the poison queue: an event is late, never lost,
and never holds up the share or push it reports.
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared import runtime, telemetry
from shared.records import OutboundEvent, utc_now

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.outbox")


@blueprint.queue_trigger(
    arg_name="message", queue_name="%REGSYNC_OUTBOX_QUEUE%", connection="AzureWebJobsStorage"
)
def publish_event(message: func.QueueMessage) -> None:
    telemetry.configure()
    telemetry.observe_queue_age("outbox", message.insertion_time, now=utc_now())
    try:
        event = OutboundEvent.model_validate_json(message.get_body())
    except ValidationError as error:
        log.error("outbox message %s is malformed and was dropped: %s", message.id, error)
        return
    with telemetry.trigger_span("publish_event", traceparent=event.traceparent, target=event.event_type):
        _publish(event)


def _publish(event: OutboundEvent) -> None:
    publisher = runtime.publisher()
    if publisher is None:
        log.warning("event %s %s dropped: no topic is configured", event.event_type, event.subject)
        return
    publisher.publish(event)
    log.info("published %s for %s", event.event_type, event.subject)
