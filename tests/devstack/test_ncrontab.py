"""The local host's timer schedules (NCRONTAB through croniter, or `hh:mm:ss`) and host.json (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstack.host import HostConfig, next_fire_time, parse_timespan, resolve_setting


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# The next three fire times of each schedule, as the hand-written parser croniter replaced computed them
# (commit 62ff427 ran both side by side): the tests in this file
# and the schedules the repository uses (local.settings.example.json's reconcile every 15 minutes, the
# tests' once-a-year NEVER, the sample timer's every second).
SCHEDULES = [
    (
        "* * * * * *",
        "2024-01-01T00:00:00",
        ["2024-01-01T00:00:01", "2024-01-01T00:00:02", "2024-01-01T00:00:03"],
    ),
    (
        "*/15 * * * * *",
        "2024-01-01T00:00:14.9",
        ["2024-01-01T00:00:15", "2024-01-01T00:00:30", "2024-01-01T00:00:45"],
    ),
    (
        "0 */5 * * * *",
        "2024-01-01T00:04:59",
        ["2024-01-01T00:05:00", "2024-01-01T00:10:00", "2024-01-01T00:15:00"],
    ),
    (
        "0 0 * * * *",
        "2024-01-01T10:00:00",
        ["2024-01-01T11:00:00", "2024-01-01T12:00:00", "2024-01-01T13:00:00"],
    ),
    (
        "0 30 9 * * *",
        "2024-01-01T09:30:00",
        ["2024-01-02T09:30:00", "2024-01-03T09:30:00", "2024-01-04T09:30:00"],
    ),
    (
        "0 30 9-17/4 * * *",
        "2024-01-01T10:00:00",
        ["2024-01-01T13:30:00", "2024-01-01T17:30:00", "2024-01-02T09:30:00"],
    ),
    (
        "5,10 0 0 * * *",
        "2024-01-01T00:00:05",
        ["2024-01-01T00:00:10", "2024-01-02T00:00:05", "2024-01-02T00:00:10"],
    ),
    (
        "0 0 0 1 * *",
        "2024-01-15T00:00:00",
        ["2024-02-01T00:00:00", "2024-03-01T00:00:00", "2024-04-01T00:00:00"],
    ),
    (
        "0 0 0 31 * *",
        "2024-04-01T00:00:00",
        ["2024-05-31T00:00:00", "2024-07-31T00:00:00", "2024-08-31T00:00:00"],
    ),
    (
        "0 0 0 29 2 *",
        "2024-03-01T00:00:00",
        ["2028-02-29T00:00:00", "2032-02-29T00:00:00", "2036-02-29T00:00:00"],
    ),
    (
        "0 0 12 * * MON",
        "2024-01-01T12:00:00",
        ["2024-01-08T12:00:00", "2024-01-15T12:00:00", "2024-01-22T12:00:00"],
    ),
    (
        "0 0 12 * * 0",
        "2024-01-01T00:00:00",
        ["2024-01-07T12:00:00", "2024-01-14T12:00:00", "2024-01-21T12:00:00"],
    ),
    (
        "0 0 12 * * 7",
        "2024-01-01T00:00:00",
        ["2024-01-07T12:00:00", "2024-01-14T12:00:00", "2024-01-21T12:00:00"],
    ),
    (
        "0 0 12 * * 1-5",
        "2024-01-05T13:00:00",
        ["2024-01-08T12:00:00", "2024-01-09T12:00:00", "2024-01-10T12:00:00"],
    ),
    (
        "0 0 0 * DEC *",
        "2024-01-01T00:00:00",
        ["2024-12-01T00:00:00", "2024-12-02T00:00:00", "2024-12-03T00:00:00"],
    ),
    # Both must match (NCrontab), not either (Vixie cron): Fridays the 13th only.
    (
        "0 0 0 13 * FRI",
        "2024-01-01T00:00:00",
        ["2024-09-13T00:00:00", "2024-12-13T00:00:00", "2025-06-13T00:00:00"],
    ),
    (
        "59 59 23 31 12 *",
        "2024-12-31T23:59:59",
        ["2025-12-31T23:59:59", "2026-12-31T23:59:59", "2027-12-31T23:59:59"],
    ),
    (
        "0 */15 * * * *",
        "2024-01-01T00:07:30",
        ["2024-01-01T00:15:00", "2024-01-01T00:30:00", "2024-01-01T00:45:00"],
    ),
    (
        "0 0 0 1 1 *",
        "2024-06-01T00:00:00",
        ["2025-01-01T00:00:00", "2026-01-01T00:00:00", "2027-01-01T00:00:00"],
    ),
]


@pytest.mark.parametrize(("expression", "after", "expected"), SCHEDULES)
def test_next_three_occurrences(expression: str, after: str, expected: list[str]) -> None:
    moment, fired = at(after), []
    for _ in expected:
        moment = next_fire_time(expression, moment)
        fired.append(moment)
    assert fired == [at(text) for text in expected]


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "* * * * * * 2024",
        "60 * * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * * 13 *",
        "*/0 * * * * *",
        "x * * * * *",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="NCRONTAB"):
        next_fire_time(expression, at("2024-01-01T00:00:00"))


def test_impossible_date_never_fires() -> None:
    with pytest.raises(ValueError, match="never fires"):
        next_fire_time("0 0 0 30 2 *", at("2024-01-01T00:00:00"))


def test_timespan_schedule_is_an_interval() -> None:
    assert next_fire_time("00:05:00", at("2024-01-01T00:00:00")) == at("2024-01-01T00:05:00")


def test_host_json_values_and_defaults() -> None:
    assert HostConfig.from_host_json({}) == HostConfig()
    config = HostConfig.from_host_json(
        {
            "version": "2.0",
            "extensions": {
                "http": {"routePrefix": "/v1/"},
                "queues": {"maxDequeueCount": 2, "visibilityTimeout": "00:00:30", "batchSize": 8},
            },
        }
    )
    assert (config.route_prefix, config.max_dequeue_count, config.visibility_timeout, config.batch_size) == (
        "v1",
        2,
        30.0,
        8,
    )
    assert parse_timespan("01:02:03.5") == 3723.5


def test_setting_expressions_resolve_or_name_the_missing_setting() -> None:
    assert resolve_setting("%Q%-items", {"Q": "orders"}) == "orders-items"
    assert resolve_setting("plain", {}) == "plain"
    with pytest.raises(KeyError, match="MISSING"):
        resolve_setting("%MISSING%", {})
