"""Admin routes under /_admin/ (no auth, never faulted): event subscriptions, faults, request log, dump.

Used by tests, benchmarks and the local stack through `launch.EmulatorAdmin`; the routes are listed in
`ROUTES` and documented in docs/emulator.md.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.emulator.events import SubscriptionRefusedError
from devstack.emulator.provisioning import FAILURES, Plan
from devstack.emulator.state import ArmError
from devstack.emulator.world import parse_event_subscription

if TYPE_CHECKING:
    from devstack.emulator.emulator import Emulator


def emu_of(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emu
    return emu


def bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"code": "BadRequest", "message": message}}, status_code=status)


async def json_body(request: Request) -> dict[str, Any]:
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


async def add_subscription(request: Request) -> Response:
    """Register a webhook; answers 201 only after the validation handshake succeeded."""
    try:
        sub = parse_event_subscription(await json_body(request))
        await run_in_threadpool(emu_of(request).dispatcher.subscribe, sub)
    except ValueError as exc:
        return bad_request(str(exc))
    except SubscriptionRefusedError as exc:
        return bad_request(str(exc), 409)
    return JSONResponse(dataclasses.asdict(sub), status_code=201)


async def list_subscriptions(request: Request) -> Response:
    return JSONResponse(
        {"value": [dataclasses.asdict(s) for s in emu_of(request).dispatcher.subscriptions()]}
    )


async def delete_subscription(request: Request) -> Response:
    found = emu_of(request).dispatcher.unsubscribe(request.path_params["name"])
    return Response(status_code=200 if found else 204)


async def list_deliveries(request: Request) -> Response:
    return JSONResponse({"value": emu_of(request).dispatcher.attempts()})


async def reset_deliveries(request: Request) -> Response:
    emu_of(request).dispatcher.reset_attempts()
    return Response(status_code=204)


async def add_fault(request: Request) -> Response:
    try:
        rule = emu_of(request).faults.add(await json_body(request))
    except (KeyError, ValueError) as exc:
        return bad_request(f"invalid fault: {exc}")
    return JSONResponse(rule, status_code=201)


async def list_faults(request: Request) -> Response:
    return JSONResponse({"value": emu_of(request).faults.listing()})


async def clear_faults(request: Request) -> Response:
    emu_of(request).faults.rules.clear()
    return Response(status_code=204)


async def request_log(request: Request) -> Response:
    return JSONResponse({"value": emu_of(request).request_counts()})


async def reset_request_log(request: Request) -> Response:
    emu_of(request).reset_requests()
    return Response(status_code=204)


async def dump(request: Request) -> Response:
    return JSONResponse(emu_of(request).state.dump())


async def add_provisioning_plan(request: Request) -> Response:
    """How the next PUT(s) of one endpoint/deployment provision: delay and/or an injected failure."""
    try:
        body = await json_body(request)
        emu = emu_of(request)
        ws = emu.state.workspace_named(str(body["workspace"]))
        collection = "batchEndpoints" if body.get("batch") else "onlineEndpoints"
        path = f"{collection}/{body['endpoint']}"
        if body.get("deployment"):
            path += f"/deployments/{body['deployment']}"
        failure = body.get("failure")
        if isinstance(failure, str):
            failure = {"kind": failure}
        if failure is not None and not (failure.get("kind") in FAILURES or failure.get("code")):
            raise ValueError(f"failure must be one of {sorted(FAILURES)} or {{code, message}}")
        delay = body.get("delaySeconds")
        plan = Plan(
            delay_s=float(delay) if delay is not None else None,
            failure=failure,
            times=int(body["times"]) if body.get("times", 1) is not None else None,
        )
        key = f"{ws.arm_id}/{path}".lower()
        emu.state.ops.plans[key] = plan
    except (KeyError, ValueError, TypeError) as exc:
        return bad_request(f"invalid provisioning plan: {exc}")
    return JSONResponse(plan.public(key), status_code=201)


async def list_provisioning(request: Request) -> Response:
    ops = emu_of(request).state.ops
    plans = [plan.public(key) for key, plan in ops.plans.items()]
    return JSONResponse({"delays": ops.delays, "speed": ops.speed, "value": plans})


async def clear_provisioning(request: Request) -> Response:
    emu_of(request).state.ops.plans.clear()
    return Response(status_code=204)


async def set_provisioning_delays(request: Request) -> Response:
    """Default delays (seconds, before --speed) of endpoints and deployments, for the whole world."""
    try:
        body = await json_body(request)
        ops = emu_of(request).state.ops
        for kind in ("endpoint", "deployment"):
            if body.get(kind) is not None:
                ops.delays[kind] = float(body[kind])
    except (ValueError, TypeError) as exc:
        return bad_request(f"invalid delays: {exc}")
    return JSONResponse({"delays": ops.delays})


async def set_registry_access(request: Request) -> Response:
    """Admit or refuse a workspace at a registry (refused: 403 on every use of the registry)."""
    try:
        body = await json_body(request)
        state = emu_of(request).state
        registry = state.registry(str(body["registry"]))
        ws = state.workspace_named(str(body["workspace"]))
        pair = (registry.name.lower(), ws.name.lower())
        if body.get("allowed", True):
            state.denied.discard(pair)
        else:
            state.denied.add(pair)
    except (KeyError, ValueError, ArmError) as exc:
        return bad_request(f"invalid registry access: {exc}")
    return JSONResponse({"denied": sorted(f"{r}/{w}" for r, w in state.denied)})


async def tamper_registry_file(request: Request) -> Response:
    """Overwrite (or add) one file of a registry model version's copy in the registry's storage, as
    anyone with write access to that storage account could after the share: the version's metadata and
    tags stay as they are. Body: {registry, name, version, file, content (base64)}."""
    try:
        body = await json_body(request)
        state = emu_of(request).state
        scope = state.registry_scope(str(body["registry"]))
        item = scope.assets[("models", str(body["name"]))].versions[str(body["version"])]
        prefix = state.blob_prefix(str(item.properties.get("modelUri", "")))
        if prefix is None:
            raise ValueError("the version has no files in the registry's storage")
        file = str(body["file"])
        if not file or file.startswith("/") or ".." in file.split("/"):
            raise ValueError(f"file `{file}` is not a path inside the model's folder")
        key = f"{prefix.rstrip('/')}/{file}"
        _, meta = state.blobs.get(key, (b"", {}))
        state.blobs[key] = (base64.b64decode(str(body["content"]), validate=True), meta)
    except (KeyError, ValueError, TypeError, ArmError, binascii.Error) as exc:
        return bad_request(f"invalid registry file change: {exc}")
    return JSONResponse({"blob": key}, status_code=200)


MAX_SEEDED = 10_000


def seed_models_now(state: Any, workspace: str, prefix: str, count: int) -> int:
    ws = state.workspace_named(workspace)
    scope = state.scopes[f"ws:{ws.arm_id.lower()}"]
    for index in range(count):
        name = f"{prefix}{index}"
        uri = f"azureml://datastores/workspaceblobstore/paths/models/{name}/"
        state.put_version(scope, "models", name, "1", {"modelUri": uri, "modelType": "custom_model"})
    return count


async def seed_models(request: Request) -> Response:
    """Register `count` models `{prefix}{i}` (version 1, a datastore path) in a workspace at once, as
    the model versions PUT would one by one: a benchmark's large inventory without 100,000 requests."""
    try:
        body = await json_body(request)
        count = int(body["count"])
        if not 0 < count <= MAX_SEEDED:
            raise ValueError(f"count must be 1..{MAX_SEEDED}")
        seeded = await run_in_threadpool(
            seed_models_now, emu_of(request).state, str(body["workspace"]), str(body["prefix"]), count
        )
    except (KeyError, ValueError, TypeError, ArmError) as exc:
        return bad_request(f"invalid seed: {exc}")
    return JSONResponse({"seeded": seeded}, status_code=201)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "baseUrl": emu_of(request).base_url})


