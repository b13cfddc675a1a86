"""Admin routes under /_admin/ (no auth, never faulted): event subscriptions, faults, request log, dump.

Used by tests, benchmarks and the local stack through `launch.EmulatorAdmin`; the routes are listed in
`ROUTES` and documented in docs/emulator.md.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.emulator.events import SubscriptionRefusedError
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
]
