"""Maintenance windows: when pushes into some workspaces may start. Pure (croniter computes the times).

Who uses it: shared.policy.rules (a push rule's `maintenance` list and `rollout.wait_healthy` read their
durations here), shared.policy.decisions (a decision carries the windows of its target) and
shared.planner.rollout (a push outside every window of its target is held until one opens).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter
from pydantic import Field, model_validator

from shared.domain import Frozen, Stage, Workspace, WorkspaceName

DURATION_PATTERN = r"^[0-9]{1,6}[smh]$"  # e.g. 30s, 10m, 2h
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def seconds_of(duration: str) -> int:
    """`10m` -> 600 (a duration the patterns above validated)."""
    return int(duration[:-1]) * _UNIT_SECONDS[duration[-1]]


class MaintenanceWindow(Frozen):
    """Opens at each time `cron` names (five fields, UTC: minute hour day month weekday) and stays open
    `duration`, for the workspaces named (by name and/or stage)."""

    workspaces: tuple[WorkspaceName, ...] = ()
    stages: tuple[Stage, ...] = ()
    cron: str = Field(max_length=100)
    duration: str = Field(pattern=DURATION_PATTERN)

    @model_validator(mode="after")
    def _valid(self) -> MaintenanceWindow:
        if not (self.workspaces or self.stages):
            raise ValueError("a maintenance window names `workspaces` or `stages`")
        if len(self.cron.split()) != 5 or not croniter.is_valid(self.cron):
            raise ValueError(
                f"`cron` {self.cron!r} is not a five-field cron expression (minute hour day month weekday)"
            )
        return self

    def matches(self, workspace: Workspace) -> bool:
        return (not self.workspaces or workspace.name in self.workspaces) and (
            not self.stages or workspace.stage in self.stages
        )

    def open_at(self, now: datetime) -> bool:
        if croniter.match(self.cron, now):
            return True
        opened: datetime = croniter(self.cron, now).get_prev(datetime)
        return now < opened + timedelta(seconds=seconds_of(self.duration))

    def next_opening(self, now: datetime) -> datetime:
        opens: datetime = croniter(self.cron, now).get_next(datetime)
        return opens
