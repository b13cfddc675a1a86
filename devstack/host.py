"""A local stand-in for the Azure Functions host, for a Python v2-model `func.FunctionApp`.

Core Tools cannot be installed on our machines, so the local stack (`python -m devstack up`), the demo
and the tests run the function app through this module instead. Everything is discovered from
`app.get_functions()` and served the way the real host does it:

- HTTP triggers under `/{routePrefix}/{route}` with route parameters, methods and key authorization;
- the Event Grid webhook `/runtime/webhooks/EventGrid?functionName=NAME` (handshake, 202, 500 on any
  failed event of a batch);
- queue triggers polled from Azure Storage with host.json's retry and poison-queue behaviour;
- timer triggers on their NCRONTAB schedule;
- `GET /admin/functions`, `POST /admin/functions/{name}` and `GET /admin/host/status` (master key).

Run it as `python -m devstack.host --app function_app:app --port 7071 [--settings local.settings.json]`,
or in-process with `build_host(app)` and any ASGI server (the tests run uvicorn in a thread).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hmac
import importlib
import inspect
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions import eventgrid as func_eventgrid
from azure.functions import meta as func_meta
from azure.functions import queue as func_queue
from azure.functions import timer as func_timer
from azure.storage.queue import (
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)
from azure.storage.queue import QueueMessage as StorageQueueMessage
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger("devstack.host")

FUNCTION_KEY_SETTING = "REGSYNC_LOCAL_FUNCTION_KEY"
MASTER_KEY_SETTING = "REGSYNC_LOCAL_MASTER_KEY"
EVENTGRID_KEY_SETTING = "REGSYNC_LOCAL_EVENTGRID_KEY"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
# How long a message being processed stays invisible; the real host renews a 10-minute lease.
IN_FLIGHT_VISIBILITY_SECONDS = 300
FIRST_POLL_SECONDS = 0.1


# ---------------------------------------------------------------------------------------------------
# Configuration: host.json, keys, app settings
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostConfig:
    """The host.json values the local host honours (names as in host.json, defaults as Azure's)."""

    route_prefix: str = "api"
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    batch_size: int = 16
    max_polling_interval: float = 2.0

    @classmethod
    def from_host_json(cls, raw: Mapping[str, Any]) -> HostConfig:
        extensions = raw.get("extensions", {})
        http = extensions.get("http", {})
        queues = extensions.get("queues", {})
        return cls(
            route_prefix=str(http.get("routePrefix", "api")).strip("/"),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(queues.get("visibilityTimeout", "00:00:00")),
            batch_size=int(queues.get("batchSize", 16)),
            max_polling_interval=parse_timespan(queues.get("maxPollingInterval", "00:00:02")),
        )

    @classmethod
    def load(cls, path: Path) -> HostConfig:
        """Read host.json if it exists; a missing file means Azure's defaults."""
        if not path.exists():
            return cls()
        return cls.from_host_json(json.loads(path.read_text(encoding="utf-8")))


def parse_timespan(value: str | float | int) -> float:
    """host.json timespans are `hh:mm:ss[.fff]` (a bare number is read as milliseconds, as .NET does)."""
    if isinstance(value, int | float):
        return float(value) / 1000.0
    parts = value.split(":")
    if len(parts) != 3:
        raise ValueError(f"host.json timespan `{value}` is not hh:mm:ss")
    hours, minutes, seconds = parts
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class HostKeys:
    """The three keys the real host knows: a function key, the master key and the Event Grid system key."""

    function: str
    master: str
    eventgrid: str

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> HostKeys:
        def pick(name: str) -> str:
            return settings.get(name) or secrets.token_urlsafe(32)

        return cls(pick(FUNCTION_KEY_SETTING), pick(MASTER_KEY_SETTING), pick(EVENTGRID_KEY_SETTING))


def resolve_setting(value: str, settings: Mapping[str, str]) -> str:
    """Resolve `%NAME%` app-setting expressions the way binding attributes are resolved."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise KeyError(f"app setting `{name}` (used as `%{name}%` in a binding) is not set")
        return settings[name]

    return re.sub(r"%([^%]+)%", lookup, value)


def load_settings_file(path: Path) -> dict[str, str]:
    """The `Values` of a local.settings.json-style file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in raw.get("Values", {}).items()}


