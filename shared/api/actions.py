"""The routes that act: sync and plan (the engine's reconcile), pull and approve.

Who calls it: the dispatcher (shared.api.routes), one handler per route. Each parses its input with
shared.api.call and leaves checks and audit to the engine's use case (shared.engine.requests).
"""

from __future__ import annotations

from typing import Any

from shared.api.call import (
    PLATFORM_PARAMS,
    ApiResponse,
    ApproveRequest,
    Call,
    PullRequest,
    SyncRequest,
    ok,
    validated,
)
from shared.domain import AssetRef
from shared.engine import SyncScope
from shared.records import Status

# --- sync and plan: the engine's use case, checked and audited there -------------------------------------


def sync(call: Call) -> ApiResponse:
    return run_sync(call, call.body(SyncRequest))


def plan(call: Call) -> ApiResponse:
    params = {key: value for key, value in call.request.params.items() if key not in PLATFORM_PARAMS}
    asset = {key: params.pop(key) for key in ("kind", "name", "version") if key in params}
    return run_sync(
        call, validated(SyncRequest, {**params, **({"asset": asset} if asset else {}), "dry_run": True})
    )


def run_sync(call: Call, request: SyncRequest) -> ApiResponse:
    scope = SyncScope(request.scope, request.tenant, request.workspace, request.asset, request.dry_run)
    result = call.engine.sync(scope, caller=call.caller, correlation_id=call.correlation_id)
    body: dict[str, Any] = {
        "correlation_id": result.correlation_id,
        "scope": result.scope,
        "dry_run": result.dry_run,
    }
    if result.scheduled is not None:
        return ok({**body, "scheduled": result.scheduled}, 202)
    return ok({**body, "outcomes": [outcome.as_dict() for outcome in result.outcomes]})


# --- pull and approve -----------------------------------------------------------------------------------


def pull(call: Call) -> ApiResponse:
    """A refusal by the rules is an answer, not an error: 200 with status `refused` and the reason."""
    request = call.body(PullRequest)
    outcome = call.engine.pull(
        request.workspace,
        request.kind,
        request.name,
        request.version,
        correlation_id=call.correlation_id,
        caller=call.caller,
    )
    status = 200 if outcome.status is Status.REFUSED else 202
    return ok({"correlation_id": call.correlation_id, "outcome": outcome.as_dict()}, status)


def approve(call: Call) -> ApiResponse:
    request = call.body(ApproveRequest)
    ref = AssetRef(kind=request.kind, name=request.name, version=request.version)
    outcome = call.engine.approve(
        request.workspace,
        ref,
        approver=call.caller.name,
        correlation_id=call.correlation_id,
        caller=call.caller,
    )
    return ok({"correlation_id": call.correlation_id, "outcome": outcome.as_dict()}, 202)
