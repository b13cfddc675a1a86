"""How RegSync's records and inventory are written as Table Storage entities, and read back. Pure: no
Azure import, no I/O.

Who calls it: the storage adapters (shared.storage, shared.audit_log) for every row they write or
read; the API and the CLI for the time format (`iso`) and the shape of an audit continuation token
(`AUDIT_ROW`). The keys each entity carries, and which query each key serves, are documented with the
tables: the docstrings of shared.storage and shared.audit_log.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.domain import LedgerStatus, Registry, Tenant, Workspace
from shared.policy import NameClaim, PushRule, ShareRule
from shared.records import AuditRecord, LedgerEntry, Memo, Status, utc_now

MAX_TEXT = 4000  # free text stored from outside is cut to this many characters
_EPOCH_TICKS_MAX = 10**19
AUDIT_ROW = r"^[0-9]{20}-[0-9a-f]{12}$"  # an audit RowKey: what a continuation token is


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else ""


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def ledger_entity(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "PartitionKey": entry.asset_key,
        "RowKey": entry.target,
        "status": entry.status.value,
        "attempts": entry.attempts,
        "rounds": entry.rounds,
        "message": entry.message[:MAX_TEXT],
        "started": iso(entry.started),
        "finished": iso(entry.finished),
        "updated": iso(entry.updated),
        "event_ids": json.dumps(list(entry.event_ids)),
        "correlation_id": entry.correlation_id,
        "detail": json.dumps(entry.detail, sort_keys=True),
    }


def ledger_entry(entity: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        asset_key=entity["PartitionKey"],
        target=entity["RowKey"],
        status=LedgerStatus(entity["status"]),
        attempts=int(entity.get("attempts", 0)),
        rounds=int(entity.get("rounds", 1)),
        message=entity.get("message", ""),
        started=parse_iso(entity.get("started")),
        finished=parse_iso(entity.get("finished")),
        updated=parse_iso(entity.get("updated")),
        event_ids=tuple(json.loads(entity.get("event_ids") or "[]")),
        correlation_id=entity.get("correlation_id", ""),
        detail=json.loads(entity.get("detail") or "{}"),
        etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
    )


def audit_partition(day: datetime, tenant: str | None = None) -> str:
    """The provider's day partition, or a tenant's partition of that day."""
    stamp = day.strftime("%Y%m%d")
    return f"t|{tenant}|{stamp}" if tenant else stamp


def audit_entity(record: AuditRecord) -> dict[str, Any]:
    ticks = int(record.at.timestamp() * 10_000_000)
    return {
        "PartitionKey": audit_partition(record.at),
        "RowKey": f"{_EPOCH_TICKS_MAX - ticks:020d}-{uuid.uuid4().hex[:12]}",
        "action": str(record.action),
        "outcome": str(record.outcome),
        "reason": record.reason[:MAX_TEXT],
        "subject": record.subject[:MAX_TEXT],
        "target": record.target[:MAX_TEXT],
        "actor": record.actor[:MAX_TEXT],
        "correlation_id": record.correlation_id,
        "at": iso(record.at),
        "tenants": ",".join(record.tenants),
    }


def audit_record(entity: dict[str, Any]) -> AuditRecord:
    fields = {name: entity.get(name, "") for name in ("action", "outcome", "reason", "subject")}
    return AuditRecord(
        **fields,
        target=entity.get("target", ""),
        actor=entity.get("actor", ""),
        correlation_id=entity.get("correlation_id", ""),
        at=parse_iso(entity.get("at")) or utc_now(),
        tenants=tuple(tenant for tenant in str(entity.get("tenants", "")).split(",") if tenant),
    )


def memo_entity(scope: str, memo: Memo) -> dict[str, Any]:
    return {
        "PartitionKey": scope,
        "RowKey": memo.asset_key,
        "fingerprint": memo.fingerprint,
        "read_digest": memo.read_digest,
        "outcome": memo.outcome.value,
    }


def memo_of(entity: dict[str, Any]) -> Memo:
    try:
        outcome = Status(entity.get("outcome", ""))
    except ValueError:  # a memo from before this schema: judge the asset again
        outcome = Status.PENDING
    return Memo(entity["RowKey"], entity.get("fingerprint", ""), entity.get("read_digest", ""), outcome)


def workspace_fields(workspace: Workspace) -> dict[str, Any]:
    return workspace.model_dump(exclude={"name"})


def workspace_of(entity: Any) -> Workspace:
    fields = {
        name: entity[name] for name in ("tenant", "subscription_id", "resource_group", "region", "stage")
    }
    return Workspace(name=entity["RowKey"].removeprefix("ws|"), **fields)


def tenant_entity(tenant: Tenant) -> dict[str, Any]:
    return {
        "PartitionKey": "tenant",
        "RowKey": tenant.id,
        "display_name": tenant.display_name,
        "signing_keys": json.dumps(list(tenant.signing_keys)),
    }


def tenant_of(entity: Any) -> Tenant:
    keys = json.loads(entity.get("signing_keys") or "[]")  # absent on rows written before signing
    return Tenant(id=entity["RowKey"], display_name=entity["display_name"], signing_keys=tuple(keys))


def registry_entity(registry: Registry) -> dict[str, Any]:
    return {
        "PartitionKey": "registry",
        "RowKey": registry.name,
        "subscription_id": registry.subscription_id,
        "resource_group": registry.resource_group,
        "regions": json.dumps(list(registry.regions)),
    }


def registry_of(entity: Any) -> Registry:
    return Registry(
        name=entity["RowKey"],
        subscription_id=entity["subscription_id"],
        resource_group=entity["resource_group"],
        regions=tuple(json.loads(entity["regions"])),
    )


def rule_entity(kind: str, rule: ShareRule | PushRule | NameClaim) -> dict[str, Any]:
    return {
        "PartitionKey": kind,
        "RowKey": rule.id,
        "body": rule.model_dump_json(),
        "tenant": getattr(rule, "tenant", None) or "",
    }
