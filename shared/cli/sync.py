"""`regsync sync`: reconcile a workspace, a tenant or everything now, inline, through the engine.

`--dry-run` is `regsync plan`. `--all` (not a dry run) queues the reconcile messages the timer would
queue, for the Functions app's queue workers to carry out, in-process as through `POST /api/sync`: one
use case (shared.engine.requests.sync) answers both.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from shared.cli.application import Application, application
from shared.cli.backend import backend
from shared.cli.outcomes import (
    AllOption,
    AssetOption,
    Scope,
    SyncReply,
    TenantOption,
    WorkspaceOption,
    emit_outcomes,
    resolve_scope,
)


def sync(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    tenant: TenantOption = None,
    everything: AllOption = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=64, help="Workspaces at once (default: settings)."),
    ] = None,
    asset: AssetOption = None,
) -> None:
    """Share what the rules allow and queue the pushes that follow, for the named scope."""
    cli = application(ctx)
    scope = resolve_scope(workspace=workspace, tenant=tenant, everything=everything, asset=asset)
    reply = backend(cli).reconcile(scope, dry_run=dry_run, concurrency=concurrency)
    if reply.scheduled is not None:
        _emit_scheduled(cli, reply)
        return
    emit_outcomes(cli, reply)
    if not cli.json_output:
        cli.message(_summary(scope, reply))


def _emit_scheduled(cli: Application, reply: SyncReply) -> None:
    cid = reply.correlation_id
    if cli.json_output:
        cli.emit_json({"correlation_id": cid, "scope": "all", "dry_run": False, "scheduled": reply.scheduled})
    else:
        cli.message(f"{reply.scheduled} reconcile messages queued (correlation id {cid})")


def _summary(scope: Scope, reply: SyncReply) -> str:
    counts = Counter(outcome.label for outcome in reply.outcomes)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to do"
    verb = "would do" if reply.dry_run else "did"
    return f"sync of {scope.label} {verb}: {parts} (correlation id {reply.correlation_id})"
