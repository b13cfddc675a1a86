"""`regsync recall ASSET[:VERSION]`: take a registry version back from every workspace that received it.

`--dry-run` prints the plan and changes nothing. The exit code is 1 when a workspace could not be
reached (failed or retrying): run the same recall again to resume.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked
from shared.cli.backend import backend
from shared.domain import AssetKind, AssetName, AssetVersion
from shared.records import Status


def recall(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: the registry's latest).")],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept in the tombstone and the audit log.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
) -> None:
    """Recall a registry version: nothing delivers it again; copies archived, endpoints moved back."""
    cli = application(ctx)
    name, _, version = asset.partition(":")
    checked("name", AssetName, name)
    if version:
        checked("version", AssetVersion, version)
    cid, outcomes = backend(cli).recall(kind, name, version or None, reason=reason, dry_run=dry_run)
    if cli.json_output:
        cli.emit_json(
            {"correlation_id": cid, "dry_run": dry_run, "outcomes": [o.as_dict() for o in outcomes]}
        )
    else:
        for outcome in outcomes:
            cli.emit_line(f"{outcome.subject} @ {outcome.target}: {outcome.label} ({outcome.reason})")
    if any(outcome.status in {Status.FAILED, Status.RETRYING} for outcome in outcomes):
        raise typer.Exit(code=1)
