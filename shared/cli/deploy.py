"""`regsync deploy params`: infra/main.bicep's parameter file, rendered from a policy file's inventory.

Who calls it: operators before `azd up` or `az deployment group create` (docs/deployment.md). The
workspaces, their subscriptions and the registry come from the same file `regsync policy load` stores,
so the roles and Event Grid subscriptions Azure gets and the inventory RegSync acts on never disagree.
Needs no storage: the file alone is read and validated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.cli.application import CliError, application
from shared.domain import Registry
from shared.policy_file import PolicyDocument, parse_policy

app = typer.Typer(help="Deployment: what infra/ (Bicep) needs, from the policy file.", no_args_is_help=True)

PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"


def render_parameters(
    document: PolicyDocument,
    *,
    name: str,
    registry: str | None = None,
    location: str | None = None,
    subscribe_events: bool = False,
) -> dict[str, Any]:
    """The ARM parameter file (JSON) of infra/main.bicep for `document`'s inventory."""
    if not document.workspaces:
        raise CliError("the policy file lists no `workspaces`: RegSync would manage nothing")
    chosen = _registry(document, registry)
    # One ARM event topic per subscription, in the resource group of its first workspace.
    subscriptions: dict[str, str] = {}
    for workspace in document.workspaces:
        subscriptions.setdefault(workspace.subscription_id, workspace.resource_group)
    values: dict[str, Any] = {
        "name": name,
        **({"location": location} if location else {}),
        "workspaces": [
            {
                "name": workspace.name,
                "subscriptionId": workspace.subscription_id,
                "resourceGroup": workspace.resource_group,
                "region": workspace.region,
            }
            for workspace in document.workspaces
        ],
        "subscriptions": [
            {"subscriptionId": subscription, "resourceGroup": group}
            for subscription, group in subscriptions.items()
        ],
        "registry": {
            "name": chosen.name,
            "subscriptionId": chosen.subscription_id,
            "resourceGroup": chosen.resource_group,
        },
        "subscribeEvents": subscribe_events,
    }
    return {
        "$schema": PARAMETERS_SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {key: {"value": value} for key, value in values.items()},
    }


def _registry(document: PolicyDocument, wanted: str | None) -> Registry:
    registries = {registry.name: registry for registry in document.registries}
    if wanted is not None:
        if wanted not in registries:
            raise CliError(f"registry `{wanted}` is not in the policy file")
        return registries[wanted]
    if len(registries) != 1:
        listed = ", ".join(f"`{name}`" for name in registries) or "none"
        raise CliError(
            f"the policy file lists {len(registries)} registries ({listed}): choose one with --registry"
        )
    return next(iter(registries.values()))


@app.command("params")
def params(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Policy file (YAML, see docs/policy.md).")],
    name: Annotated[
        str, typer.Option("--name", help="Base of the Azure resource names (3-11 lower-case letters/digits).")
    ] = "regsync",
    registry: Annotated[
        str | None, typer.Option("--registry", help="The registry, when the file lists several.")
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Region of RegSync's resources (default: the group's).")
    ] = None,
    subscribe_events: Annotated[
        bool,
        typer.Option(
            "--subscribe-events/--no-subscribe-events",
            help="Create the Event Grid subscriptions (after the code is deployed: they need the function).",
        ),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the file here instead of stdout.")
    ] = None,
) -> None:
    """Render infra/main.bicep's parameter file from the policy file's workspaces and registry."""
    cli = application(ctx)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"policy file `{file}` cannot be read: {error.strerror}") from None
    document = parse_policy(text, source=str(file))
    if not (3 <= len(name) <= 11 and name.isascii() and name.isalnum() and name.islower()):
        raise CliError(f"`--name`: `{name}` must be 3 to 11 lower-case letters or digits")
    rendered = render_parameters(
        document, name=name, registry=registry, location=location, subscribe_events=subscribe_events
    )
    text = json.dumps(rendered, indent=2) + "\n"
    if output is None:
        cli.emit_raw(text)
        return
    output.write_text(text, encoding="utf-8")
    values = {key: item["value"] for key, item in rendered["parameters"].items()}
    cli.message(
        f"`{output}` written: {len(values['workspaces'])} workspaces in {len(values['subscriptions'])} "
        f"subscriptions, registry `{values['registry']['name']}`"
    )
