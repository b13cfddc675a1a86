"""Queue trigger: one push (registry asset -> one workspace) per message.

Error mapping, once: temporary failures raise, so the host makes the message visible again after
host.json's visibilityTimeout and, after maxDequeueCount tries, moves it to the poison queue; the engine
has marked the ledger row failed on the last try, so the failure is visible there too. Permanent
failures are finalised in the ledger by the engine and the message is completed.
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared import runtime
from shared.engine import PushMessage

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.pushes")


@blueprint.queue_trigger(
    arg_name="message", queue_name="%REGSYNC_PUSH_QUEUE%", connection="AzureWebJobsStorage"
)
def run_push(message: func.QueueMessage) -> None:
    try:
        push = PushMessage.model_validate_json(message.get_body())
    except ValidationError as error:
        log.error("push message %s is malformed and was dropped, nothing changed: %s", message.id, error)
        return
    engine = runtime.engine()
    final_attempt = (message.dequeue_count or 1) >= engine.max_push_attempts
    outcome = engine.execute_push(push, final_attempt=final_attempt)
    log.info("[%s] push %s -> %s: %s", push.correlation_id, outcome.subject, outcome.target, outcome.status)
