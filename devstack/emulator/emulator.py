"""The emulator's runtime context: world state, event dispatcher, faults and request log in one object.

Created once by `devstack.emulator.__main__` and reachable from every route as `request.app.state.emu`
(app.py for the SDK's routes, admin.py for /_admin/, blobs.py for blob storage).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import uuid
from collections import Counter
from typing import Any

from starlette.responses import JSONResponse, Response

from devstack.emulator.activity_log import ActivityLog
from devstack.emulator.events import TENANT_ID, Dispatcher
from devstack.emulator.keyvault import Vault
from devstack.emulator.state import ArmError, State, now_iso, system_data
from devstack.emulator.world import Registry, Workspace, World

CLOUD_NAME = "AzureMLEmulator"  # not a built-in cloud name: the SDK then takes it from the metadata URL


def cloud_metadata(base_url: str) -> str:
    """ARM cloud metadata of one cloud, CLOUD_NAME, pointed at the emulator; served as a constant string."""
    cloud = {
        "name": CLOUD_NAME,
        "portal": "https://portal.azure.com",
        "resourceManager": base_url + "/",
        "authentication": {
            "loginEndpoint": base_url + "/login/",
            "audiences": [base_url + "/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "acrLoginServer": "azurecr.io",
        },
        "media": base_url,
        "graph": base_url,
        "sqlManagement": base_url,
        "gallery": base_url,
        "batch": base_url,
        "vmImageAliasDoc": base_url,
        "activeDirectoryDataLake": base_url,
        "graphAudience": base_url,
        "microsoftGraphResourceId": base_url,
        "appInsightsResourceId": base_url,
        "appInsightsTelemetryChannelResourceId": base_url,
        "attestationResourceId": base_url,
        "synapseAnalyticsResourceId": base_url,
        "logAnalyticsResourceId": base_url,
        "ossrDbmsResourceId": base_url,
    }
    return json.dumps([cloud])


class Emulator:
    """Everything a request handler may need; one per process."""

    def __init__(self, world: World, base_url: str, speed: float = 1.0) -> None:
        self.base_url = base_url
        self.tenant_id = TENANT_ID
        self.dispatcher = Dispatcher(speed=speed)
        self.activity_log = ActivityLog()
        self.state = State(world, base_url, self._emit, speed=speed)
        for sub in world.event_subscriptions:
            self.dispatcher.add_validated(sub)
        self.faults = Faults()
        self.vault = Vault()  # Key Vault keys (devstack/emulator/keyvault.py)
        self.requests: Counter[tuple[str, str]] = Counter()
        self.faulted: Counter[tuple[str, str]] = Counter()
        self.cloud_metadata_json = cloud_metadata(base_url)
        self.started = 0.0
        self.created = now_iso()
        self._log_lock = threading.Lock()

    def _emit(self, what: str, info: dict[str, Any]) -> None:
        """A workspace write reaches the subscription's Activity Log and Event Grid; a delete only the
        Activity Log (Event Grid's ResourceDeleteSuccess is not emulated)."""
        if what in {"write", "delete"}:
            ws = info["workspace"]
            self.activity_log.record(
                ws, info["kind"], info["name"], info["version"], deleted=what == "delete"
            )
        if what != "delete":
            self.dispatcher.publish(what, info)

    def log_request(self, method: str, pattern: str, *, faulted: bool = False) -> None:
        with self._log_lock:
            (self.faulted if faulted else self.requests)[(method, pattern)] += 1

    def request_counts(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [
                {"method": m, "route": p, "count": n, "faulted": self.faulted[(m, p)]}
                for (m, p), n in sorted(self.requests.items())
            ]

    def reset_requests(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self.faulted.clear()

    def account_name(self, ws: Workspace) -> str:
        """The accountName trick: `https://{acct}.blob.{suffix}` lands on our /blob/ route (see facts.md)."""
        return f"{self.base_url.removeprefix('https://')}/blob/{ws.name}#"

    def workspace_body(self, ws: Workspace) -> dict[str, Any]:
        rg_id = f"/subscriptions/{ws.subscription}/resourcegroups/{ws.resource_group}"
        return {
            "id": ws.arm_id,
            "name": ws.name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": ws.region,
            "tags": {},
            "etag": None,
            "kind": "Default",
            "properties": {
                "friendlyName": ws.name,
                "description": "",
                "storageAccount": f"{rg_id}/providers/microsoft.storage/storageaccounts/{ws.name}sa",
                "keyVault": f"{rg_id}/providers/microsoft.keyvault/vaults/{ws.name}kv",
                "applicationInsights": f"{rg_id}/providers/microsoft.insights/components/{ws.name}ai",
                "containerRegistry": None,
                "hbiWorkspace": False,
                "imageBuildCompute": None,
                "softDeleteEnabled": False,
                "notebookInfo": {
                    "resourceId": ws.workspace_id.replace("-", ""),
                    "fqdn": f"ml-{ws.name}-{ws.region}.{ws.region}.notebooks.azure.net",
                    "isPrivateLinkEnabled": False,
                    "notebookPreparationError": None,
                },
                "linkedModelInventoryArmId": None,
                "privateLinkCount": 0,
                "sdkTelemetryAppInsightsKey": None,
                "sasGetterUri": None,
                "tenantId": self.tenant_id,
                "provisioningState": "Succeeded",
                "workspaceId": ws.workspace_id,
                "publicNetworkAccess": "Enabled",
                "discoveryUrl": f"{self.base_url}/discovery",
                "mlFlowTrackingUri": f"azureml://{self.base_url.removeprefix('https://')}/mlflow/v1.0{ws.arm_id}",
                "storageHnsEnabled": False,
            },
            "identity": {
                "type": "SystemAssigned",
                "principalId": str(uuid.uuid4()),
                "tenantId": self.tenant_id,
            },
            "sku": {"name": "Basic", "tier": "Basic"},
            "systemData": system_data(self.created, self.created),
        }

    def registry_body(self, reg: Registry) -> dict[str, Any]:
        """GET of the registry resource, shaped as the REST spec's Registries/get example."""
        managed_rg = (
            f"/subscriptions/{reg.subscription}/resourceGroups/azureml-rg-{reg.name}_{reg.registry_id}"
        )
        storage = f"{managed_rg}/providers/Microsoft.Storage/storageAccounts"
        acr = f"{managed_rg}/providers/Microsoft.ContainerRegistry/registries/{reg.name}acr"
        regions = [
            {
                "location": region,
                "storageAccountDetails": [
                    {
                        "systemCreatedStorageAccount": {
                            "storageAccountName": f"{reg.name[:12]}{region[:8]}sa".replace("-", ""),
                            "storageAccountType": "Standard_LRS",
                            "storageAccountHnsEnabled": False,
                            "armResourceId": {"resourceId": f"{storage}/{reg.name}{region}"},
                            "allowBlobPublicAccess": False,
                        }
                    }
                ],
                "acrDetails": [
                    {
                        "systemCreatedAcrAccount": {
                            "acrAccountName": f"{reg.name}acr".replace("-", ""),
                            "acrAccountSku": "Premium",
                            "armResourceId": {"resourceId": acr},
                        }
                    }
                ],
            }
            for region in reg.regions
        ]
        return {
            "id": reg.arm_id,
            "name": reg.name,
            "type": "Microsoft.MachineLearningServices/registries",
            "location": reg.regions[0],
            "tags": {},
            "kind": "",
            "identity": {
                "type": "SystemAssigned",
                "principalId": reg.registry_id,
                "tenantId": self.tenant_id,
            },
            "sku": {"name": "P3", "tier": "Basic"},
            "properties": {
                "regionDetails": regions,
                "intellectualPropertyPublisher": None,
                "publicNetworkAccess": "Enabled",
                "discoveryUrl": f"{self.base_url}/registrymanagement/v1.0/registries/{reg.name}/discovery",
                "managedResourceGroup": {"resourceId": managed_rg},
                "mlFlowRegistryUri": f"azureml://{reg.regions[0]}.api.azureml.ms/mlflow/v1.0{reg.arm_id}",
                "registryPrivateEndpointConnections": [],
            },
            "systemData": system_data(self.created, self.created),
        }

    def datastore_body(self, ws: Workspace) -> dict[str, Any]:
        return {
            "id": f"{ws.arm_id}/datastores/workspaceblobstore",
            "name": "workspaceblobstore",
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": {
                "description": None,
                "tags": None,
                "properties": None,
                "isDefault": True,
                "credentials": {"credentialsType": "AccountKey"},
                "datastoreType": "AzureBlob",
                "accountName": self.account_name(ws),
                "containerName": f"azureml-blobstore-{ws.workspace_id}",
                "endpoint": "core.windows.net",
                "protocol": "https",
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            },
            "systemData": system_data(self.created, self.created),
        }


class Faults:
    """Injected failures per route regex (+ method): 429 with integer Retry-After, 500, 503 or latency."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        rule = {
            "id": uuid.uuid4().hex[:8],
            "pattern": str(spec["pattern"]),
            "method": (spec.get("method") or "").upper() or None,
            "status": int(spec["status"]) if spec.get("status") else None,
            "probability": float(spec.get("probability", 1.0)),
            "latency_ms": int(spec.get("latency_ms", 0)),
            "retry_after": int(spec.get("retry_after", 1)),
            "count": int(spec["count"]) if spec.get("count") is not None else None,
            "injected": 0,
        }
        if rule["status"] not in (None, 403, 429, 500, 503):
            raise ValueError("status must be 403, 429, 500 or 503")
        rule["regex"] = re.compile(rule["pattern"])
        self.rules.append(rule)
        return public_rule(rule)

    def listing(self) -> list[dict[str, Any]]:
        return [public_rule(r) for r in self.rules]

    async def apply(self, method: str, path: str) -> Response | None:
        if not self.rules:
            return None
        for rule in self.rules:
            if rule["method"] not in (None, method) or not rule["regex"].search(path):
                continue
            if (rule["count"] is not None and rule["count"] <= 0) or random.random() >= rule["probability"]:
                continue
            if rule["count"] is not None:
                rule["count"] -= 1
            rule["injected"] += 1
            if rule["latency_ms"]:
                await asyncio.sleep(rule["latency_ms"] / 1000)
            if rule["status"]:
                return fault_response(rule)
        return None


def public_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k != "regex"}


def fault_response(rule: dict[str, Any]) -> Response:
    status = rule["status"]
    code = {
        403: "AuthorizationFailed",
        429: "TooManyRequests",
        500: "InternalServerError",
        503: "ServiceUnavailable",
    }[status]
    headers = {"Retry-After": str(rule["retry_after"])} if status in (429, 503) else {}
    message = f"Injected fault {rule['id']}: {code}."
    if status == 403:  # ARM's RBAC refusal
        message = (
            f"The client 'emulator-user' with object id '{TENANT_ID}' does not have authorization to "
            f"perform this action over scope '{rule['pattern']}' or the scope is invalid. If access was "
            "recently granted, please refresh your credentials. (Injected fault "
            f"{rule['id']}.)"
        )
    body = ArmError(status, code, message).body()
    return JSONResponse(body, status_code=status, headers=headers)
