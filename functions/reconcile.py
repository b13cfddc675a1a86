"""Timer and queue triggers of the reconcile: the timer only enqueues, queue workers do the work.

Scale comes from the platform: one message per workspace (plus one for the registry), so Functions
spreads the reconcile over instances and host.json's queue batchSize bounds the concurrency. Errors:
one asset's failure is that asset's outcome and the pass goes on (the next pass retries it); a
failure of the whole pass that is temporary raises (the message comes back, then goes to poison);
a permanent one is logged.
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared import runtime, telemetry
from shared.engine import new_correlation_id
from shared.errors import judge
from shared.records import ReconcileMessage, Status, utc_now

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.reconcile")


@blueprint.timer_trigger(arg_name="timer", schedule="%REGSYNC_RECONCILE_SCHEDULE%", run_on_startup=False)
def schedule_reconcile(timer: func.TimerRequest) -> None:
    telemetry.configure()
    correlation_id = new_correlation_id()
    with telemetry.trigger_span("schedule_reconcile", correlation_id=correlation_id):
        count = runtime.engine().schedule_reconcile(correlation_id=correlation_id)
    late = " (past due)" if timer.past_due else ""
    log.info("[%s] reconcile%s: %d messages queued", correlation_id, late, count)


@blueprint.queue_trigger(
    arg_name="message", queue_name="%REGSYNC_RECONCILE_QUEUE%", connection="AzureWebJobsStorage"
)
def run_reconcile(message: func.QueueMessage) -> None:
    telemetry.configure()
    telemetry.observe_queue_age("reconcile", message.insertion_time, now=utc_now())
    try:
        work = ReconcileMessage.model_validate_json(message.get_body())
    except ValidationError as error:
        log.error("reconcile message %s is malformed and was dropped, nothing changed: %s", message.id, error)
        return
    with telemetry.trigger_span(
        "run_reconcile", traceparent=work.traceparent, correlation_id=work.correlation_id
    ):
        _reconcile(work)


def _reconcile(work: ReconcileMessage) -> None:
    try:
        outcomes = runtime.engine().reconcile(work)
    except Exception as error:
        failure = judge(error)
        if failure.retryable:
            raise
        log.error(
            "[%s] reconcile of %s %s failed for good: %s",
            work.correlation_id,
            work.scope,
            work.name,
            failure.message,
        )
        return
    acted = [outcome for outcome in outcomes if outcome.status not in {Status.DONE, Status.SKIPPED}]
    log.info(
        "[%s] reconcile of %s %s: %d outcomes", work.correlation_id, work.scope, work.name or "", len(acted)
    )
