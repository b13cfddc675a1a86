"""`regsync plan`: what a sync of the scope would do, as a table (or JSON); changes nothing.

It runs the engine's dry-run paths, which make no ledger, audit or queue writes and no AzureML writes.
"""

from __future__ import annotations

import typer

from shared.cli.application import application
from shared.cli.outcomes import (
    AllOption,
    TenantOption,
    WorkspaceOption,
    emit_outcomes,
    reconcile_scope,
    resolve_scope,
)
from shared.engine import new_correlation_id


def plan(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    tenant: TenantOption = None,
    everything: AllOption = False,
) -> None:
    """Print the plan for a workspace, a tenant or everything: action, subject, target, status, reason."""
    cli = application(ctx)
    world = cli.engine.world()
    scope = resolve_scope(world, workspace=workspace, tenant=tenant, everything=everything)
    cid = new_correlation_id()
    outcomes = reconcile_scope(
        cli, scope, world, dry_run=True, concurrency=cli.settings.max_concurrency, correlation_id=cid
    )
    emit_outcomes(cli, scope, outcomes, dry_run=True, cid=cid)
    if not cli.json_output:
        cli.message(f"plan for {scope.label}: {len(outcomes)} step(s); nothing was changed")
