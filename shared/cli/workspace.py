"""`regsync workspace add|list|remove`: the AzureML workspaces RegSync manages, each owned by a tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import CliError, application, checked, unknown
from shared.cli.backend import CLI_CALLER
from shared.domain import TenantId, Workspace, WorkspaceName
from shared.engine import new_correlation_id
from shared.policy import OnRemove

app = typer.Typer(help="Workspaces: the AzureML workspaces RegSync manages.", no_args_is_help=True)
COLUMNS = ["NAME", "TENANT", "SUBSCRIPTION", "RESOURCE GROUP", "REGION", "STAGE"]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Workspace name (as in AzureML; unique in RegSync).")],
    tenant: Annotated[str, typer.Option("--tenant", help="Owning tenant id (add it first).")],
    subscription: Annotated[str, typer.Option("--subscription", help="Azure subscription id.")],
    resource_group: Annotated[str, typer.Option("--resource-group", help="Resource group.")],
    region: Annotated[str, typer.Option("--region", help="Azure region, e.g. eastus.")],
    stage: Annotated[str, typer.Option("--stage", help="Stage, e.g. dev, test, prod.")] = "dev",
) -> None:
    """Add a workspace, or update one with the same ARM id."""
    cli = application(ctx)
    workspace = Workspace(
        name=name,
        tenant=tenant,
        subscription_id=subscription,
        resource_group=resource_group,
        region=region,
        stage=stage,
    )
    # The store refuses an unknown tenant too, but the check must not create tables as a side effect.
    if cli.store.get_tenant(workspace.tenant) is None:
        raise CliError(f"tenant `{workspace.tenant}` is unknown: add it first")
    cli.writable_store().put_workspace(workspace)
    if cli.json_output:
        cli.emit_json(workspace.model_dump(mode="json"))
    else:
        cli.message(f"workspace `{workspace.name}` saved ({workspace.arm_id})")


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's workspaces.")] = None,
) -> None:
    """List workspaces, in name order."""
    cli = application(ctx)
    if tenant is not None:
        checked("tenant", TenantId, tenant)  # a hostile filter value is refused, not merely harmless
    workspaces = sorted(cli.read_list(lambda: cli.store.list_workspaces(tenant=tenant)), key=_name)
    if cli.json_output:
        cli.emit_json([{**item.model_dump(mode="json"), "arm_id": item.arm_id} for item in workspaces])
        return
    rows = [
        (item.name, item.tenant, item.subscription_id, item.resource_group, item.region, item.stage)
        for item in workspaces
    ]
    cli.emit_table(COLUMNS, rows)


@app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Workspace name.")]) -> None:
    """Remove a workspace (and its event topic index)."""
    cli = application(ctx)
    checked("name", WorkspaceName, name)
    if cli.store.get_workspace(name) is None:
        raise unknown("workspace", name)
    # Rules that say `on_remove: recall` take back what they delivered, while the workspace is managed.
    withdrawn = (
        cli.engine.withdraw_workspace(name, caller=CLI_CALLER, correlation_id=new_correlation_id())
        if any(rule.on_remove is OnRemove.RECALL for rule in cli.store.load_policy().push)
        else []
    )
    cli.store.delete_workspace(name)
    if cli.json_output:
        cli.emit_json({"removed": name, "withdrawn": [outcome.as_dict() for outcome in withdrawn]})
    else:
        cli.message(f"workspace `{name}` removed")
        for outcome in withdrawn:
            cli.emit_line(f"{outcome.subject} @ {outcome.target}: {outcome.label} ({outcome.reason})")


def _name(workspace: Workspace) -> str:
    return workspace.name
