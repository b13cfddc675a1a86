"""Which workspaces the reconcile's timer looks at: all of them (a full pass), or only those a change
feed (Azure's Activity Log) shows written since the last tick (an incremental pass).

Who calls it: `Reconcile.schedule_reconcile`. A full pass is due when none ran within
`full_every_seconds` (deletions and drift are seen only by listing), when a subscription has no
watermark yet, and whenever the feed cannot be read: never miss work. Each read starts `overlap_seconds`
before the subscription's watermark, because Azure ingests Activity Log records minutes after the
operation (learn.microsoft.com/azure/azure-monitor/logs/data-ingestion-time). Watermarks advance only
once the tick's reconcile messages are queued (the caller's job): a tick that fails before that is
read again, whole, by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain import Workspace
from shared.engine.logs import log
from shared.errors import RegSyncError
from shared.ports import ChangeFeed, Watermarks

FULL_PASS = "full-pass"  # noqa: S105  # a watermark key, not a secret


def feed_key(subscription: str) -> str:
    return f"feed|{subscription.lower()}"


@dataclass(frozen=True)
class Tick:
    """What one timer tick reconciles: `changed` is None on a full pass (every workspace)."""

    changed: frozenset[str] | None
    reason: str

    def chosen(self, workspaces: list[Workspace]) -> list[Workspace]:
        if self.changed is None:
            return workspaces
        return [ws for ws in workspaces if ws.arm_id.lower() in self.changed]


def plan_tick(
    feed: ChangeFeed | None,
    watermarks: Watermarks,
    workspaces: list[Workspace],
    *,
    now: datetime,
    full_every_seconds: float,
    overlap_seconds: float,
) -> Tick:
    if feed is None or full_every_seconds <= 0:
        return Tick(None, "no change feed: every tick is a full pass")
    last_full = watermarks.watermark(FULL_PASS)
    if last_full is None or now - last_full >= timedelta(seconds=full_every_seconds):
        return Tick(None, "the periodic full pass is due")
    changed: set[str] = set()
    for subscription in sorted({ws.subscription_id.lower() for ws in workspaces}):
        mark = watermarks.watermark(feed_key(subscription))
        if mark is None:
            return Tick(None, f"subscription {subscription} has no watermark yet")
        try:
            changed |= feed.changed_workspaces(subscription, mark - timedelta(seconds=overlap_seconds), now)
        except RegSyncError as error:
            log.warning("the change feed failed, falling back to a full pass: %s", error)
            return Tick(None, f"the change feed failed: {error}")
    return Tick(frozenset(changed), f"{len(changed)} workspaces changed")
