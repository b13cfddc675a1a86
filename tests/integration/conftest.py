"""Fixtures for integration tests: Azurite (tests/conftest.py) + the AzureML emulator + a seeded store.

Each test gets its own table prefix and push queue, so tests are independent on one Azurite; the
emulator is shared by the session, so tests use unique asset names.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from shared.admin import apply_document
from shared.azureml import StaticDevCredential
from shared.engine import Engine
from shared.policy_file import parse_policy
from shared.queues import WorkQueue
from shared.records import PushMessage
from shared.runtime import build_engine
from shared.settings import Settings
from shared.storage import StateStore

REPO = Path(__file__).resolve().parents[2]
SEED_WORLD = REPO / "devstack" / "worlds" / "seed.yaml"
SEED_POLICY = REPO / "examples" / "seed-policy.yaml"


@pytest.fixture
def settings(storage_connection_string: str, emulator: RunningEmulator) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    return Settings(
        storage_connection_string=storage_connection_string,
        table_prefix=f"t{suffix}",
        push_queue=f"pushes-{suffix}",
        reconcile_queue=f"reconcile-{suffix}",
        azureml_emulator=True,
        arm_endpoint=emulator.base_url,  # where the Activity Log is read
        max_push_attempts=3,
        world_cache_seconds=0,  # tests change rules and act at once
        deployment_poll_seconds=1,  # a started deployment is checked again a second later
    )


@pytest.fixture
def engine(settings: Settings) -> Engine[StateStore]:
    return build_engine(settings)


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that points the `regsync` CLI at a test's tables, queues and the emulator."""
    assert settings.storage_connection_string is not None
    return {
        "AzureWebJobsStorage": settings.storage_connection_string,
        "REGSYNC_TABLE_PREFIX": settings.table_prefix,
        "REGSYNC_PUSH_QUEUE": settings.push_queue,
        "REGSYNC_RECONCILE_QUEUE": settings.reconcile_queue,
        "REGSYNC_AZUREML_EMULATOR": "true",
        "NO_COLOR": "1",
        "COLUMNS": "250",
    }


@pytest.fixture
def seeded(engine: Engine[StateStore]) -> Engine[StateStore]:
    """The engine with the seed scenario's inventory and rules loaded."""
    apply_document(engine.store, parse_policy(SEED_POLICY.read_text(), source=str(SEED_POLICY)))
    return engine


@pytest.fixture(scope="session")
def admin(emulator: RunningEmulator) -> Iterator[EmulatorAdmin]:
    """The emulator's admin client: provisioning delays and injected failures."""
    client = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    yield client
    client.close()


def follow_pushes(engine: Engine, until: Callable[[], bool], *, deadline_s: float = 60) -> list[Any]:
    """Run push messages as the queue trigger would, delayed follow-ups included once they become
    visible, until `until()` holds; polling the queue with a deadline, never a fixed wait."""
    queue = engine.pushes
    assert isinstance(queue, WorkQueue)
    outcomes: list[Any] = []
    deadline = time.monotonic() + deadline_s
    while not until():
        assert time.monotonic() < deadline, [o.reason for o in outcomes[-3:]]
        for message in queue.client.receive_messages(max_messages=32, visibility_timeout=60):
            outcomes.append(engine.execute_push(PushMessage.model_validate(json.loads(message.content))))
            queue.client.delete_message(message)
        time.sleep(0.1)  # the poll interval of this loop, not a synchronisation
    return outcomes


@pytest.fixture(scope="session")
def ml(emulator: RunningEmulator) -> Callable[[str], Any]:
    """`ml("workspace1")` or `ml("registry")`: an MLClient on the emulator, as a tenant would use it."""
    from azure.ai.ml import MLClient

    subscriptions = {"workspace4": ("22222222-2222-2222-2222-222222222222", "rg-woodgrove")}
    default = ("11111111-1111-1111-1111-111111111111", "rg-tenants")
    clients: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in clients:
            if name == "registry":
                clients[name] = MLClient(StaticDevCredential(), registry_name="regsync-registry")
            else:
                subscription, group = subscriptions.get(name, default)
                clients[name] = MLClient(StaticDevCredential(), subscription, group, name)
        return clients[name]

    return get


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(uuid.uuid4().bytes)
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    return folder


def register_model(ml: Callable[[str], Any], workspace: str, name: str, folder: Path, **extra: Any) -> Any:
    from azure.ai.ml.entities import Model

    return ml(workspace).models.create_or_update(
        Model(name=name, path=str(folder), type="custom_model", **extra)
    )


def drain_pushes(engine: Engine, *, max_rounds: int = 20) -> list[Any]:
    """Run every queued push through the engine, as the queue trigger would, until the queue is empty."""
    queue = engine.pushes
    assert isinstance(queue, WorkQueue)
    outcomes = []
    for _ in range(max_rounds):
        messages = list(queue.client.receive_messages(max_messages=32, visibility_timeout=60))
        if not messages:
            return outcomes
        for message in messages:
            push = PushMessage.model_validate(json.loads(message.content))
            outcomes.append(engine.execute_push(push))
            queue.client.delete_message(message)
    raise AssertionError("the push queue did not drain")
