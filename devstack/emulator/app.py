"""HTTP surface of the AzureML emulator: the routes the azure-ai-ml SDK calls, declared as one list.

Built by `build_app` (called from `devstack.emulator.__main__`). Each route names a small handler that
parses the request, calls one `State` method and renders the answer in Azure's shape. `endpoint()` wraps
every handler with what all routes share: bearer check (401 like ARM), the request log, injected faults
(admin.py) and `ArmError` -> `{"error": {...}}`. Routing is on the path only: api-version is ignored.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from devstack.emulator import activity_log, admin, blobs, keyvault, scoring
from devstack.emulator.emulator import Emulator
from devstack.emulator.state import ASSET_KINDS, REGISTRY_CONTAINER, ArmError, registry_container
from devstack.emulator.state import Scope as AssetScope
from devstack.emulator.world import PROVIDER

Handler = Callable[[Request, Emulator], Awaitable[Response]]
WS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
REG = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/registries/{reg}"
MFE = "/mferp/managementfrontend"
POLL_MS = "20"  # retry-after-ms: azure-core polls again after 20 ms at the soonest
OPS_API_VERSION = "2024-04-01"
CANONICAL: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"/resourcegroups/", re.I), "/resourceGroups/"),
    (
        re.compile(r"/providers/microsoft\.machinelearningservices/", re.I),
        "/providers/Microsoft.MachineLearningServices/",
    ),
    (re.compile(r"/(online|batch)endpoints(?=/|$)", re.I), lambda m: f"/{m.group(1).lower()}Endpoints"),
]


# The api-versions of Microsoft.MachineLearningServices that azure-ai-ml 1.35 and the recordings send
# (azure/ai/ml/_restclient/*, tests/emulator/recordings), plus the stable REST spec versions.
KNOWN_API_VERSIONS = frozenset(
    {
        "2020-09-01-dataplanepreview",
        "2021-10-01-dataplanepreview",
        "2021-01-01",
        "2021-03-01",
        "2021-03-01-preview",
        "2022-02-01-preview",
        "2022-05-01",
        "2022-10-01",
        "2022-10-01-preview",
        "2023-02-01-preview",
        "2023-03-01-preview",
        "2023-04-01",
        "2023-04-01-preview",
        "2023-06-01-preview",
        "2023-08-01-preview",
        "2023-10-01",
        "2024-01-01-preview",
        "2024-04-01",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-10-01",
        "2024-10-01-preview",
        "2025-01-01-preview",
        "2025-12-01",
        "2026-05-01-preview",
    }
)


def check_api_version(request: Request) -> None:
    """ARM refuses a request without api-version (MissingApiVersionParameter) and one with a version the
    resource type does not have (NoRegisteredProviderFound), both with 400."""
    version = request.query_params.get("api-version")
    if "/providers/Microsoft.Insights/" in request.url.path:
        return  # Microsoft.Insights has its own api-versions: the Activity Log's handler checks them
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version not in KNOWN_API_VERSIONS:
        names = request.url.path.split("/providers/Microsoft.MachineLearningServices/", 1)[-1].split("/")
        rtype = "/".join(names[::2])
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location 'eastus' and API version '{version}' for "
            f"type '{rtype}'. The supported api-versions "
            f"are '{', '.join(sorted(KNOWN_API_VERSIONS))}'.",
        )


class EndpointKind(Convertor[str]):
    """`{etype:etype}`: the two endpoint collections, so they win over the generic `{kind}` routes."""

    regex = "onlineEndpoints|batchEndpoints"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("etype", EndpointKind())


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def arm_error(exc: ArmError) -> JSONResponse:
    return json_response(exc.body(), exc.status, {"x-ms-failure-cause": "service"})


def endpoint(
    pattern: str, handler: Handler, *, auth: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with auth, request log, fault injection and ArmError rendering."""

    async def run(request: Request) -> Response:
        emu: Emulator = request.app.state.emu
        emu.log_request(request.method, pattern)
        if auth and not request.headers.get("authorization", "").lower().startswith("bearer "):
            return arm_error(
                ArmError(
                    401,
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                )
            )
        injected = await emu.faults.apply(request.method, request.url.path)
        if injected is not None:
            emu.log_request(request.method, pattern, faulted=True)
            return injected
        try:
            if auth:
                check_api_version(request)
            return await handler(request, emu)
        except ArmError as exc:
            return arm_error(exc)

    return run


