"""Discovery: `app.get_functions()` read into our own `FunctionSpec`s, and the one way to invoke them.

`LocalHost` (devstack/host/http.py) discovers the app once; the workers (devstack/host/workers.py) and
the routes call `invoke_logged`, which writes the one log line per invocation. The command line
(devstack/host/__main__.py) imports the app with `import_app`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

log = logging.getLogger("devstack.host")  # one logger for the whole host, named as before the split


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
