"""In-memory implementations of the engine's ports (shared.ports), for FAST engine unit tests only.

They are trusted only because tests/contract/ runs the very same port tests against them and against
the real adapters (StateStore on Azurite, AzureMLGateway on the emulator through the SDK, WorkQueue on
Azurite): a behaviour a fake has and the real thing lacks fails there. Faults are injected by name of
the port method (`fail("push", error, times=2)`), as the emulator's fault admin does for AzureML.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.azureml.deployments import deployment_name, shifted_traffic
from shared.azureml.recall import traffic_without
from shared.domain import (
    Asset,
    AssetKind,
    AssetRef,
    DeploymentState,
    EndpointView,
    Provisioning,
    Pushed,
    Registry,
    ServingDeployment,
    Tenant,
    Workspace,
)
from shared.errors import ConflictError
from shared.policy import Policy, PushAction, PushMode
from shared.ports import ConcurrentUpdateError
from shared.provenance import TAG_REGISTRY_ID, Origin, origin_of
from shared.records import AuditRecord, LedgerEntry, Memo, Tombstone


class Faults:
    """Errors to raise from named methods, a given number of times (or forever with times=None)."""

    def __init__(self) -> None:
        self._planned: dict[str, list[tuple[BaseException, int | None]]] = {}
        self.calls: list[str] = []

    def fail(self, method: str, error: BaseException, *, times: int | None = 1) -> None:
        self._planned.setdefault(method, []).append((error, times))

    def clear(self) -> None:
        self._planned.clear()

    def check(self, method: str) -> None:
        self.calls.append(method)
        planned = self._planned.get(method)
        if not planned:
            return
        error, times = planned[0]
        if times is not None:
            if times <= 1:
                planned.pop(0)
            else:
                planned[0] = (error, times - 1)
        raise error


@dataclass
class MemoryState:
    """Inventory, ledger, audit and memos in dictionaries, with the ETag rules of Table Storage."""

    registry: Registry | None = None
    policy: Policy = field(default_factory=Policy)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    ledger: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    audits: list[AuditRecord] = field(default_factory=list)
    memos: dict[str, dict[str, Memo]] = field(default_factory=dict)
    owners: dict[tuple[AssetKind, str], str] = field(default_factory=dict)
    windows: set[str] = field(default_factory=set)
    buried: dict[str, Tombstone] = field(default_factory=dict)
    watermarks: dict[str, datetime] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)

    # --- inventory -----------------------------------------------------------------------------

    def get_registry(self, name: str | None = None) -> Registry | None:
        self.faults.check("get_registry")
        return self.registry if self.registry and name in (None, self.registry.name) else None

    def list_workspaces(self, tenant: str | None = None) -> list[Workspace]:
        self.faults.check("list_workspaces")
        found = [ws for ws in self.workspaces.values() if tenant in (None, ws.tenant)]
        return sorted(found, key=lambda ws: ws.name)

    def get_workspace(self, name: str) -> Workspace | None:
        return self.workspaces.get(name)

    def workspace_by_topic(self, topic: str) -> Workspace | None:
        return next((ws for ws in self.workspaces.values() if ws.arm_id.lower() == topic.lower()), None)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def load_policy(self) -> Policy:
        return self.policy

    # --- ledger --------------------------------------------------------------------------------

    def get_entry(self, asset_key: str, target: str) -> LedgerEntry | None:
        self.faults.check("get_entry")
        return self.ledger.get((asset_key, target))

    def entries_for_asset(self, asset_key: str) -> list[LedgerEntry]:
        self.faults.check("entries_for_asset")
        return [entry for (key, _), entry in sorted(self.ledger.items()) if key == asset_key]

    def list_ledger(self, *, workspace: str | None = None) -> Iterator[LedgerEntry]:
        self.faults.check("list_ledger")
        rows = [row for row in self.ledger.values() if workspace is None or row.workspace == workspace]
        return iter(rows)

    def create_entry(self, entry: LedgerEntry) -> LedgerEntry:
        self._before_write("create_entry")
        if (entry.asset_key, entry.target) in self.ledger:
            raise ConcurrentUpdateError(f"ledger row {entry.asset_key} -> {entry.target} exists")
        stored = replace(entry, etag=uuid.uuid4().hex)
        self.ledger[(entry.asset_key, entry.target)] = stored
        return stored

    def update_entry(self, entry: LedgerEntry) -> LedgerEntry:
        self._before_write("update_entry")
        current = self.ledger.get((entry.asset_key, entry.target))
        if current is None or entry.etag is None or current.etag != entry.etag:
            raise ConcurrentUpdateError(f"ledger row {entry.asset_key} -> {entry.target} changed meanwhile")
        stored = replace(entry, etag=uuid.uuid4().hex)
        self.ledger[(entry.asset_key, entry.target)] = stored
        return stored

    def write_entries(self, changes: Sequence[tuple[LedgerEntry | None, LedgerEntry]]) -> list[LedgerEntry]:
        for before, _ in changes:  # all or nothing, as one Table transaction
            self._before_write("create_entry" if before is None else "update_entry")
        for before, after in changes:
            current = self.ledger.get((after.asset_key, after.target))
            if (current.etag if current else None) != (before.etag if before else None):
                raise ConcurrentUpdateError(
                    f"ledger row {after.asset_key} -> {after.target} changed meanwhile"
                )
        written = [replace(after, etag=uuid.uuid4().hex) for _, after in changes]
        for entry in written:
            self.ledger[(entry.asset_key, entry.target)] = entry
        return written

    def _before_write(self, method: str) -> None:
        self.faults.check(method)

    # --- owners of registry names ---------------------------------------------------------------

    def owner_of(self, kind: AssetKind, name: str) -> str | None:
        return self.owners.get((kind, name))

    def claim_owner(self, kind: AssetKind, name: str, tenant: str) -> str:
        self.faults.check("claim_owner")
        return self.owners.setdefault((kind, name), tenant)

    # --- audit and memos -----------------------------------------------------------------------

    def audit(self, record: AuditRecord) -> None:
        self.faults.check("audit")
        self.audits.append(record)

    def first_in_window(self, key: str, *, now: datetime, window_seconds: int) -> bool:
        marker = f"{key}|{int(now.timestamp()) // window_seconds}"
        if marker in self.windows:
            return False
        self.windows.add(marker)
        return True

    def memos_in(self, scope: str) -> dict[str, Memo]:
        return dict(self.memos.get(scope, {}))

    def recall(self, scope: str, asset_key: str) -> Memo | None:
        return self.memos.get(scope, {}).get(asset_key)

    def remember(self, scope: str, memo: Memo) -> None:
        self.faults.check("remember")
        self.memos.setdefault(scope, {})[memo.asset_key] = memo

    # --- watermarks ----------------------------------------------------------------------------

    def watermark(self, key: str) -> datetime | None:
        return self.watermarks.get(key)

    def advance(self, key: str, at: datetime) -> None:
        self.faults.check("advance")
        self.watermarks[key] = at

    # --- tombstones ----------------------------------------------------------------------------

    def bury(self, tombstone: Tombstone) -> Tombstone:
        self.faults.check("bury")
        return self.buried.setdefault(tombstone.asset_key, tombstone)

    def tombstone(self, asset_key: str) -> Tombstone | None:
        self.faults.check("tombstone")
        return self.buried.get(asset_key)

    def tombstones(self) -> list[Tombstone]:
        self.faults.check("tombstones")
        return list(self.buried.values())


@dataclass
class MemoryDeployment:
    ref: AssetRef
    order: int
    state: str = "Creating"  # Creating -> Succeeded | Failed, after `provisioning_reads` state reads
    reads: int = 0
    ours: bool = True  # made by RegSync (AzureML: the `regsync.deployed_at` tag)


@dataclass
class MemoryEndpoint:
    mode: PushMode
    deployments: dict[str, MemoryDeployment] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)  # online
    default: str | None = None  # batch


@dataclass
class _Stored:
    asset: Asset
    order: int


class MemoryCatalog:
    """AzureML as the engine sees it: workspaces and one registry of asset versions, with the registry's
    immutability (a different asset under an existing version is a conflict) and idempotent pushes."""

    def __init__(self) -> None:
        self.workspaces: dict[str, dict[tuple[AssetKind, str, str], _Stored]] = {}
        self.registry: dict[tuple[AssetKind, str, str], _Stored] = {}
        self.deployments: list[tuple[str, AssetRef, PushMode]] = []  # every deployment started
        self.endpoints: dict[tuple[str, str], MemoryEndpoint] = {}  # (workspace, endpoint)
        self.provisioning_reads = 1  # state reads a new deployment stays Creating (AzureML: minutes)
        self.provisioning_failures: dict[str, str] = {}  # deployment name -> Azure's reason: it fails
        self.archived: set[tuple[str, AssetRef]] = set()  # (workspace or "@registry", version)
        self.faults = Faults()
        self._order = itertools.count()

    # --- what a test puts there ----------------------------------------------------------------

    def register(self, workspace: str, asset: Asset) -> Asset:
        key = (asset.ref.kind, asset.ref.name, asset.ref.version)
        self.workspaces.setdefault(workspace, {})[key] = _Stored(asset, next(self._order))
        return asset

    def put_in_registry(self, asset: Asset) -> Asset:
        self.registry[(asset.ref.kind, asset.ref.name, asset.ref.version)] = _Stored(asset, next(self._order))
        return asset

    def retag_registry(self, ref: AssetRef, tags: dict[str, str]) -> None:
        stored = self.registry[(ref.kind, ref.name, ref.version)]
        stored.asset = stored.asset.model_copy(update={"tags": {**stored.asset.tags, **tags}})

    # --- the Catalog port ----------------------------------------------------------------------

    def warm(self, registry: Registry) -> None:
        pass  # nothing to prepare in memory

    def get_asset(self, workspace: Workspace, ref: AssetRef) -> Asset | None:
        self.faults.check("get_asset")
        stored = self.workspaces.get(workspace.name, {}).get((ref.kind, ref.name, ref.version))
        return stored.asset if stored else None

    def get_registry_asset(self, registry: Registry, ref: AssetRef) -> Asset | None:
        self.faults.check("get_registry_asset")
        stored = self.registry.get((ref.kind, ref.name, ref.version))
        return stored.asset if stored else None

    def workspace_latest(self, workspace: Workspace, kind: AssetKind) -> list[Asset]:
        self.faults.check("workspace_latest")
        return _latest(self.workspaces.get(workspace.name, {}), kind)

    def registry_latest(self, registry: Registry, kind: AssetKind) -> list[Asset]:
        self.faults.check("registry_latest")
        return _latest(self.registry, kind)

    def registry_versions(self, registry: Registry, ref: AssetRef) -> list[Asset]:
        self.faults.check("registry_versions")
        found = [s for (kind, name, _), s in self.registry.items() if (kind, name) == (ref.kind, ref.name)]
        return [stored.asset for stored in sorted(found, key=lambda stored: -stored.order)]

    def latest_registry_version(self, registry: Registry, ref: AssetRef) -> str | None:
        self.faults.check("latest_registry_version")
        found = [s for (kind, name, _), s in self.registry.items() if (kind, name) == (ref.kind, ref.name)]
        return max(found, key=lambda stored: stored.order).asset.ref.version if found else None

    def share(
        self,
        origin: Workspace,
        ref: AssetRef,
        registry: Registry,
        destination: AssetRef,
        tags: dict[str, str],
    ) -> Asset:
        self.faults.check("share")
        source = self.get_asset(origin, ref)
        if source is None:
            raise ConflictError(f"{ref} is not in {origin.name}")
        key = (destination.kind, destination.name, destination.version)
        if key in self.registry:  # a version imported from elsewhere keeps its tags: a conflict
            if origin_of(self.registry[key].asset.tags) != Origin(origin.name, ref.name, ref.version):
                raise ConflictError(f"registry {destination} holds an asset imported from elsewhere")
            return self.stamp_registry_tags(registry, destination, tags)
        copy = Asset(ref=destination, tags=dict(source.tags), job_name=source.job_name)
        self.registry[key] = _Stored(copy, next(self._order))
        return self.stamp_registry_tags(registry, destination, tags)

    def stamp_registry_tags(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> Asset:
        self.faults.check("stamp_registry_tags")
        self.retag_registry(ref, tags)
        return self.registry[(ref.kind, ref.name, ref.version)].asset

    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> Pushed:
        self.faults.check("push")
        if action.mode is not PushMode.REGISTER:
            endpoint = self.endpoints.setdefault(
                (target.name, action.endpoint or ""), MemoryEndpoint(action.mode)
            )
            name = deployment_name(ref)
            found = endpoint.deployments.get(name)
            if found is None or found.state == "Failed":
                endpoint.deployments[name] = MemoryDeployment(ref, next(self._order))
                self.deployments.append((target.name, ref, action.mode))
                what = f"started deploying {ref.name}:{ref.version} to {action.endpoint}/{name}"
                return Pushed(what=what, deploying=True, operation=f"memory://{target.name}/{name}")
            return Pushed(what=f"deployment {action.endpoint}/{name} is {found.state}", deploying=True)
        registry_id = ref.registry_id(registry.name)
        existing = self.get_asset(target, ref)
        if existing is not None:
            if existing.tags.get(TAG_REGISTRY_ID) == registry_id:
                return Pushed(what=f"already registered as {ref.name}:{ref.version}")
            raise ConflictError(f"the workspace already holds {ref} that did not come from {registry_id}")
        self.register(target.name, Asset(ref=ref, tags={**tags, TAG_REGISTRY_ID: registry_id}))
        return Pushed(what=f"registered {ref.name}:{ref.version} from {registry_id}")

    def deployment_state(
        self, target: Workspace, action: PushAction, ref: AssetRef, operation: str = ""
    ) -> DeploymentState:
        self.faults.check("deployment_state")
        endpoint = self.endpoints.get((target.name, action.endpoint or ""))
        name = deployment_name(ref)
        found = endpoint.deployments.get(name) if endpoint else None
        if found is None:
            return DeploymentState(
                state=Provisioning.ABSENT, reason=f"no deployment {action.endpoint}/{name}"
            )
        found.reads += 1
        if found.state == "Creating" and found.reads > self.provisioning_reads:
            found.state = "Failed" if name in self.provisioning_failures else "Succeeded"
        where = f"deployment {action.endpoint}/{name}"
        if found.state == "Failed":
            reason = self.provisioning_failures.get(name, "")
            return DeploymentState(state=Provisioning.FAILED, reason=f"{where} failed: {reason}")
        if found.state == "Succeeded":
            return DeploymentState(state=Provisioning.SUCCEEDED, reason=f"{action.endpoint}/{name} is ready")
        return DeploymentState(state=Provisioning.IN_PROGRESS, reason=f"{where} is {found.state}")

    def promote(self, target: Workspace, action: PushAction, ref: AssetRef) -> str:
        self.faults.check("promote")
        endpoint = self.endpoints[(target.name, action.endpoint or "")]
        name = deployment_name(ref)
        before = dict(endpoint.traffic)
        if action.mode is PushMode.DEPLOY_ONLINE:
            endpoint.traffic = shifted_traffic(before, name, action.traffic_percent)
            serving = {d for d, share in {**before, **endpoint.traffic}.items() if share > 0} | {name}
            what = f"{action.endpoint}/{name} is ready and takes {endpoint.traffic[name]}% of the traffic"
        else:
            serving = {name} | ({endpoint.default} if endpoint.default else set())
            endpoint.default = name
            what = f"{action.endpoint}/{name} is ready and is the batch endpoint's default"
        newest = sorted(endpoint.deployments, key=lambda d: endpoint.deployments[d].order, reverse=True)
        kept, removed = sum(1 for d in newest if d in serving), []
        for other in newest:
            if other in serving:
                continue
            if kept < action.keep_deployments and endpoint.deployments[other].state != "Failed":
                kept += 1
                continue
            del endpoint.deployments[other]
            removed.append(other)
        return f"{what}; removed {', '.join(removed)}" if removed else what

    def endpoint_view(self, target: Workspace, action: PushAction) -> EndpointView | None:
        self.faults.check("endpoint_view")
        endpoint = self.endpoints.get((target.name, action.endpoint or ""))
        if endpoint is None:
            return None
        deployments = tuple(
            ServingDeployment(
                name=name,
                model=found.ref.registry_id("regsync-registry"),
                deployed_at=f"{found.order:012d}" if found.ours else "",
                state=found.state,
            )
            for name, found in endpoint.deployments.items()
        )
        name = action.endpoint or ""
        if endpoint.mode is PushMode.DEPLOY_ONLINE:
            return EndpointView(name=name, traffic=dict(endpoint.traffic), deployments=deployments)
        return EndpointView(name=name, default=endpoint.default, deployments=deployments)

    def retire(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, fallback: str | None
    ) -> str:
        self.faults.check("retire")
        if action.mode is PushMode.REGISTER:
            copy = self.get_asset(target, ref)
            if copy is None:
                return f"no copy of {ref} in the workspace: nothing to archive"
            if copy.tags.get(TAG_REGISTRY_ID) != ref.registry_id(registry.name):
                return f"the workspace's {ref} did not come from the registry: left as it is"
            self.archived.add((target.name, ref))
            return f"archived {ref.name}:{ref.version}"
        endpoint = self.endpoints.get((target.name, action.endpoint or ""))
        if endpoint is None:
            return f"endpoint {action.endpoint} is gone: nothing serves {ref}"
        name = deployment_name(ref)
        if action.mode is PushMode.DEPLOY_ONLINE:
            endpoint.traffic = traffic_without(endpoint.traffic, name, fallback)
        elif fallback is not None and endpoint.default == name:
            endpoint.default = fallback
        if fallback is not None:
            return f"{action.endpoint}: traffic moved from {name} to {fallback}"
        endpoint.deployments.pop(name, None)
        return f"{action.endpoint}: no previous version; deployment {name} removed"

    def archive_registry_version(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> str:
        self.faults.check("archive_registry_version")
        if (ref.kind, ref.name, ref.version) not in self.registry:
            return f"{ref} is not in the registry"
        self.retag_registry(ref, tags)
        self.archived.add(("@registry", ref))
        return f"{ref} tagged recalled and archived in the registry"


def _latest(assets: dict[tuple[AssetKind, str, str], _Stored], kind: AssetKind) -> list[Asset]:
    newest: dict[str, _Stored] = {}
    for (asset_kind, name, _), stored in assets.items():
        if asset_kind is kind and (name not in newest or stored.order > newest[name].order):
            newest[name] = stored
    return [newest[name].asset for name in sorted(newest)]


@dataclass
class SentMessage:
    body: dict[str, Any]
    delay_seconds: int


@dataclass
class MemoryQueue:
    """A work queue that keeps what was sent, in order; `take()` hands the next one to a worker."""

    sent: list[SentMessage] = field(default_factory=list)

    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.sent.append(SentMessage(dict(body), delay_seconds))

    def send_all(self, bodies: Sequence[dict[str, Any]], *, delay_seconds: int = 0) -> None:
        for body in bodies:
            self.send(body, delay_seconds=delay_seconds)

    def take(self) -> SentMessage | None:
        return self.sent.pop(0) if self.sent else None


@dataclass
class MemoryChangeFeed:
    """Azure's Activity Log as a list of (workspace ARM id, time) writes; `record` is a tenant's write."""

    writes: list[tuple[str, datetime]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)

    def record(self, workspace: Workspace, at: datetime) -> None:
        self.writes.append((workspace.arm_id.lower(), at))

    def changed_workspaces(self, subscription: str, since: datetime, until: datetime) -> set[str]:
        self.faults.check("changed_workspaces")
        prefix = f"/subscriptions/{subscription}/".lower()
        return {arm_id for arm_id, at in self.writes if arm_id.startswith(prefix) and since <= at <= until}
