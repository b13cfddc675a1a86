"""The fleet routes: recall (POST /api/recall) and drift (GET /api/drift).

Who calls it: the dispatcher (shared.api.routes). Input is validated here; who may recall what, the
plan and the audit are the engine's (shared.engine.fleet): the provider recalls anything, a tenant only
what it published (anything else is the same 404 as an unknown version).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from shared.api.call import ApiResponse, Call, Strict, ok
from shared.domain import AssetKind, AssetName, AssetVersion, OneLineText, TenantId, WorkspaceName


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
