"""What `regsync plan` and `regsync sync` share: the scope options, the inline reconcile, the outcome table.

Who calls it: shared/cli/plan.py and shared/cli/sync.py. The scopes mean what they mean for
`POST /api/sync`: `--workspace`/`--tenant` reconcile the share side of those workspaces (and fan out what
they share); `--all` adds the registry's push side (new subscribers, newer versions, failed pushes).
Workspaces are reconciled on a bounded thread pool; the engine does all the deciding.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from shared.cli.application import Application, checked, unknown
from shared.domain import TenantId, WorkspaceName
from shared.engine import Outcome, World

WorkspaceOption = Annotated[str | None, typer.Option("--workspace", help="One workspace.")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Every workspace of one tenant.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every workspace, and the registry's push side.")]
COLUMNS = ["ACTION", "SUBJECT", "TARGET", "STATUS", "REASON"]


@dataclass(frozen=True)
class Scope:
    """The workspaces one plan or sync covers; `everything` adds the registry side."""

    name: str  # all | tenant | workspace, as the HTTP API names scopes
    label: str
    workspaces: tuple[str, ...]
    everything: bool


def resolve_scope(world: World, *, workspace: str | None, tenant: str | None, everything: bool) -> Scope:
    """Exactly one of --workspace, --tenant, --all; names are validated and must be known."""
    if sum((workspace is not None, tenant is not None, everything)) != 1:
        raise typer.BadParameter("name exactly one scope: --workspace W, --tenant T or --all")
    if everything:
        return Scope("all", "everything", tuple(sorted(world.workspaces)), everything=True)
    if workspace is not None:
        checked("workspace", WorkspaceName, workspace)
        if workspace not in world.workspaces:
            raise unknown("workspace", workspace)
        return Scope("workspace", f"workspace {workspace}", (workspace,), everything=False)
    assert tenant is not None  # the count above leaves only this case
    checked("tenant", TenantId, tenant)
    names = tuple(sorted(name for name, item in world.workspaces.items() if item.tenant == tenant))
    if not names:
        raise unknown("tenant", tenant)
    return Scope("tenant", f"tenant {tenant}", names, everything=False)


def reconcile_scope(
    cli: Application, scope: Scope, world: World, *, dry_run: bool, concurrency: int, correlation_id: str
) -> list[Outcome]:
    """The share side of each workspace (at most `concurrency` at once), then the registry side for --all."""
    engine = cli.engine

    def one(name: str) -> list[Outcome]:
        return engine.reconcile_workspace(name, correlation_id=correlation_id, dry_run=dry_run, world=world)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="regsync-sync") as pool:
        outcomes = [outcome for batch in pool.map(one, scope.workspaces) for outcome in batch]
    if scope.everything:
        outcomes += engine.reconcile_registry(correlation_id=correlation_id, dry_run=dry_run, world=world)
    return outcomes


def emit_outcomes(
    cli: Application, scope: Scope, outcomes: list[Outcome], *, dry_run: bool, cid: str
) -> None:
    """JSON as `POST /api/sync` answers it, or the outcome table for people."""
    if cli.json_output:
        body: dict[str, Any] = {"correlation_id": cid, "scope": scope.name, "dry_run": dry_run}
        cli.emit_json({**body, "outcomes": [outcome.as_dict() for outcome in outcomes]})
        return
    rows = [(o.action, o.subject, o.target or "-", o.status, o.reason) for o in outcomes]
    cli.emit_table(COLUMNS, rows)
