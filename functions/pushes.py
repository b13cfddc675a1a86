"""Queue trigger: one push (registry asset -> one workspace) per message.

Replies: the engine settles every AzureML outcome itself (a temporary failure is re-sent with the delay
AzureML asked for and the next attempt number, counted against REGSYNC_MAX_PUSH_ATTEMPTS), so the
function completes normally. Only a failure of RegSync's own storage raises: the host then makes the
message visible again and, after host.json's maxDequeueCount, moves it to the poison queue.

Telemetry: the span continues the trace of the message's `traceparent`; the queue age is measured from
the message's insertion time; the final log line carries correlation id, asset, target and outcome as
fields.
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared import runtime, telemetry
from shared.records import PushMessage, utc_now

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.pushes")


@blueprint.queue_trigger(
    arg_name="message", queue_name="%REGSYNC_PUSH_QUEUE%", connection="AzureWebJobsStorage"
)
def run_push(message: func.QueueMessage) -> None:
    telemetry.configure()
    telemetry.observe_queue_age("pushes", message.insertion_time, now=utc_now())
    try:
        push = PushMessage.model_validate_json(message.get_body())
    except ValidationError as error:
        log.error("push message %s is malformed and was dropped, nothing changed: %s", message.id, error)
        return
    with telemetry.trigger_span("run_push", traceparent=push.traceparent, correlation_id=push.correlation_id):
        outcome = runtime.engine().execute_push(push)
        log.info(
            "[%s] push %s -> %s: %s",
            push.correlation_id,
            outcome.subject,
            outcome.target,
            outcome.label,
            extra={
                "correlation_id": push.correlation_id,
                "asset": outcome.subject,
                "target": outcome.target,
                "outcome": outcome.label,
            },
        )
