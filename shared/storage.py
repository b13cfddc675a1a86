"""RegSync's state in Azure Table Storage.

Who calls it: the engine (through the function adapters), the CLI and the tests. With shared.audit_log
(the audit table's operations) and shared.queues (the work queues), the only modules that import
azure.data.tables / azure.storage.queue; entities are mapped by shared.entities. Every filter is
parameterised (`@name`), never built by concatenating input; names are validated by shared.domain
before they get here.

Table schema (table names are `{prefix}Inventory`, `{prefix}Rules`, `{prefix}Ledger`, `{prefix}Audit`,
`{prefix}Seen`):

- Inventory, PK `tenant`, RK tenant id: point read; the list is one partition.
- Inventory, PK `workspace`, RK `ws|{name}`: point read by name; the list is one partition.
- Inventory, PK `workspace`, RK `arm|{sub}|{rg}|{name}` (lower case): event topic -> workspace, a point
  read (the index row; it holds the workspace name).
- Inventory, PK `registry`, RK registry name: point read; the list is one partition.
- Inventory, PK `owner`, RK `{kind}:{name}` of a registry asset name, field `tenant`: who owns the name
  (the tenant RegSync first published it for; names published before ownership existed are adopted by
  the provenance tenant of their oldest version). Written insert-if-absent, so the first claim wins and
  is never overwritten; a point read serves every share and fan-out.
- Rules, PK `share`, `push` or `ownership` (the provider's name claims), RK rule id, field `body` (the
  rule as JSON): the policy is three partitions.
- Ledger, PK `{kind}:{name}:{version}` of the registry asset, RK `share` (the registry) or
  `push|{workspace}`: one asset's fan-out is one partition; (asset, target) is a point read.
- Audit: see shared.audit_log, which documents its keys.
- Seen (memos), PK workspace name (or `@registry`), RK `{kind}:{name}:{version}`: what the reconcile
  has already judged under which world fingerprint, having read which tags (digest), so a steady-state
  reconcile skips it: one partition query per workspace.
- Seen, PK `@watermark`: how far the reconcile read each change feed; see shared.watermarks.

A workspace and its topic-index row are written in one transaction (same partition), so the index is
never stale. Ledger rows are updated with ETag conditions (optimistic concurrency). The status matrix
(`list_ledger`) is the one cross-partition read: an operator query, paged by the SDK, not a hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from shared.audit_log import AuditTable
from shared.domain import AssetKind, Registry, Tenant, Workspace, parse_workspace_arm_id, workspace_arm_id
from shared.entities import (
    iso,
    ledger_entity,
    ledger_entry,
    memo_entity,
    memo_of,
    registry_entity,
    registry_of,
    rule_entity,
    tenant_entity,
    tenant_of,
    workspace_fields,
    workspace_of,
)
from shared.policy import NameClaim, Policy, PushRule, ShareRule
from shared.ports import ConcurrentUpdateError
from shared.records import LedgerEntry, Memo, utc_now
from shared.settings import Settings
from shared.tombstones import TombstoneTable
from shared.transport import storage_transport
from shared.watermarks import WatermarkTable

TRANSACTION_LIMIT = 100  # Table Storage refuses larger batches
T = TypeVar("T")


class StateError(Exception):
    """A storage request that cannot be honoured as asked; the message names the thing."""


class StateStore(AuditTable, TombstoneTable, WatermarkTable):
    """Typed access to the five tables; the audit log's operations are AuditTable's. Cheap to construct;
    clients are created once per store."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self._service = service
        self._prefix = prefix
        self.inventory = service.get_table_client(f"{prefix}Inventory")
        self.rules = service.get_table_client(f"{prefix}Rules")
        self.ledger = service.get_table_client(f"{prefix}Ledger")
        self.audit_log = service.get_table_client(f"{prefix}Audit")
        self.seen = service.get_table_client(f"{prefix}Seen")

    @classmethod
    def from_settings(cls, settings: Settings) -> StateStore:
        settings.require_storage()
        if settings.storage_connection_string:
            service = TableServiceClient.from_connection_string(
                settings.storage_connection_string, transport=storage_transport()
            )
        else:
            from azure.identity import DefaultAzureCredential

            url = f"https://{settings.storage_account_name}.table.core.windows.net"
            service = TableServiceClient(
                endpoint=url, credential=DefaultAzureCredential(), transport=storage_transport()
            )
        return cls(service, settings.table_prefix)

    def ensure_tables(self) -> None:
        for table in (self.inventory, self.rules, self.ledger, self.audit_log, self.seen):
            self._service.create_table_if_not_exists(table.table_name)

    # --- tenants -------------------------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        self.inventory.upsert_entity(tenant_entity(tenant))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        entity = _point_read(self.inventory, "tenant", tenant_id)
        return tenant_of(entity) if entity else None

    def list_tenants(self) -> list[Tenant]:
        return [tenant_of(entity) for entity in _partition(self.inventory, "tenant")]

    def delete_tenant(self, tenant_id: str) -> None:
        if self.list_workspaces(tenant=tenant_id):
            raise StateError(f"tenant `{tenant_id}` still has workspaces: remove them first")
        self.inventory.delete_entity("tenant", tenant_id)

    # --- workspaces ----------------------------------------------------------------------------

    def put_workspace(self, workspace: Workspace) -> None:
        """Add or update a workspace and its topic index row, atomically."""
        if self.get_tenant(workspace.tenant) is None:
            raise StateError(f"tenant `{workspace.tenant}` is unknown: add it first")
        existing = self.get_workspace(workspace.name)
        operations: list[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], dict[str, Any]]] = []
        if existing is not None and existing.arm_id.lower() != workspace.arm_id.lower():
            raise StateError(
                f"workspace name `{workspace.name}` is already used by {existing.arm_id}; names are unique"
            )
        entity = {
            "PartitionKey": "workspace",
            "RowKey": f"ws|{workspace.name}",
            **workspace_fields(workspace),
        }
        operations.append(("upsert", entity))
        operations.append(
            (
                "upsert",
                {"PartitionKey": "workspace", "RowKey": _topic_row(workspace.arm_id), "name": workspace.name},
            )
        )
        self.inventory.submit_transaction(operations)

    def get_workspace(self, name: str) -> Workspace | None:
        entity = _point_read(self.inventory, "workspace", f"ws|{name}")
        return workspace_of(entity) if entity else None

    def workspace_by_topic(self, topic: str) -> Workspace | None:
        """The managed workspace whose ARM id is `topic` (or a prefix of it), if any."""
        parts = parse_workspace_arm_id(topic)
        if parts is None:
            return None
        index = _point_read(self.inventory, "workspace", _topic_row(workspace_arm_id(*parts)))
        return self.get_workspace(index["name"]) if index else None

    def list_workspaces(self, tenant: str | None = None) -> list[Workspace]:
        query = "PartitionKey eq 'workspace' and RowKey ge 'ws|' and RowKey lt 'ws}'"
        parameters: dict[str, Any] = {}
        if tenant is not None:
            query += " and tenant eq @tenant"
            parameters["tenant"] = tenant
        entities = self.inventory.query_entities(query, parameters=parameters)
        return [workspace_of(entity) for entity in entities]

    def delete_workspace(self, name: str) -> None:
        workspace = self.get_workspace(name)
        if workspace is None:
            return
        self.inventory.submit_transaction(
            [
                ("delete", {"PartitionKey": "workspace", "RowKey": f"ws|{name}"}),
                ("delete", {"PartitionKey": "workspace", "RowKey": _topic_row(workspace.arm_id)}),
            ]
        )

    # --- registries ----------------------------------------------------------------------------

    def put_registry(self, registry: Registry) -> None:
        self.inventory.upsert_entity(registry_entity(registry))

    def list_registries(self) -> list[Registry]:
        return [registry_of(entity) for entity in _partition(self.inventory, "registry")]

    def get_registry(self, name: str | None = None) -> Registry | None:
        """The named registry, or the only one when no name is given."""
        if name is not None:
            entity = _point_read(self.inventory, "registry", name)
            return registry_of(entity) if entity else None
        registries = self.list_registries()
        if len(registries) > 1:
            names = ", ".join(registry.name for registry in registries)
            raise StateError(f"several registries are configured ({names}): name one")
        return registries[0] if registries else None

    def delete_registry(self, name: str) -> None:
        self.inventory.delete_entity("registry", name)

    # --- owners of registry names ----------------------------------------------------------------

    def owner_of(self, kind: AssetKind, name: str) -> str | None:
        entity = _point_read(self.inventory, "owner", f"{kind.value}:{name}")
        return str(entity["tenant"]) if entity else None

    def claim_owner(self, kind: AssetKind, name: str, tenant: str) -> str:
        """Record `tenant` as the owner of `name` unless someone owns it already; the owner after it."""
        try:
            row = {"PartitionKey": "owner", "RowKey": f"{kind.value}:{name}", "tenant": tenant}
            self.inventory.create_entity({**row, "at": iso(utc_now())})
        except ResourceExistsError:
            owner = self.owner_of(kind, name)
            if owner is None:  # removed in between by an operator: claim again
                return self.claim_owner(kind, name, tenant)
            return owner
        return tenant

    # --- rules ---------------------------------------------------------------------------------

    def load_policy(self) -> Policy:
        share = [ShareRule.model_validate_json(entity["body"]) for entity in _partition(self.rules, "share")]
        push = [PushRule.model_validate_json(entity["body"]) for entity in _partition(self.rules, "push")]
        ownership = [
            NameClaim.model_validate_json(entity["body"]) for entity in _partition(self.rules, "ownership")
        ]
        return Policy(share=tuple(share), push=tuple(push), ownership=tuple(ownership))

    def merge_policy(self, policy: Policy, *, replace_all: bool = False) -> Policy:
        """The policy `put_policy` would store, without writing; StateError if the ids clash.

        Without `replace_all`, an incoming rule replaces the stored rule with its id, but only one of
        the same kind: a share rule and a push rule with one id is a mistake in one of the files.
        """
        return _merge(self.load_policy(), policy, replace_all=replace_all)

    def put_policy(self, policy: Policy, *, replace_all: bool = False) -> list[str]:
        """Store every rule of `policy` (validated already); with `replace_all`, drop rules not in it.

        Each kind is written in transactions of at most 100 rows. Returns the ids of removed rules.
        """
        current = self.load_policy()
        merged = _merge(current, policy, replace_all=replace_all)  # validates ids across old + new
        removed = [rule.id for rule in _rules(current) if rule.id not in _ids(merged)]
        for kind in _KINDS:
            rules: tuple[ShareRule | PushRule | NameClaim, ...] = getattr(policy, kind)
            operations = [("upsert", rule_entity(kind, rule)) for rule in rules]
            # A rule that changed kind (share <-> push under --replace) leaves a row behind otherwise.
            kept = {rule.id for rule in getattr(merged, kind)}
            stale = [rule for rule in getattr(current, kind) if rule.id not in kept]
            operations += [("delete", {"PartitionKey": kind, "RowKey": rule.id}) for rule in stale]
            for chunk in _chunks(operations, TRANSACTION_LIMIT):
                self.rules.submit_transaction(chunk)
        return removed

    def delete_rule(self, rule_id: str) -> bool:
        for kind in _KINDS:
            if _point_read(self.rules, kind, rule_id):
                self.rules.delete_entity(kind, rule_id)
                return True
        return False

    # --- ledger --------------------------------------------------------------------------------

    def get_entry(self, asset_key: str, target: str) -> LedgerEntry | None:
        entity = _point_read(self.ledger, asset_key, target)
        return ledger_entry(entity) if entity else None

    def entries_for_asset(self, asset_key: str) -> list[LedgerEntry]:
        return [ledger_entry(entity) for entity in _partition(self.ledger, asset_key)]

    def create_entry(self, entry: LedgerEntry) -> LedgerEntry:
        """Insert a new row; ConcurrentUpdateError if it exists already (someone else got there first)."""
        try:
            metadata = self.ledger.create_entity(ledger_entity(entry))
        except ResourceExistsError as error:
            raise ConcurrentUpdateError(f"ledger row {entry.asset_key} -> {entry.target} exists") from error
        return replace(entry, etag=metadata.get("etag"))

    def update_entry(self, entry: LedgerEntry) -> LedgerEntry:
        """Replace a row read earlier; ConcurrentUpdateError if it changed since (ETag)."""
        if entry.etag is None:
            raise StateError(f"ledger row {entry.asset_key} -> {entry.target} has no etag: read it first")
        try:
            metadata = self.ledger.update_entity(
                ledger_entity(entry),
                mode=UpdateMode.REPLACE,
                etag=entry.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as error:
            raise ConcurrentUpdateError(
                f"ledger row {entry.asset_key} -> {entry.target} changed meanwhile"
            ) from error
        return replace(entry, etag=metadata.get("etag"))

    def write_entries(self, changes: Sequence[tuple[LedgerEntry | None, LedgerEntry]]) -> list[LedgerEntry]:
        """One entity group transaction (one partition, at most 100 rows): all written or none."""
        if len({after.asset_key for _, after in changes}) > 1 or len(changes) > TRANSACTION_LIMIT:
            raise StateError("a ledger transaction holds at most 100 rows of one asset version")
        operations: list[Any] = []
        for before, after in changes:
            if before is None:
                operations.append(("create", ledger_entity(after)))
            else:
                condition: dict[str, Any] = {"mode": UpdateMode.REPLACE, "etag": before.etag}
                condition["match_condition"] = MatchConditions.IfNotModified
                operations.append(("update", ledger_entity(after), condition))
        try:
            written = self.ledger.submit_transaction(operations)
        except TableTransactionError as error:
            raise ConcurrentUpdateError(
                f"ledger rows of {changes[0][1].asset_key}: {error.message}"
            ) from error
        return [
            replace(after, etag=meta.get("etag")) for (_, after), meta in zip(changes, written, strict=True)
        ]

    def ledger_after(self, after: str | None = None, *, prefix: str = "") -> Iterator[LedgerEntry]:
        """The ledger in key order (asset, then target), from the first asset after `after`, only assets
        whose key starts with `prefix` (e.g. `model:`): the status page's pages, read as far as needed."""
        query, parameters = "PartitionKey ge @low", {"low": prefix}
        if prefix:  # every key with the prefix sorts before the prefix with its last character bumped
            query += " and PartitionKey lt @high"
            parameters["high"] = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        if after is not None:
            query += " and PartitionKey gt @after"
            parameters["after"] = after
        return (ledger_entry(entity) for entity in self.ledger.query_entities(query, parameters=parameters))

    def list_ledger(self, *, workspace: str | None = None) -> Iterator[LedgerEntry]:
        if workspace is None:
            entities = self.ledger.list_entities()
        else:
            entities = self.ledger.query_entities("RowKey eq @row", parameters={"row": f"push|{workspace}"})
        return (ledger_entry(entity) for entity in entities)

    # --- seen (the reconcile's memory) ---------------------------------------------------------

    def memos_in(self, scope: str) -> dict[str, Memo]:
        """Everything judged in one workspace (or `@registry`), by asset key: one partition query."""
        return {entity["RowKey"]: memo_of(entity) for entity in _partition(self.seen, scope)}

    def recall(self, scope: str, asset_key: str) -> Memo | None:
        entity = _point_read(self.seen, scope, asset_key)
        return memo_of(entity) if entity else None

    def remember(self, scope: str, memo: Memo) -> None:
        self.seen.upsert_entity(memo_entity(scope, memo), mode=UpdateMode.REPLACE)


def _point_read(table: TableClient, partition: str, row: str) -> Any:
    try:
        return table.get_entity(partition_key=partition, row_key=row)
    except ResourceNotFoundError:
        return None


def _partition(table: TableClient, partition: str) -> Iterable[Any]:
    return table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})


