"""`regsync sync`: reconcile a workspace, a tenant or everything now, inline, through the engine.

`--dry-run` is `regsync plan`. `--all --enqueue` only queues the reconcile messages the timer would
queue, for the Functions app's queue workers to carry out.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from shared.cli.application import Application, application
from shared.cli.outcomes import (
    AllOption,
    Scope,
    TenantOption,
    WorkspaceOption,
    emit_outcomes,
    reconcile_scope,
    resolve_scope,
)
from shared.engine import Outcome, new_correlation_id
from shared.storage import AuditRecord

ACTOR = "regsync-cli"


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
    enqueue: Annotated[
        bool, typer.Option("--enqueue", help="With --all: queue one reconcile per workspace instead.")
    ] = False,
) -> None:
    """Share what the rules allow and queue the pushes that follow, for the named scope."""
    cli = application(ctx)
    if enqueue and (not everything or dry_run):
        raise typer.BadParameter("--enqueue goes with --all and without --dry-run")
    world = cli.engine.world()
    scope = resolve_scope(world, workspace=workspace, tenant=tenant, everything=everything)
    cid = new_correlation_id()
    if enqueue:
        _enqueue(cli, cid)
        return
    limit = concurrency or cli.settings.max_concurrency
    outcomes = reconcile_scope(cli, scope, world, dry_run=dry_run, concurrency=limit, correlation_id=cid)
    if not dry_run:
        reason = f"scope {scope.label}: {len(outcomes)} outcomes"
        cli.engine.store.audit(AuditRecord("sync", "done", reason, actor=ACTOR, correlation_id=cid))
    emit_outcomes(cli, scope, outcomes, dry_run=dry_run, cid=cid)
    if not cli.json_output:
        cli.message(_summary(scope, outcomes, dry_run=dry_run, cid=cid))


def _enqueue(cli: Application, cid: str) -> None:
    scheduled = cli.engine.schedule_reconcile(correlation_id=cid)
    reason = f"{scheduled} reconcile messages queued"
    cli.engine.store.audit(AuditRecord("sync", "scheduled", reason, actor=ACTOR, correlation_id=cid))
    if cli.json_output:
        cli.emit_json({"correlation_id": cid, "scope": "all", "dry_run": False, "scheduled": scheduled})
    else:
        cli.message(f"{reason} (correlation id {cid})")


def _summary(scope: Scope, outcomes: list[Outcome], *, dry_run: bool, cid: str) -> str:
    counts = Counter(outcome.status for outcome in outcomes)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to do"
    verb = "would do" if dry_run else "did"
    return f"sync of {scope.label} {verb}: {parts} (correlation id {cid})"
