"""The fleet routes: recall (POST /api/recall), drift (GET /api/drift) and resuming a stopped rollout
(POST /api/rollout/resume).

Who calls it: the dispatcher (shared.api.routes). Input is validated here; who may recall what, the
plan and the audit are the engine's (shared.engine.fleet): the provider recalls anything, a tenant only
what it published (anything else is the same 404 as an unknown version); the provider resumes any
rollout, a tenant only its own rules' (another's is the same 404 as an unknown rule).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from shared.api.call import ApiResponse, Call, Strict, ok
from shared.domain import (
    AssetKind,
    AssetName,
    AssetRef,
    AssetVersion,
    OneLineText,
    TenantId,
    WorkspaceName,
)
from shared.policy import RuleId


class RecallRequest(Strict):
    kind: AssetKind = AssetKind.MODEL
    name: AssetName
    version: AssetVersion | None = None  # None: the registry's latest version
    reason: OneLineText = Field(min_length=1, max_length=512)
    dry_run: StrictBool = False


def recall(call: Call) -> ApiResponse:
    """202 with what was done (each workspace's outcome); a dry run: 200 with the plan."""
    request = call.body(RecallRequest)
    outcomes = call.engine.recall(
        request.kind,
        request.name,
        request.version,
        reason=request.reason,
        correlation_id=call.correlation_id,
        caller=call.caller,
        dry_run=request.dry_run,
    )
    body = {
        "correlation_id": call.correlation_id,
        "dry_run": request.dry_run,
        "outcomes": [outcome.as_dict() for outcome in outcomes],
    }
    return ok(body, 200 if request.dry_run else 202)


class DriftQuery(Strict):
    tenant: TenantId | None = None
    workspace: WorkspaceName | None = None
    tags: Literal["true", "false"] = "false"  # "true": read each delivered copy to compare RegSync's tags


def drift(call: Call) -> ApiResponse:
    """Per workspace in view (as for status: a tenant caller sees its own), each divergence with what
    RegSync would do about it."""
    query = call.query(DriftQuery)
    lines = call.engine.drift(
        caller=call.caller, tenant=query.tenant, workspace=query.workspace, tags=query.tags == "true"
    )
    return ok({"drift": [line.as_dict() for line in lines]})


class ResumeRequest(Strict):
    kind: AssetKind = AssetKind.MODEL
    name: AssetName
    version: AssetVersion
    rule: RuleId


def resume_rollout(call: Call) -> ApiResponse:
    """202 with the resume and the version's fan-out (the later waves' pushes queued now)."""
    request = call.body(ResumeRequest)
    ref = AssetRef(kind=request.kind, name=request.name, version=request.version)
    outcomes = call.engine.resume_rollout(
        ref, request.rule, caller=call.caller, correlation_id=call.correlation_id
    )
    body = {"correlation_id": call.correlation_id, "outcomes": [outcome.as_dict() for outcome in outcomes]}
    return ok(body, 202)
