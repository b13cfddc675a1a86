"""`regsync drift`: where workspaces differ from what RegSync delivered and the rules say.

One line per divergence: the workspace, the delivered version, what was found and what RegSync would do
(`[self-heal]` when the rule opted in: the reconcile repairs it). Exit code 1 when there is drift.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked
from shared.cli.backend import backend
from shared.domain import TenantId, WorkspaceName


def drift(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's workspaces.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Only this workspace.")] = None,
    tags: Annotated[
        bool, typer.Option("--tags", help="Also read each delivered copy to compare RegSync's tags.")
    ] = False,
) -> None:
    """Report drift: missing copies or deployments, older versions, traffic moved, tags, unallowed copies."""
    cli = application(ctx)
    if tenant is not None:
        checked("tenant", TenantId, tenant)
    if workspace is not None:
        checked("workspace", WorkspaceName, workspace)
    lines = backend(cli).drift(tenant=tenant, workspace=workspace, tags=tags)
    if cli.json_output:
        cli.emit_json({"drift": lines})
    else:
        for line in lines:
            heal = " [self-heal]" if line["self_heal"] else ""
            cli.emit_line(
                f"{line['workspace']}: {line['subject']} {line['divergence']}: {line['found']} "
                f"-> {line['would']}{heal}"
            )
        if not lines:
            cli.emit_line("no drift")
    if lines:
        raise typer.Exit(code=1)
