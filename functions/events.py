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
from shared.bounded import shown
from shared.engine import new_correlation_id
from shared.errors import InvalidInputError, PermanentError
from shared.events import parse_event

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.events")


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
    correlation_id = new_correlation_id()
    event_id = shown(str(getattr(event, "id", None)))  # from the wire: escaped and cut for the log
    try:
        parsed = parse_event(event_as_mapping(event))
    except InvalidInputError as error:
        log.error("[%s] malformed event %s refused, nothing changed: %s", correlation_id, event_id, error)
        return
    try:
        outcomes = runtime.engine().handle_event(parsed, correlation_id=correlation_id)
    except PermanentError as error:
        log.error(
            "[%s] event %s failed for good (recorded, not retried): %s", correlation_id, event_id, error
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
