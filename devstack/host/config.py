"""The local host's configuration: host.json values, the three keys, app settings and `%NAME%` expressions.

Read once at start by `LocalHost` (devstack/host/http.py) and the command line (devstack/host/__main__.py);
devstack/stack.py imports the key setting names to hand the host its keys through the environment.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.private_files import write_private
from shared.bounded import DEFAULT_MAX_JSON_DEPTH

FUNCTION_KEY_SETTING = "REGSYNC_LOCAL_FUNCTION_KEY"
MASTER_KEY_SETTING = "REGSYNC_LOCAL_MASTER_KEY"
EVENTGRID_KEY_SETTING = "REGSYNC_LOCAL_EVENTGRID_KEY"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
MAX_JSON_DEPTH_SETTING = "REGSYNC_MAX_JSON_DEPTH"  # RegSync's own setting (shared.settings), read here too


@dataclass(frozen=True)
class HostConfig:
    """The host.json values the local host honours (names as in host.json, defaults as Azure's)."""

    route_prefix: str = "api"
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8  # Azure's default: batchSize / 2
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
            new_batch_threshold=int(queues.get("newBatchThreshold", int(queues.get("batchSize", 16)) // 2)),
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


def max_json_depth(settings: Mapping[str, str]) -> int:
    """How deep an Event Grid delivery may nest: `REGSYNC_MAX_JSON_DEPTH`, default 32 as in RegSync.

    A value that is not a positive integer stops the host at start rather than at the first delivery.
    """
    raw = settings.get(MAX_JSON_DEPTH_SETTING, "").strip()
    if not raw:
        return DEFAULT_MAX_JSON_DEPTH
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise ValueError(f"app setting `{MAX_JSON_DEPTH_SETTING}` must be a positive integer, not `{raw}`")
    return int(raw)


def load_settings_file(path: Path) -> dict[str, str]:
    """The `Values` of a local.settings.json-style file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in raw.get("Values", {}).items()}


def write_keys_file(path: Path, keys: HostKeys) -> None:
    """Hand generated keys to the operator without logging them: a JSON file only the user can read."""
    write_private(path, json.dumps(keys.__dict__))
