"""The host's front door: `LocalHost`, a Starlette application serving HTTP triggers under
`/{routePrefix}/...`, the Event Grid webhook `/runtime/webhooks/EventGrid` and the admin routes, whose
lifespan runs the background workers (devstack/host/workers.py).

Built by `build_host` or `LocalHost(...)` in tests (tests/devstack/conftest.py) and by the command line
(devstack/host/__main__.py); served by uvicorn.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from azure.functions import eventgrid as func_eventgrid
from azure.functions import meta as func_meta
from azure.functions import queue as func_queue
from azure.functions import timer as func_timer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from devstack.host.config import HostConfig, HostKeys, max_json_depth, resolve_setting
from devstack.host.discovery import FunctionSpec, discover, invoke_logged
from devstack.host.workers import Workers
from shared.bounded import load_json, shown
from shared.errors import InvalidInputError

log = logging.getLogger("devstack.host")  # one logger for the whole host, named as before the split


@dataclass
class HttpRoute:
    """An HTTP-triggered function's route template compiled to a regex (`{name}`, `{name?}`, `{*rest}`)."""

    spec: FunctionSpec
    pattern: re.Pattern[str]
    methods: frozenset[str]
    auth_level: str

    @classmethod
    def compile(cls, spec: FunctionSpec, prefix: str) -> HttpRoute:
        template = str(spec.trigger.get("route") or spec.name).strip("/")
        regex = "".join(_segment_regex(segment) for segment in template.split("/") if segment)
        prefix_regex = "/" + re.escape(prefix) if prefix else ""
        methods = frozenset(str(m).upper() for m in spec.trigger.get("methods") or ())
        auth = str(spec.trigger.get("authLevel", "FUNCTION")).upper()
        return cls(spec, re.compile(f"^{prefix_regex}{regex}/?$", re.IGNORECASE), methods, auth)

    def match(self, path: str, method: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None or (self.methods and method not in self.methods):
            return None
        return {key: value for key, value in found.groupdict().items() if value is not None}


def _segment_regex(segment: str) -> str:
    parameter = re.fullmatch(r"\{(\*?)([A-Za-z_]\w*)(?::[^}?]*)?(\??)\}", segment)
    if parameter is None:
        return "/" + re.escape(segment)
    catch_all, name, optional = parameter.groups()
    body = f"(?P<{name}>.+)" if catch_all else f"(?P<{name}>[^/]+)"
    return f"(?:/{body})?" if optional or catch_all else f"/{body}"


class LocalHost:
    """The discovered app plus everything needed to serve it; `.asgi` is the Starlette application."""

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        settings: Mapping[str, str] | None = None,
        config: HostConfig | None = None,
        keys: HostKeys | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self.settings = settings if settings is not None else os.environ
        config = config or HostConfig()
        if poll_interval is not None:
            config = dataclasses.replace(config, max_polling_interval=poll_interval)
        self.config = config
        self.keys = keys or HostKeys.from_settings(self.settings)
        self.max_json_depth = max_json_depth(self.settings)
        self.functions = {spec.name: spec for spec in discover(app)}
        self.http_routes = [
            HttpRoute.compile(spec, config.route_prefix)
            for spec in self.functions.values()
            if spec.trigger_type == "httpTrigger"
        ]
        self._workers = Workers(self.functions.values(), self.settings, config)
        self.asgi = Starlette(routes=self._routes(), lifespan=self._lifespan)

    def _routes(self) -> list[Route]:
        return [
            Route("/admin/host/status", self.host_status, methods=["GET"]),
            Route("/admin/functions", self.list_functions, methods=["GET"]),
            Route("/admin/functions/{name}", self.invoke_admin, methods=["POST"]),
            Route("/runtime/webhooks/{extension}", self.eventgrid_webhook, methods=["POST", "OPTIONS"]),
            Route("/{path:path}", self.http_trigger, methods=_ALL_METHODS),
        ]

    # -- lifecycle ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self.start_workers()
        try:
            yield
        finally:
            await run_in_threadpool(self.stop_workers)

    def start_workers(self) -> None:
        """One thread per queue- or timer-triggered function."""
        self._workers.start()

    def stop_workers(self, timeout: float = 30.0) -> None:
        self._workers.stop(timeout)

    # -- authorization ---------------------------------------------------------------------------------

    def _presented_key(self, request: Request) -> str:
        return request.headers.get("x-functions-key") or request.query_params.get("code") or ""

    def _authorized(self, request: Request, *accepted: str) -> bool:
        presented = self._presented_key(request).encode()
        return any(hmac.compare_digest(presented, key.encode()) for key in accepted)

    def _http_authorized(self, request: Request, auth_level: str) -> bool:
        if auth_level == "ANONYMOUS":
            return True
        if auth_level == "ADMIN":
            return self._authorized(request, self.keys.master)
        return self._authorized(request, self.keys.function, self.keys.master)

    # -- admin routes ----------------------------------------------------------------------------------

    async def host_status(self, request: Request) -> Response:
        if not self._authorized(request, self.keys.master):
            return _unauthorized()
        return JSONResponse({"state": "Running", "functions": len(self.functions)})

    async def list_functions(self, request: Request) -> Response:
        if not self._authorized(request, self.keys.master):
            return _unauthorized()
        return JSONResponse([_describe(spec, self.settings) for spec in self.functions.values()])

    async def invoke_admin(self, request: Request) -> Response:
        """The real host's admin invoke for non-HTTP functions: 202 and run in the background."""
        if not self._authorized(request, self.keys.master):
            return _unauthorized()
        spec = self.functions.get(request.path_params["name"])
        if spec is None or spec.trigger_type == "httpTrigger":
            return PlainTextResponse("no such non-HTTP function", status_code=404)
        body = await request.body()
        text = str(json.loads(body).get("input", "")) if body else ""
        argument = _admin_argument(spec, text)
        thread = threading.Thread(target=_swallow, args=(spec, argument), daemon=True)
        thread.start()
        return Response(status_code=202)

    # -- Event Grid webhook ----------------------------------------------------------------------------

    async def eventgrid_webhook(self, request: Request) -> Response:
        """The Event Grid extension's webhook. A malformed delivery gets a 400 with RegSync's JSON error
        body, never a 5xx: the body is parsed by `shared.bounded.load_json` (bounded depth, duplicate
        keys, NaN, bad UTF-8) and every shape is checked before use. 401 and 404 keep plain-text bodies:
        the real host's are not JSON either (azure-functions-host FunctionInvocationMiddleware answers
        an empty UnauthorizedResult/NotFoundResult; the extension's 404 is the text `cannot find
        function`)."""
        if request.path_params["extension"].lower() != "eventgrid":
            return PlainTextResponse("unknown extension", status_code=404)
        if not self._authorized(request, self.keys.eventgrid, self.keys.master):
            return _unauthorized()
        if request.method == "OPTIONS":
            return _cloudevents_validation(request)
        spec = self.functions.get(request.query_params.get("functionName", ""))
        if spec is None or spec.trigger_type != "eventGridTrigger":
            return PlainTextResponse("cannot find function", status_code=404)
        kind = request.headers.get("aeg-event-type", "")
        try:
            payload = load_json(await request.body(), max_depth=self.max_json_depth, what="the delivery")
            events = _as_event_list(payload)
        except InvalidInputError as error:
            return _invalid_input(str(error))
        if kind == "SubscriptionValidation":
            log.info("%s: Event Grid subscription validation answered", spec.name)
            return _subscription_validation(events)
        if kind == "Notification":
            failures = await run_in_threadpool(self._deliver_events, spec, events)
            return Response(status_code=500 if failures else 202)
        return _invalid_input("the aeg-event-type header is missing or unknown")

    def _deliver_events(self, spec: FunctionSpec, events: list[dict[str, Any]]) -> int:
        """Invoke once per event; the count of the function's failures decides 202 or 500 for the batch.

        An event the library's converter cannot decode (`eventTime: "yesterday"` is a ValueError) is
        malformed: logged and acknowledged on its own, its neighbours still delivered, since redelivering
        it cannot help. Only an exception raised by the function itself makes the batch a 500, which is
        what makes Event Grid redeliver. The real host differs here: the Python worker decodes inside
        the invocation (azure-functions-python-worker, dispatcher.py `_handle__invocation_request`:
        `bindings.from_incoming_proto` and the call share one try, any exception is a failed
        invocation), and the Event Grid extension answers 500 if any invocation failed (azure-sdk-for-net,
        Microsoft.Azure.WebJobs.Extensions.EventGrid, EventGridExtensionConfigProvider.ProcessEventsAsync),
        so Azure redelivers such a batch until its retry policy gives up. A deliberate difference, listed
        in docs/local-stack.md ("Differences from the real Functions host").
        """
        failures = 0
        for raw in events:
            name = shown(str(raw.get("id")))
            try:
                event = func_eventgrid.EventGridEventInConverter.decode(
                    func_meta.Datum(json.dumps(raw), "json"), trigger_metadata={}
                )
            except Exception as error:  # the converter raises ValueError, TypeError, ... on bad fields
                log.warning(
                    "%s: event %s is malformed (%s: %s); acknowledged, the function was not invoked",
                    spec.name,
                    name,
                    type(error).__name__,
                    shown(str(error), 200),
                )
                continue
            try:
                invoke_logged(spec, event, f"event {name}")
            except Exception:
                failures += 1
                log.warning("%s: event %s failed; Event Grid will redeliver the batch", spec.name, name)
        return failures

    # -- HTTP triggers ---------------------------------------------------------------------------------

    async def http_trigger(self, request: Request) -> Response:
        path, method = request.url.path.rstrip("/") or "/", request.method
        for route in self.http_routes:
            route_params = route.match(path, method)
            if route_params is None:
                continue
            if not self._http_authorized(request, route.auth_level):
                return _unauthorized()
            http_request = func.HttpRequest(
                method=method,
                url=str(request.url),
                headers=dict(request.headers),
                params=dict(request.query_params),
                route_params=route_params,
                body=await request.body(),
            )
            return await run_in_threadpool(_call_http, route.spec, http_request)
        return PlainTextResponse("not found", status_code=404)


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _unauthorized() -> Response:
    return PlainTextResponse("unauthorized", status_code=401)


def _invalid_input(message: str) -> Response:
    """A malformed delivery: 400 with RegSync's error body (docs/api.md, "Errors")."""
    return JSONResponse({"error": {"code": "invalid_input", "message": message}}, status_code=400)


def _describe(spec: FunctionSpec, settings: Mapping[str, str]) -> dict[str, Any]:
    """A function as `GET /admin/functions` shows it, with `%SETTING%` expressions resolved when set."""
    binding: dict[str, Any] = {}
    for key, value in spec.trigger.items():
        if key in ("direction", "name"):
            continue
        with contextlib.suppress(KeyError):
            value = resolve_setting(value, settings) if isinstance(value, str) else value
        binding[key] = value
    return {"name": spec.name, "trigger": spec.trigger_type, "binding": binding}


def _admin_argument(spec: FunctionSpec, text: str) -> Any:
    if spec.trigger_type == "timerTrigger":
        return func_timer.TimerRequest(past_due=False)
    if spec.trigger_type == "queueTrigger":
        return func_queue.QueueMessage(id=secrets.token_hex(8), body=text, dequeue_count=1)
    return func_eventgrid.EventGridEventInConverter.decode(func_meta.Datum(text, "json"), trigger_metadata={})


def _swallow(spec: FunctionSpec, argument: Any) -> None:
    with contextlib.suppress(Exception):  # invoke_logged has reported it
        invoke_logged(spec, argument, "admin invoke")


def _call_http(spec: FunctionSpec, request: func.HttpRequest) -> Response:
    try:
        # The path only: the query string may carry the key (`code=`), which is never logged.
        result = invoke_logged(spec, request, f"{request.method} {urlsplit(request.url).path}")
    except Exception:
        return PlainTextResponse("function failed", status_code=500)
    return _to_starlette(result)


def _to_starlette(result: Any) -> Response:
    """The HttpResponse (or str/bytes/None, which the worker also accepts) as a Starlette response."""
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str | bytes):
        return Response(result, status_code=200, media_type="text/plain")
    headers = dict(result.headers)
    if result.mimetype and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
    return Response(result.get_body(), status_code=result.status_code, headers=headers)