ROUTES: list[Route] = [
    Route("/_admin/health", health, methods=["GET"]),
    Route("/_admin/eventSubscriptions", list_subscriptions, methods=["GET"]),
    Route("/_admin/eventSubscriptions", add_subscription, methods=["POST"]),
    Route("/_admin/eventSubscriptions/{name}", delete_subscription, methods=["DELETE"]),
    Route("/_admin/deliveries", list_deliveries, methods=["GET"]),
    Route("/_admin/deliveries", reset_deliveries, methods=["DELETE"]),
    Route("/_admin/faults", list_faults, methods=["GET"]),
    Route("/_admin/faults", add_fault, methods=["POST"]),
    Route("/_admin/faults", clear_faults, methods=["DELETE"]),
    Route("/_admin/requests", request_log, methods=["GET"]),
    Route("/_admin/requests", reset_request_log, methods=["DELETE"]),
    Route("/_admin/dump", dump, methods=["GET"]),
    Route("/_admin/provisioning", list_provisioning, methods=["GET"]),
    Route("/_admin/provisioning", add_provisioning_plan, methods=["POST"]),
    Route("/_admin/provisioning", clear_provisioning, methods=["DELETE"]),
    Route("/_admin/provisioning/delays", set_provisioning_delays, methods=["PUT"]),
    Route("/_admin/registryAccess", set_registry_access, methods=["POST"]),
    Route("/_admin/registryFiles", tamper_registry_file, methods=["PUT"]),
    Route("/_admin/seedModels", seed_models, methods=["POST"]),
]
