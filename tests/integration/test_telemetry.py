"""OpenTelemetry, seen by the SDK's in-memory exporters (no Azure): one event with three targets gives
ONE trace (the event's span is the parent of the share, the fan-out and every push), the metrics count
what happened, and a push's log record carries its fields as attributes an exporter sees.

The registered functions run the way the worker runs them (real azure.functions objects), against
Azurite and the emulator: the Event Grid function first, then the push function once per message the
fan-out queued, with the message's insertion time as the binding gives it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from shared import runtime, telemetry
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.queues import WorkQueue
from shared.records import PushMessage
from tests.conftest import registered_functions
from tests.integration.conftest import register_model
from tests.support import model_registered

FUNCTIONS = {name: function.get_user_function() for name, function in registered_functions().items()}
BERT = "bert-base-uncased_fine-tuned"  # the seed rules push this one name to workspaces 1, 2 and 4
TARGETS = {"workspace1", "workspace2", "workspace4"}
EVENT_TIME = "2026-11-22T10:00:00+00:00"  # what tests.support.model_registered says


@dataclass(frozen=True)
class Exporters:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter
    handler: logging.Handler


@cache
def exporters() -> Exporters:
    """The process's OpenTelemetry providers, installed once (the API allows one of each per process).
    Metrics are read as deltas: each read gives what was recorded since the previous one."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    delta = AggregationTemporality.DELTA
    reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    handler = LoggingHandler(logger_provider=logger_provider)  # the handler the Azure Monitor distro adds
    return Exporters(spans, reader, logs, handler)


@pytest.fixture
def otel(seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Exporters]:
    """Fresh in-memory exporters, and the function adapters on the test's engine."""
    monkeypatch.setattr(runtime, "engine", lambda: seeded)
    monkeypatch.delenv(telemetry.CONNECTION_SETTING, raising=False)
    found = exporters()
    found.metrics.get_metrics_data()  # forget what earlier tests recorded
    found.spans.clear()
    found.logs.clear()
    regsync = logging.getLogger(telemetry.NAME)
    level = regsync.level
    regsync.addHandler(found.handler)
    regsync.setLevel(logging.INFO)
    try:
        yield found
    finally:
        regsync.removeHandler(found.handler)
        regsync.setLevel(level)
        found.spans.clear()
        found.logs.clear()


def grid_event(raw: dict[str, Any]) -> Any:
    return EventGridEventInConverter.decode(Datum(json.dumps(raw), "json"), trigger_metadata={})


