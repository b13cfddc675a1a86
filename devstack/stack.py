"""Brings the whole local stack up and down: Azurite, the AzureML emulator, the local Event Grid topic
(devstack/topic.py, where RegSync publishes its own events) and the local Functions host.

Called by `python -m devstack up|down` (devstack/__main__.py), by the demo and by end-to-end tests
(`local_stack(...)`). Each component is a detached subprocess in its own session, so it outlives the `up`
command; `DIR/stack.json` records pid, start time and command line of each, and `down` stops exactly
those processes (after checking in /proc that the pid still is the process `up` started).

Files in the state directory:
- `stack.json`: the components (written as each starts, so a failed `up` can still be brought down);
- `stack.env`: `KEY=value` lines with everything a client needs (see docs/local-stack.md), mode 0600;
- `signing-key.pem`: the installation's signing key (docs/provenance.md), mode 0600, made on the first `up`;
- `logs/{azurite,emulator,topic,host}.log`: each component's output; `emulator/`: the emulator's state.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import yaml

from devstack.azurite import free_port, start_azurite
from devstack.emulator.launch import EmulatorAdmin, read_env_file
from devstack.host import EVENTGRID_KEY_SETTING, FUNCTION_KEY_SETTING, MASTER_KEY_SETTING
from devstack.private_files import write_private
from devstack.topic import KEY_ENV as TOPIC_KEY_ENV
from devstack.topic import LIST_PATH as TOPIC_LIST_PATH
from devstack.topic import PUBLISH_PATH as TOPIC_PUBLISH_PATH
from shared.signing.keys import new_private_key_pem

REPO_ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 15.0
DEFAULT_APP = "function_app:app"
DEFAULT_EVENTGRID_FUNCTION = "on_workspace_event"
SIGNING_KEY_FILE = "signing-key.pem"


class StackError(RuntimeError):
    """A component failed to start or stop; the message names it and points at its log."""


# ---------------------------------------------------------------------------------------------------
# Process records: identify a pid as the process we started, across separate commands
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One started process: its pid leads its own process group (start_new_session=True)."""

    name: str
    pid: int
    start_time: int  # /proc/PID/stat field 22, in clock ticks since boot: unique with the pid
    cmdline: list[str]

    @classmethod
    def of(cls, name: str, process: subprocess.Popen[bytes]) -> Component:
        args = process.args if isinstance(process.args, list) else [process.args]
        return cls(name, process.pid, _start_time(process.pid) or 0, [str(arg) for arg in args])

    def is_alive(self) -> bool:
        """True while the recorded process (same pid AND same start time) runs and is not a zombie."""
        stat = _proc_stat(self.pid)
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.start_time


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first); the command name may contain spaces, so cut at ')'."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[19]) if stat else None


@dataclass
class StackRecord:
    """The content of stack.json."""

    components: list[Component] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> StackRecord:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls([Component(**item) for item in raw["components"]])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"components": [asdict(c) for c in self.components]}, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------
# Starting components
# ---------------------------------------------------------------------------------------------------


