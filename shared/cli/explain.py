"""`regsync explain`: would this asset be shared, and which workspaces would receive it, and why.

It IS the engine's plan: the asset as described on the command line goes through the engine's own
`plan_propagation` (the ledger and the registry as they are; nothing is written), and the table shows
that plan's share step and, per managed workspace, its push decision and planned step.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shared.cli.application import CliError, application, unknown
from shared.domain import Asset, AssetKind, AssetRef
from shared.engine import new_correlation_id
from shared.engine.propagation import PropagationPlan
from shared.policy import PushDecision
from shared.steps import preview

COLUMNS = ["WORKSPACE", "TENANT", "REGION", "RECEIVES", "RULE", "HOW", "REASON"]


def explain(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", help="Origin workspace of the asset.")],
    name: Annotated[str, typer.Option("--name", help="Asset name in the origin workspace.")],
    version: Annotated[str, typer.Option("--version", help="Asset version.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Asset tag KEY=VALUE; repeatable.")] = None,
) -> None:
    """Explain whether an asset is shared and, for every managed workspace, whether it would receive it."""
    cli = application(ctx)
    asset = Asset(ref=AssetRef(kind=kind, name=name, version=version), tags=_tags(tag or []))
    engine = cli.engine
    world = engine.world()
    origin = world.workspaces.get(workspace)
    if origin is None:
        raise unknown("workspace", workspace)
    plan = engine.plan_propagation(
        origin, asset.ref, world=world, correlation_id=new_correlation_id(), source=asset
    )
    rows = explained_targets(plan, sorted(world.workspaces))
    if cli.json_output:
        cli.emit_json(_as_json(asset, origin.name, world.registry.name, plan, rows))
        return
    share = preview(plan.share)
    cli.emit_line(f"{asset.ref} from {origin.name}: {share.reason if share else 'nothing to share'}")
    placement = {item.name: (item.tenant, item.region) for item in world.workspaces.values()}
    cli.emit_table(
        COLUMNS,
        [
            (target, *placement[target], receives, decision.rule_id or "" if decision else "", how, reason)
            for target, (decision, receives, how, reason) in rows.items()
        ],
    )


def explained_targets(
    plan: PropagationPlan, workspaces: list[str]
) -> dict[str, tuple[PushDecision | None, str, str, str]]:
    """Per workspace: (decision, receives, how, reason). `receives` is `yes` where the plan has a push
    step for it, else `no`; the reason is the step's when there is one, else the decision's.
    Without a push wave (the share is refused or in conflict) no workspace receives it, for that reason."""
    share = preview(plan.share)
    steps = {outcome.target: outcome for step in plan.pushes if (outcome := preview(step)) is not None}
    rows: dict[str, tuple[PushDecision | None, str, str, str]] = {}
    if not plan.decisions:
        why = f"not shared: {share.reason}" if share else "not shared"
        return dict.fromkeys(workspaces, (None, "no", "", why))
    for decision in plan.decisions:
        step = steps.get(decision.target)
        if step is not None and step.label.startswith("planned:"):
            rows[decision.target] = (decision, "yes", _how(decision), step.reason)
        else:
            reason = step.reason if step is not None else decision.reason
            if decision.allowed and step is None:
                policy = decision.version_policy.value
                reason = f"{decision.reason}; its version policy ({policy}) does not want this version"
            rows[decision.target] = (decision, "no", "", reason)
    return rows


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
    asset: Asset,
    origin: str,
    registry: str,
    plan: PropagationPlan,
    rows: dict[str, tuple[PushDecision | None, str, str, str]],
) -> dict[str, Any]:
    share, decision = preview(plan.share), plan.share_decision
    destination = plan.destination
    return {
        "asset": {**asset.ref.model_dump(mode="json"), "tags": asset.tags},
        "origin": origin,
        "registry": registry,
        "share": {
            "allowed": bool(decision and decision.allowed),
            "step": share.label if share else None,
            "reason": share.reason if share else "",
            "rule": decision.rule_id if decision else None,
            "destination": f"{destination.name}:{destination.version}" if destination else None,
            "audience": list(decision.audience) if decision and decision.audience is not None else None,
        },
        "targets": [
            {
                "workspace": target,
                "receives": receives,
                "allowed": bool(decision and decision.allowed),
                "reason": reason,
                "rule": decision.rule_id if decision else None,
                "mode": decision.action.mode.value
                if decision and decision.allowed and decision.action
                else None,
                "endpoint": decision.action.endpoint
                if decision and decision.allowed and decision.action
                else None,
                "gate": decision.gate.value if decision and decision.allowed else None,
                "version_policy": decision.version_policy.value if decision and decision.allowed else None,
                "pinned_version": decision.pinned_version if decision and decision.allowed else None,
            }
            for target, (decision, receives, _how_text, reason) in rows.items()
        ],
    }
