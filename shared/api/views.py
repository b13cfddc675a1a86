"""The routes that show: status (ledger rows as a matrix) and audit (a page of a day's records), each
filtered to what the caller may see.

Who calls it: the dispatcher (shared.api.routes), one handler per route.
"""

from __future__ import annotations

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
    owners = {workspace.name: workspace.tenant for workspace in call.store.list_workspaces()}
    if query.workspace is not None:
        call.engine.workspace_for(call.caller, query.workspace)
    if query.tenant is not None:
        call.engine.tenant_for(call.caller, query.tenant)
    tenant = query.tenant or call.caller.tenant  # a tenant caller sees its own tenant only
    pushes: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []
    # One scan: share rows are keyed by asset, their origin is a field (an operator query, not a hot path).
    for entry in call.store.list_ledger():
        if entry.target.startswith(ROLLOUT_TARGET_PREFIX):  # a resumed rollout's marker, not a target
            continue
        row = status_row(entry)
        about, asset = row["workspace"], row["asset"]
        if (
            (tenant is not None and owners.get(about) != tenant)
            or (query.workspace is not None and about != query.workspace)
            or (query.kind is not None and asset["kind"] != query.kind.value)
            or (query.name is not None and asset["name"] != query.name)
        ):
            continue
        (pushes if entry.workspace else shares).append(row)
    # The workspaces in view, rows or not: a status matrix has a column for each.
    workspaces = sorted(
        name
        for name, owner_tenant in owners.items()
        if (tenant is None or owner_tenant == tenant) and query.workspace in (None, name)
    )
    return ok({"pushes": pushes, "shares": shares, "workspaces": workspaces})


def status_row(entry: LedgerEntry) -> dict[str, Any]:
    kind, name, version = entry.asset_key.split(":", 2)  # names and versions hold no ':'
    return {
        "asset": {"kind": kind, "name": name, "version": version},
        "target": entry.workspace or "registry",
        # The workspace a row is about: a push's target, or the workspace a share came from.
        "workspace": entry.workspace or str(entry.detail.get("origin", "")),
        "state": entry.status.value,
        "attempts": entry.attempts,
        "message": entry.message,
        "last_error": entry.message if entry.status in _ERROR_STATES else "",
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
    view = None if caller.provider or tenant is None else TenantView.of(tenant, call.engine.world())
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
