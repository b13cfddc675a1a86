"""Telemetry without Azure: the exporter is configured once and only when asked for, never at import time
of the function app, and the engine's log lines carry their fields as record attributes."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import telemetry
from shared.engine import logger_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    import azure.monitor.opentelemetry as distro

    made: list[dict[str, object]] = []
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: made.append(kwargs))
    monkeypatch.delenv(telemetry.WORKER_SETTING, raising=False)
    telemetry.configure.cache_clear()
    yield made
    telemetry.configure.cache_clear()


def test_nothing_is_configured_without_a_connection_string(
    calls: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(telemetry.CONNECTION_SETTING, raising=False)
    assert telemetry.configure() is False
    assert calls == []


def test_azure_monitor_is_configured_once_per_process_with_a_connection_string(
    calls: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        telemetry.CONNECTION_SETTING, "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    )
    assert telemetry.configure() is True
    telemetry.configure()
    assert calls == [{"logger_name": "regsync"}]


def test_the_worker_configuring_the_distro_itself_is_not_doubled(
    calls: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        telemetry.CONNECTION_SETTING, "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    )
    monkeypatch.setenv(telemetry.WORKER_SETTING, "true")
    assert telemetry.configure() is False
    assert calls == []


def test_importing_the_function_app_imports_no_opentelemetry() -> None:
    """Cold start: the OpenTelemetry API and the distro are imported on the first invocation only."""
    probe = (
        "import sys, function_app; "
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] if m.startswith('azure.') else m.split('.')[0]"
        " for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_an_engine_log_line_carries_its_fields_and_the_calls_own_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="regsync.engine"):
        logger_for("c0ffee", "model m:1", "workspace1").info(
            "push of %s: %s", "m", "succeeded", extra={"outcome": "succeeded"}
        )
    [record] = caplog.records
    assert record.getMessage() == "[c0ffee] push of m: succeeded"
    fields = {name: getattr(record, name, None) for name in ("correlation_id", "asset", "target", "outcome")}
    assert fields == {
        "correlation_id": "c0ffee",
        "asset": "model m:1",
        "target": "workspace1",
        "outcome": "succeeded",
    }


def test_a_push_message_is_stamped_with_when_its_propagation_began_once() -> None:
    from datetime import UTC, datetime

    began, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    with telemetry.propagation_began(began):
        first = telemetry.stamp({"origin_time": None}, now=later)
    again = telemetry.stamp(dict(first), now=later)
    fresh = telemetry.stamp({"origin_time": None}, now=later)

    assert first["origin_time"] == again["origin_time"] == began.isoformat()
    assert fresh["origin_time"] == later.isoformat()
    assert "origin_time" not in telemetry.stamp({"scope": "registry"}, now=later)
