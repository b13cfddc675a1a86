"""Maintenance windows (shared/policy/windows.py): open from each cron time for their duration, UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.policy import MaintenanceWindow
from tests.unit.factories import workspace

NIGHTLY = MaintenanceWindow(workspaces=("workspace2",), cron="0 2 * * *", duration="2h")


@pytest.mark.parametrize(
    ("hour", "minute", "open_"),
    [(1, 59, False), (2, 0, True), (3, 59, True), (4, 0, False), (12, 0, False)],
)
def test_a_window_is_open_from_its_cron_time_for_its_duration(hour: int, minute: int, open_: bool) -> None:
    assert NIGHTLY.open_at(datetime(2026, 12, 1, hour, minute, tzinfo=UTC)) is open_


def test_the_next_opening_is_the_next_cron_time() -> None:
    assert NIGHTLY.next_opening(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 12, 2, 2, 0, tzinfo=UTC
    )


def test_a_window_names_its_workspaces_by_name_or_stage() -> None:
    assert NIGHTLY.matches(workspace("workspace2")) and not NIGHTLY.matches(workspace("workspace3"))
    prod = MaintenanceWindow(stages=("prod",), cron="0 2 * * 6", duration="30m")
    assert prod.matches(workspace("workspace2", stage="prod")) and not prod.matches(workspace("workspace2"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workspaces": ("workspace2",), "cron": "0 2 * *", "duration": "2h"}, "five-field cron"),
        ({"workspaces": ("workspace2",), "cron": "0 2 * * * *", "duration": "2h"}, "five-field cron"),
        ({"workspaces": ("workspace2",), "cron": "61 2 * * *", "duration": "2h"}, "five-field cron"),
        ({"workspaces": ("workspace2",), "cron": "0 2 * * *", "duration": "2 hours"}, "duration"),
        ({"cron": "0 2 * * *", "duration": "2h"}, "names `workspaces` or `stages`"),
    ],
)
def test_a_bad_window_is_refused_with_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MaintenanceWindow.model_validate(fields)
