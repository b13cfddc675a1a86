"""Endpoints and deployments provision over time, can fail, and serve inference from a real score.py.

Sources quoted per test:
- ARM async operations: https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
  (201/202 + Azure-AsyncOperation/Location; status body id, name, status, startTime, endTime,
  percentComplete, error).
- REST spec example OnlineDeployment/ManagedOnlineDeployment/createOrUpdate.json (Azure/azure-rest-api-specs,
  specification/machinelearningservices/.../stable/2024-04-01/examples): the 201 answer is `Creating`.
- https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints (error codes
  OutOfQuota, ImageBuildFailure, ResourceNotReady; scoring status codes 401, 404, 408, 424).
- azure-ai-ml: azure/ai/ml/operations/_online_endpoint_operations.py `invoke` (GET endpoint, listKeys,
  POST scoring_uri with `Bearer key`), _online_deployment_operations.py (AzureMLPolling on the LRO).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
)
from azure.core.exceptions import HttpResponseError

from devstack.emulator.launch import EmulatorAdmin
from devstack.emulator.scoring import azure_uri
from tests.emulator.conftest import ws_arm_id

MLFactory = Callable[[str], Any]
IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"
SCORE = """
import json, os, socket, time

def init():
    global weights
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.json")) as f:
        weights = json.load(f)

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("sleep"):
        time.sleep(data["sleep"])
    if data.get("network"):
        socket.create_connection(("example.com", 443), timeout=1)
    if data.get("boom"):
        raise ValueError("boom")
    return [sum(w * x for w, x in zip(weights["w"], row)) + weights["b"] for row in data["data"]]
"""


@pytest.fixture(scope="module")
def served(ml: MLFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An online endpoint in workspace3 (westeurope) whose deployment `blue` serves a tiny linear model."""
    root = tmp_path_factory.mktemp("served")
    (root / "model").mkdir()
    (root / "model" / "weights.json").write_text('{"w": [2, 3], "b": 1}', encoding="utf-8")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE, encoding="utf-8")
    ws = ml("workspace3")
    name = f"lin{root.name[-6:]}".replace("_", "")
    model = ws.models.create_or_update(Model(name=name, version="1", path=str(root / "model")))
    ws.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=name, auth_mode="key")).result()
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=name,
        model=model,
        code_configuration=CodeConfiguration(code=str(root / "code"), scoring_script="score.py"),
        environment=Environment(image=IMAGE),
        instance_type="Standard_DS3_v2",
        instance_count=1,
        request_settings=OnlineRequestSettings(request_timeout_ms=3000),
    )
    assert ws.online_deployments.begin_create_or_update(deployment).result().provisioning_state == "Succeeded"
    endpoint = ws.online_endpoints.get(name)
    endpoint.traffic = {"blue": 100}
    ws.online_endpoints.begin_create_or_update(endpoint).result()
    return name, str(root)


def endpoint_url(workspace: str, name: str, deployment: str | None = None) -> str:
    url = f"{ws_arm_id(workspace)}/onlineEndpoints/{name}"
    return f"{url}/deployments/{deployment}" if deployment else url


def test_put_answers_creating_with_operation_headers_then_succeeds(
    raw: httpx.Client, admin: EmulatorAdmin, unique: str
) -> None:
    # ARM async operations doc + spec example createOrUpdate.json (201, provisioningState Creating).
    admin.set_provisioning("workspace1", unique, delay_s=400)  # 0.4 s at speed 1000
    reply = raw.put(
        endpoint_url("workspace1", unique), json={"location": "eastus", "properties": {"authMode": "Key"}}
    )
    assert reply.status_code == 201
    assert reply.json()["properties"]["provisioningState"] == "Creating"
    assert reply.headers["Azure-AsyncOperation"] and reply.headers["Location"]
    status = raw.get(reply.headers["Azure-AsyncOperation"]).json()
    assert set(status) == {"id", "name", "status", "startTime", "endTime", "percentComplete"}
    assert status["status"] == "InProgress" and status["endTime"] is None
    assert "/mfeOperationsStatus/" in status["id"] and 0 <= status["percentComplete"] < 100
    assert raw.get(reply.headers["Location"]).status_code == 202  # Location: 202 while running
    assert raw.get(endpoint_url("workspace1", unique)).json()["properties"]["provisioningState"] == "Creating"
    for _ in range(100):
        status = raw.get(reply.headers["Azure-AsyncOperation"]).json()
        if status["status"] != "InProgress":
            break
        time.sleep(0.02)
    assert status["status"] == "Succeeded" and status["endTime"] and status["percentComplete"] == 100
    assert raw.get(reply.headers["Location"]).status_code == 204
    assert (
        raw.get(endpoint_url("workspace1", unique)).json()["properties"]["provisioningState"] == "Succeeded"
    )
    update = raw.put(
        endpoint_url("workspace1", unique), json={"location": "eastus", "properties": {"authMode": "Key"}}
    )
    assert update.status_code == 200 and update.json()["properties"]["provisioningState"] == "Updating"


def test_sdk_poller_waits_for_provisioning(ml: MLFactory, admin: EmulatorAdmin, unique: str) -> None:
    # azure-ai-ml _online_endpoint_operations.begin_create_or_update returns an LROPoller (ARMPolling).
    admin.set_provisioning("workspace1", unique, delay_s=300)
    poller = ml("workspace1").online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=unique))
    assert not poller.done()
    assert poller.result().provisioning_state == "Succeeded"


