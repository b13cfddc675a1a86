"""Fixtures for the end-to-end tests: one whole local stack per module (Azurite, the AzureML emulator, the
local Event Grid topic and the local Functions host as separate processes), seeded with the seed policy
through the CLI, and clients that look at it the way a tenant or an operator would.

The stack runs with a host.json whose queues retry at once and give up after 3 dequeues (and
REGSYNC_MAX_PUSH_ATTEMPTS=3 to match), a fast Event Grid retry speed, and a reconcile schedule that never
fires during a test run, so that only the tests decide when a reconcile happens.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.emulator.launch import EmulatorAdmin, apply_env, restore_env
from devstack.stack import LocalStack, local_stack
from shared.settings import Settings
from shared.storage import StateStore
from tests.support import live_group_members

REPO = Path(__file__).resolve().parents[2]
SEED_WORLD = REPO / "devstack" / "worlds" / "seed.yaml"
SEED_POLICY = REPO / "examples" / "seed-policy.yaml"
SUB1, SUB2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
WORKSPACE_GROUPS = {"workspace4": (SUB2, "rg-woodgrove")}
NEVER = "0 0 0 1 1 *"  # once a year, at midnight on 1 January
SDK_ENV = (
    "ARM_CLOUD_METADATA_URL",
    "REGISTRY_DISCOVERY_ENDPOINT_URL",
    "REQUESTS_CA_BUNDLE",
    "AZUREML_CURRENT_CLOUD",
)
DEADLINE_SECONDS = 60.0


def stack_files(directory: Path) -> tuple[Path, Path]:
    """host.json and app settings for the e2e stack, derived from the checked-in ones."""
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    host["extensions"]["queues"].update(visibilityTimeout="00:00:00", maxDequeueCount=3)
    settings = json.loads((REPO / "local.settings.example.json").read_text(encoding="utf-8"))
    settings["Values"].update(REGSYNC_MAX_PUSH_ATTEMPTS="3", REGSYNC_RECONCILE_SCHEDULE=NEVER)
    host_json, settings_json = directory / "host.json", directory / "local.settings.json"
    host_json.write_text(json.dumps(host), encoding="utf-8")
    settings_json.write_text(json.dumps(settings), encoding="utf-8")
    return host_json, settings_json


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The running stack with the seed policy loaded; afterwards, no process of it may be left."""
    directory = tmp_path_factory.mktemp("e2e")
    host_json, settings = stack_files(directory)
    with local_stack(
        SEED_WORLD, directory / "stack", speed=100, settings=settings, host_json=host_json
    ) as up:
        load_policy(up)
        yield up
    assert not [c.name for c in up.components if c.is_alive()], "a stack process outlived `down`"
    assert not live_group_members({c.pid for c in up.components}), "a child of the stack outlived `down`"


def load_policy(stack: LocalStack) -> None:
    """The operator's way: `regsync --env-file STATE/stack.env policy load FILE`."""
    command = [sys.executable, "-m", "shared.cli", "--env-file", str(stack.state_dir / "stack.env")]
    done = subprocess.run(
        [*command, "policy", "load", str(SEED_POLICY)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def ml(stack: LocalStack) -> Iterator[Callable[[str], Any]]:
    """`ml("workspace1")` or `ml("registry")`: an MLClient on the stack's emulator, as a tenant would use it.

    The SDK reads its redirection from the environment at call time, and the session's own emulator
    (tests/conftest.py) may have set it too: the stack's values hold for this module, then are restored.
    """
    from azure.ai.ml import MLClient

    from shared.azureml import StaticDevCredential

    previous = apply_env({name: stack.env[name] for name in SDK_ENV})
    clients: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in clients:
            if name == "registry":
                clients[name] = MLClient(StaticDevCredential(), registry_name="regsync-registry")
            else:
                subscription, group = WORKSPACE_GROUPS.get(name, (SUB1, "rg-tenants"))
                clients[name] = MLClient(StaticDevCredential(), subscription, group, name)
        return clients[name]

    try:
        yield get
    finally:
        restore_env(previous)
        # MLClient has no close(): drop the clients so their keep-alive connections close now; an open
        # one makes the emulator's graceful shutdown outwait `down`'s deadline.
        clients.clear()
        gc.collect()


@pytest.fixture(scope="module")
def store(stack: LocalStack) -> StateStore:
    """RegSync's tables (ledger, audit) as the host uses them."""
    settings = Settings(storage_connection_string=stack.env["AzureWebJobsStorage"], table_prefix="regsync")
    return StateStore.from_settings(settings)


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> Iterator[EmulatorAdmin]:
    client = EmulatorAdmin(stack.emulator_url, stack.env["REQUESTS_CA_BUNDLE"])
    yield client
    client.close()


def topic_events(stack: LocalStack, event_type: str) -> list[dict[str, Any]]:
    """What RegSync published to the local topic, of one type."""
    reply = httpx.get(f"{stack.env['REGSYNC_LOCAL_TOPIC_URL']}/events", params={"type": event_type})
    reply.raise_for_status()
    return list(reply.json()["value"])
