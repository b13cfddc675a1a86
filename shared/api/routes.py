"""The API's route table and its dispatcher: ROUTES declares every route once, as a list; `dispatch`
identifies the caller, bounds its rate and the body, and runs the route's handler.

Who calls it: functions/http_api.py (one HTTP trigger per entry of ROUTES) through `shared.api`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from shared.api.actions import approve, plan, pull, sync
from shared.api.call import (
    ApiRequest,
    ApiResponse,
    Call,
    PayloadTooLargeError,
    RateLimitedError,
)
from shared.api.fleet import drift, recall
from shared.api.rules import delete_rule, list_rules, put_rules, validate_rules
from shared.api.verify import verify
from shared.api.views import audit, status
from shared.auth import parse_principal
from shared.engine import Engine
from shared.errors import NotFoundError
from shared.ratelimit import RateLimiter
from shared.storage import StateStore

# --- the route table and the dispatcher -----------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    function_name: str  # the Functions name: explicit, unique, snake_case
    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str  # below /api/
    handler: Callable[[Call], ApiResponse]
    limited: bool = False  # expensive for RegSync and AzureML: tenant callers take a token first


ROUTES: tuple[Route, ...] = (
    Route("api_sync", "POST", "sync", sync, limited=True),
    Route("api_plan", "GET", "plan", plan, limited=True),
    Route("api_pull", "POST", "pull", pull, limited=True),
    Route("api_approve", "POST", "approve", approve),
    Route("api_recall", "POST", "recall", recall, limited=True),
    Route("api_status", "GET", "status", status),
    Route("api_verify", "GET", "verify", verify, limited=True),
    Route("api_drift", "GET", "drift", drift),
    Route("api_audit", "GET", "audit", audit),
    Route("api_rules_list", "GET", "rules", list_rules),
    Route("api_rules_put", "PUT", "rules", put_rules),
    Route("api_rules_validate", "POST", "rules/validate", validate_rules),
    Route("api_rules_delete", "DELETE", "rules/{rule_id}", delete_rule),
)
_BY_KEY: dict[tuple[str, str], Route] = {(route.method, route.path): route for route in ROUTES}


def dispatch(
    request: ApiRequest,
    *,
    engine: Engine[StateStore],
    max_body_bytes: int,
    correlation_id: str,
    limiter: RateLimiter | None = None,
    routes: Iterable[Route] | None = None,
) -> ApiResponse:
    """Identify the caller, bound its rate and the body, run the route (one of `routes`, default ROUTES;
    the status page passes its own). Raises the errors the adapter maps."""
    table: dict[tuple[str, str], Route] = (
        _BY_KEY if routes is None else {(route.method, route.path): route for route in routes}
    )
    route = table.get((request.method.upper(), request.route))
    if route is None:
        raise NotFoundError(f"there is no route {request.method.upper()} /api/{request.route}")
    caller = parse_principal(request.headers)
    if route.limited and limiter is not None and caller.tenant is not None:
        wait = limiter.take(caller.tenant)
        if wait > 0:  # refused before anything is read or written, and not audited (it is logged)
            raise RateLimitedError(
                f"tenant `{caller.tenant}` sent too many {route.path} requests; try again in "
                f"{math.ceil(wait)} s (settings REGSYNC_RATE_LIMIT_PER_MINUTE, REGSYNC_RATE_LIMIT_BURST)",
                retry_after=wait,
            )
    if len(request.body) > max_body_bytes:
        raise PayloadTooLargeError(
            f"the request body has {len(request.body)} bytes; the limit is {max_body_bytes} "
            "(setting REGSYNC_MAX_BODY_BYTES)"
        )
    return route.handler(Call(request, caller, engine, correlation_id))
