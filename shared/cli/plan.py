"""`regsync plan`: what a sync of the scope would do, as a table (or JSON); changes nothing.

In-process it runs the engine's dry-run paths, which make no ledger, audit or queue writes and no AzureML
writes; with `--api` it asks `GET /api/plan`, which runs the same paths in the Function App.
"""

from __future__ import annotations

import typer

from shared.cli.application import application
from shared.cli.backend import backend
from shared.cli.outcomes import (
    AllOption,
    AssetOption,
    TenantOption,
    WorkspaceOption,
    emit_outcomes,
    resolve_scope,
)


def plan(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    tenant: TenantOption = None,
    everything: AllOption = False,
    asset: AssetOption = None,
) -> None:
    """Print the plan for a workspace, a tenant or everything: action, subject, target, status, reason."""
    cli = application(ctx)
    scope = resolve_scope(workspace=workspace, tenant=tenant, everything=everything, asset=asset)
    reply = backend(cli).reconcile(scope, dry_run=True, concurrency=None)
    emit_outcomes(cli, reply)
    if not cli.json_output:
        cli.message(f"plan for {scope.label}: {len(reply.outcomes)} step(s); nothing was changed")
