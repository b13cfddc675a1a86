"""HTTP triggers for the API under /api/: one function per entry of shared.api.ROUTES, auth level FUNCTION.

Each function turns its func.HttpRequest into an ApiRequest, calls shared.api.dispatch and turns the
ApiResponse into a func.HttpResponse. Errors are mapped to HTTP here, once (`error_reply`): no principal
-> 401, forbidden -> 403, unknown thing -> 404, body too large -> 413, bad input -> 400, conflict ->
409, other permanent failures -> 422, temporary ones -> 503 with Retry-After in whole seconds, anything
else -> 500 (logged with its correlation id). Headers are never logged: the principal and the function
key travel in them.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import azure.functions as func

from shared import api, runtime
from shared.auth import ForbiddenError, UnauthenticatedError
from shared.engine import new_correlation_id
from shared.errors import ConflictError, InvalidInputError, PermanentError, TemporaryError
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
    try:
        reply = api.dispatch(
            request,
            engine=runtime.engine(),
            max_body_bytes=load_settings().max_body_bytes,
            correlation_id=correlation_id,
        )
    except Exception as error:  # the one place where every failure becomes a reply
        reply = error_reply(error, correlation_id)
    log.info("[%s] %s /api/%s -> %d", correlation_id, route.method, route.path, reply.status)
    return func.HttpResponse(
        body=json.dumps(reply.body),
        status_code=reply.status,
        headers={**reply.headers, CORRELATION_HEADER: correlation_id},
        mimetype="application/json",
    )


def error_reply(error: Exception, correlation_id: str) -> api.ApiResponse:
    status, code, headers = _classify(error)
    message = str(error)
    if status == 500:
        log.exception("[%s] unexpected failure", correlation_id, exc_info=error)
        message = f"an unexpected error occurred; quote correlation id {correlation_id}"
    body: dict[str, Any] = {"code": code, "message": message}
    if isinstance(error, api.PolicyProblemsError):
        body["problems"] = error.problems
    return api.ApiResponse(status, {"error": body}, headers)


def _classify(error: Exception) -> tuple[int, str, dict[str, str]]:
    """(status, code, headers); subclasses are listed before their bases."""
    if isinstance(error, TemporaryError):
        retry_after = str(max(1, math.ceil(error.retry_after)))
        return 503, "temporarily_unavailable", {"Retry-After": retry_after}
    table: tuple[tuple[type[Exception], int, str], ...] = (
        (UnauthenticatedError, 401, "unauthenticated"),
        (ForbiddenError, 403, "forbidden"),
        (api.NotFoundError, 404, "not_found"),
        (api.PayloadTooLargeError, 413, "payload_too_large"),
        (InvalidInputError, 400, "invalid_input"),
        (ConflictError, 409, "conflict"),
        (PermanentError, 422, "unprocessable"),
    )
    for kind, status, code in table:
        if isinstance(error, kind):
            return status, code, {}
    return 500, "internal", {}


def _register(route: api.Route) -> None:
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return serve(route, req)

    handler.__name__ = route.function_name
    triggered = blueprint.route(route=route.path, methods=[route.method], auth_level=func.AuthLevel.FUNCTION)
    blueprint.function_name(name=route.function_name)(triggered(handler))


# The routes are declared once, as a list, in shared.api; each becomes one named function here.
for _route in api.ROUTES:
    _register(_route)
