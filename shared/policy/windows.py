"""Maintenance windows of push rules: when pushes into the workspaces they name may start. Pure.

Who uses it: shared.policy.rules (a push rule's `maintenance` list), shared.policy.decisions (a decision
carries the windows of its target: the rule's and the workspace's own, `Workspace.maintenance`) and
shared.planner.rollout (a push is held while none of its rule's windows, or none of its workspace's, is
open). The times (cron and duration) are shared.domain's `Window`.
"""

from __future__ import annotations

from pydantic import model_validator

from shared.domain import Stage, Window, Workspace, WorkspaceName


class MaintenanceWindow(Window):
    """A push rule's window: its times, for the workspaces named (by name and/or stage)."""

    workspaces: tuple[WorkspaceName, ...] = ()
    stages: tuple[Stage, ...] = ()

    @model_validator(mode="after")
    def _names_workspaces(self) -> MaintenanceWindow:
        if not (self.workspaces or self.stages):
            raise ValueError("a maintenance window names `workspaces` or `stages`")
        return self

    def matches(self, workspace: Workspace) -> bool:
        return (not self.workspaces or workspace.name in self.workspaces) and (
            not self.stages or workspace.stage in self.stages
        )