def _spawn(name: str, command: list[str], state_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a detached child (own session: Ctrl-C on `up` or its exit does not reach it), output to a log."""
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("wb") as log_file:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str, state_dir: Path
) -> None:
    """Poll `ready()` with a deadline; fail early, naming the log, if the process exits."""
    end = time.monotonic() + START_DEADLINE_SECONDS
    while not ready():
        if process.poll() is not None:
            raise StackError(
                f"`{name}` exited with code {process.returncode}; see {state_dir}/logs/{name}.log"
            )
        if time.monotonic() > end:
            raise StackError(f"`{name}` was not ready within {START_DEADLINE_SECONDS:.0f} s")
        time.sleep(0.1)  # polling readiness with a deadline


def _start_azurite(state_dir: Path, record: StackRecord) -> dict[str, str]:
    info = state_dir / "azurite.json"
    info.unlink(missing_ok=True)
    command = [sys.executable, "-m", "devstack.stack", "serve-azurite", str(info)]
    process = _spawn("azurite", command, state_dir, os.environ)
    record.components.append(Component.of("azurite", process))
    record.save(state_dir / "stack.json")
    _wait_until(info.exists, process, "azurite", state_dir)
    return dict(json.loads(info.read_text(encoding="utf-8")))


def _start_emulator(world: Path, state_dir: Path, speed: float, record: StackRecord) -> dict[str, str]:
    emulator_dir = state_dir / "emulator"
    emulator_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "devstack.emulator", "--world", str(world.resolve())]
    command += ["--state-dir", str(emulator_dir.resolve()), "--speed", str(speed)]
    process = _spawn("emulator", command, state_dir, os.environ)
    record.components.append(Component.of("emulator", process))
    record.save(state_dir / "stack.json")
    log_path = state_dir / "logs" / "emulator.log"
    _wait_until(lambda: b"READY " in log_path.read_bytes(), process, "emulator", state_dir)
    return read_env_file(emulator_dir / "emulator.env")


def _start_topic(state_dir: Path, record: StackRecord) -> dict[str, str]:
    """The local Event Grid topic; its key goes in the environment, never on a command line."""
    port, key = free_port(), secrets.token_urlsafe(32)
    command = [sys.executable, "-m", "devstack.topic", "--port", str(port)]
    process = _spawn("topic", command, state_dir, {**os.environ, TOPIC_KEY_ENV: key})
    record.components.append(Component.of("topic", process))
    record.save(state_dir / "stack.json")
    url = f"http://127.0.0.1:{port}"
    _wait_until(lambda: _answers(f"{url}{TOPIC_LIST_PATH}", {}), process, "topic", state_dir)
    return {
        "REGSYNC_EVENTGRID_TOPIC_ENDPOINT": f"{url}{TOPIC_PUBLISH_PATH}",
        TOPIC_KEY_ENV: key,
        "REGSYNC_LOCAL_TOPIC_URL": url,
    }


def _start_host(
    app: str,
    env: Mapping[str, str],
    settings: Path | None,
    host_json: Path | None,
    state_dir: Path,
    record: StackRecord,
) -> str:
    port = free_port()
    command = [sys.executable, "-m", "devstack.host", "--app", app, "--port", str(port)]
    if settings is not None:
        command += ["--settings", str(settings.resolve())]
    if host_json is not None:
        command += ["--host-json", str(host_json.resolve())]
    process = _spawn("host", command, state_dir, {**os.environ, **env})
    record.components.append(Component.of("host", process))
    record.save(state_dir / "stack.json")
    url = f"http://127.0.0.1:{port}"
    status_url = f"{url}/admin/host/status"
    _wait_until(lambda: _answers(status_url, {"code": env[MASTER_KEY_SETTING]}), process, "host", state_dir)
    return url


def _answers(url: str, params: Mapping[str, str]) -> bool:
    try:
        return httpx.get(url, params=params, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def world_subscriptions(world: Path) -> list[str]:
    """The Azure subscription ids a world file declares."""
    raw = yaml.safe_load(world.read_text(encoding="utf-8")) or {}
    return [str(sub["id"]) for sub in raw.get("subscriptions") or []]


def _subscribe_webhook(emulator_env: Mapping[str, str], world: Path, webhook: str) -> None:
    """Subscribe the host's webhook to each subscription's events; the emulator does the handshake."""
    admin = EmulatorAdmin(emulator_env["AZUREML_EMULATOR_URL"], emulator_env["REQUESTS_CA_BUNDLE"])
    try:
        for subscription_id in world_subscriptions(world):
            admin.add_event_subscription(
                name=f"regsync-{subscription_id}",
                endpoint=webhook,
                scope=f"/subscriptions/{subscription_id}",
                schema="EventGridSchema",
            )
    finally:
        admin.close()


# ---------------------------------------------------------------------------------------------------
# up / down
# ---------------------------------------------------------------------------------------------------


@dataclass
class LocalStack:
    """A running stack, as `up` returns it and `local_stack` yields it."""

    state_dir: Path
    env: dict[str, str]
    components: list[Component]

    @property
    def host_url(self) -> str:
        return self.env["REGSYNC_HOST_URL"]

    @property
    def emulator_url(self) -> str:
        return self.env["AZUREML_EMULATOR_URL"]


def default_settings_file() -> Path | None:
    """The app's settings, as Core Tools would use them: local.settings.json, else the checked-in example."""
    for name in ("local.settings.json", "local.settings.example.json"):
        if (REPO_ROOT / name).exists():
            return REPO_ROOT / name
    return None


def up(
    world: Path,
    state_dir: Path,
    *,
    speed: float = 1.0,
    app: str = DEFAULT_APP,
    eventgrid_function: str = DEFAULT_EVENTGRID_FUNCTION,
    settings: Path | None = None,
    host_json: Path | None = None,
) -> LocalStack:
    """Start Azurite, the emulator, the topic and the host, subscribe the webhook, write stack.env.

    `settings` (default: `default_settings_file()`) supplies the app settings the stack does not set
    itself (queue names, schedules); `host_json` (default: the repository's host.json) the host's
    configuration (queue retries and poison). On any failure everything started so far is stopped again.
    """
    settings = settings or default_settings_file()
    state_dir.mkdir(parents=True, exist_ok=True)
    if any(c.is_alive() for c in StackRecord.load(state_dir / "stack.json").components):
        raise StackError(f"a stack is already running in `{state_dir}`: run `python -m devstack down` first")
    record = StackRecord()
    try:
        env = _start_all(world, state_dir, speed, app, eventgrid_function, settings, host_json, record)
    except BaseException:
        down(state_dir)
        raise
    write_env_file(state_dir / "stack.env", env)
    return LocalStack(state_dir, env, record.components)


def _start_all(
    world: Path,
    state_dir: Path,
    speed: float,
    app: str,
    eventgrid_function: str,
    settings: Path | None,
    host_json: Path | None,
    record: StackRecord,
) -> dict[str, str]:
    # Storage first (the host's queue workers need it), then the emulator (the host's settings point at it).
    azurite = _start_azurite(state_dir, record)
    emulator_env = _start_emulator(world, state_dir, speed, record)
    topic_env = _start_topic(state_dir, record)  # before the host: the app publishes there
    keys = {name: secrets.token_urlsafe(32) for name in (FUNCTION_KEY_SETTING, MASTER_KEY_SETTING)}
    keys[EVENTGRID_KEY_SETTING] = secrets.token_urlsafe(32)
    signing_key = state_dir / SIGNING_KEY_FILE  # the installation's key: kept across restarts, never printed
    if not signing_key.exists():
        write_private(signing_key, new_private_key_pem())
    host_env = {
        **emulator_env,
        **topic_env,
        **keys,
        "AzureWebJobsStorage": azurite["connection_string"],
        "REGSYNC_AZUREML_EMULATOR": "true",
        "REGSYNC_SIGNING_KEY_FILE": str(signing_key),
        "REGSYNC_ARM_ENDPOINT": emulator_env["AZUREML_EMULATOR_URL"],  # its Activity Log
    }
    host_url = _start_host(app, host_env, settings, host_json, state_dir, record)
    webhook = (
        f"{host_url}/runtime/webhooks/EventGrid?functionName={eventgrid_function}"
        f"&code={keys[EVENTGRID_KEY_SETTING]}"
    )
    # Last: the handshake needs the host up, and events only flow once it is subscribed.
    _subscribe_webhook(emulator_env, world, webhook)
    return {
        **host_env,
        "AZURITE_BLOB_PORT": azurite["blob_port"],
        "AZURITE_QUEUE_PORT": azurite["queue_port"],
        "AZURITE_TABLE_PORT": azurite["table_port"],
        "REGSYNC_HOST_URL": host_url,
        "REGSYNC_FUNCTION_KEY": keys[FUNCTION_KEY_SETTING],
        "REGSYNC_MASTER_KEY": keys[MASTER_KEY_SETTING],
        "REGSYNC_EVENTGRID_KEY": keys[EVENTGRID_KEY_SETTING],
        "REGSYNC_EVENTGRID_WEBHOOK_URL": webhook,
    }


def down(state_dir: Path) -> list[str]:
    """Stop the processes recorded in stack.json (newest first); returns one line per component."""
    path = state_dir / "stack.json"
    record = StackRecord.load(path)
    report = [_stop(component) for component in reversed(record.components)]
    path.unlink(missing_ok=True)
    (state_dir / "stack.env").unlink(missing_ok=True)
    return report


def _stop(component: Component) -> str:
    label = f"{component.name} (pid {component.pid})"
    if not component.is_alive():
        _reap(component.pid)
        return f"{label} was not running"
    _signal_group(component.pid, signal.SIGTERM)
    end = time.monotonic() + STOP_DEADLINE_SECONDS
    while component.is_alive() and time.monotonic() < end:
        _reap(component.pid)
        time.sleep(0.05)  # polling for exit with a deadline
    forced = component.is_alive()
    # SIGKILL the whole group also when the leader exited cleanly: nothing of it may outlive `down`.
    _signal_group(component.pid, signal.SIGKILL)
    _reap(component.pid)
    return f"{label} {'killed' if forced else 'stopped'}"


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (in-process `local_stack`)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def local_stack(
    world: Path,
    state_dir: Path,
    *,
    speed: float = 1.0,
    app: str = DEFAULT_APP,
    eventgrid_function: str = DEFAULT_EVENTGRID_FUNCTION,
    settings: Path | None = None,
    host_json: Path | None = None,
) -> Iterator[LocalStack]:
    """`up` on entry, `down` on exit, whatever happens in between."""
    stack = up(
        world,
        state_dir,
        speed=speed,
        app=app,
        eventgrid_function=eventgrid_function,
        settings=settings,
        host_json=host_json,
    )
    try:
        yield stack
    finally:
        down(state_dir)


# ---------------------------------------------------------------------------------------------------
# stack.env
# ---------------------------------------------------------------------------------------------------


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """`KEY=value` lines, unquoted (values may hold `;` and `=`: split each line at the first `=`); it
    holds the host's keys and the topic's key, so only the user may read it (0600)."""
    write_private(path, "".join(f"{key}={value}\n" for key, value in sorted(env.items())))


def read_stack_env(state_dir: Path) -> dict[str, str]:
    return read_env_file(state_dir / "stack.env")


# ---------------------------------------------------------------------------------------------------
# The Azurite component: start_azurite() kept alive in a process of its own
# ---------------------------------------------------------------------------------------------------


def serve_azurite(info_path: Path) -> None:
    """Run Azurite until SIGTERM/SIGINT; publish its ports and connection string in `info_path`."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    with start_azurite() as running:  # SystemExit from the handler leaves the block: Azurite stops
        info = {
            "connection_string": running.connection_string,
            "blob_port": str(running.blob_port),
            "queue_port": str(running.queue_port),
            "table_port": str(running.table_port),
        }
        # Atomic, so `up` never reads a half-written file; 0600: the connection string holds a key.
        write_private(info_path, json.dumps(info))
        while True:
            signal.pause()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve-azurite"] or len(sys.argv) != 3:
        sys.exit("usage: python -m devstack.stack serve-azurite INFO_FILE")
    serve_azurite(Path(sys.argv[2]))