def _as_event_list(payload: Any) -> list[dict[str, Any]]:
    events = payload if isinstance(payload, list) else [payload]
    if not events or not all(isinstance(event, dict) for event in events):
        raise InvalidInputError("the delivery is not a JSON event or a non-empty array of events")
    return events


def _subscription_validation(events: list[dict[str, Any]]) -> Response:
    data = events[0].get("data")
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        return _invalid_input("the validation event has no data.validationCode string")
    return JSONResponse({"validationResponse": code})


def _cloudevents_validation(request: Request) -> Response:
    """CloudEvents 1.0 abuse protection: echo the origin to allow deliveries from it."""
    origin = request.headers.get("webhook-request-origin")
    if not origin:
        return _invalid_input("the WebHook-Request-Origin header is missing")
    return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})


def build_host(
    app: func.FunctionApp,
    *,
    app_dir: Path | None = None,
    settings: Mapping[str, str] | None = None,
    config: HostConfig | None = None,
    keys: HostKeys | None = None,
    poll_interval: float | None = None,
) -> LocalHost:
    """A LocalHost for `app`, reading host.json from `app_dir` (default: the current directory)."""
    config = config or HostConfig.load((app_dir or Path.cwd()) / "host.json")
    return LocalHost(app, settings=settings, config=config, keys=keys, poll_interval=poll_interval)
