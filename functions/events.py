"""Event Grid trigger: AzureML ModelRegistered and ARM ResourceWriteSuccess events -> the engine.

Replies, in one table (`REDELIVER`): an outcome that must be tried again (the share is retrying) or a
temporary failure raises, so Event Grid (through the host's 500) redelivers on its own schedule; a
malformed event, a refusal or a permanent failure is logged (and audited by the engine) and
acknowledged, so it is never retried forever. A duplicate of an event another worker is working on
right now (its share row is claimed and the claim is fresh) is acknowledged too (outcome `skipped`):
the holder shares and fans out, its own delivery is retried if it fails, and the reconcile converges
whatever happens (docs/security.md, "Duplicate deliveries"). Answering it 500 only made Event Grid
redeliver a duplicate and logged a failure per copy.

Telemetry: this function's span is the root of the propagation's trace (the share, the fan-out and,
through the `traceparent` of the queued messages, every push); the event's time is when the
propagation began, for the latency metric.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared import runtime, telemetry
from shared.bounded import shown
from shared.engine import new_correlation_id
from shared.errors import InvalidInputError, TemporaryError, judge
from shared.events import parse_event
from shared.records import Status, utc_now

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.events")
REDELIVER = frozenset({Status.RETRYING})


def event_as_mapping(event: Any) -> dict[str, Any]:
    """The trigger's EventGridEvent or CloudEvent as the plain mapping shared.events parses.

    Attributes the binding left out become None, so shared.events refuses them by name: the host
    decodes whatever a delivery holds, and a missing field must not be an AttributeError here."""
    data = event.get_json() if callable(getattr(event, "get_json", None)) else None
    if hasattr(event, "event_type"):
        return {
            "id": getattr(event, "id", None),
            "topic": getattr(event, "topic", None),
            "subject": getattr(event, "subject", None),
            "eventType": getattr(event, "event_type", None),
            "data": data,
        }
    return {
        "specversion": getattr(event, "specversion", "1.0"),
        "id": getattr(event, "id", None),
        "source": getattr(event, "source", None),
        "subject": getattr(event, "subject", None),
        "type": getattr(event, "type", None),
        "data": data,
    }


@blueprint.event_grid_trigger(arg_name="event")
def on_workspace_event(event: func.EventGridEvent) -> None:
    """One event per invocation: a malformed one is refused on its own (logged, acknowledged), so the
    valid events of its batch are handled and Event Grid never redelivers it."""
    telemetry.configure()
    correlation_id = new_correlation_id()
    event_id = shown(str(getattr(event, "id", None)))  # from the wire: escaped, cut
    began = telemetry.event_time(event, now=utc_now())
    with (
        telemetry.trigger_span("on_workspace_event", correlation_id=correlation_id, event_id=event_id),
        telemetry.propagation_began(began),
    ):
        _handle(event, correlation_id, event_id)


def _handle(event: func.EventGridEvent, correlation_id: str, event_id: str) -> None:
    try:
        parsed = parse_event(event_as_mapping(event))
    except InvalidInputError as error:
        log.error("[%s] malformed event %s refused, nothing changed: %s", correlation_id, event_id, error)
        return
    try:
        outcomes = runtime.engine().handle_event(parsed, correlation_id=correlation_id)
    except Exception as error:
        failure = judge(error)
        if failure.retryable:
            raise
        log.error(
            "[%s] event %s failed for good (recorded, not retried): %s",
            correlation_id,
            event_id,
            failure.message,
        )
        return
    for outcome in outcomes:
        log.info(
            "[%s] %s %s -> %s: %s",
            correlation_id,
            outcome.action,
            outcome.subject,
            outcome.target,
            outcome.label,
            extra={
                "correlation_id": correlation_id,
                "asset": outcome.subject,
                "target": outcome.target,
                "outcome": outcome.label,
            },
        )
    again = [outcome for outcome in outcomes if outcome.status in REDELIVER]
    if again:
        raise TemporaryError(f"event {event.id}: {again[0].subject} will be tried again: {again[0].reason}")
