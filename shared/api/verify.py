"""`GET /api/verify`: who signed a registry model version, when, from which origin, and whether its
bytes still match (docs/provenance.md). A tenant names the workspace of its own that received it; the
engine checks that as the status route checks a workspace (shared.engine.verify).

Who calls it: the dispatcher (shared.api.routes). Verifying downloads the version's files, so tenant
callers take a rate-limit token first, as for the other expensive routes.
"""

from __future__ import annotations

from shared.api.call import ApiResponse, Call, Strict, ok
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion, WorkspaceName


class VerifyQuery(Strict):
    name: AssetName
    version: AssetVersion
    workspace: WorkspaceName | None = None


def verify(call: Call) -> ApiResponse:
    query = call.query(VerifyQuery)
    ref = AssetRef(kind=AssetKind.MODEL, name=query.name, version=query.version)
    return ok(call.engine.verify(ref, caller=call.caller, workspace=query.workspace).as_dict())
