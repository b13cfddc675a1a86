"""What `regsync plan` and `regsync sync` share: the scope options, the scope named, the outcome table.

Who calls it: shared/cli/plan.py and shared/cli/sync.py. The scopes mean what they mean for
`POST /api/sync`: `--workspace`/`--tenant` reconcile the share side of those workspaces (and fan out what
they share); `--all` adds the registry's push side (new subscribers, newer versions, failed pushes).
Whether the scope exists is the backend's to say (shared/cli/backend.py): the store's inventory in-process,
the API's 404 over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer

from shared.cli.application import Application, checked
from shared.domain import TenantId, WorkspaceName
from shared.engine import Outcome

WorkspaceOption = Annotated[str | None, typer.Option("--workspace", help="One workspace.")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Every workspace of one tenant.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every workspace, and the registry's push side.")]
COLUMNS = ["ACTION", "SUBJECT", "TARGET", "STATUS", "REASON"]


@dataclass(frozen=True)
class Scope:
    """What one plan or sync covers, as named on the command line (validated, not yet looked up)."""

    name: Literal["all", "tenant", "workspace"]  # as the HTTP API names scopes
    label: str
    value: str | None  # the tenant or workspace named; None for `all`

    @property
    def everything(self) -> bool:
        return self.name == "all"


@dataclass(frozen=True)
class SyncReply:
    """A plan's or a sync's answer, from either backend: outcomes, or (`all` queued) a count."""

    correlation_id: str
    scope: str
    dry_run: bool
    outcomes: list[Outcome]
    scheduled: int | None = None  # set when the reconcile was queued rather than run inline


def resolve_scope(*, workspace: str | None, tenant: str | None, everything: bool) -> Scope:
    """Exactly one of --workspace, --tenant, --all; names are validated."""
    if sum((workspace is not None, tenant is not None, everything)) != 1:
        raise typer.BadParameter("name exactly one scope: --workspace W, --tenant T or --all")
    if everything:
        return Scope("all", "everything", None)
    if workspace is not None:
        return Scope("workspace", f"workspace {workspace}", checked("workspace", WorkspaceName, workspace))
    assert tenant is not None  # the count above leaves only this case
    return Scope("tenant", f"tenant {tenant}", checked("tenant", TenantId, tenant))


def emit_outcomes(cli: Application, reply: SyncReply) -> None:
    """JSON as `POST /api/sync` answers it, or the outcome table for people."""
    if cli.json_output:
        body: dict[str, Any] = {"correlation_id": reply.correlation_id, "scope": reply.scope}
        outcomes = [outcome.as_dict() for outcome in reply.outcomes]
        cli.emit_json({**body, "dry_run": reply.dry_run, "outcomes": outcomes})
        return
    rows = [(o.action, o.subject, o.target or "-", o.status, o.reason) for o in reply.outcomes]
    cli.emit_table(COLUMNS, rows)
