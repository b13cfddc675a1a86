"""What `regsync plan` and `regsync sync` share: the scope options, the scope named, the outcome table.

Who calls it: shared/cli/plan.py and shared/cli/sync.py. The scopes mean what they mean for
`POST /api/sync`: `--workspace`/`--tenant` reconcile the share side of those workspaces (and fan out what
they share) and the registry's push side into them (new subscriptions, newer versions, failed pushes
queued afresh); `--asset` narrows a workspace to one asset; `--all` is every workspace and the whole
push side, queued for the Functions app unless it is only a plan.
Whether the scope exists, and the caller may name it, is the engine's sync use case's to say, whichever
backend runs it (shared/cli/backend.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError

from shared.cli.application import Application, checked
from shared.domain import AssetRef, TenantId, WorkspaceName
from shared.records import Outcome

WorkspaceOption = Annotated[str | None, typer.Option("--workspace", help="One workspace.")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Every workspace of one tenant.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every workspace, and the registry's push side.")]
AssetOption = Annotated[
    str | None, typer.Option("--asset", help="With --workspace: one asset, as KIND:NAME:VERSION.")
]
COLUMNS = ["ACTION", "SUBJECT", "TARGET", "STATUS", "REASON"]


@dataclass(frozen=True)
class Scope:
    """What one plan or sync covers, as named on the command line (validated, not yet looked up)."""

    name: Literal["all", "tenant", "workspace", "asset"]  # as the HTTP API names scopes
    label: str
    tenant: str | None = None
    workspace: str | None = None
    asset: AssetRef | None = None  # with `workspace`: one asset of that workspace

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


def resolve_scope(
    *, workspace: str | None, tenant: str | None, everything: bool, asset: str | None = None
) -> Scope:
    """Exactly one of --workspace, --tenant, --all; --asset KIND:NAME:VERSION narrows a workspace."""
    if sum((workspace is not None, tenant is not None, everything)) != 1:
        raise typer.BadParameter("name exactly one scope: --workspace W, --tenant T or --all")
    if asset is not None and workspace is None:
        raise typer.BadParameter("--asset goes with --workspace (the workspace the asset is in)")
    if everything:
        return Scope("all", "everything")
    if workspace is not None:
        name = checked("workspace", WorkspaceName, workspace)
        if asset is None:
            return Scope("workspace", f"workspace {name}", workspace=name)
        ref = parse_asset(asset)
        return Scope("asset", f"{ref} in workspace {name}", workspace=name, asset=ref)
    assert tenant is not None  # the count above leaves only this case
    return Scope("tenant", f"tenant {tenant}", tenant=checked("tenant", TenantId, tenant))


def parse_asset(text: str) -> AssetRef:
    kind, _, rest = text.partition(":")
    name, _, version = rest.rpartition(":")
    try:
        return AssetRef.model_validate({"kind": kind, "name": name, "version": version})
    except ValidationError:
        raise typer.BadParameter(f"--asset `{text}` is not KIND:NAME:VERSION (e.g. model:churn:3)") from None


def emit_outcomes(cli: Application, reply: SyncReply) -> None:
    """JSON as `POST /api/sync` answers it, or the outcome table for people."""
    if cli.json_output:
        body: dict[str, Any] = {"correlation_id": reply.correlation_id, "scope": reply.scope}
        outcomes = [outcome.as_dict() for outcome in reply.outcomes]
        cli.emit_json({**body, "dry_run": reply.dry_run, "outcomes": outcomes})
        return
    rows = [(o.action, o.subject, o.target or "-", o.label, o.reason) for o in reply.outcomes]
    cli.emit_table(COLUMNS, rows)