def routes_for(paths: list[tuple[str, Handler, list[str]]], *, auth: bool = True) -> list[Route]:
    return [Route(p, endpoint(p, h, auth=auth), methods=m) for p, h, m in paths]


def asset_scope(request: Request, emu: Emulator) -> AssetScope:
    params = request.path_params
    if "reg" in params:
        return emu.state.registry_scope(params["reg"])
    return emu.state.workspace_scope(params["sub"], params["rg"], params["ws"])


def asset_kind(request: Request) -> str:
    kind = str(request.path_params["kind"])
    if kind not in ASSET_KINDS:
        raise ArmError(
            404, "NoSuchRoute", f"The emulator has no route for {request.method} {request.url.path}"
        )
    return kind


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def self_url(request: Request, emu: Emulator) -> str:
    return emu.base_url + request.url.path


def lro_headers(emu: Emulator, op_id: str, *, with_result: bool, remaining_s: float = 0.0) -> dict[str, str]:
    """Headers of an accepted long-running operation (ARM: Azure-AsyncOperation, Location)."""
    headers = {
        "Azure-AsyncOperation": f"{emu.base_url}/_ops/{op_id}?api-version={OPS_API_VERSION}",
        "x-ms-async-operation-timeout": "PT1H",
    } | poll_headers(remaining_s)
    if with_result:
        headers["Location"] = f"{emu.base_url}/_ops/{op_id}/result?api-version={OPS_API_VERSION}"
    return headers


def poll_headers(remaining_s: float) -> dict[str, str]:
    """When to poll again: when the operation is due (at least 20 ms, at most 1 s). azure-core prefers
    `retry-after-ms`; an integer `Retry-After` of 0 would mean its 5 s default."""
    wait_ms = min(1000, max(int(POLL_MS), int(remaining_s * 1000) + 5))
    return {"retry-after-ms": str(wait_ms)}


# -- cloud, discovery, workspace, datastores ---------------------------------------------------------
async def cloud_metadata(request: Request, emu: Emulator) -> Response:
    return Response(emu.cloud_metadata_json, media_type="application/json")


async def registry_discovery(request: Request, emu: Emulator) -> Response:
    reg = emu.state.registry(request.path_params["reg"])
    return json_response(
        {
            "registryId": reg.registry_id,
            "registryName": reg.name,
            "tenantId": emu.tenant_id,
            "primaryRegion": reg.regions[0],
            "regions": list(reg.regions),
            "subscriptionId": reg.subscription,
            "resourceGroup": reg.resource_group,
            "workspaceName": None,
            "primaryRegionResourceProviderUri": emu.base_url + "/",
            "registryFqdns": {r: {"uri": emu.base_url} for r in reg.regions},
        }
    )


async def registry_get(request: Request, emu: Emulator) -> Response:
    """The registry as an ARM resource, with its regions' storage and ACR (REST spec Registries/get)."""
    reg = emu.state.registry(request.path_params["reg"])
    if reg.subscription.lower() != request.path_params["sub"].lower():
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{PROVIDER}/registries/{reg.name}' under resource group "
            f"'{request.path_params['rg']}' was not found.",
        )
    return json_response(emu.registry_body(reg))


async def workspace_get(request: Request, emu: Emulator) -> Response:
    ws = asset_scope(request, emu).workspace
    assert ws is not None
    return json_response(emu.workspace_body(ws))


async def datastore_list(request: Request, emu: Emulator) -> Response:
    ws = asset_scope(request, emu).workspace
    assert ws is not None
    return json_response({"value": [emu.datastore_body(ws)]})


async def datastore_get(request: Request, emu: Emulator) -> Response:
    ws = asset_scope(request, emu).workspace
    assert ws is not None
    if request.path_params["name"] != "workspaceblobstore":
        raise ArmError(404, "UserError", f"Datastore {request.path_params['name']} not found.")
    return json_response(emu.datastore_body(ws))


async def datastore_secrets(request: Request, emu: Emulator) -> Response:
    asset_scope(request, emu)
    return json_response({"secretsType": "AccountKey", "key": "ZW11bGF0b3Iga2V5"})


