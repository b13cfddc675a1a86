"""`regsync tenant add|list|remove`: the organisation units that own workspaces."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.bounded import INPUT
from shared.cli.application import application, checked, unknown
from shared.domain import Tenant, TenantId

app = typer.Typer(help="Tenants: the organisation units that own workspaces.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="Tenant id: lower case, digits, '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
) -> None:
    """Add a tenant, or rename an existing one."""
    cli = application(ctx)
    tenant = Tenant.model_validate({"id": tenant_id, "display_name": name}, context=INPUT)
    cli.writable_store().put_tenant(tenant)
    if cli.json_output:
        cli.emit_json(tenant.model_dump(mode="json"))
    else:
        cli.message(f"tenant `{tenant.id}` saved")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List tenants."""
    cli = application(ctx)
    tenants = cli.read_list(cli.store.list_tenants)
    if cli.json_output:
        cli.emit_json([tenant.model_dump(mode="json") for tenant in tenants])
    else:
        cli.emit_table(["ID", "NAME"], [(tenant.id, tenant.display_name) for tenant in tenants])


@app.command("remove")
def remove(
    ctx: typer.Context, tenant_id: Annotated[str, typer.Argument(metavar="ID", help="Tenant id.")]
) -> None:
    """Remove a tenant that has no workspaces left."""
    cli = application(ctx)
    checked("id", TenantId, tenant_id)
    if cli.store.get_tenant(tenant_id) is None:
        raise unknown("tenant", tenant_id)
    cli.store.delete_tenant(tenant_id)
    if cli.json_output:
        cli.emit_json({"removed": tenant_id})
    else:
        cli.message(f"tenant `{tenant_id}` removed")
