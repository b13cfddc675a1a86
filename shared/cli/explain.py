"""`regsync explain`: would this asset be shared, and which workspaces would receive it, and why.

Loads the inventory and the policy from the store and runs the same pure decisions the engine runs
(shared.policy.decide_share and decide_targets), so the answer is the engine's, with every reason.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shared.cli.application import CliError, application, unknown
from shared.domain import Asset, AssetKind, AssetRef
from shared.policy import Policy, PushDecision, ShareDecision, decide_share, decide_targets

COLUMNS = ["WORKSPACE", "TENANT", "REGION", "RECEIVES", "RULE", "HOW", "REASON"]


def explain(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", help="Origin workspace of the asset.")],
    name: Annotated[str, typer.Option("--name", help="Asset name in the origin workspace.")],
    version: Annotated[str, typer.Option("--version", help="Asset version.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Asset tag KEY=VALUE; repeatable.")] = None,
    registry_name: Annotated[
        str | None, typer.Option("--registry", help="Registry name; needed only when several exist.")
    ] = None,
) -> None:
    """Explain whether an asset is shared and, for every managed workspace, whether it would receive it."""
    cli = application(ctx)
    asset = Asset(ref=AssetRef(kind=kind, name=name, version=version), tags=_tags(tag or []))
    store = cli.store
    workspaces = cli.read_list(store.list_workspaces)
    origin = next((item for item in workspaces if item.name == workspace), None)
    if origin is None:
        raise unknown("workspace", workspace)
    registry = cli.read(lambda: store.get_registry(registry_name), None)
    if registry is None:
        raise CliError(
            f"registry `{registry_name}` is unknown"
            if registry_name
            else "no registry is configured: add one with `regsync registry add`"
        )
    policy = cli.read(store.load_policy, Policy())
    share = decide_share(asset, origin, registry, policy)
    # Pushes are decided for the registry's copy: its name and version after destination naming.
    shared_asset = asset.model_copy(update={"ref": share.destination}) if share.destination else asset
    targets = decide_targets(shared_asset, origin, workspaces, registry, policy)
    placement = {item.name: (item.tenant, item.region) for item in workspaces}
    if cli.json_output:
        cli.emit_json(_as_json(asset, origin.name, registry.name, share, targets))
        return
    cli.emit_line(f"{asset.ref} from {origin.name}: {share.reason}")
    rows = [
        (
            decision.target,
            *placement[decision.target],
            "yes" if decision.allowed else "no",
            decision.rule_id or "",
            _how(decision),
            decision.reason,
        )
        for decision in targets
    ]
    cli.emit_table(COLUMNS, rows)


def _tags(pairs: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise CliError(f"tag `{pair}` is not KEY=VALUE")
        tags[key] = value
    return tags


def _how(decision: PushDecision) -> str:
    if not decision.allowed or decision.action is None:
        return ""
    mode = decision.action.mode.value
    endpoint = f" to {decision.action.endpoint}" if decision.action.endpoint else ""
    return f"{mode}{endpoint}, {decision.gate.value}, {decision.version_policy.value}"


def _as_json(
    asset: Asset, origin: str, registry: str, share: ShareDecision, targets: list[PushDecision]
) -> dict[str, Any]:
    destination = share.destination
    return {
        "asset": {**asset.ref.model_dump(mode="json"), "tags": asset.tags},
        "origin": origin,
        "registry": registry,
        "share": {
            "allowed": share.allowed,
            "reason": share.reason,
            "rule": share.rule_id,
            "destination": f"{destination.name}:{destination.version}" if destination else None,
            "audience": list(share.audience) if share.audience is not None else None,
        },
        "targets": [
            {
                "workspace": decision.target,
                "allowed": decision.allowed,
                "reason": decision.reason,
                "rule": decision.rule_id,
                "mode": decision.action.mode.value if decision.allowed and decision.action else None,
                "endpoint": decision.action.endpoint if decision.allowed and decision.action else None,
                "gate": decision.gate.value if decision.allowed else None,
                "version_policy": decision.version_policy.value if decision.allowed else None,
                "pinned_version": decision.pinned_version if decision.allowed else None,
            }
            for decision in targets
        ],
    }
