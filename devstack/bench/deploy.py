"""g. Deploy pushes: one model deployed to an online endpoint in each of N workspaces (a new endpoint:
create it, then, once ready, the deployment, then its traffic), provisioning instant in the emulator and
follow-up checks a second apart. Counted: AzureML requests of the whole chain per deploy push, by route;
no goal, the issue asks for the count."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from devstack.bench.propagation import settled_propagation
from devstack.bench.stack import Stack, drain, err, new_engine, push_queue, register_model, summarise_calls
from shared.domain import AssetKind, LedgerStatus, Workspace
from shared.policy import AssetSelector, Policy, PushAction, PushMode, PushRule, ShareRule, Targets


def deploy_policy(origin: Workspace, targets: Sequence[Workspace], endpoint: str) -> Policy:
    share = ShareRule(
        id="bench-deploy-shares", workspaces=(origin.name,), assets=AssetSelector(include=("dep-*",))
    )
    push = PushRule(
        id="bench-deploy",
        targets=Targets(workspaces=tuple(w.name for w in targets)),
        assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("dep-*",)),
        action=PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint=endpoint),
    )
    return Policy(share=(share,), push=(push,))


def bench_deploy(stack: Stack, targets: int, concurrency: int) -> dict[str, Any]:
    origin, peers = stack.workspaces[0], stack.workspaces[1 : targets + 1]
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    engine = new_engine(stack, [*stack.workspaces, stack.outside], deploy_policy(origin, peers, endpoint))
    engine.applier.deployment_poll_seconds = 1
    stack.admin.set_provisioning_delays(endpoint_s=0, deployment_s=0)
    err.print(f"[dim]g. deploy pushes: one model to an online endpoint in {targets} workspaces[/dim]")
    ref = register_model(stack, origin, f"dep-{uuid.uuid4().hex[:6]}")
    settled_propagation(engine, origin, ref)
    stack.admin.reset_request_log()
    drained = drain(push_queue(engine), engine.execute_push, concurrency=concurrency)
    calls = summarise_calls(stack.admin.request_counts())
    rows = [row for row in engine.store.entries_for_asset(ref.key) if row.target.startswith("push|")]
    return {
        "targets": targets,
        "messages": len(drained.seconds),  # the push and its follow-up checks
        "succeeded": sum(1 for row in rows if row.status is LedgerStatus.SUCCEEDED),
        "per_push": round(calls["azureml_calls"] / max(1, targets), 1),
        **calls,
    }
