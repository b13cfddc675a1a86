"""A local stand-in for the Azure Functions host, for a Python v2-model `func.FunctionApp`.

Core Tools cannot be installed on our machines, so the local stack (`python -m devstack up`), the demo
and the tests run the function app through this package instead. Everything is discovered from
`app.get_functions()` and served the way the real host does it:

- HTTP triggers under `/{routePrefix}/{route}` with route parameters, methods and key authorization;
- the Event Grid webhook `/runtime/webhooks/EventGrid?functionName=NAME` (handshake, 202, 500 when the
  function fails for any event of a batch; a malformed delivery is a 400, an undecodable event is
  acknowledged);
- queue triggers polled from Azure Storage with host.json's retry and poison-queue behaviour;
- timer triggers on their NCRONTAB schedule;
- `GET /admin/functions`, `POST /admin/functions/{name}` and `GET /admin/host/status` (master key).

Run it as `python -m devstack.host --app function_app:app --port 7071 [--settings local.settings.json]`,
or in-process with `build_host(app)` and any ASGI server (the tests run uvicorn in a thread).

Modules: `config` (host.json, keys, settings), `discovery` (the app's functions), `workers` (queue
polling, timers), `http` (the Starlette front door: HTTP triggers, Event Grid webhook, admin routes),
`__main__` (the command line). This file re-exports what devstack/stack.py and the tests import.
"""

from devstack.host.config import (
    EVENTGRID_KEY_SETTING,
    FUNCTION_KEY_SETTING,
    MASTER_KEY_SETTING,
    HostConfig,
    HostKeys,
    load_settings_file,
    parse_timespan,
    resolve_setting,
    write_keys_file,
)
from devstack.host.discovery import FunctionSpec, discover, import_app, invoke_logged
from devstack.host.http import LocalHost, build_host
from devstack.host.workers import next_fire_time, queue_client

__all__ = [
    "EVENTGRID_KEY_SETTING",
    "FUNCTION_KEY_SETTING",
    "MASTER_KEY_SETTING",
    "FunctionSpec",
    "HostConfig",
    "HostKeys",
    "LocalHost",
    "build_host",
    "discover",
    "import_app",
    "invoke_logged",
    "load_settings_file",
    "next_fire_time",
    "parse_timespan",
    "queue_client",
    "resolve_setting",
    "write_keys_file",
]
