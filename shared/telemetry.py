"""OpenTelemetry for RegSync: one trace per propagation, span attributes, metrics, and the exporter.

Who uses it: the trigger adapters in functions/ (`configure` on every invocation, `trigger_span` around
the engine call, `observe_queue_age`), the engine's use cases and apply (`span`, `stamp` on every queue
message sent, the metric recorders). Without `APPLICATIONINSIGHTS_CONNECTION_STRING` nothing is
exported: the OpenTelemetry API's no-op providers make every call here cheap.

- **One trace per propagation**: the Event Grid function's span is the root; apply stamps the W3C
  `traceparent` of the current span on every queue message it sends (`stamp`); the queue workers start
  their span as a child of it (`trigger_span(traceparent=...)`). Re-sent attempts carry the context of
  the attempt that re-sent them, so they stay in the same trace.
- **Span attributes** (`regsync.*`): correlation id, tenant, workspace, asset, version, target, outcome.
- **Metrics** (meter `regsync`): `regsync.propagation.latency` (s, from the event's time, else the first
  queueing, to the push that succeeded), `regsync.pushes` (by `regsync.outcome`),
  `regsync.share.duration` (s), `regsync.azureml.throttles` and `regsync.azureml.retries` (by
  `regsync.operation`), `regsync.queue.age` (s, from the message's insertion time, by `regsync.queue`).

The OpenTelemetry API is imported on first use, not with this module: a cold start imports none of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Span

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# When the Functions worker is told to configure the Azure Monitor distro itself, RegSync must not do
# it a second time (every span, log and metric would be exported twice).
WORKER_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
NAME = "regsync"  # the tracer, the meter, and the logger tree whose lines are exported
TRACEPARENT = "traceparent"

# The span attributes, one name each (docs/runbook.md queries them).
CORRELATION_ID = "regsync.correlation_id"
TENANT = "regsync.tenant"
WORKSPACE = "regsync.workspace"
ASSET = "regsync.asset"
VERSION = "regsync.version"
TARGET = "regsync.target"
OUTCOME = "regsync.outcome"

log = logging.getLogger("regsync.telemetry")
# When the propagation being worked on began (an event's time): stamped on the push messages it queues.
_origin: ContextVar[datetime | None] = ContextVar("regsync_origin_time", default=None)


@lru_cache(maxsize=1)
def configure() -> bool:
    """Export to Azure Monitor, once per process, when the connection string is set; nothing when it is
    not (or when the worker configures the distro itself). Called by the trigger adapters on their
    first invocation, never at import time: the distro's import would lengthen every cold start.
    Returns whether RegSync configured it."""
    if not os.environ.get(CONNECTION_SETTING):
        return False
    if os.environ.get(WORKER_SETTING, "").strip().lower() == "true":
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    # Only RegSync's own lines (`regsync.*`) become log records in Application Insights: the Azure
    # SDKs' HTTP logging stays out. Credentials come from APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
    configure_azure_monitor(logger_name=NAME)
    exported = logging.getLogger(NAME)
    if exported.level == logging.NOTSET:
        exported.setLevel(logging.INFO)
    log.info("OpenTelemetry export to Azure Monitor configured")
    return True


def attributes(**values: object) -> dict[str, str | int]:
    """`regsync.*` span attributes from keyword arguments, leaving out what is not known."""
    return {
        f"{NAME}.{key}": value if isinstance(value, int) else str(value)
        for key, value in values.items()
        if value is not None and value != ""
    }


@contextmanager
def span(name: str, **values: object) -> Iterator[Span]:
    """A span around a use case or an AzureML call, as a child of the current one. An exception is
    recorded on it and passes on."""
    from opentelemetry import trace

    with trace.get_tracer(NAME).start_as_current_span(name, attributes=attributes(**values)) as current:
        yield current


@contextmanager
def trigger_span(
    name: str, *, traceparent: str = "", server: bool = False, **values: object
) -> Iterator[Span]:
    """The span of one function invocation: the root of a trace (an event, a timer, an HTTP request:
    `server`), or, with the `traceparent` a queue message carries, a child of the span that queued it."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    parent = None
    if traceparent:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})
    tracer = trace.get_tracer(NAME)
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.SERVER if server else SpanKind.CONSUMER,
        attributes=attributes(**values),
    ) as current:
        yield current


def set_outcome(current: Span, outcome: str, **values: object) -> None:
    current.set_attributes(attributes(outcome=outcome, **values))


