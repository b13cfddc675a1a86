"""The benchmarks' stack: Azurite and the AzureML emulator on a generated world, engines on their own
tables and queues, and the triggers' work run in-process (shares, pushes drained as the queue trigger
would, in parallel like the platform's queue workers)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rich.console import Console

from devstack.azurite import RunningAzurite, start_azurite
from devstack.emulator.launch import EmulatorAdmin, RunningEmulator, apply_env, restore_env, start_emulator
from shared.azureml import StaticDevCredential
from shared.domain import AssetKind, AssetRef, Registry, Tenant, Workspace
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.policy import Policy
from shared.queues import WorkQueue
from shared.records import PushMessage, Status
from shared.runtime import build_engine
from shared.settings import Settings
from shared.storage import StateStore

T = TypeVar("T")
SUBSCRIPTIONS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
GROUPS = ("rg-bench-a", "rg-bench-b")
TENANTS = ("tenant-a", "tenant-b")
REGIONS = ("eastus", "westeurope")
REGISTRY = "bench-registry"
OUTSIDE = "ws-outside"  # in westus, which the registry does not cover
# SDK bootstrap (cloud metadata, registry discovery) is counted apart from AzureML API calls.
BOOTSTRAP_ROUTES = ("/metadata", "/registrymanagement")
WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}
# Every AzureML call (ARM and the registry's discovery), for injected latency and faults.
AZUREML_CALLS = r"Microsoft\.MachineLearningServices|registrymanagement"
MAX_ENGINE_RETRIES = 8
err = Console(stderr=True)


@dataclass
class Stack:
    azurite: RunningAzurite
    emulator: RunningEmulator
    admin: EmulatorAdmin
    workspaces: list[Workspace]  # in the registry's regions, in name order
    outside: Workspace
    registry: Registry
    clients: dict[str, Any] = field(default_factory=dict)

    def tenant_client(self, workspace: Workspace | Registry) -> Any:
        """An MLClient as a tenant or an operator uses it (not RegSync's)."""
        from azure.ai.ml import MLClient

        if workspace.name not in self.clients:
            if isinstance(workspace, Registry):
                self.clients[workspace.name] = MLClient(
                    StaticDevCredential(), workspace.subscription_id, registry_name=workspace.name
                )
            else:
                self.clients[workspace.name] = MLClient(
                    StaticDevCredential(), workspace.subscription_id, workspace.resource_group, workspace.name
                )
        return self.clients[workspace.name]

    def latency(self, milliseconds: int) -> None:
        """Every AzureML call answers `milliseconds` later (faults set afterwards still apply)."""
        self.admin.clear_faults()
        if milliseconds:
            self.admin.set_fault(AZUREML_CALLS, latency_ms=milliseconds)


def bench_workspaces(count: int) -> tuple[list[Workspace], Workspace]:
    inside = [
        Workspace(
            name=f"ws-{i + 1:03d}",
            tenant=TENANTS[i % 2],
            subscription_id=SUBSCRIPTIONS[i % 2],
            resource_group=GROUPS[i % 2],
            region=REGIONS[i % 2],
        )
        for i in range(count)
    ]
    outside = Workspace(
        name=OUTSIDE,
        tenant=TENANTS[0],
        subscription_id=SUBSCRIPTIONS[0],
        resource_group=GROUPS[0],
        region="westus",
    )
    return inside, outside


def world_document(workspaces: list[Workspace], registry: Registry) -> dict[str, Any]:
    """The emulator's world file (docs/emulator.md): two subscriptions, one resource group each."""
    subscriptions = []
    for subscription, group in zip(SUBSCRIPTIONS, GROUPS, strict=True):
        members = [w for w in workspaces if w.subscription_id == subscription]
        entries = [{"name": w.name, "region": w.region} for w in members]
        subscriptions.append({"id": subscription, "resourceGroups": [{"name": group, "workspaces": entries}]})
    subscriptions[0]["resourceGroups"].append({"name": registry.resource_group, "workspaces": []})
    registries = [
        {
            "name": registry.name,
            "subscription": registry.subscription_id,
            "resourceGroup": registry.resource_group,
            "regions": list(registry.regions),
        }
    ]
    return {"subscriptions": subscriptions, "registries": registries, "eventSubscriptions": []}


@contextlib.contextmanager
def running_stack(workspace_count: int) -> Iterator[Stack]:
    """Azurite + the emulator on a generated world, the SDK pointed at it; everything stopped after."""
    inside, outside = bench_workspaces(workspace_count)
    registry = Registry(
        name=REGISTRY, subscription_id=SUBSCRIPTIONS[0], resource_group="rg-registry", regions=REGIONS
    )
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="regsync-bench-") as tmp:
        world = Path(tmp) / "world.yaml"
        world.write_text(yaml.safe_dump(world_document([*inside, outside], registry)), encoding="utf-8")
        err.print(f"[dim]starting Azurite and the emulator ({workspace_count + 1} workspaces)[/dim]")
        azurite = stack.enter_context(start_azurite())
        emulator = stack.enter_context(start_emulator(world, Path(tmp) / "emulator"))
        previous = apply_env(emulator.env)
        stack.callback(restore_env, previous)
        admin = emulator.admin()
        stack.callback(admin.close)
        yield Stack(azurite, emulator, admin, inside, outside, registry)