# ---------------------------------------------------------------------------------------------------
# Discovery: what app.get_functions() declares
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the app: its name, its trigger binding (as in function.json) and its code."""

    name: str
    trigger: Mapping[str, Any]
    user_function: Callable[..., Any] = field(repr=False)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @property
    def arg_name(self) -> str:
        return str(self.trigger["name"])

    def call(self, argument: Any) -> Any:
        """Invoke the user's code with the trigger argument; coroutines run on a private loop."""
        result = self.user_function(**{self.arg_name: argument})
        if inspect.isawaitable(result):
            return asyncio.run(_await(result))
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def discover(app: func.FunctionApp) -> list[FunctionSpec]:
    """Every function with its trigger binding, in registration order."""
    specs = []
    # azure-functions 1.26 remembers names across calls and refuses a second get_functions() (the real
    # worker calls it once); tests and hosts may index one app many times, so forget the earlier call.
    app.functions_bindings = {}
    for function in app.get_functions():
        bindings = json.loads(function.get_function_json())["bindings"]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise ValueError(f"function `{function.get_function_name()}` has {len(triggers)} triggers")
        specs.append(FunctionSpec(function.get_function_name(), triggers[0], function.get_user_function()))
    return specs


def import_app(reference: str) -> func.FunctionApp:
    """Import `module:attribute` (default attribute `app`) from the current directory."""
    module_name, _, attribute = reference.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    app = getattr(importlib.import_module(module_name), attribute or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"`{reference}` is a {type(app).__name__}, not an azure.functions.FunctionApp")
    return app


def _log_invocation(
    spec: FunctionSpec, started: float, error: BaseException | None, detail: str = ""
) -> None:
    duration_ms = (time.monotonic() - started) * 1000
    outcome = "succeeded" if error is None else f"failed ({type(error).__name__}: {error})"
    suffix = f" [{detail}]" if detail else ""
    log.info("%s (%s) %s in %.0f ms%s", spec.name, spec.trigger_type, outcome, duration_ms, suffix)


def invoke_logged(spec: FunctionSpec, argument: Any, detail: str = "") -> Any:
    """Call a function, logging one line with its outcome; exceptions propagate to the trigger."""
    started = time.monotonic()
    try:
        result = spec.call(argument)
    except Exception as error:
        _log_invocation(spec, started, error, detail)
        raise
    _log_invocation(spec, started, None, detail)
    return result


# ---------------------------------------------------------------------------------------------------
# NCRONTAB: `{second} {minute} {hour} {day} {month} {day-of-week}`
# ---------------------------------------------------------------------------------------------------

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)


