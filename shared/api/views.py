"""The routes that show: status (ledger rows as a matrix) and audit (a page of a day's records), each
filtered to what the caller may see.

Who calls it: the dispatcher (shared.api.routes), one handler per route; the status page (shared.ui)
decides what a caller sees with the same functions (`visible_tenant`, `redaction`, `in_view`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.api.call import (
    ApiResponse,
    AuditQuery,
    Call,
    StatusQuery,
    ok,
)
from shared.domain import LedgerStatus
from shared.engine import TenantView
from shared.entities import iso
from shared.errors import InvalidInputError
from shared.planner.rollout import ROLLOUT_TARGET_PREFIX
from shared.records import LedgerEntry

_ERROR_STATES = {LedgerStatus.FAILED, LedgerStatus.RETRYING, LedgerStatus.CONFLICT, LedgerStatus.REFUSED}


# --- status and audit -----------------------------------------------------------------------------------


def status(call: Call) -> ApiResponse:
    """Ledger rows: pushes (asset -> workspace) and shares (asset -> registry), filtered for the caller."""
    query = call.query(StatusQuery)
    tenant = visible_tenant(call, query.tenant, query.workspace)
    owners = {workspace.name: workspace.tenant for workspace in call.store.list_workspaces()}
    view = redaction(call)
    pushes: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []
    # One scan: share rows are keyed by asset, their origin is a field (an operator query, not a hot path).
    for entry in call.store.list_ledger():
        if not in_view(entry, owners, tenant, query.workspace):
            continue
        row = status_row(entry, view)
        asset = row["asset"]
        if (query.kind is not None and asset["kind"] != query.kind.value) or (
            query.name is not None and asset["name"] != query.name
        ):
            continue
        (pushes if entry.workspace else shares).append(row)
    return ok({"pushes": pushes, "shares": shares, "workspaces": columns(owners, tenant, query.workspace)})


# --- what a caller sees: one answer for the status route and the status page (shared.ui) -------------------


def visible_tenant(call: Call, tenant: str | None, workspace: str | None) -> str | None:
    """The tenant whose rows the caller sees (None: every tenant's, for the provider), once the tenant and
    the workspace it names are checked: another tenant's are "not found or not yours"."""
    if workspace is not None:
        call.engine.workspace_for(call.caller, workspace)
    if tenant is not None:
        call.engine.tenant_for(call.caller, tenant)
    return tenant or call.caller.tenant  # a tenant caller sees its own tenant only


def redaction(call: Call) -> TenantView | None:
    """None for the provider; for a tenant caller the TenantView its reasons are rewritten with."""
    caller = call.caller
    if caller.provider or caller.tenant is None:
        return None
    return TenantView.of(caller.tenant, call.engine.world())


def row_workspace(entry: LedgerEntry) -> str:
    """The workspace a row is about: a push's target, or the workspace a share came from."""
    return entry.workspace or str(entry.detail.get("origin", ""))


def in_view(entry: LedgerEntry, owners: Mapping[str, str], tenant: str | None, workspace: str | None) -> bool:
    """Whether a row is a target's (not a marker) about a workspace of `tenant` (any, if None) and
    `workspace` (any, if None)."""
    if entry.target.startswith(ROLLOUT_TARGET_PREFIX):  # a resumed rollout's marker, not a target
        return False
    about = row_workspace(entry)
    return (tenant is None or owners.get(about) == tenant) and workspace in (None, about)


def columns(owners: Mapping[str, str], tenant: str | None, workspace: str | None) -> list[str]:
    """The workspaces in view, rows or not: a status matrix has a column for each."""
    return sorted(
        name
        for name, owner_tenant in owners.items()
        if (tenant is None or owner_tenant == tenant) and workspace in (None, name)
    )


def status_row(entry: LedgerEntry, view: TenantView | None = None) -> dict[str, Any]:
    kind, name, version = entry.asset_key.split(":", 2)  # names and versions hold no ':'
    # A tenant reads a reason as TenantView rewrites it: a refusal may name another tenant's workspace.
    message = view.reason(entry.status.value, entry.message) if view is not None else entry.message
    return {
        "asset": {"kind": kind, "name": name, "version": version},
        "target": entry.workspace or "registry",
        "workspace": row_workspace(entry),
        "state": entry.status.value,
        "attempts": entry.attempts,
        "message": message,
        "last_error": message if entry.status in _ERROR_STATES else "",
        "updated": iso(entry.updated),
    }


AUDIT_FIELDS = ("action", "outcome", "reason", "subject", "target", "actor", "correlation_id")


def audit(call: Call) -> ApiResponse:
    """A page of one day's records, newest first, from one partition: the provider's (all records, or
    with `tenant` that tenant's), or a tenant caller's own. `continuation` fetches the next page."""
    query = call.query(AuditQuery)
    try:
        day = datetime.strptime(query.day, "%Y%m%d").replace(tzinfo=UTC) if query.day else datetime.now(UTC)
    except ValueError:
        raise InvalidInputError(f"`day`: {query.day} is not a date (YYYYMMDD)") from None
    caller = call.caller
    if query.tenant is not None and not caller.provider:
        call.engine.tenant_for(caller, query.tenant)  # its own, or "not found or not yours"
    tenant = query.tenant or caller.tenant
    page = call.store.audit_page(day=day, tenant=tenant, limit=query.limit, after=query.continuation)
    # Records concern the tenant, but a reason may name another tenant's things (e.g. the origin of a
    # refused push): the same TenantView as for outcomes rewrites them.
    view = redaction(call)
    rows = []
    for record in page.records:
        row: dict[str, Any] = {name: getattr(record, name) for name in AUDIT_FIELDS}
        if view is not None:
            row["reason"] = view.reason(record.outcome, record.reason)
        else:
            row["tenants"] = list(record.tenants)
        rows.append({**row, "at": iso(record.at)})
    return ok(
        {
            "day": day.strftime("%Y%m%d"),
            "tenant": tenant,
            "records": rows,
            "continuation": page.continuation,
        }
    )