def new_engine(
    stack: Stack, workspaces: Sequence[Workspace], policy: Policy, suffix: str | None = None
) -> Engine[StateStore]:
    """An engine on its own tables and queues (named by `suffix`), seeded through shared.storage."""
    suffix = suffix or uuid.uuid4().hex[:10]
    engine = engine_on(stack, suffix)
    for tenant in TENANTS:
        engine.store.put_tenant(Tenant(id=tenant))
    engine.store.put_registry(stack.registry)
    add_workspaces(engine, workspaces)
    engine.store.put_policy(policy)
    return engine


def engine_on(stack: Stack, suffix: str) -> Engine[StateStore]:
    """The engine a host builds on the tables and queues named by `suffix`: a second one on the same
    suffix is a freshly started host (cold: no AzureML client built yet). Claimed pushes' watches go to
    a queue of their own, so draining the work does not wait for them (the crash bench does)."""
    settings = Settings(
        storage_connection_string=stack.azurite.connection_string,
        table_prefix=f"bench{suffix}",
        push_queue=f"pushes-{suffix}",
        reconcile_queue=f"reconcile-{suffix}",
        azureml_emulator=True,
        arm_endpoint=stack.emulator.base_url,  # the Activity Log the reconcile's timer reads
        world_cache_seconds=0,  # the bench grows the inventory between runs
    )
    engine = build_engine(settings)
    watches = WorkQueue.from_settings(settings, f"watches-{suffix}")
    watches.ensure()
    engine.applier.watches = watches
    return engine


def push_queue(engine: Engine[StateStore]) -> WorkQueue:
    queue = engine.pushes
    assert isinstance(queue, WorkQueue)
    return queue


def watch_queue(engine: Engine[StateStore]) -> WorkQueue:
    queue = engine.applier.watches
    assert isinstance(queue, WorkQueue)
    return queue


def add_workspaces(engine: Engine[StateStore], workspaces: Sequence[Workspace]) -> None:
    for workspace in workspaces:
        engine.store.put_workspace(workspace)


def register_model(stack: Stack, workspace: Workspace, name: str) -> AssetRef:
    """Register a model as a tenant would, from a datastore path (no upload), version 1."""
    from azure.ai.ml.entities import Model

    model = Model(
        name=name,
        version="1",
        path=f"azureml://datastores/workspaceblobstore/paths/models/{name}/",
        type="custom_model",
    )
    stack.tenant_client(workspace).models.create_or_update(model)
    return AssetRef(kind=AssetKind.MODEL, name=name, version="1")


def with_retries(action: Callable[[int], T]) -> tuple[T, int]:
    """Run `action(attempt)`; on TemporaryError wait its retry_after and run it again, as a redelivered
    event or queue message would (Azure waits longer: Event Grid 10 s first, the queue its visibility
    timeout). Returns the result and the number of retries."""
    for attempt in range(1, MAX_ENGINE_RETRIES + 1):
        try:
            return action(attempt), attempt - 1
        except TemporaryError as error:
            if attempt == MAX_ENGINE_RETRIES:
                raise
            time.sleep(min(error.retry_after, 5.0))
    raise AssertionError("unreachable")


@dataclass
class Drained:
    seconds: list[float] = field(default_factory=list)  # per push message run
    retries: int = 0


def drain(queue: WorkQueue, run: Callable[[PushMessage], Any], *, concurrency: int = 1) -> Drained:
    """Run every message of `queue` through `run` as the queue trigger would, `concurrency` at a time,
    until none is left, visible or not (a throttled push re-sends itself with AzureML's delay). Like the
    host, it fetches more as soon as a worker is free, not once a whole batch has finished."""
    drained = Drained()
    lock = threading.Lock()
    workers = max(1, concurrency)

    def one(message: Any) -> None:
        push = PushMessage.model_validate(json.loads(message.content))
        start = time.perf_counter()
        outcome, retried = with_retries(lambda _attempt: run(push))
        with lock:
            drained.seconds.append(time.perf_counter() - start)
            drained.retries += retried + (getattr(outcome, "status", None) is Status.RETRYING)
        queue.client.delete_message(message)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: set[Future[None]] = set()
        while True:
            finished = {future for future in running if future.done()}
            for future in finished:
                future.result()  # a push that raised fails the drain, as before
            running -= finished
            room = workers - len(running)
            fetched = []
            if room:
                fetched = list(
                    queue.client.receive_messages(max_messages=min(32, room), visibility_timeout=300)
                )
                running |= {pool.submit(one, message) for message in fetched}
            if not running and not queue.client.get_queue_properties().approximate_message_count:
                return drained
            if fetched:
                continue
            if running:  # every worker is busy: go on when one is free
                wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            else:  # a re-sent push is still invisible: poll, as the queue trigger does
                time.sleep(0.1)


def summarise_calls(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """AzureML API calls (by method and route) apart from the SDK's bootstrap (metadata, discovery)."""
    api = [c for c in counts if not c["route"].startswith(BOOTSTRAP_ROUTES)]
    return {
        "azureml_calls": sum(c["count"] for c in api),
        "azureml_writes": sum(c["count"] for c in api if c["method"] in WRITE_METHODS),
        "bootstrap_calls": sum(c["count"] for c in counts if c["route"].startswith(BOOTSTRAP_ROUTES)),
        "faulted": sum(c["faulted"] for c in counts),
        "routes": [{"method": c["method"], "route": c["route"], "count": c["count"]} for c in api],
    }
