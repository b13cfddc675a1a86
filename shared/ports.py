"""The ports the engine depends on: small Protocols, one per thing it talks to.

Who implements them: shared.storage (Table Storage), shared.queues (Queue Storage), shared.azureml
(AzureML through the SDK) and, for fast engine unit tests only, tests/memory.py, which tests/contract/
runs the very same tests against the real adapters (Azurite, the emulator through the SDK), so a fake
cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain import (
    Asset,
    AssetKind,
    AssetRef,
    DeploymentState,
    EndpointView,
    Pushed,
    Registry,
    Tenant,
    Workspace,
)
from shared.policy import Policy, PushAction
from shared.records import AuditRecord, LedgerEntry, Memo, Tombstone

Clock = Callable[[], datetime]


class ConcurrentUpdateError(Exception):
    """Someone else changed the ledger row since it was read (ETag mismatch), or created it first."""


class Catalog(Protocol):
    """AzureML assets in workspaces and the registry. Raises shared.errors on failure."""

    def warm(self, registry: Registry) -> None:
        """Prepare, in the background, what calls to `registry` need (a cold start's first share)."""
        ...

    def get_asset(self, workspace: Workspace, ref: AssetRef) -> Asset | None: ...
    def get_registry_asset(self, registry: Registry, ref: AssetRef) -> Asset | None: ...
    def workspace_latest(self, workspace: Workspace, kind: AssetKind) -> list[Asset]: ...
    def registry_latest(self, registry: Registry, kind: AssetKind) -> list[Asset]: ...
    def registry_versions(self, registry: Registry, ref: AssetRef) -> list[Asset]:
        """Every version of `ref`'s name in the registry, with its tags, newest first."""
        ...

    def latest_registry_version(self, registry: Registry, ref: AssetRef) -> str | None: ...
    def share(
        self,
        origin: Workspace,
        ref: AssetRef,
        registry: Registry,
        destination: AssetRef,
        tags: dict[str, str],
    ) -> Asset:
        """Copy a workspace asset version into the registry with `tags`: the registry's copy."""
        ...

    def stamp_registry_tags(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> Asset: ...
    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> Pushed:
        """Register, or START a deployment (creating its endpoint first if needed) without waiting."""
        ...

    def deployment_state(
        self, target: Workspace, action: PushAction, ref: AssetRef, operation: str = ""
    ) -> DeploymentState:
        """Where the deployment of `ref` stands (a read); `operation` (from `Pushed`) gives Azure's reason."""
        ...

    def promote(self, target: Workspace, action: PushAction, ref: AssetRef) -> str:
        """Give a READY deployment its traffic (online) or make it the default (batch), without waiting,
        and remove RegSync's older deployments beyond `action.keep_deployments`."""
        ...

    def endpoint_view(self, target: Workspace, action: PushAction) -> EndpointView | None:
        """The endpoint `action` deploys to, its deployments and traffic (a read); None: no endpoint."""
        ...

    def retire(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, fallback: str | None
    ) -> str:
        """Take back a recalled version: archive RegSync's copy (register), or move the endpoint's traffic
        (online) or default (batch) to the `fallback` deployment; no fallback: remove its deployment.
        Idempotent, never waits."""
        ...

    def archive_registry_version(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> str:
        """Tag a recalled registry version and archive it (registry versions cannot be deleted)."""
        ...


class Inventory(Protocol):
    """Tenants, workspaces, the registry and the rules."""

    def get_registry(self, name: str | None = None) -> Registry | None: ...
    def list_workspaces(self, tenant: str | None = None) -> list[Workspace]: ...
    def get_workspace(self, name: str) -> Workspace | None: ...
    def workspace_by_topic(self, topic: str) -> Workspace | None: ...
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def load_policy(self) -> Policy: ...


class Ledger(Protocol):
    """One row per (asset version, target); writes are conditional (ConcurrentUpdateError)."""

    def get_entry(self, asset_key: str, target: str) -> LedgerEntry | None: ...
    def entries_for_asset(self, asset_key: str) -> list[LedgerEntry]: ...
    def create_entry(self, entry: LedgerEntry) -> LedgerEntry: ...
    def update_entry(self, entry: LedgerEntry) -> LedgerEntry: ...
    def write_entries(self, changes: Sequence[tuple[LedgerEntry | None, LedgerEntry]]) -> list[LedgerEntry]:
        """Rows of ONE asset version at once, all or nothing: each (before, after) creates `after` if
        `before` is None, else replaces `before` if nobody changed it since. ConcurrentUpdateError (and
        nothing written) if any of them exists already or changed."""
        ...


class LedgerViews(Protocol):
    """A workspace's push rows (drift): one query; not a hot path unless a rule opts into self-heal."""

    def list_ledger(self, *, workspace: str | None = None) -> Iterator[LedgerEntry]: ...


class Owners(Protocol):
    """Who owns a registry asset name (per kind): the tenant RegSync first published it for.

    `claim_owner` is insert-if-absent: the first claim of a name wins, and every claim answers the owner
    as it now stands (the claimant, or whoever got there first).
    """

    def owner_of(self, kind: AssetKind, name: str) -> str | None: ...
    def claim_owner(self, kind: AssetKind, name: str, tenant: str) -> str: ...


class AuditLog(Protocol):
    def audit(self, record: AuditRecord) -> None: ...
    def first_in_window(self, key: str, *, now: datetime, window_seconds: int) -> bool: ...


class Memos(Protocol):
    """What the reconcile has judged, per workspace (or the registry scope)."""

    def memos_in(self, scope: str) -> dict[str, Memo]: ...
    def recall(self, scope: str, asset_key: str) -> Memo | None: ...
    def remember(self, scope: str, memo: Memo) -> None: ...


class Tombstones(Protocol):
    """Recalled registry versions. `bury` is insert-if-absent: the first recall's record stands."""

    def bury(self, tombstone: Tombstone) -> Tombstone: ...
    def tombstone(self, asset_key: str) -> Tombstone | None: ...
    def tombstones(self) -> list[Tombstone]: ...


class Watermarks(Protocol):
    """How far the reconcile has read a change feed (per subscription), and when a full pass last ran."""

    def watermark(self, key: str) -> datetime | None: ...
    def advance(self, key: str, at: datetime) -> None: ...


class ChangeFeed(Protocol):
    """Which workspaces had an asset version written or deleted in a time range (Azure's Activity Log).
    Raises shared.errors on failure."""

    def changed_workspaces(self, subscription: str, since: datetime, until: datetime) -> set[str]:
        """The ARM ids, lower case, of the workspaces of `subscription` with such a write in the range."""
        ...


class WorkQueue(Protocol):
    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> None: ...
    def send_all(self, bodies: Sequence[dict[str, Any]], *, delay_seconds: int = 0) -> None:
        """Send every body (side by side where the queue allows); an error once all were tried."""
        ...


class State(Inventory, Ledger, LedgerViews, Owners, AuditLog, Memos, Tombstones, Watermarks, Protocol):
    """The tables as one port (the storage adapter implements all of them)."""
