"""The ChangeFeed and Watermarks ports, on the in-memory fakes and on the real adapters alike: Azure's
Activity Log as the emulator serves it (tests/emulator/test_activity_log.py cites its shape), and the
Seen table on Azurite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.records import utc_now
from tests.contract.conftest import FeedPort, StatePort, unique, workspace
from tests.memory import MemoryChangeFeed

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_feed_names_the_workspaces_written_in_the_range_and_no_other(feed: FeedPort) -> None:
    written, untouched, elsewhere = workspace("workspace2"), workspace("workspace3"), workspace("workspace4")
    start = utc_now() - timedelta(seconds=1)
    feed.write("workspace2")
    end = utc_now() + timedelta(seconds=1)

    changed = feed.port.changed_workspaces(written.subscription_id, start, end)
    # Long before the write (not just before: the emulator is shared by the session's other tests).
    before = feed.port.changed_workspaces(
        written.subscription_id, start - timedelta(days=80), start - timedelta(days=79)
    )
    other_subscription = feed.port.changed_workspaces(elsewhere.subscription_id, start, end)

    assert written.arm_id.lower() in changed
    if isinstance(feed.port, MemoryChangeFeed):
        # Only the fake is ours alone: other tests of the session may write to workspace3 in the shared
        # emulator within the same seconds (the real feed's "no other" is the subscription check below).
        assert untouched.arm_id.lower() not in changed
    assert before == set()
    assert (
        elsewhere.arm_id.lower() not in other_subscription
        and written.arm_id.lower() not in other_subscription
    )


def test_a_watermark_reads_back_as_last_advanced(state: StatePort) -> None:
    port, key = state.port, f"feed|{unique('sub')}"
    assert port.watermark(key) is None

    port.advance(key, NOW)
    first = port.watermark(key)
    port.advance(key, NOW + timedelta(minutes=5))

    assert first == NOW
    assert port.watermark(key) == NOW + timedelta(minutes=5)
    assert port.watermark(f"feed|{unique('other')}") is None
