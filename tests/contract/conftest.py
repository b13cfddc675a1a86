"""The port contract: every test here runs against the in-memory port (tests/memory.py) AND the real
adapter (StateStore and WorkQueue on Azurite; AzureMLGateway on the emulator through the real SDK).
A fake may only be used by the fast engine tests while it passes the same tests as the real thing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.azureml import ActivityLogFeed, AzureMLGateway, StaticDevCredential
from shared.domain import Asset, AssetRef, Tenant, Workspace
from shared.policy import Policy, PushRule, ShareRule
from shared.policy_file import parse_policy
from shared.queues import WorkQueue
from shared.records import AuditRecord, utc_now
from shared.settings import Settings
from shared.storage import StateStore
from tests.integration.conftest import SEED_POLICY, ml, model_folder, settings  # noqa: F401  # fixtures reused
from tests.memory import MemoryCatalog, MemoryChangeFeed, MemoryQueue, MemoryState

# The seed world's inventory: the emulator serves exactly these workspaces and this registry.
SEED = parse_policy(SEED_POLICY.read_text(encoding="utf-8"), source=str(SEED_POLICY))
[SEED_REGISTRY] = SEED.registries
WORKSPACES = {ws.name: ws for ws in SEED.workspaces}


def workspace(name: str) -> Workspace:
    return WORKSPACES[name]


POLICY = Policy(share=(ShareRule(id="share-all"),), push=(PushRule(id="push-all"),))


@dataclass
class StatePort:
    """A State port and how the contract reads back what only the real thing shows by other means."""

    port: Any
    audits: Callable[[], list[AuditRecord]]


@pytest.fixture(params=["memory", "azurite"])
def state(request: pytest.FixtureRequest) -> StatePort:
    tenants = {ws.tenant for ws in WORKSPACES.values()}
    if request.param == "memory":
        memory = MemoryState(registry=SEED_REGISTRY, policy=POLICY)
        memory.workspaces = dict(WORKSPACES)
        memory.tenants = {tenant: Tenant(id=tenant) for tenant in tenants}
        return StatePort(memory, lambda: list(memory.audits))
    configured: Settings = request.getfixturevalue("settings")
    store = StateStore.from_settings(configured)
    store.ensure_tables()
    for tenant in sorted(tenants):
        store.put_tenant(Tenant(id=tenant))
    store.put_registry(SEED_REGISTRY)
    for ws in WORKSPACES.values():
        store.put_workspace(ws)
    store.put_policy(POLICY)
    return StatePort(store, lambda: list(reversed(store.recent_audit(limit=1000))))


@dataclass
class CatalogPort:
    """A Catalog port, and how a test puts assets where AzureML would have them (a tenant's own calls)."""

    port: Any
    register: Callable[[str, Asset], None]
    put_in_registry: Callable[[Asset], None]
    archived: Callable[[str, AssetRef], bool]  # is this version archived in the workspace ("registry")?


@pytest.fixture(params=["memory", "emulator"])
def catalog(request: pytest.FixtureRequest) -> CatalogPort:
    if request.param == "memory":
        memory = MemoryCatalog()

        def archived_in_memory(where: str, ref: AssetRef) -> bool:
            return ("@registry" if where == "registry" else where, ref) in memory.archived

        return CatalogPort(memory, memory.register, memory.put_in_registry, archived_in_memory)
    from azure.ai.ml.constants import ListViewType
    from azure.ai.ml.entities import Model

    client: Callable[[str], Any] = request.getfixturevalue("ml")
    folder: Path = request.getfixturevalue("model_folder")
    gateway = AzureMLGateway(request.getfixturevalue("settings"))

    def register(where: str, asset: Asset) -> None:
        model = Model(name=asset.ref.name, version=asset.ref.version, path=str(folder), tags=dict(asset.tags))
        client(where).models.create_or_update(model)

    def archived(where: str, ref: AssetRef) -> bool:
        if where == "registry":  # the SDK lists a registry name's versions without a view type: read it
            from azure.ai.ml._utils._registry_utils import get_registry_versioned_asset

            operations = client(where).models
            raw = get_registry_versioned_asset(
                operations._registry_service_client,
                "models",
                ref.name,
                ref.version,
                operations._resource_group_name,
                operations._registry_name,
            )
            return bool(raw["properties"].get("isArchived"))
        listed = client(where).models.list(name=ref.name, list_view_type=ListViewType.ARCHIVED_ONLY)
        return ref.version in {str(found.version) for found in listed}

    return CatalogPort(gateway, register, lambda asset: register("registry", asset), archived)


@dataclass
class FeedPort:
    """A ChangeFeed port, and how a test makes a tenant's write (a model version) in a workspace."""

    port: Any
    write: Callable[[str], None]


@pytest.fixture(params=["memory", "emulator"])
def feed(request: pytest.FixtureRequest) -> FeedPort:
    if request.param == "memory":
        memory = MemoryChangeFeed()
        return FeedPort(memory, lambda name: memory.record(workspace(name), utc_now()))
    from azure.ai.ml.entities import Model

    client: Callable[[str], Any] = request.getfixturevalue("ml")
    folder: Path = request.getfixturevalue("model_folder")
    configured: Settings = request.getfixturevalue("settings")

    def write(name: str) -> None:
        client(name).models.create_or_update(Model(name=unique("feed"), version="1", path=str(folder)))

    return FeedPort(ActivityLogFeed(configured.arm_endpoint, StaticDevCredential), write)


@pytest.fixture(params=["memory", "azurite"])
def queue(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Callable[[], list[dict[str, Any]]]]]:
    """A work queue, and how to read what became visible on it."""
    if request.param == "memory":
        memory = MemoryQueue()
        yield memory, lambda: [message.body for message in memory.sent if message.delay_seconds == 0]
        return
    configured: Settings = request.getfixturevalue("settings")
    real = WorkQueue.from_settings(configured, f"contract-{uuid.uuid4().hex[:10]}")
    real.ensure()
    yield real, lambda: [json.loads(m.content) for m in real.client.peek_messages(max_messages=32)]
    real.client.delete_queue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
