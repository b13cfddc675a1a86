"""The fleet routes: recall (POST /api/recall).

Who calls it: the dispatcher (shared.api.routes). Input is validated here; who may recall what, the
plan and the audit are the engine's (shared.engine.fleet): the provider recalls anything, a tenant only
what it published (anything else is the same 404 as an unknown version).
"""

from __future__ import annotations

from pydantic import Field, StrictBool

from shared.api.call import ApiResponse, Call, Strict, ok
from shared.domain import AssetKind, AssetName, AssetVersion, OneLineText


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