def _parse_value(text: str, names: Mapping[str, int], what: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ValueError(f"NCRONTAB {what} `{text}` is not a number")
    return int(text)


def _parse_field(text: str, what: str, low: int, high: int, names: Mapping[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, stop = _parse_value(first, names, what), _parse_value(last, names, what)
        else:
            start = _parse_value(base, names, what)
            stop = high if step_text else start
        if what == "day-of-week" and stop == 7:  # 7 is Sunday too, as in cron
            values.add(0)
            if start == 7:
                continue
            stop = 6
        if not (low <= start <= stop <= high) or step < 1:
            raise ValueError(f"NCRONTAB {what} `{part}` is outside {low}-{high}")
        values.update(range(start, stop + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class NCrontab:
    """A parsed six-field NCRONTAB expression, as the Functions timer trigger uses (times in UTC).

    Day-of-month and day-of-week must both match (NCrontab's rule, unlike Vixie cron's "either").
    """

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> NCrontab:
        parts = expression.split()
        if len(parts) != 6:
            raise ValueError(f"NCRONTAB `{expression}` needs 6 fields (second minute hour day month weekday)")
        sets = [
            _parse_field(p, what, lo, hi, names)
            for p, (what, lo, hi, names) in zip(parts, _FIELDS, strict=True)
        ]
        return cls(*sets)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same tzinfo as `moment`)."""
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        for _ in range(366 * 8):  # a day per iteration; 8 years covers every valid Feb-29 schedule
            if candidate.month in self.months and self._day_matches(candidate):
                found = self._time_of_day_from(candidate)
                if found is not None:
                    return found
            candidate = candidate.replace(hour=0, minute=0, second=0) + timedelta(days=1)
        raise ValueError("NCRONTAB expression never fires")

    def _day_matches(self, moment: datetime) -> bool:
        cron_weekday = (moment.weekday() + 1) % 7  # Python's Monday=0 to cron's Sunday=0
        return moment.day in self.days and cron_weekday in self.weekdays

    def _time_of_day_from(self, moment: datetime) -> datetime | None:
        start = (moment.hour, moment.minute, moment.second)
        for hour in sorted(h for h in self.hours if h >= start[0]):
            for minute in sorted(self.minutes):
                for second in sorted(self.seconds):
                    if (hour, minute, second) >= start:
                        return moment.replace(hour=hour, minute=minute, second=second)
        return None


_TIMESPAN_SCHEDULE = re.compile(r"^\d+:\d{2}:\d{2}$")


def next_fire_time(schedule: str, after: datetime) -> datetime:
    """Next time a timer fires: NCRONTAB, or an `hh:mm:ss` interval (the App Service plan form)."""
    if _TIMESPAN_SCHEDULE.match(schedule):
        return after + timedelta(seconds=parse_timespan(schedule))
    return NCrontab.parse(schedule).next_after(after)


# ---------------------------------------------------------------------------------------------------
# Background triggers: queue workers and timers
# ---------------------------------------------------------------------------------------------------


def to_functions_message(message: StorageQueueMessage) -> func_queue.QueueMessage:
    """The object the Python worker hands a queue-triggered function."""
    return func_queue.QueueMessage(
        id=message.id,
        body=message.content,
        dequeue_count=message.dequeue_count,
        pop_receipt=message.pop_receipt,
        insertion_time=message.inserted_on,
        expiration_time=message.expires_on,
        time_next_visible=message.next_visible_on,
    )


def queue_client(connection_string: str, queue_name: str) -> QueueClient:
    return QueueClient.from_connection_string(
        connection_string,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )


class QueueWorker:
    """Polls one queue for one function: delete on success, retry via visibility, poison after N tries."""

    def __init__(
        self,
        spec: FunctionSpec,
        client: QueueClient,
        poison: QueueClient,
        config: HostConfig,
        stop: threading.Event,
    ) -> None:
        self.spec, self.client, self.poison, self.config, self.stop = spec, client, poison, config, stop
        self.pool = ThreadPoolExecutor(max_workers=config.batch_size, thread_name_prefix=f"queue-{spec.name}")

    def prepare(self) -> None:
        """Create the queue before the host reports started, so senders never race the worker."""
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def run(self) -> None:
        delay = FIRST_POLL_SECONDS
        while not self.stop.is_set():
            try:
                handled = self.poll_once()
            except Exception:
                log.exception(
                    "polling queue `%s` for %s failed; retrying", self.client.queue_name, self.spec.name
                )
                handled = 0
            # Back off exponentially while the queue is empty, as the real host does.
            delay = FIRST_POLL_SECONDS if handled else min(delay * 2, self.config.max_polling_interval)
            self.stop.wait(0 if handled else delay)
        self.pool.shutdown(wait=True)

    def poll_once(self) -> int:
        messages = list(
            self.client.receive_messages(
                max_messages=self.config.batch_size, visibility_timeout=IN_FLIGHT_VISIBILITY_SECONDS
            )
        )
        for future in [self.pool.submit(self.handle, message) for message in messages]:
            future.result()
        return len(messages)

    def handle(self, message: StorageQueueMessage) -> None:
        detail = f"message {message.id}, dequeue count {message.dequeue_count}"
        try:
            invoke_logged(self.spec, to_functions_message(message), detail)
        except Exception:
            self.after_failure(message)
        else:
            self.client.delete_message(message.id, message.pop_receipt)

    def after_failure(self, message: StorageQueueMessage) -> None:
        if (message.dequeue_count or 0) >= self.config.max_dequeue_count:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(message.content)
            self.client.delete_message(message.id, message.pop_receipt)
            log.warning(
                "%s: message %s moved to `%s` after %s attempts",
                self.spec.name,
                message.id,
                self.poison.queue_name,
                message.dequeue_count,
            )
            return
        visibility = int(self.config.visibility_timeout)
        self.client.update_message(message.id, message.pop_receipt, visibility_timeout=visibility)


class TimerWorker:
    """Runs one timer function on its schedule (UTC), and once at start when run_on_startup is set."""

    def __init__(self, spec: FunctionSpec, schedule: str, stop: threading.Event) -> None:
        self.spec, self.schedule, self.stop = spec, schedule, stop
        next_fire_time(schedule, datetime.now(UTC))  # fail fast on a bad schedule

    def run(self) -> None:
        if self.spec.trigger.get("runOnStartup"):
            self.fire(past_due=False)
        due = next_fire_time(self.schedule, datetime.now(UTC))
        while not self.stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
            # Late by more than a second (e.g. a slow previous run) counts as past due.
            self.fire(past_due=datetime.now(UTC) - due > timedelta(seconds=1))
            due = next_fire_time(self.schedule, max(due, datetime.now(UTC)))

    def fire(self, *, past_due: bool) -> None:
        with contextlib.suppress(Exception):  # already logged; a failed run never stops the schedule
            invoke_logged(self.spec, func_timer.TimerRequest(past_due=past_due))


# ---------------------------------------------------------------------------------------------------
# The host: HTTP front door plus background workers
# ---------------------------------------------------------------------------------------------------


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
        self.functions = {spec.name: spec for spec in discover(app)}
        self.http_routes = [
            HttpRoute.compile(spec, config.route_prefix)
            for spec in self.functions.values()
            if spec.trigger_type == "httpTrigger"
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
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
        self._stop.clear()
        for target, name in self._worker_targets():
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_workers(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _worker_targets(self) -> Iterable[tuple[Callable[[], None], str]]:
        for spec in self.functions.values():
            if spec.trigger_type == "queueTrigger":
                worker = self._queue_worker(spec)
                worker.prepare()
                yield worker.run, f"queue-{spec.name}"
            elif spec.trigger_type == "timerTrigger":
                schedule = resolve_setting(str(spec.trigger["schedule"]), self.settings)
                yield TimerWorker(spec, schedule, self._stop).run, f"timer-{spec.name}"
            elif spec.trigger_type not in ("httpTrigger", "eventGridTrigger"):
                log.warning("%s: trigger type `%s` is not supported locally", spec.name, spec.trigger_type)

    def _queue_worker(self, spec: FunctionSpec) -> QueueWorker:
        queue_name = resolve_setting(str(spec.trigger["queueName"]), self.settings)
        connection_setting = str(spec.trigger.get("connection") or DEFAULT_CONNECTION)
        connection = self.settings.get(connection_setting)
        if not connection:
            raise KeyError(f"queue trigger `{spec.name}` needs the connection setting `{connection_setting}`")
        client = queue_client(connection, queue_name)
        poison = queue_client(connection, f"{queue_name}-poison")
        return QueueWorker(spec, client, poison, self.config, self._stop)

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
            events = _as_event_list(json.loads(await request.body()))
        except ValueError:
            return PlainTextResponse("body is not a JSON event or array of events", status_code=400)
        if kind == "SubscriptionValidation":
            log.info("%s: Event Grid subscription validation answered", spec.name)
            return _subscription_validation(events)
        if kind == "Notification":
            failures = await run_in_threadpool(self._deliver_events, spec, events)
            return Response(status_code=500 if failures else 202)
        return PlainTextResponse("missing or unknown aeg-event-type header", status_code=400)

    def _deliver_events(self, spec: FunctionSpec, events: list[dict[str, Any]]) -> int:
        """Invoke once per event; the count of failures decides 202 or 500 for the whole batch."""
        failures = 0
        for raw in events:
            try:
                event = func_eventgrid.EventGridEventInConverter.decode(
                    func_meta.Datum(json.dumps(raw), "json"), trigger_metadata={}
                )
                invoke_logged(spec, event, f"event {raw.get('id')}")
            except Exception:
                failures += 1
                log.warning(
                    "%s: event %s failed; Event Grid will redeliver the batch", spec.name, raw.get("id")
                )
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
        raise ValueError("not an event batch")
    return events


def _subscription_validation(events: list[dict[str, Any]]) -> Response:
    code = (events[0].get("data") or {}).get("validationCode")
    if not code:
        return PlainTextResponse("validation event has no data.validationCode", status_code=400)
    return JSONResponse({"validationResponse": code})


def _cloudevents_validation(request: Request) -> Response:
    """CloudEvents 1.0 abuse protection: echo the origin to allow deliveries from it."""
    origin = request.headers.get("webhook-request-origin")
    if not origin:
        return PlainTextResponse("missing WebHook-Request-Origin", status_code=400)
    return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------


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


def write_keys_file(path: Path, keys: HostKeys) -> None:
    """Hand generated keys to the operator without logging them: a JSON file only the user can read."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(keys.__dict__), encoding="utf-8")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.host", description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument(
        "--settings",
        type=Path,
        help="local.settings.json-style file (default: ./local.settings.json if present); "
        "its Values fill in what the environment lacks",
    )
    parser.add_argument("--host-json", type=Path, help="host.json to use (default: ./host.json)")
    parser.add_argument("--poll-interval", type=float, help="override maxPollingInterval (seconds)")
    parser.add_argument("--keys-file", type=Path, help="write the keys in use here as JSON (mode 0600)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # only the command line needs the server

    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDKs log every HTTP request at INFO
    settings_file = args.settings or Path("local.settings.json")
    if settings_file.exists():
        # Before the import: the app may read settings then. The environment wins over the file, as
        # with Core Tools, so the local stack's values (storage, emulator, keys) are never overridden.
        for name, value in load_settings_file(settings_file).items():
            os.environ.setdefault(name, value)
    config = HostConfig.load(args.host_json or Path.cwd() / "host.json")
    host = LocalHost(import_app(args.app), config=config, poll_interval=args.poll_interval)
    if args.keys_file:
        write_keys_file(args.keys_file, host.keys)
    log.info("serving %d functions on http://%s:%d", len(host.functions), args.host, args.port)
    uvicorn.run(host.asgi, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
