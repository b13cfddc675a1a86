"""Writes into the registry in as few AzureML requests as the service allows: import a workspace asset
version (what `models.share` does) and stamp tags on a registry version.

Who calls it: shared.azureml.gateway (`share`, `stamp_registry_tags`), with the cached registry
MLClient's operations. Why not the public calls: `models.share` builds a fresh registry client (a
discovery call) on every share, reads the workspace again, lists the name's versions and checks the
destination before its import and reads it again after; `models.create_or_update` of a registry version
lists the versions, asks for a temporary upload URL and reads the version again (13 requests where these
make 6). These are the SDK's own request builders (`azure.ai.ml._utils._registry_utils`, azure-ai-ml
1.35.2, pinned in requirements.txt): the same URLs, api-version, bodies and LRO polling, sent through the
registry client's pipeline (credential, retries, user agent).

The import body carries no tags: `WorkspaceAssetReference._to_rest_object` (the SDK's
`ResourceManagementAssetReferenceData`: referenceType, destinationName, destinationVersion,
sourceAssetId) has no field for them, so provenance is stamped right after by a PUT of the version.
"""

from __future__ import annotations

from typing import Any

from shared.domain import Asset, AssetKind, AssetRef
from shared.errors import ConflictError

PLURALS = {
    AssetKind.MODEL: "models",
    AssetKind.ENVIRONMENT: "environments",
    AssetKind.DATA: "data",
    AssetKind.COMPONENT: "components",
}


def workspace_asset_id(location: str, workspace_guid: str, ref: AssetRef) -> str:
    """The `azureml://locations/.../workspaces/{guid}/...` id a registry import names its source by."""
    from azure.ai.ml.constants._common import ASSET_ID_FORMAT

    return str(ASSET_ID_FORMAT.format(location, workspace_guid, PLURALS[ref.kind], ref.name, ref.version))


def import_version(registry_operations: Any, source_asset_id: str, destination: AssetRef) -> None:
    """Copy a workspace asset version into the registry as `destination` and wait for the copy (an LRO)."""
    from azure.ai.ml._utils._registry_utils import begin_import_registry_asset
    from azure.ai.ml.entities._assets.workspace_asset_reference import WorkspaceAssetReference

    body = WorkspaceAssetReference(
        name=destination.name, version=destination.version, asset_id=source_asset_id
    )._to_rest_object()
    begin_import_registry_asset(  # type: ignore[no-untyped-call]
        registry_operations._registry_service_client,
        registry_operations._resource_group_name,
        registry_operations._registry_name,
        body,
    )


def stamp_version(
    registry_operations: Any, ref: AssetRef, tags: dict[str, str], *, imported_from: str | None = None
) -> Asset:
    """Add `tags` to a registry version (tags and description are its only mutable fields): read it, put
    it back with the tags; the registry's copy as AzureML answered the update. `imported_from`: the
    source the version must have been imported from (its `originAssetId`); a version that came from
    elsewhere is a conflict and keeps its tags (never RegSync's provenance on another asset)."""
    from azure.ai.ml._utils._registry_utils import (
        begin_create_or_update_registry_versioned_asset,
        get_registry_versioned_asset,
    )

    scope = (
        registry_operations._registry_service_client,
        PLURALS[ref.kind],
        ref.name,
        ref.version,
        registry_operations._resource_group_name,
        registry_operations._registry_name,
    )
    body = get_registry_versioned_asset(*scope)
    properties = body.setdefault("properties", {})
    # A registry model names its import source (`originAssetId`, as in the recording
    # model/e2etests/test_model.pyTestModeltest_promote_model.json); other kinds may not say.
    origin = properties.get("originAssetId")
    if imported_from is not None and origin != imported_from and (origin or ref.kind is AssetKind.MODEL):
        raise ConflictError(f"registry {ref} holds an asset imported from {origin}, not from {imported_from}")
    properties["tags"] = {**(properties.get("tags") or {}), **tags}
    written = begin_create_or_update_registry_versioned_asset(*scope, body) or body
    answered = written.get("properties") or properties
    tags_now = answered.get("tags") or properties["tags"]
    job = answered.get("jobName")
    return Asset(
        ref=ref,
        tags={str(key): str(value) for key, value in tags_now.items()},
        job_name=str(job) if job else None,
    )
