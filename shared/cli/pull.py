"""`regsync pull`: a workspace asks for a registry asset; the rules decide, as for any push.

A refusal is an answer, printed with its reason, but the exit code is 1: the asset is not coming.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked
from shared.cli.backend import backend
from shared.domain import AssetKind, AssetName, AssetVersion, WorkspaceName
from shared.records import Status


def pull(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", help="The workspace that asks.")],
    name: Annotated[str, typer.Option("--name", help="Asset name in the registry.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
    version: Annotated[
        str | None, typer.Option("--version", help="Version (default: the registry's latest).")
    ] = None,
) -> None:
    """Queue the push of a registry asset to a workspace, if the rules allow it."""
    cli = application(ctx)
    checked("workspace", WorkspaceName, workspace)
    checked("name", AssetName, name)
    if version is not None:
        checked("version", AssetVersion, version)
    cid, outcome = backend(cli).pull(workspace, kind, name, version)
    if cli.json_output:
        cli.emit_json({"correlation_id": cid, "outcome": outcome.as_dict()})
    else:
        cli.emit_line(f"pull of {outcome.subject} into {workspace}: {outcome.label} ({outcome.reason})")
    if outcome.status is Status.REFUSED:
        raise typer.Exit(code=1)