@pytest.mark.parametrize(
    ("failure", "code"),
    [("quota", "OutOfQuota"), ("image_build", "ImageBuildFailure"), ("container_crash", "ResourceNotReady")],
)
def test_injected_failure_leaves_deployment_failed(
    ml: MLFactory, admin: EmulatorAdmin, model_dir: Path, unique: str, failure: str, code: str
) -> None:
    # Troubleshooting guide: ERROR: OutOfQuota / ImageBuildFailure / ResourceNotReady (container crashed).
    ws = ml("workspace1")
    ws.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=unique)).result()
    admin.set_provisioning("workspace1", unique, "blue", failure=failure)
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=unique,
        model=ws.models.create_or_update(Model(name=unique, version="1", path=str(model_dir))),
        environment=Environment(image=IMAGE),
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    with pytest.raises(HttpResponseError) as failed:
        ws.online_deployments.begin_create_or_update(deployment).result()
    assert code in str(failed.value)
    assert ws.online_deployments.get("blue", endpoint_name=unique).provisioning_state == "Failed"


def test_delete_goes_through_deleting_then_404_names_the_endpoint(
    raw: httpx.Client, ml: MLFactory, admin: EmulatorAdmin, unique: str
) -> None:
    # ARM: DELETE 202 + headers; 404 afterwards. azure-cli-extensions#7107 shows
    # "(NotFound) The specified resource was not found." with a nested detail.
    ml("workspace1").online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=unique)).result()
    admin.set_provisioning_delays(endpoint_s=300)
    try:
        reply = raw.delete(endpoint_url("workspace1", unique))
        assert (
            reply.status_code == 202 and reply.headers["Azure-AsyncOperation"] and reply.headers["Location"]
        )
        assert (
            raw.get(endpoint_url("workspace1", unique)).json()["properties"]["provisioningState"]
            == "Deleting"
        )
    finally:
        admin.set_provisioning_delays(endpoint_s=2)
    for _ in range(100):
        gone = raw.get(endpoint_url("workspace1", unique))
        if gone.status_code == 404:
            break
        time.sleep(0.02)
    error = gone.json()["error"]
    assert error["code"] == "NotFound" and unique in error["details"][0]["message"]


def test_scoring_uri_follows_azure_pattern_for_the_region(ml: MLFactory, served: tuple[str, str]) -> None:
    # azure-sdk-for-python#26295: scoring_uri https://managed-01.eastus2.inference.ml.azure.com/score.
    endpoint = ml("workspace3").online_endpoints.get(served[0])
    assert azure_uri(endpoint.scoring_uri) == f"https://{served[0]}.westeurope.inference.ml.azure.com/score"
    assert azure_uri(endpoint.openapi_uri).endswith(".westeurope.inference.ml.azure.com/swagger.json")


def test_invoke_returns_the_model_prediction(ml: MLFactory, served: tuple[str, str], tmp_path: Path) -> None:
    # azure-ai-ml invoke: GET endpoint, POST listKeys, POST scoring_uri with the primary key.
    request = tmp_path / "request.json"
    request.write_text('{"data": [[1, 2], [0, 1]]}', encoding="utf-8")
    answer = ml("workspace3").online_endpoints.invoke(endpoint_name=served[0], request_file=str(request))
    assert answer == "[9, 4]"
    targeted = ml("workspace3").online_endpoints.invoke(
        endpoint_name=served[0], deployment_name="blue", request_file=str(request)
    )
    assert targeted == "[9, 4]"


def scoring_call(
    ml: MLFactory, name: str, raw: httpx.Client, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    endpoint = ml("workspace3").online_endpoints.get(name)
    key = key or ml("workspace3").online_endpoints.get_keys(name).primary_key
    return raw.post(endpoint.scoring_uri, json=body, headers={"Authorization": f"Bearer {key}"})


def test_scoring_refusals_and_model_errors(ml: MLFactory, raw: httpx.Client, served: tuple[str, str]) -> None:
    # Troubleshooting guide, "HTTP status codes": 401 bad key, 424 model error (with
    # ms-azureml-model-error-statuscode/-reason), 408 longer than request_timeout_ms.
    name = served[0]
    assert scoring_call(ml, name, raw, {"data": [[1, 1]]}).json() == [6]
    assert scoring_call(ml, name, raw, {"data": [[1, 1]]}, key="wrong").status_code == 401
    boom = scoring_call(ml, name, raw, {"data": [], "boom": True})
    assert boom.status_code == 424 and "boom" in boom.headers["ms-azureml-model-error-reason"]
    offline = scoring_call(ml, name, raw, {"data": [], "network": True})
    assert offline.status_code == 424 and "network access is disabled" in offline.text
    assert scoring_call(ml, name, raw, {"data": [], "sleep": 10}).status_code == 408


def test_no_traffic_means_404(ml: MLFactory, raw: httpx.Client, unique: str) -> None:
    # Troubleshooting guide: 404 "The endpoint doesn't have any valid deployment with positive weight."
    ml("workspace3").online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=unique)).result()
    assert scoring_call(ml, unique, raw, {"data": []}).status_code == 404