def run_queued_pushes(engine: Engine) -> list[dict[str, Any]]:
    """Run the push function once per queued message, as the host would; the bodies it ran."""
    queue = engine.pushes
    assert isinstance(queue, WorkQueue)
    bodies = []
    for _ in range(10):
        messages = list(queue.client.receive_messages(max_messages=32, visibility_timeout=60))
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message.content))
            FUNCTIONS["run_push"](
                QueueMessage(
                    id=message.id,
                    body=message.content.encode(),
                    dequeue_count=message.dequeue_count,
                    insertion_time=message.inserted_on,
                )
            )
            queue.client.delete_message(message)
    raise AssertionError("the push queue did not drain")


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        above = by_id[parent.span_id]
        names.append(above.name)
        parent = above.parent
    return names


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Each metric's data points since the previous read, by metric name."""
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def propagate_a_new_version(
    otel: Exporters, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> tuple[str, list[dict[str, Any]]]:
    """workspace3 registers a new BERT version; its event and then every push it queued run through the
    registered functions. Returns the version and the push messages' bodies."""
    version = f"v{uuid.uuid4().hex[:8]}"
    register_model(ml, "workspace3", BERT, model_folder, version=version)
    otel.spans.clear()  # the tenant's own SDK calls (azure-ai-ml traces them) are not RegSync's trace
    otel.logs.clear()
    FUNCTIONS["on_workspace_event"](grid_event(model_registered("workspace3", BERT, version)))
    return version, run_queued_pushes(seeded)


def test_one_event_with_three_targets_is_one_trace_with_counted_metrics(
    otel: Exporters, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version, bodies = propagate_a_new_version(otel, seeded, ml, model_folder)

    assert {body["target"] for body in bodies} == TARGETS and len(bodies) == 3
    assert all(PushMessage.model_validate(body).traceparent for body in bodies)
    assert {datetime.fromisoformat(body["origin_time"]) for body in bodies} == {
        datetime.fromisoformat(EVENT_TIME).astimezone(UTC)
    }

    spans = otel.spans.get_finished_spans()
    [root] = [span for span in spans if span.name == "on_workspace_event"]
    assert root.parent is None
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}, [
        (s.name, s.context.trace_id == root.context.trace_id, s.parent) for s in spans
    ]
    by_id = {span.context.span_id: span for span in spans}
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    [share] = by_name["regsync.share"]
    [fanout] = by_name["regsync.fanout"]
    assert "on_workspace_event" in ancestors(share, by_id)
    assert "on_workspace_event" in ancestors(fanout, by_id)
    assert share.attributes is not None and share.attributes[telemetry.OUTCOME] == "succeeded"
    assert share.attributes[telemetry.TENANT] == "northwind"
    assert share.attributes[telemetry.VERSION] == version
    assert len(by_name["azureml.share"]) == 1
    assert len(by_name["run_push"]) == 3
    for worker in by_name["run_push"]:
        assert ancestors(worker, by_id)[:2] == ["regsync.fanout", "regsync.propagate"]
        assert ancestors(worker, by_id)[-1] == "on_workspace_event"
    pushes = by_name["regsync.push"]
    assert {(span.attributes or {}).get(telemetry.TARGET) for span in pushes} == TARGETS
    assert {(span.attributes or {}).get(telemetry.OUTCOME) for span in pushes} == {"succeeded"}
    assert all("run_push" in ancestors(span, by_id) for span in pushes)
    assert len(by_name["azureml.push"]) == 3

    measured = points(otel.metrics)
    assert {(p.attributes[telemetry.OUTCOME], p.value) for p in measured["regsync.pushes"]} == {
        ("succeeded", 3)
    }
    assert sum(p.count for p in measured["regsync.propagation.latency"]) == 3
    assert sum(p.count for p in measured["regsync.share.duration"]) == 1
    [queue_age] = measured["regsync.queue.age"]
    assert (queue_age.attributes["regsync.queue"], queue_age.count) == ("pushes", 3)
    assert "regsync.azureml.throttles" not in measured and "regsync.azureml.retries" not in measured


def test_a_push_log_record_carries_correlation_id_asset_target_and_outcome_as_attributes(
    otel: Exporters, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version, bodies = propagate_a_new_version(otel, seeded, ml, model_folder)

    correlation_id = bodies[0]["correlation_id"]
    records = [getattr(data, "log_record", data) for data in otel.logs.get_finished_logs()]
    pushed = [
        (str(record.body), dict(record.attributes or {}))
        for record in records
        if (record.attributes or {}).get("target") == "workspace1"
    ]
    # the event's line (the fan-out queued it), then apply's (through the engine's adapter) and the push
    # function's own, once it succeeded
    assert [fields["outcome"] for _, fields in pushed] == ["pending", "succeeded", "succeeded"], pushed
    for body, fields in pushed:
        assert body.startswith(f"[{correlation_id}] push "), body
        assert {"correlation_id": correlation_id, "target": "workspace1"}.items() <= fields.items(), body
        assert fields["asset"] == f"model {BERT}:{version}"
    assert {record.trace_id for record in records} != {0}
    assert len({record.trace_id for record in records}) == 1, "every line is in the propagation's trace"


def test_a_throttled_share_is_counted_as_a_throttle_and_a_retry(
    otel: Exporters, seeded: Engine, ml: Callable[[str], Any], model_folder: Path, emulator: RunningEmulator
) -> None:
    version = f"v{uuid.uuid4().hex[:8]}"
    register_model(ml, "workspace3", BERT, model_folder, version=version)
    otel.spans.clear()
    admin = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    # More faults than the SDK's own status retries (3), so the 429 reaches RegSync.
    admin.set_fault(r"/import$", status=429, method="POST", count=20, retry_after=1)
    try:
        with pytest.raises(TemporaryError, match="429"):  # Event Grid redelivers
            FUNCTIONS["on_workspace_event"](grid_event(model_registered("workspace3", BERT, version)))
    finally:
        admin.clear_faults()
        admin.close()

    measured = points(otel.metrics)
    labels = {"regsync.operation": "share"}
    assert [(p.attributes, p.value) for p in measured["regsync.azureml.throttles"]] == [(labels, 1)]
    assert [(p.attributes, p.value) for p in measured["regsync.azureml.retries"]] == [(labels, 1)]
    [duration] = measured["regsync.share.duration"]
    assert (duration.attributes[telemetry.OUTCOME], duration.count) == ("retrying", 1)
    [share] = [span for span in otel.spans.get_finished_spans() if span.name == "regsync.share"]
    assert (share.attributes or {})[telemetry.OUTCOME] == "retrying"
    [root] = [span for span in otel.spans.get_finished_spans() if span.name == "on_workspace_event"]
    assert not root.status.is_ok, "the invocation's span records the failure that makes Event Grid redeliver"
