"""`regsync rollout resume NAME:VERSION --rule RULE`: continue a rollout a failure stopped.

In-process (the provider's storage access): the version's later waves go on; the failed target stays
failed until `regsync sync --workspace` queues it afresh. `regsync plan` shows where a rollout stands.
Over HTTP: POST /api/rollout/resume (shared.api.fleet), where a tenant may resume its own rules'.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.application import application, checked
from shared.cli.backend import CLI_CALLER
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion
from shared.engine import new_correlation_id
from shared.policy import RuleId

app = typer.Typer(
    help="Progressive rollouts (push rules with `rollout: {waves: ...}`).", no_args_is_help=True
)


@app.command("resume")
def resume(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The registry version.")],
    rule: Annotated[str, typer.Option("--rule", help="The push rule whose rollout stopped.")],
    kind: Annotated[AssetKind, typer.Option("--kind", help="Asset kind.")] = AssetKind.MODEL,
) -> None:
    """Resume a stopped rollout of one version: its later waves are fanned out now."""
    cli = application(ctx)
    name, _, version = asset.partition(":")
    checked("name", AssetName, name)
    checked("version", AssetVersion, version)
    checked("rule id", RuleId, rule)
    ref = AssetRef(kind=kind, name=name, version=version)
    outcomes = cli.engine.resume_rollout(ref, rule, caller=CLI_CALLER, correlation_id=new_correlation_id())
    if cli.json_output:
        cli.emit_json({"outcomes": [outcome.as_dict() for outcome in outcomes]})
        return
    for outcome in outcomes:
        cli.emit_line(f"{outcome.subject} @ {outcome.target}: {outcome.label} ({outcome.reason})")
