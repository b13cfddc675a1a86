"""ARM strictness, access refusals and the registry resource, on the real SDK or raw HTTPS.

Sources quoted per test:
- MissingApiVersionParameter: MicrosoftDocs/feedback#2279 ("The api-version query parameter
  (?api-version=) is required for all requests."); NoRegisteredProviderFound (400) for an unknown
  version: Azure/azure-rest-api-specs#18857, microsoft/vscode-tools-for-ai#940 ('workspaces/models').
- 409 from tempdatarefs: azure-ai-ml azure/ai/ml/_utils/_registry_utils.py get_sas_uri_for_registry_asset
  ("Asset already exists" exception is thrown from service with error code 409).
- BlobAlreadyExists: Azure Storage REST "Put Blob" conditional headers (If-None-Match: *), 409.
- Registry GET: Azure/azure-rest-api-specs .../stable/2024-04-01/examples/Registries/get.json.
- 403 UserError: Azure/MachineLearningNotebooks#1475 (UserError for Forbidden), SAFEHR-data/FlowEHR#269
  ("User/tenant/subscription is not allowed to access registry ...").
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.ml.entities import Model
from azure.core.exceptions import HttpResponseError

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from tests.emulator.conftest import REGISTRY, ws_arm_id

MLFactory = Callable[[str], Any]
REG = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-registry"
    f"/providers/Microsoft.MachineLearningServices/registries/{REGISTRY}"
)


@pytest.fixture
def bare(emulator: RunningEmulator) -> Any:
    with httpx.Client(
        base_url=emulator.base_url,
        verify=ssl.create_default_context(cafile=emulator.env["REQUESTS_CA_BUNDLE"]),
        headers={"Authorization": "Bearer test"},
    ) as client:
        yield client


def test_api_version_is_required_and_must_be_known(bare: httpx.Client) -> None:
    missing = bare.get(ws_arm_id("workspace1") + "/models")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = bare.get(ws_arm_id("workspace1") + "/models", params={"api-version": "2099-01-01"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "'workspaces/models'" in unknown.json()["error"]["message"]


def test_missing_endpoint_is_not_found_with_a_detail(ml: MLFactory, raw: httpx.Client, unique: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        ml("workspace1").online_endpoints.get(unique)
    error = raw.get(ws_arm_id("workspace1") + f"/onlineEndpoints/{unique}").json()["error"]
    assert error["code"] == "NotFound" and unique in error["details"][0]["message"]


def test_upload_to_existing_registry_version_is_refused(
    ml: MLFactory, raw: httpx.Client, model_dir: Path, unique: str
) -> None:
    registry = ml("registry")
    registry.models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    again = raw.post(REG + f"/tempdatarefs/{unique}/versions/1", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "UserError"
    (model_dir / "model.pkl").write_bytes(b"other weights")
    with pytest.raises(Exception):  # noqa: B017 - the SDK skips the upload after the 409, then fails
        registry.models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    assert registry.models.get(unique, version="1").version == "1"  # the stored version is untouched


def test_blob_put_if_none_match_on_existing_blob_conflicts(raw: httpx.Client) -> None:
    url = "/blob/workspace1/strict/one.txt"
    assert raw.put(url, content=b"a", headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201
    again = raw.put(url, content=b"b", headers={"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"})
    assert again.status_code == 409 and again.headers["x-ms-error-code"] == "BlobAlreadyExists"


def test_registry_resource_has_region_details(raw: httpx.Client) -> None:
    body = raw.get(REG).json()
    assert body["name"] == REGISTRY and body["location"] == "eastus"
    assert [r["location"] for r in body["properties"]["regionDetails"]] == ["eastus", "westeurope"]
    first = body["properties"]["regionDetails"][0]
    assert "systemCreatedStorageAccount" in first["storageAccountDetails"][0]
    assert "systemCreatedAcrAccount" in first["acrDetails"][0]


def test_registry_that_does_not_admit_a_workspace_answers_403_user_error(
    ml: MLFactory, raw: httpx.Client, admin: EmulatorAdmin, model_dir: Path, unique: str
) -> None:
    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    ml("workspace1").models.share(
        name=unique, version="1", registry_name=REGISTRY, share_with_name=unique, share_with_version="1"
    )
    registry_id = f"azureml://registries/{REGISTRY}/models/{unique}/versions/1"
    admin.set_registry_access(REGISTRY, "workspace2", allowed=False)
    try:
        refused = raw.put(
            ws_arm_id("workspace2") + f"/models/{unique}/versions/1",
            json={"properties": {"modelUri": registry_id}},
        )
    finally:
        admin.set_registry_access(REGISTRY, "workspace2", allowed=True)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "UserError" and error["details"][0]["code"] == "UnAuthorizedRegistryAccess"


def test_fault_injector_can_refuse_with_403(ml: MLFactory, admin: EmulatorAdmin, unique: str) -> None:
    admin.set_fault(f"/models/{unique}/versions/1$", status=403, count=1)
    try:
        with pytest.raises(HttpResponseError) as refused:
            ml("registry").models.get(unique, version="1")
    finally:
        admin.clear_faults()
    assert refused.value.status_code == 403 and "AuthorizationFailed" in str(refused.value)
