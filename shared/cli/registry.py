"""`regsync registry add|list|remove`: the AzureML registry in the middle (first region = primary)."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked, unknown
from shared.domain import Registry, RegistryName

app = typer.Typer(help="Registries: the AzureML registry assets are shared through.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registry name.")],
    subscription: Annotated[str, typer.Option("--subscription", help="Azure subscription id.")],
    resource_group: Annotated[str, typer.Option("--resource-group", help="Resource group.")],
    region: Annotated[
        list[str], typer.Option("--region", help="Region; repeat for replicas, the first is the primary.")
    ],
) -> None:
    """Add a registry, or update one with the same name."""
    cli = application(ctx)
    registry = Registry(
        name=name, subscription_id=subscription, resource_group=resource_group, regions=tuple(region)
    )
    cli.writable_store().put_registry(registry)
    if cli.json_output:
        cli.emit_json(registry.model_dump(mode="json"))
    else:
        cli.message(f"registry `{registry.name}` saved (regions {', '.join(registry.regions)})")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List registries."""
    cli = application(ctx)
    registries = cli.read_list(cli.store.list_registries)
    if cli.json_output:
        cli.emit_json([registry.model_dump(mode="json") for registry in registries])
        return
    rows = [
        (item.name, item.subscription_id, item.resource_group, ", ".join(item.regions)) for item in registries
    ]
    cli.emit_table(["NAME", "SUBSCRIPTION", "RESOURCE GROUP", "REGIONS"], rows)


@app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registry name.")]) -> None:
    """Remove a registry."""
    cli = application(ctx)
    checked("name", RegistryName, name)
    if cli.store.get_registry(name) is None:
        raise unknown("registry", name)
    cli.store.delete_registry(name)
    if cli.json_output:
        cli.emit_json({"removed": name})
    else:
        cli.message(f"registry `{name}` removed")
