"""The Azure Activity Log of each subscription: every ARM write to a workspace asset version, queryable
by time range, as `GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`.

`Emulator` records a workspace version's PUT (create, update, archive) and DELETE here; the route serves
them in the Activity Log's EventData shape (REST reference "Activity Logs - List", api-version
2015-04-01; "Azure Activity Log event schema", Administrative category): a Started and a Succeeded
record per write sharing one correlationId, paged with nextLink. Like Azure, `$filter` is required and
must bound eventTimestamp from below (at most 90 days back); only the subscription-wide pattern, with or
without `resourceProvider eq '...'`, is understood here, anything else is the 400 Azure gives.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.emulator.state import ArmError
from devstack.emulator.world import PROVIDER, Workspace

if TYPE_CHECKING:
    from devstack.emulator.emulator import Emulator

ROUTE = "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"
API_VERSION = "2015-04-01"  # the only api-version of ActivityLogs_List
PAGE_SIZE = 200
RETENTION = dt.timedelta(days=90)
_FILTER = re.compile(
    r"^\s*eventTimestamp\s+ge\s+'(?P<ge>[^']+)'"
    r"(?:\s+and\s+eventTimestamp\s+le\s+'(?P<le>[^']+)')?"
    r"(?:\s+and\s+resourceProvider\s+eq\s+'(?P<provider>[^']+)')?\s*$",
    re.I,
)


def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise _invalid_filter() from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _invalid_filter() -> ArmError:
    return ArmError(400, "BadRequest", "$filter searching parameters invalid")


class ActivityLog:
    """Per-subscription records in time order (writes arrive in time order, so appending keeps it)."""

    def __init__(self) -> None:
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._times: dict[str, list[dt.datetime]] = {}  # each record's time, for bisecting a range
        self._lock = threading.Lock()

    def record(self, ws: Workspace, kind: str, name: str, version: str, *, deleted: bool = False) -> None:
        """One write as Azure logs it: a Started and a Succeeded record of one operation."""
        now = dt.datetime.now(dt.UTC)
        verb = "delete" if deleted else "write"
        operation = f"{PROVIDER}/workspaces/{kind}/versions/{verb}"
        resource_id = f"{ws.arm_id}/{kind}/{name}/versions/{version}"
        correlation = str(uuid.uuid4())
        with self._lock:
            records = self._records.setdefault(ws.subscription.lower(), [])
            times = self._times.setdefault(ws.subscription.lower(), [])
            for status, sub_status in (("Started", ""), ("Succeeded", "OK" if deleted else "Created")):
                event_id = str(uuid.uuid4())
                records.append(
                    {
                        "authorization": {"action": operation, "scope": resource_id},
                        "caller": "emulator@example.com",
                        "category": {"value": "Administrative", "localizedValue": "Administrative"},
                        "correlationId": correlation,
                        "eventDataId": event_id,
                        "eventName": {
                            "value": "BeginRequest" if status == "Started" else "EndRequest",
                            "localizedValue": "Begin request" if status == "Started" else "End request",
                        },
                        "eventTimestamp": _iso(now),
                        "id": f"{resource_id}/events/{event_id}/ticks/{int(now.timestamp() * 1e7)}",
                        "level": "Informational",
                        "operationId": correlation,
                        "operationName": {"value": operation, "localizedValue": operation},
                        "resourceGroupName": ws.resource_group,
                        "resourceProviderName": {"value": PROVIDER, "localizedValue": PROVIDER},
                        "resourceType": {
                            "value": f"{PROVIDER}/workspaces/{kind}/versions",
                            "localizedValue": f"{PROVIDER}/workspaces/{kind}/versions",
                        },
                        "resourceId": resource_id,
                        "status": {"value": status, "localizedValue": status},
                        "subStatus": {"value": sub_status, "localizedValue": sub_status},
                        "submissionTimestamp": _iso(now),
                        "subscriptionId": ws.subscription,
                        "tenantId": "",
                    }
                )
                times.append(now)

    def page(self, subscription: str, query: dict[str, str], url: str) -> dict[str, Any]:
        """One page of the records the filter selects, oldest first; nextLink while more remain."""
        match = _FILTER.match(query.get("$filter", ""))
        if match is None:
            raise _invalid_filter()
        now = dt.datetime.now(dt.UTC)
        start = _parse_time(match["ge"])
        end = _parse_time(match["le"]) if match["le"] else now
        if start < now - RETENTION or end < start:
            raise ArmError(
                400,
                "BadRequest",
                "The start time of the query must be within the last 90 days and before its end time.",
            )
        provider = (match["provider"] or "").lower()
        with self._lock:
            records = self._records.get(subscription.lower(), [])
            times = self._times.get(subscription.lower(), [])
            chosen = records[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
        selected = [
            body
            for body in chosen
            if not provider or body["resourceProviderName"]["value"].lower() == provider
        ]
        skip = int(query.get("$skipToken") or 0)
        body: dict[str, Any] = {"value": selected[skip : skip + PAGE_SIZE]}
        if skip + PAGE_SIZE < len(selected):
            kept = {k: v for k, v in query.items() if k != "$skipToken"}
            body["nextLink"] = f"{url}?{urlencode(kept | {'$skipToken': str(skip + PAGE_SIZE)})}"
        return body


async def list_events(request: Request, emu: Emulator) -> Response:
    """ActivityLogs_List: only api-version 2015-04-01 exists for it (ARM answers another with 400)."""
    if request.query_params.get("api-version") != API_VERSION:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{request.query_params.get('api-version')}' is invalid. "
            f"The supported versions are '{API_VERSION}'.",
        )
    url = emu.base_url + request.url.path
    return JSONResponse(emu.activity_log.page(request.path_params["sub"], dict(request.query_params), url))
