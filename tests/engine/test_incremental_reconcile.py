"""The reconcile's timer between full passes: only the workspaces the change feed shows written, since
each subscription's watermark (less the overlap), and a full pass whenever one is due or the feed fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.engine import PROVIDER, SyncScope
from shared.errors import TemporaryError
from shared.policy import PushRule, ShareRule, Targets
from shared.records import ReconcileMessage, Status
from tests.engine.conftest import World, model, workspace
from tests.memory import MemoryChangeFeed

DAY = 24 * 3600.0


@pytest.fixture
def feed(world: World) -> MemoryChangeFeed:
    changes = MemoryChangeFeed()
    world.engine.change_feed = changes
    world.engine.full_reconcile_seconds = DAY
    world.engine.change_feed_overlap_seconds = 1800
    return changes


def tick(world: World) -> list[str]:
    """One timer tick: the scopes it queued (workspace names, `@registry`), the queue emptied."""
    count = world.engine.schedule_reconcile(correlation_id="timer")
    scopes = []
    while (message := world.reconciles.take()) is not None:
        parsed = ReconcileMessage.model_validate(message.body)
        scopes.append(parsed.name if parsed.scope == "workspace" else "@registry")
    assert count == len(scopes)
    return scopes


def test_the_first_tick_is_a_full_pass_and_an_idle_one_then_lists_no_workspace(
    world: World, feed: MemoryChangeFeed
) -> None:
    first = tick(world)
    world.clock.advance(minutes=5)
    idle = tick(world)

    assert sorted(first) == [
        "@registry",
        "workspace1",
        "workspace2",
        "workspace3",
        "workspace4",
        "workspace5",
    ]
    assert idle == ["@registry"]


def test_only_the_workspace_written_since_the_watermark_is_reconciled(
    world: World, feed: MemoryChangeFeed
) -> None:
    tick(world)
    world.clock.advance(minutes=5)
    feed.record(workspace("workspace3"), world.clock.now - timedelta(minutes=1))

    assert tick(world) == ["workspace3", "@registry"]


def test_a_write_ingested_late_is_still_read_within_the_overlap(world: World, feed: MemoryChangeFeed) -> None:
    tick(world)
    written_at = world.clock.now - timedelta(minutes=10)  # before the watermark, logged only now
    world.clock.advance(minutes=5)
    tick(world)
    feed.record(workspace("workspace2"), written_at)
    world.clock.advance(minutes=5)

    assert tick(world) == ["workspace2", "@registry"]


def test_a_failing_feed_falls_back_to_a_full_pass(world: World, feed: MemoryChangeFeed) -> None:
    tick(world)
    world.clock.advance(minutes=5)
    feed.faults.fail("changed_workspaces", TemporaryError("Activity Log answered 503"))

    assert len(tick(world)) == 6


def test_the_full_pass_comes_back_once_a_day(world: World, feed: MemoryChangeFeed) -> None:
    tick(world)
    world.clock.advance(hours=23)
    before_due = tick(world)
    world.clock.advance(hours=1)

    assert before_due == ["@registry"]
    assert len(tick(world)) == 6


def test_a_persons_sync_of_everything_is_a_full_pass(world: World, feed: MemoryChangeFeed) -> None:
    tick(world)
    world.clock.advance(minutes=5)

    result = world.engine.sync(SyncScope("all"), caller=PROVIDER, correlation_id="everything")

    assert result.scheduled == 6
    assert feed.faults.calls == []  # the feed was not asked


def test_a_hand_registered_model_is_shared_by_the_next_incremental_tick(
    world: World, feed: MemoryChangeFeed
) -> None:
    world.rules(ShareRule(id="share-all"), PushRule(id="to-ws3", targets=Targets(workspaces=("workspace3",))))
    tick(world)
    world.clock.advance(minutes=5)
    world.catalog.register("workspace1", model("churn"))  # no event delivered
    feed.record(workspace("workspace1"), world.clock.now)
    world.clock.advance(minutes=5)

    world.reconcile()

    assert world.drain() == [Status.SUCCEEDED]
