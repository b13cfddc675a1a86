"""The engine's ports, its world and its observations: what every use case starts from.

Who uses it: the use-case modules beside it (shared.engine.propagation, .reconcile, .pushes, .requests),
which the Engine class in shared.engine combines. Observation reads only what a plan needs, into
immutable snapshots (shared.planner); nothing here writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from shared.domain import Asset, AssetKind, AssetRef, Registry, Workspace
from shared.engine.apply import Applier
from shared.engine.logs import log
from shared.errors import PermanentError, judge
from shared.planner import FanoutSnapshot, ShareSnapshot, World, newest_numeric, oldest_version
from shared.planner.rollout import resumed_rules
from shared.policy import NameOwners, decide_share, declared_claim, name_owners, provenance_tenant
from shared.ports import Catalog, ChangeFeed, Clock, State, WorkQueue
from shared.provenance import origin_of, registry_copy
from shared.records import (
    CONFLICT_TARGET_PREFIX,
    SHARE_TARGET,
    Action,
    Outcome,
    Status,
    utc_now,
)
from shared.signing.notary import Notary

RECORDED_OWNERS_KEPT = 10_000  # names whose recorded owner a process remembers
StoreT = TypeVar("StoreT", bound=State)  # the storage adapter: callers that need more than the ports see it


class EngineCore(Generic[StoreT]):
    def __init__(
        self,
        *,
        store: StoreT,
        gateway: Catalog,
        pushes: WorkQueue,
        reconciles: WorkQueue | None = None,
        outbox: WorkQueue | None = None,
        max_push_attempts: int = 5,
        max_concurrency: int = 4,
        world_ttl: float = 0.0,
        refusal_window: int = 0,
        deployment_poll_seconds: int = 30,
        deployment_deadline_seconds: int = 1800,
        clock: Clock = utc_now,
        notary: Notary | None = None,
        watches: WorkQueue | None = None,
        change_feed: ChangeFeed | None = None,
        full_reconcile_seconds: float = 0.0,
        change_feed_overlap_seconds: float = 1800.0,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.pushes = pushes
        self.reconciles = reconciles
        self.max_push_attempts = max_push_attempts
        self.max_concurrency = max_concurrency
        self.world_ttl = world_ttl
        self.clock = clock
        self.change_feed = change_feed  # None: every reconcile tick is a full pass
        self.full_reconcile_seconds = full_reconcile_seconds
        self.change_feed_overlap_seconds = change_feed_overlap_seconds
        self.applier = Applier(
            store,
            gateway,
            pushes,
            outbox,
            clock,
            max_push_attempts,
            refusal_window,
            deployment_poll_seconds,
            deployment_deadline_seconds,
            notary=notary,
            watches=watches,
        )
        self._world: tuple[float, World] | None = None  # when its read began, and what it read
        self._world_read = threading.Lock()
        self._world_failure: tuple[float, Exception] | None = None  # when the last failed read began
        # Recorded owners of registry names: written insert-if-absent and never changed by RegSync
        # (shared.storage), so an answer once read holds for the process's life. Bounded: emptied when full.
        self._recorded_owners: dict[tuple[AssetKind, str], str] = {}

    def world(self) -> World:
        """Inventory and rules, read at most once per `world_ttl` seconds: a burst of events must not
        re-read thousands of workspace rows each, and rule changes still apply within seconds. One read
        at a time per process: a caller that waited for another's read takes it if that read began
        after the caller asked (as fresh as its own would be), so a round of pushes in parallel reads
        the world once, not once each, even with `world_ttl` 0. Likewise its failure: callers that
        waited for a read that failed fail with it, rather than each trying a failing Storage in turn."""
        asked = time.monotonic()
        with self._world_read:
            cached, failed = self._world, self._world_failure
            if cached is not None and (asked - cached[0] < self.world_ttl or cached[0] >= asked):
                return cached[1]
            if failed is not None and failed[0] >= asked:
                raise failed[1]
            began = time.monotonic()
            try:
                world = self._read_world()
            except Exception as error:
                self._world_failure = (began, error)
                raise
            self._world = (began, world)
            return world

    def _read_world(self) -> World:
        registry = self.store.get_registry()
        if registry is None:
            raise PermanentError("no registry is configured: add one with `regsync registry add`")
        if self._world is None:  # the process's first operation: its registry client builds meanwhile
            self.gateway.warm(registry)
        workspaces = {workspace.name: workspace for workspace in self.store.list_workspaces()}
        recalled = {tombstone.asset_key: tombstone for tombstone in self.store.tombstones()}
        return World(
            registry=registry, policy=self.store.load_policy(), workspaces=workspaces, recalled=recalled
        )

    # --- observation ---------------------------------------------------------------------------

    def observe_share(
        self, origin: Workspace, ref: AssetRef, world: World, *, source: Asset | None = None
    ) -> tuple[ShareSnapshot, AssetRef | None]:
        """The asset in its workspace (or `source`, as given) and, if the rules send it somewhere, what
        sits at its destination and who owns the destination name."""
        source = source or self.gateway.get_asset(origin, ref)
        memo = self.store.recall(origin.name, ref.key)
        if source is None or registry_copy(source):
            return ShareSnapshot(origin, ref, source, memo), None
        destination = decide_share(source, origin, world.registry, world.policy).destination
        if destination is None:
            return ShareSnapshot(origin, ref, source, memo), None
        # One list of the destination name's versions answers what sits at the destination, which
        # version is the latest (the fan-out's version policies) and who published the name first.
        listed = self.gateway.registry_versions(world.registry, destination)
        snapshot = ShareSnapshot(
            origin,
            ref,
            source,
            memo,
            share_row=self.store.get_entry(destination.key, SHARE_TARGET),
            conflict_row=self.store.get_entry(destination.key, f"{CONFLICT_TARGET_PREFIX}{origin.name}"),
            in_registry=next((found for found in listed if found.ref == destination), None),
            owners=self.observe_owners(world, destination.kind, destination.name, listed=listed),
            registry_versions=tuple(found.ref.version for found in listed),
        )
        return snapshot, destination

    def observe_owners(
        self, world: World, kind: AssetKind, name: str, *, listed: list[Asset] | None = None
    ) -> NameOwners:
        """Who owns a registry name: the provider's claim (no read), else the recorded owner (a point
        read, once per name and process), else, once per name until it is recorded, the provenance
        tenant of its oldest version (from `listed`, the name's versions if the caller has them, else
        one list call)."""
        if declared_claim(world.policy.ownership, kind, name) is not None:
            return name_owners(world.policy, kind, name, recorded=None)
        recorded = self._recorded_owner(kind, name)
        first = None
        if recorded is None:
            if listed is None:
                listed = self.gateway.registry_versions(
                    world.registry, AssetRef(kind=kind, name=name, version="1")
                )
            by_version = {found.ref.version: found for found in listed}
            oldest = oldest_version(by_version)
            first = provenance_tenant(by_version[oldest]) if oldest is not None else None
        return name_owners(world.policy, kind, name, recorded=recorded, first_publisher=first)

    def _recorded_owner(self, kind: AssetKind, name: str) -> str | None:
        owner = self._recorded_owners.get((kind, name))
        if owner is None:
            owner = self.store.owner_of(kind, name)
            if owner is not None:
                if len(self._recorded_owners) >= RECORDED_OWNERS_KEPT:
                    self._recorded_owners.clear()
                self._recorded_owners[(kind, name)] = owner
        return owner

    def observe_fanout(self, asset: Asset, latest_version: str, owners: NameOwners) -> FanoutSnapshot:
        entries = self.store.entries_for_asset(asset.ref.key)
        in_flight = origin_of(asset.tags) is None and any(entry.target == SHARE_TARGET for entry in entries)
        rows = {entry.workspace: entry for entry in entries if entry.workspace}
        return FanoutSnapshot(asset, owners, rows, in_flight, latest_version, resumed_rules(entries))

    def latest_version(self, registry: Registry, ref: AssetRef) -> str:
        if ref.version.isdigit():
            listed = self.gateway.registry_versions(registry, ref)
            return newest_numeric(ref.version, (found.ref.version for found in listed))
        return self.gateway.latest_registry_version(registry, ref) or ref.version

    # --- one asset's trouble stays with that asset ---------------------------------------------

    def isolated(
        self, action: Action, subject: str, target: str, work: Callable[[], list[Outcome]]
    ) -> list[Outcome]:
        """Run `work`; a failure becomes this asset's outcome, so a pass over many assets finishes."""
        try:
            return work()
        except Exception as error:
            failure = judge(error)
            log.warning(
                "%s of %s: %s", action.value, subject, failure.message, exc_info=failure.kind == "unexpected"
            )
            status = Status.RETRYING if failure.retryable else Status.FAILED
            return [Outcome(action, subject, target, status, failure.message)]
