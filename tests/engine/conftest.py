"""A small world on the in-memory ports (tests/memory.py), for fast engine use-case tests.

Five workspaces of three tenants as in the seed story (workspace5 outside the registry's regions); each
test sets the rules it needs. The clock is a test's to move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import Asset, AssetKind, AssetRef, Registry, Tenant, Workspace
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.events import AssetEvent
from shared.policy import Policy, PushRule, ShareRule
from shared.records import OutboundEvent, PushMessage, ReconcileMessage, Status
from tests.memory import MemoryCatalog, MemoryQueue, MemoryState

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
REGISTRY = Registry(
    name="regsync-registry",
    subscription_id=SUBSCRIPTION,
    resource_group="rg",
    regions=("eastus", "westeurope"),
)
PLACES = {
    "workspace1": ("contoso", "eastus", "dev"),
    "workspace2": ("contoso", "eastus", "prod"),
    "workspace3": ("northwind", "westeurope", "dev"),
    "workspace4": ("woodgrove", "eastus", "dev"),
    "workspace5": ("litware", "westus", "dev"),
}


def workspace(name: str) -> Workspace:
    tenant, region, stage = PLACES[name]
    return Workspace(
        name=name,
        tenant=tenant,
        subscription_id=SUBSCRIPTION,
        resource_group="rg",
        region=region,
        stage=stage,
    )


def model(name: str, version: str = "1", **tags: str) -> Asset:
    return Asset(ref=AssetRef(kind=AssetKind.MODEL, name=name, version=version), tags=tags)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 30, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """The engine over in-memory ports, and what a test needs to drive it as the triggers would."""

    engine: Engine[MemoryState]
    state: MemoryState
    catalog: MemoryCatalog
    pushes: MemoryQueue
    reconciles: MemoryQueue
    outbox: MemoryQueue
    clock: Clock
    watches: MemoryQueue  # claimed pushes' watches (the push queue in production), apart from the work

    def rules(self, *rules: ShareRule | PushRule) -> None:
        self.state.policy = Policy(
            share=tuple(r for r in rules if isinstance(r, ShareRule)),
            push=tuple(r for r in rules if isinstance(r, PushRule)),
        )

    def register(self, workspace_name: str, asset: Asset) -> AssetEvent:
        """A tenant registers `asset` in its workspace; returns the ModelRegistered event AzureML sends."""
        self.catalog.register(workspace_name, asset)
        return AssetEvent(
            event_id=f"evt-{workspace_name}-{asset.ref.name}-{asset.ref.version}",
            event_type="Microsoft.MachineLearningServices.ModelRegistered",
            workspace_arm_id=workspace(workspace_name).arm_id,
            ref=asset.ref,
            tags=asset.tags,
        )

    def drain(self, *, limit: int = 200) -> list[Status]:
        """Run queued pushes as the queue trigger would (delays are the queue's: not waited for here)."""
        statuses = []
        for _ in range(limit):
            message = self.pushes.take()
            if message is None:
                return statuses
            statuses.append(self.engine.execute_push(PushMessage.model_validate(message.body)).status)
        raise AssertionError("the push queue did not drain")

    def reconcile(self) -> None:
        """The timer's reconcile, carried out by the reconcile queue worker."""
        self.engine.schedule_reconcile(correlation_id="timer")
        while (message := self.reconciles.take()) is not None:
            self.engine.reconcile(ReconcileMessage.model_validate(message.body))

    def row(self, asset: Asset, target: str) -> object:
        return self.state.ledger.get((asset.ref.key, target))

    def events(self, event_type: str) -> list[OutboundEvent]:
        found = [OutboundEvent.model_validate(message.body) for message in self.outbox.sent]
        return [event for event in found if event.event_type == event_type]

    def audited(self, action: str, outcome: str) -> list[str]:
        return [r.reason for r in self.state.audits if (r.action, r.outcome) == (action, outcome)]


@pytest.fixture
def world() -> World:
    state = MemoryState(registry=REGISTRY)
    for name in PLACES:
        state.workspaces[name] = workspace(name)
        state.tenants.setdefault(PLACES[name][0], Tenant(id=PLACES[name][0]))
    catalog, pushes, reconciles, outbox, clock = (
        MemoryCatalog(),
        MemoryQueue(),
        MemoryQueue(),
        MemoryQueue(),
        Clock(),
    )
    engine = Engine(
        store=state,
        gateway=catalog,
        pushes=pushes,
        reconciles=reconciles,
        outbox=outbox,
        max_push_attempts=3,
        clock=clock,
        watches=(watches := MemoryQueue()),
    )
    return World(engine, state, catalog, pushes, reconciles, outbox, clock, watches)


def throttled(retry_after: float = 7) -> TemporaryError:
    return TemporaryError("AzureML answered 429: TooManyRequests", retry_after=retry_after)
