"""`regsync approve`: release a push that waits for approval (a gated rule, e.g. for prod)."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked, checked_text
from shared.cli.backend import backend
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion, WorkspaceName


def approve(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", help="The target workspace of the push.")],
    name: Annotated[str, typer.Option("--name", help="Asset name in the registry.")],
    version: Annotated[str, typer.Option("--version", help="Asset version.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
    approver: Annotated[
        str | None,
        typer.Option("--approver", help="Who approves (default: the login name; with --api: the principal)."),
    ] = None,
) -> None:
    """Approve one gated push: it becomes pending and is queued."""
    cli = application(ctx)
    checked("workspace", WorkspaceName, workspace)
    if approver is not None:
        checked_text("approver", approver, max_length=128)
    ref = AssetRef(
        kind=kind, name=checked("name", AssetName, name), version=checked("version", AssetVersion, version)
    )
    cid, outcome = backend(cli).approve(workspace, ref, approver)
    if cli.json_output:
        cli.emit_json({"correlation_id": cid, "outcome": outcome.as_dict()})
    else:
        cli.message(f"{ref} -> {workspace}: {outcome.label} ({outcome.reason})")
