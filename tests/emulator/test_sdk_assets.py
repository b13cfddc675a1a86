"""The real azure-ai-ml SDK against the emulator: assets in workspaces and the registry, share, refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.ml.entities import CommandComponent, Data, Environment, Model
from azure.core.exceptions import HttpResponseError

from devstack.emulator.launch import EmulatorAdmin
from tests.emulator.conftest import REGISTRY, ws_arm_id

MLFactory = Callable[[str], Any]
REG_PREFIX = (
    "/mferp/managementfrontend/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-registry"
    "/providers/Microsoft.MachineLearningServices/registries/regsync-registry"
)


def registry_id(kind: str, name: str, version: str = "1") -> str:
    return f"azureml://registries/{REGISTRY}/{kind}/{name}/versions/{version}"


def share_model(ml: MLFactory, workspace: str, name: str, version: str = "1") -> Any:
    return ml(workspace).models.share(
        name=name, version=version, registry_name=REGISTRY, share_with_name=name, share_with_version=version
    )


def test_register_model_from_local_folder_uploads_and_lists(
    ml: MLFactory, admin: EmulatorAdmin, model_dir: Path, unique: str
) -> None:
    (model_dir / "id.txt").write_text(unique, encoding="utf-8")  # new content: the SDK skips known uploads
    admin.reset_request_log()
    created = ml("workspace1").models.create_or_update(
        Model(name=unique, version="1", path=str(model_dir), tags={"team": "risk"})
    )
    assert created.version == "1"
    assert "workspaceblobstore" in created.path
    fetched = ml("workspace1").models.get(unique, version="1")
    assert fetched.tags == {"team": "risk"}
    assert [m.version for m in ml("workspace1").models.list(name=unique)] == ["1"]
    assert unique in {m.name for m in ml("workspace1").models.list()}
    blob_puts = [
        r for r in admin.request_counts() if r["route"].startswith("/blob/") and r["method"] == "PUT"
    ]
    assert sum(r["count"] for r in blob_puts) >= 3  # every file of the folder went to the datastore


def test_latest_version_and_auto_increment(ml: MLFactory, model_dir: Path, unique: str) -> None:
    ws = ml("workspace2")
    ws.models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    second = ws.models.create_or_update(Model(name=unique, path=str(model_dir)))
    assert second.version == "2"
    assert ws.models.get(unique, label="latest").version == "2"


def test_share_to_registry_keeps_source_and_job(ml: MLFactory, admin: EmulatorAdmin, unique: str) -> None:
    job_output = "azureml://jobs/run-42/outputs/artifacts/paths/model/"
    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=job_output))
    shared = share_model(ml, "workspace1", unique)
    assert shared.id == registry_id("models", unique)
    assert ml("registry").models.get(unique, version="1").name == unique
    assert unique in {m.name for m in ml("registry").models.list()}
    entry = admin.dump()["registries"][REGISTRY]["assets"]["models"][unique]["1"]
    assert entry["originAssetId"].startswith("azureml://locations/eastus/workspaces/")
    assert entry["originAssetId"].endswith(f"/models/{unique}/versions/1")
    assert entry["jobName"] == "run-42"


def test_registry_model_registered_and_deployed_in_covered_workspace(
    ml: MLFactory, admin: EmulatorAdmin, model_dir: Path, unique: str
) -> None:
    from azure.ai.ml.entities import (
        BatchEndpoint,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
        ModelBatchDeployment,
    )

    ml("workspace3").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    share_model(ml, "workspace3", unique)
    ws4 = ml("workspace4")
    local = ws4.models.create_or_update(Model(name=unique, version="1", path=registry_id("models", unique)))
    assert local.version == "1"
    endpoint = ws4.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=f"{unique}-on")
    ).result()
    online = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint.name,
        model=registry_id("models", unique),
        instance_type="Standard_DS3_v2",
    )
    assert ws4.online_deployments.begin_create_or_update(online).result().provisioning_state == "Succeeded"
    batch = ws4.batch_endpoints.begin_create_or_update(BatchEndpoint(name=f"{unique}-b")).result()
    batch_dep = ModelBatchDeployment(
        name="b1", endpoint_name=batch.name, model=registry_id("models", unique), compute="c"
    )
    assert ws4.batch_deployments.begin_create_or_update(batch_dep).result().provisioning_state == "Succeeded"
    assert [d.name for d in ws4.online_deployments.list(endpoint_name=endpoint.name)] == ["blue"]
    assert f"{unique}-b" in {e.name for e in ws4.batch_endpoints.list()}
    ws4.online_endpoints.begin_delete(name=endpoint.name).result()
    resources = admin.dump()["workspaces"]["workspace4"]["resources"]
    assert f"onlineEndpoints/{unique}-on" not in resources
    assert f"batchEndpoints/{unique}-b/deployments/b1" in resources


def test_region_not_covered_cannot_share_nor_use(ml: MLFactory, model_dir: Path, unique: str) -> None:
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    share_model(ml, "workspace1", unique)
    ws5 = ml("workspace5")
    ws5.models.create_or_update(Model(name=f"{unique}-w5", version="1", path=str(model_dir)))
    with pytest.raises(HttpResponseError) as shared:
        share_model(ml, "workspace5", f"{unique}-w5")
    assert "UnAuthorizedRegistryAccess" in str(shared.value)
    with pytest.raises(HttpResponseError) as used:
        ws5.models.create_or_update(Model(name=unique, version="1", path=registry_id("models", unique)))
    assert used.value.status_code == 403
    endpoint = ws5.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=f"{unique}-w5")
    ).result()
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint.name,
        model=registry_id("models", unique),
        instance_type="Standard_DS3_v2",
    )
    with pytest.raises(HttpResponseError) as deployed:
        ws5.online_deployments.begin_create_or_update(deployment).result()
    assert "UnAuthorizedRegistryAccess" in str(deployed.value)


def test_registry_versions_are_immutable(
    ml: MLFactory, raw: httpx.Client, model_dir: Path, unique: str
) -> None:
    reg = ml("registry")
    reg.models.create_or_update(Model(name=unique, version="1", path=str(model_dir), description="first"))
    url = f"{REG_PREFIX}/models/{unique}/versions/1"
    stored = raw.get(url).json()["properties"]
    assert raw.put(url, json={"properties": stored}).status_code == 202  # same content: accepted
    changed = raw.put(url, json={"properties": stored | {"modelType": "mlflow_model"}})
    assert changed.status_code == 409
    assert "Value of property modelType" in changed.json()["error"]["message"]
    annotated = raw.put(url, json={"properties": stored | {"description": "second", "tags": {"k": "v"}}})
    assert annotated.status_code == 202  # annotations may change, content may not
    assert raw.get(url).json()["properties"]["description"] == "second"
    assert raw.delete(url).status_code == 200
    recreated = raw.put(url, json={"properties": stored})
    assert recreated.status_code == 409
    assert "cannot be recreated" in recreated.json()["error"]["message"]


def test_workspace_version_updates_only_mutable_fields(
    ml: MLFactory, model_dir: Path, tmp_path: Path, unique: str
) -> None:
    ws = ml("workspace2")
    ws.models.create_or_update(Model(name=unique, version="1", path=str(model_dir), tags={"a": "1"}))
    updated = ws.models.create_or_update(
        Model(name=unique, version="1", path=str(model_dir), tags={"a": "2"}, description="now described")
    )
    assert updated.tags == {"a": "2"}
    assert updated.description == "now described"
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"different")
    with pytest.raises(Exception, match=r"(?i)asset path"):
        ws.models.create_or_update(Model(name=unique, version="1", path=str(other)))


def test_archive_and_restore(ml: MLFactory, model_dir: Path, unique: str) -> None:
    ws = ml("workspace1")
    ws.models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    ws.models.archive(name=unique, version="1")
    assert [m.version for m in ws.models.list(name=unique)] == []
    ws.models.restore(name=unique, version="1")
    assert [m.version for m in ws.models.list(name=unique)] == ["1"]


def test_registry_archive_and_restore(ml: MLFactory, model_dir: Path, unique: str) -> None:
    reg = ml("registry")
    reg.models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    reg.models.archive(name=unique, version="1")
    assert [m.version for m in reg.models.list(name=unique)] == []
    reg.models.restore(name=unique, version="1")
    assert [m.version for m in reg.models.list(name=unique)] == ["1"]


def test_list_follows_next_link(ml: MLFactory, raw: httpx.Client, unique: str) -> None:
    base = ws_arm_id("workspace3")
    for version in range(1, 26):
        body = {
            "properties": {"modelUri": f"azureml://datastores/workspaceblobstore/paths/{unique}/{version}"}
        }
        assert raw.put(f"{base}/models/{unique}/versions/{version}", json=body).status_code == 201
    first_page = raw.get(f"{base}/models/{unique}/versions").json()
    assert "nextLink" in first_page
    assert len(first_page["value"]) < 25
    assert len(list(ml("workspace3").models.list(name=unique))) == 25


def test_environment_share(ml: MLFactory, unique: str) -> None:
    env = Environment(name=unique, version="1", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04")
    ml("workspace2").environments.create_or_update(env)
    shared = ml("workspace2").environments.share(
        name=unique, version="1", registry_name=REGISTRY, share_with_name=unique, share_with_version="1"
    )
    assert shared.id == registry_id("environments", unique)
    assert ml("registry").environments.get(unique, version="1").image.startswith("mcr.microsoft.com")


def test_data_share(ml: MLFactory, tmp_path: Path, unique: str) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    ml("workspace1").data.create_or_update(Data(name=unique, version="1", path=str(path), type="uri_file"))
    shared = ml("workspace1").data.share(
        name=unique, version="1", registry_name=REGISTRY, share_with_name=unique, share_with_version="1"
    )
    assert shared.id == registry_id("data", unique)
    assert ml("registry").data.get(unique, version="1").type == "uri_file"


def test_component_created_in_registry_with_code(ml: MLFactory, tmp_path: Path, unique: str) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('train')\n", encoding="utf-8")
    component = CommandComponent(
        name=unique,
        version="1",
        command="python train.py",
        code=str(code),
        environment="azureml://registries/azureml/environments/sklearn-1.5/versions/1",
    )
    created = ml("registry").components.create_or_update(component)
    assert created.version == "1"
    fetched = ml("registry").components.get(unique, version="1")
    assert fetched.command == "python train.py"
    assert str(fetched.code).startswith(f"azureml://registries/{REGISTRY}/codes/")


def test_component_created_in_workspace_with_code(ml: MLFactory, tmp_path: Path, unique: str) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "score.py").write_text(f"print('{unique}')\n", encoding="utf-8")
    component = CommandComponent(
        name=unique, version="1", command="python score.py", code=str(code), environment="azureml:env:1"
    )
    ml("workspace1").components.create_or_update(component)
    assert ml("workspace1").components.get(unique, version="1").command == "python score.py"


def test_missing_bearer_token_is_refused_like_arm(raw: httpx.Client) -> None:
    reply = raw.get(ws_arm_id("workspace1"), headers={"Authorization": ""})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "AuthenticationFailed"


def test_injected_429_is_retried_by_the_sdk(
    ml: MLFactory, admin: EmulatorAdmin, model_dir: Path, unique: str
) -> None:
    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    admin.reset_request_log()
    admin.set_fault(rf"/models/{unique}/versions/1$", status=429, method="GET", count=1, retry_after=1)
    try:
        assert ml("workspace1").models.get(unique, version="1").version == "1"
    finally:
        admin.clear_faults()
    route = next(
        r for r in admin.request_counts() if r["route"].endswith("/{kind}/{name}/versions/{version}")
    )
    assert route["faulted"] == 1
    assert route["count"] == 2  # the refused request and the SDK's retry after Retry-After


def test_share_copies_the_files_into_the_registry(
    ml: MLFactory, admin: EmulatorAdmin, model_dir: Path, tmp_path: Path, unique: str
) -> None:
    # Azure copies a shared asset's files into the registry's own storage: the registry copy stays whole
    # when the workspace's files change (learn.microsoft.com, "Share models, components, and environments
    # across workspaces with registries": "the model is copied to the registry").
    (model_dir / "id.txt").write_text(unique, encoding="utf-8")
    ml("workspace1").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    shared = share_model(ml, "workspace1", unique)
    assert str(shared.path).endswith("/model")  # the registry's own container, then the source's folder
    ml("registry").models.download(name=unique, version="1", download_path=str(tmp_path / "out"))
    files = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert files["id.txt"] == unique.encode()
    assert files["model.pkl"] == b"weights"


def test_registry_upload_then_download_round_trips(
    ml: MLFactory, model_dir: Path, tmp_path: Path, unique: str
) -> None:
    # The recorded flow (recordings: model/e2etests/test_model.pyTestModeltest_create_get_download_model_
    # registry.json): tempdatarefs gives a container SAS `{account}/{registry}-{guid}`, the files go under
    # the model folder, and download reads them back through datarefs' container SAS.
    (model_dir / "id.txt").write_text(unique, encoding="utf-8")
    created = ml("registry").models.create_or_update(Model(name=unique, version="1", path=str(model_dir)))
    container = str(created.path).split("/")[3]
    assert container.startswith(f"{REGISTRY}-") and len(container) == len(REGISTRY) + 37
    ml("registry").models.download(name=unique, version="1", download_path=str(tmp_path / "out"))
    files = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert files["id.txt"] == unique.encode()
    assert files["MLmodel"] == b"flavors: {}\n"