def _topic_row(arm_id: str) -> str:
    parts = parse_workspace_arm_id(arm_id)
    if parts is None:
        raise StateError(f"`{arm_id}` is not a workspace ARM id")
    subscription, group, name = parts
    return f"arm|{subscription}|{group.lower()}|{name.lower()}"


_KINDS = ("share", "push", "ownership")  # the Rules table's partitions, named as the Policy's fields


def _rules(policy: Policy) -> tuple[ShareRule | PushRule | NameClaim, ...]:
    return (*policy.share, *policy.push, *policy.ownership)


def _ids(policy: Policy) -> set[str]:
    return {rule.id for rule in _rules(policy)}


def _merge(current: Policy, incoming: Policy, *, replace_all: bool) -> Policy:
    if replace_all:
        return incoming
    stored = {rule.id: kind for kind in _KINDS for rule in getattr(current, kind)}
    clashes = sorted(
        rule.id for kind in _KINDS for rule in getattr(incoming, kind) if stored.get(rule.id, kind) != kind
    )
    if clashes:
        raise StateError(
            f"rule id `{clashes[0]}` is stored as a rule of the other kind: "
            "remove it first, or load with replace"
        )
    new_ids = _ids(incoming)
    return Policy(
        share=tuple(rule for rule in current.share if rule.id not in new_ids) + incoming.share,
        push=tuple(rule for rule in current.push if rule.id not in new_ids) + incoming.push,
        ownership=tuple(rule for rule in current.ownership if rule.id not in new_ids) + incoming.ownership,
    )


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
