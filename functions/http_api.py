"""HTTP triggers for the API under /api/: one function per entry of shared.api.ROUTES and of the status
page's shared.ui.ROUTES, auth level FUNCTION; the page and its files (shared.ui.PUBLIC), ANONYMOUS.

Each function turns its func.HttpRequest into an ApiRequest, calls shared.api.dispatch and turns the
ApiResponse into a func.HttpResponse. Errors are mapped to HTTP here, once (`error_reply`): no principal
-> 401, forbidden -> 403, unknown thing -> 404, body too large -> 413, a tenant over its rate -> 429
with Retry-After, bad input -> 400, conflict -> 409, other permanent failures -> 422, temporary ones ->
503 with Retry-After in whole seconds, anything else -> 500 (logged with its correlation id). Headers
are never logged: the principal and the function key travel in them.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import azure.functions as func

from shared import api, runtime, telemetry, ui
from shared.auth import ForbiddenError, UnauthenticatedError
from shared.engine import new_correlation_id
from shared.errors import Kind, judge
from shared.settings import load_settings

blueprint = func.Blueprint()
log = logging.getLogger("regsync.functions.http_api")
CORRELATION_HEADER = "X-Correlation-Id"


def serve(route: api.Route, req: func.HttpRequest) -> func.HttpResponse:
    correlation_id = new_correlation_id()
    request = api.ApiRequest(
        method=req.method,
        route=route.path,
        params=dict(req.params),
        headers=dict(req.headers),
        body=req.get_body() or b"",
        route_params=dict(req.route_params),
    )
    telemetry.configure()
    # The root of a trace: the pushes a sync, pull or approve queues continue it.
    with telemetry.trigger_span(route.function_name, server=True, correlation_id=correlation_id) as span:
        try:
            reply = api.dispatch(
                request,
                engine=runtime.engine(),
                max_body_bytes=load_settings().max_body_bytes,
                correlation_id=correlation_id,
                limiter=runtime.limiter(),
                routes=(route,),
            )
        except Exception as error:  # the one place where every failure becomes a reply
            reply = error_reply(error, correlation_id)
        span.set_attribute("http.response.status_code", reply.status)
    log.info("[%s] %s /api/%s -> %d", correlation_id, route.method, route.path, reply.status)
    return _response(reply, correlation_id)


def serve_public(route: ui.PublicRoute, req: func.HttpRequest) -> func.HttpResponse:
    """The status page and its files: no caller, no data (the fragments it loads are `serve`d)."""
    correlation_id = new_correlation_id()
    try:
        reply = route.handler(dict(req.route_params))
    except Exception as error:
        reply = error_reply(error, correlation_id)
    return _response(reply, correlation_id)


def _response(reply: api.ApiResponse, correlation_id: str) -> func.HttpResponse:
    body = json.dumps(reply.body) if reply.media_type == api.JSON else reply.body
    return func.HttpResponse(
        body=body,
        status_code=reply.status,
        headers={**reply.headers, CORRELATION_HEADER: correlation_id},
        mimetype=reply.media_type,
    )


def error_reply(error: Exception, correlation_id: str) -> api.ApiResponse:
    status, code, headers = _classify(error)
    message = judge(error).message if status == 503 else str(error)
    if status == 500:
        log.exception("[%s] unexpected failure", correlation_id, exc_info=error)
        message = f"an unexpected error occurred; quote correlation id {correlation_id}"
    body: dict[str, Any] = {"code": code, "message": message}
    if isinstance(error, api.PolicyProblemsError):
        body["problems"] = error.problems
    return api.ApiResponse(status, {"error": body}, headers)


# What only HTTP has, then every other failure by its verdict (shared.errors.judge): one table each.
_HTTP_ONLY: tuple[tuple[type[Exception], int, str], ...] = (
    (UnauthenticatedError, 401, "unauthenticated"),
    (ForbiddenError, 403, "forbidden"),
    (api.PayloadTooLargeError, 413, "payload_too_large"),
)
_BY_KIND: dict[Kind, tuple[int, str]] = {
    Kind.TEMPORARY: (503, "temporarily_unavailable"),
    Kind.NOT_FOUND: (404, "not_found"),
    Kind.INVALID: (400, "invalid_input"),
    Kind.CONFLICT: (409, "conflict"),
    Kind.REFUSED: (403, "forbidden"),
    Kind.PERMANENT: (422, "unprocessable"),
    Kind.UNEXPECTED: (500, "internal"),
}


def _classify(error: Exception) -> tuple[int, str, dict[str, str]]:
    """(status, code, headers). Storage and transport failures are temporary: 503 with Retry-After."""
    if isinstance(error, api.RateLimitedError):
        return 429, "too_many_requests", {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    for kind, status, code in _HTTP_ONLY:
        if isinstance(error, kind):
            return status, code, {}
    failure = judge(error)
    status, code = _BY_KIND[failure.kind]
    if failure.kind is Kind.TEMPORARY:
        return status, code, {"Retry-After": str(max(1, math.ceil(failure.retry_after)))}
    return status, code, {}


def _register(route: api.Route) -> None:
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return serve(route, req)

    handler.__name__ = route.function_name
    triggered = blueprint.route(route=route.path, methods=[route.method], auth_level=func.AuthLevel.FUNCTION)
    blueprint.function_name(name=route.function_name)(triggered(handler))


def _register_public(route: ui.PublicRoute) -> None:
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return serve_public(route, req)

    handler.__name__ = route.function_name
    # No function key: the page and its files hold no data, and a browser cannot send a header when it
    # opens a URL; App Service Authentication still guards them (docs/dashboard.md).
    triggered = blueprint.route(route=route.path, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    blueprint.function_name(name=route.function_name)(triggered(handler))


# The routes are declared once, as lists, in shared.api and shared.ui; each becomes one named function here.
for _route in (*api.ROUTES, *ui.ROUTES):
    _register(_route)
for _public in ui.PUBLIC:
    _register_public(_public)
