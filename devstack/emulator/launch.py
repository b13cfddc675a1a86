"""Start and drive the emulator from Python: used by tests (tests/emulator, tests/integration) and the
local stack (devstack/host, devstack/demo). Keep this API stable: other modules depend on it.

    with start_emulator(Path("devstack/worlds/seed.yaml"), tmp_dir, speed=100) as emu:
        apply_env(emu.env)                       # point azure-ai-ml at it
        admin = EmulatorAdmin(emu.base_url, emu.env["REQUESTS_CA_BUNDLE"])
        admin.add_event_subscription("s1", "http://127.0.0.1:7071/...", "/subscriptions/111...")
"""

from __future__ import annotations

import base64
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
# What the SDK asks once per client, not per operation: cloud metadata and the registry's discovery.
SDK_BOOTSTRAP_ROUTES = ("/metadata", "/registrymanagement")
START_TIMEOUT_S = 30.0


@dataclass
class RunningEmulator:
    """A started emulator process; `stop()` (or leaving the `with` block) ends it."""

    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    state_dir: Path
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.base_url, self.env["REQUESTS_CA_BUNDLE"])

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def start_emulator(
    world: Path, state_dir: Path, *, speed: float = 1.0, extra_args: Iterable[str] = ()
) -> RunningEmulator:
    """Run `python -m devstack.emulator` and return once it printed READY (or raise, with its output)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "devstack.emulator", "--world", str(Path(world).resolve())]
    cmd += ["--state-dir", str(state_dir.resolve()), "--speed", str(speed), *extra_args]
    process = subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=pump, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    base_url = wait_ready(process, lines, output)
    env = read_env_file(state_dir / "emulator.env")
    return RunningEmulator(base_url=base_url, env=env, process=process, state_dir=state_dir, output=output)


def pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward the child's output line by line (keeps its pipe drained after READY too)."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def wait_ready(process: subprocess.Popen[str], lines: queue.Queue[str | None], output: list[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            raise RuntimeError(f"emulator exited ({process.wait()}) before READY:\n" + "\n".join(output))
        output.append(line)
        if line.startswith("READY "):
            return line.split(" ", 1)[1].strip()
    process.kill()
    raise RuntimeError("emulator did not print READY in time:\n" + "\n".join(output))


def apply_env(env: Mapping[str, str]) -> dict[str, str | None]:
    """Set os.environ for the SDK; returns the previous values so callers can restore them."""
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return previous


def restore_env(previous: Mapping[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class EmulatorAdmin:
    """Client of the /_admin/ routes (docs/emulator.md lists them)."""

    def __init__(self, base_url: str, ca_bundle: str | Path) -> None:
        self.client = httpx.Client(
            base_url=f"{base_url}/_admin",
            verify=ssl.create_default_context(cafile=str(ca_bundle)),
            timeout=30.0,
        )

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        reply = self.client.request(method, path, json=body)
        if reply.status_code >= 400:
            raise RuntimeError(f"admin {method} {path} failed ({reply.status_code}): {reply.text}")
        return reply.json() if reply.content else None

    def add_event_subscription(
        self,
        name: str,
        endpoint: str,
        scope: str,
        schema: str = "EventGridSchema",
        event_types: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Register a webhook; raises RuntimeError when the validation handshake fails."""
        body = {
            "name": name,
            "endpoint": endpoint,
            "scope": scope,
            "schema": schema,
            "eventTypes": list(event_types),
        }
        result: dict[str, Any] = self._json("POST", "/eventSubscriptions", body)
        return result

    def event_subscriptions(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/eventSubscriptions")["value"])

    def remove_event_subscription(self, name: str) -> None:
        self._json("DELETE", f"/eventSubscriptions/{name}")

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/deliveries")["value"])

    def set_fault(
        self,
        pattern: str,
        *,
        status: int | None = None,
        method: str | None = None,
        probability: float = 1.0,
        latency_ms: int = 0,
        count: int | None = None,
        retry_after: int = 1,
    ) -> dict[str, Any]:
        """Fail (429/500/503) or slow down requests whose path matches the regex `pattern`."""
        body = {
            "pattern": pattern,
            "status": status,
            "method": method,
            "probability": probability,
            "latency_ms": latency_ms,
            "count": count,
            "retry_after": retry_after,
        }
        result: dict[str, Any] = self._json("POST", "/faults", body)
        return result

    def faults(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/faults")["value"])

    def clear_faults(self) -> None:
        self._json("DELETE", "/faults")

    def request_counts(self) -> list[dict[str, Any]]:
        """[{method, route, count, faulted}] per route pattern since the last reset."""
        return list(self._json("GET", "/requests")["value"])

    def api_requests(self) -> Counter[str]:
        """AzureML API requests since the last reset as `METHOD route` -> count, the route shortened to
        what follows the resource provider (`GET /registries/{reg}/{kind}/{name}/versions`), apart from
        the SDK's bootstrap: what one share or one push costs, route by route."""
        counts: Counter[str] = Counter()
        for row in self.request_counts():
            if not row["route"].startswith(SDK_BOOTSTRAP_ROUTES):
                route = row["route"].rsplit("Microsoft.MachineLearningServices", 1)[-1]
                counts[f"{row['method']} {route}"] += row["count"]
        return counts

    def reset_request_log(self) -> None:
        self._json("DELETE", "/requests")

    def dump(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/dump")
        return result

    def set_provisioning(
        self,
        workspace: str,
        endpoint: str,
        deployment: str | None = None,
        *,
        batch: bool = False,
        delay_s: float | None = None,
        failure: str | dict[str, str] | None = None,
        times: int | None = 1,
    ) -> dict[str, Any]:
        """Plan the next `times` PUTs (None: all) of an online (or batch) endpoint or deployment: a delay in
        seconds (divided by --speed) and/or a failure: "quota", "image_build", "container_crash" or
        {"code", "message"}. The resource then ends `Failed` with Azure's error in the operation."""
        body = {
            "workspace": workspace,
            "endpoint": endpoint,
            "deployment": deployment,
            "batch": batch,
            "delaySeconds": delay_s,
            "failure": failure,
            "times": times,
        }
        result: dict[str, Any] = self._json("POST", "/provisioning", body)
        return result

    def provisioning(self) -> dict[str, Any]:
        """{"delays": {"endpoint": s, "deployment": s}, "speed": F, "value": [plans]}."""
        result: dict[str, Any] = self._json("GET", "/provisioning")
        return result

    def clear_provisioning(self) -> None:
        self._json("DELETE", "/provisioning")

    def set_provisioning_delays(
        self, *, endpoint_s: float | None = None, deployment_s: float | None = None
    ) -> dict[str, Any]:
        """The world's default provisioning delays in seconds (before --speed)."""
        body = {"endpoint": endpoint_s, "deployment": deployment_s}
        result: dict[str, Any] = self._json("PUT", "/provisioning/delays", body)
        return result

    def set_registry_access(self, registry: str, workspace: str, *, allowed: bool) -> None:
        """Admit or refuse `workspace` at `registry`; refused uses of the registry answer 403."""
        self._json(
            "POST", "/registryAccess", {"registry": registry, "workspace": workspace, "allowed": allowed}
        )

    def tamper_registry_file(self, registry: str, name: str, version: str, file: str, content: bytes) -> None:
        """Overwrite one file of a registry model version's copy, as a storage writer could."""
        body = {
            "registry": registry,
            "name": name,
            "version": version,
            "file": file,
            "content": base64.b64encode(content).decode(),
        }
        self._json("PUT", "/registryFiles", body)

    def seed_models(self, workspace: str, prefix: str, count: int) -> None:
        """Register `count` models `{prefix}{i}`, version 1, in `workspace` in one admin call."""
        self._json("POST", "/seedModels", {"workspace": workspace, "prefix": prefix, "count": count})

    def close(self) -> None:
        self.client.close()