# -- assets ---------------------------------------------------------------------------------------------
async def container_list(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    return json_response(
        emu.state.list_containers(scope, kind, dict(request.query_params), self_url(request, emu))
    )


async def container_get(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    return json_response(emu.state.get_container(scope, kind, request.path_params["name"]))


async def container_put(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    props = (await body_of(request)).get("properties") or {}
    return json_response(emu.state.put_container(scope, kind, request.path_params["name"], props))


async def version_list(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    query, url = dict(request.query_params), self_url(request, emu)
    return json_response(emu.state.list_versions(scope, kind, request.path_params["name"], query, url))


async def version_get(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    p = request.path_params
    return json_response(emu.state.get_version(scope, kind, p["name"], p["version"]))


async def version_put(request: Request, emu: Emulator) -> Response:
    """Workspace: synchronous 201/200. Registry: 202 + Location (an operation), as the recordings show."""
    scope, kind = asset_scope(request, emu), asset_kind(request)
    p, props = request.path_params, (await body_of(request)).get("properties") or {}
    status, rendered = emu.state.put_version(scope, kind, p["name"], p["version"], props)
    if scope.workspace:
        return json_response(rendered, status, {"Location": self_url(request, emu)})
    op_id = emu.state.new_operation({"assetId": rendered["id"]})
    headers = {
        "Location": f"{emu.base_url}/_ops/{op_id}",
        "retry-after-ms": POLL_MS,
        "x-ms-async-operation-timeout": "PT1H",
    }
    return Response(status_code=202, headers=headers)


async def version_delete(request: Request, emu: Emulator) -> Response:
    scope, kind = asset_scope(request, emu), asset_kind(request)
    emu.state.delete_version(scope, kind, request.path_params["name"], request.path_params["version"])
    return Response(status_code=200)


async def registry_import(request: Request, emu: Emulator) -> Response:
    """models/environments/data.share: validate now, then answer as an already finished LRO."""
    rendered = emu.state.import_asset(asset_scope(request, emu), await body_of(request))
    op_id = emu.state.new_operation({"assetId": rendered["id"]})
    return Response(status_code=202, headers=lro_headers(emu, op_id, with_result=True))


async def temp_data_ref(request: Request, emu: Emulator) -> Response:
    """Registry uploads: a SAS container URL on the emulator's blob service, one per asset version."""
    scope, p = asset_scope(request, emu), request.path_params
    reg = scope.registry
    assert reg is not None
    emu.state.check_new_registry_version(scope, p["name"], p["version"])
    blob_uri = f"{emu.base_url}/{registry_container(reg.name, p['name'], p['version'])}"
    return json_response(
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": f"{reg.arm_id}/storageAccounts/{reg.name}",
                "credential": {
                    "credentialType": "SAS",
                    "sasUri": f"{blob_uri}?sv=2021-08-06&sr=c&sp=rcwl&sig=emulator",
                    "wasbsUri": None,
                },
            },
            "imageReferenceForConsumption": None,
            "temporaryDataReferenceId": str(uuid.uuid4()),
            "temporaryDataReferenceType": None,
        }
    )


async def start_pending_upload(request: Request, emu: Emulator) -> Response:
    """Workspace code uploads: like tempdatarefs, a SAS container URL on the emulator's blob service."""
    ws, p = asset_scope(request, emu).workspace, request.path_params
    assert ws is not None
    blob_uri = f"{emu.base_url}/blob/{ws.name}/{p['kind']}-{p['name']}-{p['version']}".lower()
    return json_response(
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": f"{ws.arm_id}/storageAccounts/{ws.name}",
                "credential": {
                    "credentialType": "SAS",
                    "sasUri": f"{blob_uri}?sv=2021-08-06&sr=c&sig=emulator",
                },
            },
            "pendingUploadId": str(uuid.uuid4()),
            "pendingUploadType": "TemporaryBlobReference",
        }
    )


def container_url(emu: Emulator, blob_uri: str) -> str:
    """The container of a registry blob URI (`{base}/{container}/{path}`): datarefs give a container SAS."""
    path = blob_uri.removeprefix(emu.base_url + "/")
    return f"{emu.base_url}/{path.split('/', 1)[0]}"


async def data_ref(request: Request, emu: Emulator) -> Response:
    body = await body_of(request)
    blob_uri = str(body.get("blobUri") or "")
    return json_response(
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": None,
                "credential": {
                    "credentialType": "SAS",
                    "sasUri": container_url(emu, blob_uri) + "?sv=2021-08-06&sr=c&sp=rl&sig=emulator",
                    "wasbsUri": None,
                },
            }
        }
    )


