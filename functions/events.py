"""Event Grid trigger: AzureML ModelRegistered and ARM ResourceWriteSuccess events -> the engine.

Error mapping, once: a temporary failure raises, so Event Grid (through the host's 500) redelivers;
malformed events and permanent failures are logged (and audited by the engine) and acknowledged, so
they are never retried forever.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared import runtime
from shared.engine import new_correlation_id
from shared.errors import InvalidInputError, PermanentError
from shared.events import parse_event

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.events")


def event_as_mapping(event: Any) -> dict[str, Any]:
    """The trigger's EventGridEvent or CloudEvent as the plain mapping shared.events parses."""
    if hasattr(event, "event_type"):
        return {
            "id": event.id,
            "topic": event.topic,
            "subject": event.subject,
            "eventType": event.event_type,
            "data": event.get_json(),
        }
    return {
        "specversion": getattr(event, "specversion", "1.0"),
        "id": event.id,
        "source": event.source,
        "subject": event.subject,
        "type": event.type,
        "data": event.get_json(),
    }


@blueprint.event_grid_trigger(arg_name="event")
def on_workspace_event(event: func.EventGridEvent) -> None:
    correlation_id = new_correlation_id()
    try:
        parsed = parse_event(event_as_mapping(event))
    except InvalidInputError as error:
        log.error("[%s] malformed event %s refused, nothing changed: %s", correlation_id, event.id, error)
        return
    try:
        outcomes = runtime.engine().handle_event(parsed, correlation_id=correlation_id)
    except PermanentError as error:
        log.error(
            "[%s] event %s failed for good (recorded, not retried): %s", correlation_id, event.id, error
        )
        return
    for outcome in outcomes:
        log.info(
            "[%s] %s %s -> %s: %s",
            correlation_id,
            outcome.action,
            outcome.subject,
            outcome.target,
            outcome.status,
        )
