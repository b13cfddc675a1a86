"""The status page's routes: the page and its two files (no data, no function key: see PUBLIC) and the
fragments it loads (ROUTES: behind the function key and the caller's principal, like the API).

Who calls it: functions/http_api.py registers PUBLIC with auth level ANONYMOUS and ROUTES with FUNCTION,
and passes ROUTES to shared.api.dispatch, which identifies the caller and bounds its rate as for the API.
Approve and "sync now" are not here: the page calls `POST /api/approve` and `POST /api/sync` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.api import Route
from shared.api.actions import plan as api_plan
from shared.api.call import ApiResponse, Call
from shared.errors import NotFoundError
from shared.ui.detail import detail
from shared.ui.matrix import matrix
from shared.ui.render import HERE, SECURITY_HEADERS, compressed, html

STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def page_matrix(call: Call) -> ApiResponse:
    return compressed(html("matrix.html", m=matrix(call)), call.request.headers)


def page_cell(call: Call) -> ApiResponse:
    return compressed(html("cell.html", d=detail(call)), call.request.headers)


def page_plan(call: Call) -> ApiResponse:
    """The plan of `GET /api/plan` (the same handler, checks and rate limit), as a list."""
    reply = api_plan(call)
    return html("plan.html", plan=reply.body)


ROUTES: tuple[Route, ...] = (
    Route("ui_matrix", "GET", "ui/matrix", page_matrix),
    Route("ui_cell", "GET", "ui/cell", page_cell),
    Route("ui_plan", "GET", "ui/plan", page_plan, limited=True),
)


@dataclass(frozen=True)
class PublicRoute:
    function_name: str
    path: str  # below /api/
    handler: Callable[[Mapping[str, str]], ApiResponse]  # route parameters -> reply


def page(_: Mapping[str, str]) -> ApiResponse:
    """The page itself: the frame the script fills in once the person has signed in."""
    return html("page.html", cache="no-cache")


def static(route_params: Mapping[str, str]) -> ApiResponse:
    name = route_params.get("name", "")
    if name not in STATIC:
        raise NotFoundError("there is no such file of the status page")
    body = (HERE / "static" / name).read_bytes()
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return ApiResponse(200, body, headers, media_type=STATIC[name])


PUBLIC: tuple[PublicRoute, ...] = (
    PublicRoute("ui_page", "ui", page),
    PublicRoute("ui_static", "ui/static/{name}", static),
)