def annotate(**values: object) -> None:
    """Add what became known meanwhile (e.g. the target's tenant) to the current span."""
    from opentelemetry import trace

    trace.get_current_span().set_attributes(attributes(**values))


def current_traceparent() -> str:
    """The W3C traceparent of the current span; "" when there is none (or nothing records)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT, "")


def stamp(body: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A queue message's body as sent: the current trace context, and (for a push) when the
    propagation began, unless an earlier attempt already said."""
    traceparent = current_traceparent()
    if traceparent:
        body[TRACEPARENT] = traceparent
    if "origin_time" in body and not body["origin_time"]:
        body["origin_time"] = (_origin.get() or now).isoformat()
    return body


@contextmanager
def propagation_began(at: datetime | None) -> Iterator[None]:
    """While inside, the push messages queued carry `at` as the time their propagation began."""
    token = _origin.set(at)
    try:
        yield
    finally:
        _origin.reset(token)


def event_time(event: object, *, now: datetime) -> datetime | None:
    """The time an Event Grid event (`event_time`) or CloudEvent (`time`) says it happened; None if it
    says nothing usable. A time in the future (clock skew) counts as now."""
    for name in ("event_time", "time"):
        value = getattr(event, name, None)
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return min(aware, now)
    return None


# --- metrics -----------------------------------------------------------------------------------


class _Instruments:
    """RegSync's instruments, made once (a plain class: a dataclass costs a cold start a millisecond)."""

    def __init__(self) -> None:
        from opentelemetry import metrics

        meter = metrics.get_meter(NAME)
        self.propagation_latency: Histogram = meter.create_histogram(
            "regsync.propagation.latency", unit="s", description="event (or first queueing) to push succeeded"
        )
        self.pushes: Counter = meter.create_counter(
            "regsync.pushes", description="push messages carried out, by outcome"
        )
        self.share_duration: Histogram = meter.create_histogram(
            "regsync.share.duration", unit="s", description="one share to the registry, claim to settlement"
        )
        self.throttles: Counter = meter.create_counter(
            "regsync.azureml.throttles", description="AzureML calls answered 429 (throttled)"
        )
        self.retries: Counter = meter.create_counter(
            "regsync.azureml.retries", description="AzureML calls that failed temporarily and are retried"
        )
        self.queue_age: Histogram = meter.create_histogram(
            "regsync.queue.age", unit="s", description="queue message insertion to its worker starting"
        )


@lru_cache(maxsize=1)
def _instruments() -> _Instruments:
    return _Instruments()


def record_push(outcome: str, *, kind: str, origin_time: datetime | None, now: datetime) -> None:
    """A push settled with `outcome`; if it succeeded, how long its propagation took."""
    instruments = _instruments()
    instruments.pushes.add(1, {OUTCOME: outcome, "regsync.kind": kind})
    if outcome == "succeeded" and origin_time is not None:
        elapsed = max(0.0, (now - origin_time).total_seconds())
        instruments.propagation_latency.record(elapsed, {"regsync.kind": kind})


def record_share(outcome: str, *, kind: str, seconds: float) -> None:
    _instruments().share_duration.record(max(0.0, seconds), {OUTCOME: outcome, "regsync.kind": kind})


def record_azureml_failure(operation: str, error: BaseException, *, retried: bool) -> None:
    """A failed AzureML call: counted as a throttle if AzureML answered 429, as a retry if it is tried
    again (a share retrying, a push re-sent)."""
    instruments = _instruments()
    labels = {"regsync.operation": operation}
    if _throttled(error):
        instruments.throttles.add(1, labels)
    if retried:
        instruments.retries.add(1, labels)


def _throttled(error: BaseException | None) -> bool:
    """Does the error, or what it was raised from, carry HTTP status 429?"""
    seen = 0
    while error is not None and seen < 5:  # the adapter's verdict wraps the SDK's error
        if getattr(error, "status_code", None) == 429 or "answered 429" in str(error):
            return True
        error, seen = error.__cause__, seen + 1
    return False


def observe_queue_age(queue: str, inserted: datetime | None, *, now: datetime) -> None:
    """How long a message waited: from its insertion time (the binding's metadata) to its worker."""
    if inserted is None:
        return
    aware = inserted if inserted.tzinfo else inserted.replace(tzinfo=UTC)
    _instruments().queue_age.record(max(0.0, (now - aware).total_seconds()), {"regsync.queue": queue})