# -- endpoints and deployments -------------------------------------------------------------------------
ONLINE_DEPLOYMENT_DEFAULTS = {
    "scaleSettings": {"scaleType": "Default"},
    "endpointComputeType": "Managed",
    "appInsightsEnabled": False,
}


def resource_path(request: Request) -> str:
    p = request.path_params
    path = f"{p['etype']}/{p['endpoint']}"
    return f"{path}/deployments/{p['deployment']}" if "deployment" in p else path


def resource_defaults(request: Request, emu: Emulator, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(defaults the body may override, fields the service owns)."""
    p = request.path_params
    if "deployment" in p:
        defaults = (
            ONLINE_DEPLOYMENT_DEFAULTS if p["etype"] == "onlineEndpoints" else {"computeType": "Managed"}
        )
        return defaults, {}
    ws = asset_scope(request, emu).workspace
    assert ws is not None
    if p["etype"] == "batchEndpoints":
        uri = f"https://{p['endpoint']}.{ws.region}.inference.ml.azure.com/jobs"
        return {"authMode": "AADToken", "defaults": None}, {"scoringUri": uri, "swaggerUri": None}
    uri = scoring.emulated_uri(emu.base_url, p["endpoint"], ws.region)
    owned = {"scoringUri": f"{uri}/score", "swaggerUri": f"{uri}/swagger.json"}
    return {"authMode": "Key", "traffic": {}}, owned


async def resource_put(request: Request, emu: Emulator) -> Response:
    scope, path = asset_scope(request, emu), resource_path(request)
    defaults, owned = resource_defaults(request, emu, path)
    body = await body_of(request)
    if owned:
        body = body | {"properties": (body.get("properties") or {}) | owned}
    status, resource, op = emu.state.put_resource(scope, path, body, defaults)
    headers = lro_headers(emu, op.id, with_result=True, remaining_s=op.remaining_s())
    return json_response(resource, status, headers)


async def resource_get(request: Request, emu: Emulator) -> Response:
    return json_response(emu.state.get_resource(asset_scope(request, emu), resource_path(request)))


async def resource_list(request: Request, emu: Emulator) -> Response:
    p = request.path_params
    prefix = f"{p['etype']}/{p['endpoint']}/deployments" if "endpoint" in p else p["etype"]
    body = emu.state.list_resources(
        asset_scope(request, emu), prefix, dict(request.query_params), self_url(request, emu)
    )
    return json_response(body)


async def resource_delete(request: Request, emu: Emulator) -> Response:
    op = emu.state.delete_resource(asset_scope(request, emu), resource_path(request))
    if op is None:
        return Response(status_code=204)
    headers = lro_headers(emu, op.id, with_result=True, remaining_s=op.remaining_s())
    return Response(status_code=202, headers=headers)


async def endpoint_keys(request: Request, emu: Emulator) -> Response:
    resource = emu.state.get_resource(asset_scope(request, emu), resource_path(request))
    return json_response(scoring.endpoint_keys(resource["id"]))


async def deployment_logs(request: Request, emu: Emulator) -> Response:
    return json_response({"content": "emulated deployment: no container logs"})


# -- long-running operations ------------------------------------------------------------------------------
async def operation_status(request: Request, emu: Emulator) -> Response:
    op = emu.state.ops.get(request.path_params["op"])
    if op is None:
        raise ArmError(404, "NotFound", "Operation not found.")
    headers = poll_headers(op.remaining_s()) if op.status == "InProgress" else {}
    return json_response(op.body(), 200, headers)


async def operation_result(request: Request, emu: Emulator) -> Response:
    """ARM's Location: 202 while the operation runs, then 204 with an EMPTY body (so after a share the
    SDK GETs the version itself, and after a PUT it GETs the resource)."""
    op = emu.state.ops.get(request.path_params["op"])
    if op is None:
        raise ArmError(404, "NotFound", "Operation not found.")
    if op.status == "InProgress":
        return Response(status_code=202, headers=poll_headers(op.remaining_s()))
    return Response(status_code=204)


async def no_route(request: Request, emu: Emulator) -> Response:
    print(f"emulator: no route for {request.method} {request.url.path}", file=sys.stderr, flush=True)
    raise ArmError(404, "NoSuchRoute", f"The emulator has no route for {request.method} {request.url.path}")


def arm_routes(prefix: str) -> list[tuple[str, Handler, list[str]]]:
    """Routes under a workspace or registry prefix, specific ones before the generic asset ones."""
    return [
        (prefix + "/{kind}", container_list, ["GET"]),
        (prefix + "/{kind}/{name}", container_get, ["GET"]),
        (prefix + "/{kind}/{name}", container_put, ["PUT"]),
        (prefix + "/{kind}/{name}/versions", version_list, ["GET"]),
        (prefix + "/{kind}/{name}/versions/{version}", version_get, ["GET"]),
        (prefix + "/{kind}/{name}/versions/{version}", version_put, ["PUT"]),
        (prefix + "/{kind}/{name}/versions/{version}", version_delete, ["DELETE"]),
    ]


def endpoint_routes() -> list[tuple[str, Handler, list[str]]]:
    e, d = WS + "/{etype:etype}/{endpoint}", WS + "/{etype:etype}/{endpoint}/deployments/{deployment}"
    return [
        (WS + "/{etype:etype}", resource_list, ["GET"]),
        (e, resource_get, ["GET"]),
        (e, resource_put, ["PUT"]),
        (e, resource_delete, ["DELETE"]),
        (e + "/listKeys", endpoint_keys, ["POST"]),
        (e + "/deployments", resource_list, ["GET"]),
        (d, resource_get, ["GET"]),
        (d, resource_put, ["PUT"]),
        (d, resource_delete, ["DELETE"]),
        (d + "/getLogs", deployment_logs, ["POST"]),
    ]


def sdk_routes() -> list[Route]:
    """Every route the SDK uses, in matching order (Starlette takes the first match)."""
    open_routes: list[tuple[str, Handler, list[str]]] = [
        ("/metadata/endpoints", cloud_metadata, ["GET"]),
        ("/registrymanagement/v1.0/registries/{reg}/discovery", registry_discovery, ["GET"]),
        ("/_ops/{op}", operation_status, ["GET"]),
        ("/_ops/{op}/result", operation_result, ["GET"]),
    ]
    authed: list[tuple[str, Handler, list[str]]] = [
        (WS, workspace_get, ["GET"]),
        (REG, registry_get, ["GET"]),
        (activity_log.ROUTE, activity_log.list_events, ["GET"]),
        (WS + "/datastores", datastore_list, ["GET"]),
        (WS + "/datastores/{name}", datastore_get, ["GET"]),
        (WS + "/datastores/{name}/listSecrets", datastore_secrets, ["POST"]),
        (WS + "/{kind}/{name}/versions/{version}/startPendingUpload", start_pending_upload, ["POST"]),
        *endpoint_routes(),
    ]
    for prefix in (MFE + REG, REG):
        authed += [
            (prefix + "/import", registry_import, ["POST"]),
            (prefix + "/tempdatarefs/{name}/versions/{version}", temp_data_ref, ["PUT", "POST"]),
            (prefix + "/datarefs/{name}/versions/{version}", data_ref, ["POST"]),
        ]
    authed += arm_routes(WS) + arm_routes(MFE + REG) + arm_routes(REG)
    return (
        [Route("/inference/{host}/score", scoring.score, methods=["POST"])]  # noqa: RUF005
        + routes_for(open_routes, auth=False)
        + routes_for(blobs.ROUTES, auth=False)
        + routes_for(keyvault.ROUTES, auth=False)  # Key Vault's own challenge, not ARM's 401
        + routes_for(authed)
        + routes_for(blobs.REGISTRY_ROUTES, auth=False)
        + routes_for(
            [("/{path:path}", no_route, ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"])], auth=False
        )
    )


class CanonicalPaths:
    """ARM paths are case-insensitive; the SDK mixes `resourcegroups` and `resourceGroups`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope["path"].startswith(("/blob/", "/_admin/", "/inference/"))
            and not REGISTRY_CONTAINER.match(scope["path"].split("/")[1])
        ):
            path = scope["path"]
            for pattern, repl in CANONICAL:
                path = pattern.sub(repl, path)
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


def build_app(emu: Emulator) -> ASGIApp:
    """The ASGI app: admin routes first (no auth, never faulted), then the SDK's routes."""
    app = Starlette(routes=admin.ROUTES + sdk_routes())
    app.state.emu = emu
    app.router.redirect_slashes = False
    emu.started = time.monotonic()
    return CanonicalPaths(app)
