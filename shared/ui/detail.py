"""The status page's detail panel: one cell (an asset in a workspace, or in the registry) with the asset's
ledger rows, its lineage and its audit lines, as the caller may see them.

Who calls it: shared.ui.routes (`GET /api/ui/cell`). The caller checks are the status route's
(shared.api.views) and the engine's (`workspace_for`): another tenant's workspace, or a row about one, is
the same "not found or not yours" as an unknown one. Lineage is read from the registry version's
provenance tags (one AzureML read); a tenant reads tags naming other tenants' things as "another tenant's".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated

from pydantic import StringConstraints

from shared.api.call import Call, Strict
from shared.api.views import in_view, redaction, row_workspace, visible_tenant
from shared.domain import (
    WORKSPACE_NAME_PATTERN,
    AssetKind,
    AssetName,
    AssetRef,
    AssetVersion,
    LedgerStatus,
)
from shared.engine import TenantView
from shared.entities import iso
from shared.errors import NotFoundError, judge
from shared.provenance import TAG_JOB, TAG_NAME, TAG_RULE, TAG_TENANT, TAG_VERSION, TAG_WORKSPACE
from shared.records import AuditRecord, LedgerEntry, utc_now
from shared.ui.matrix import REGISTRY

AUDIT_DAYS = 7  # days of audit lines shown, back from the row's last change
AUDIT_LINES = 50
HIDDEN = "another tenant's"
LINEAGE_TAGS = (
    ("origin tenant", TAG_TENANT),
    ("origin workspace", TAG_WORKSPACE),
    ("origin name", TAG_NAME),
    ("origin version", TAG_VERSION),
    ("training job", TAG_JOB),
    ("share rule", TAG_RULE),
)
Target = Annotated[str, StringConstraints(pattern=WORKSPACE_NAME_PATTERN)]  # a workspace or `registry`


class CellQuery(Strict):
    kind: AssetKind
    name: AssetName
    version: AssetVersion
    target: Target


@dataclass(frozen=True)
class Row:
    """One ledger row of the asset, as the caller may read it."""

    target: str
    workspace: str  # the workspace it is about
    state: LedgerStatus
    attempts: int
    rounds: int
    message: str
    started: str
    updated: str
    finished: str
    correlation_id: str
    rule: str
    mode: str


@dataclass(frozen=True)
class Detail:
    ref: AssetRef
    selected: Row
    rows: list[Row]  # every row of the asset the caller may see, the selected one included
    lineage: list[tuple[str, str]]
    lineage_problem: str  # why the lineage could not be read, if it could not
    audit: list[AuditRecord]
    may_approve: bool


def detail(call: Call) -> Detail:
    query = call.query(CellQuery)
    ref = AssetRef(kind=query.kind, name=query.name, version=query.version)
    in_registry = query.target == REGISTRY
    tenant = visible_tenant(call, None, None if in_registry else query.target)
    world = call.engine.world()
    owners = {name: workspace.tenant for name, workspace in world.workspaces.items()}
    view = redaction(call)
    entries = [e for e in call.store.entries_for_asset(ref.key) if in_view(e, owners, tenant, None)]
    # The registry cell is the share row, else a conflict row (as the matrix shows it).
    chosen = sorted(entries, key=lambda e: e.target != "share")
    selected = next((e for e in chosen if (e.workspace or REGISTRY) == query.target), None)
    if selected is None:
        raise NotFoundError(call.caller.unseen(f"{ref} in {query.target}", "has no ledger row"))
    lineage, problem = _lineage(call, ref, view)
    return Detail(
        ref=ref,
        selected=_row(selected, view),
        rows=[_row(entry, view) for entry in entries],
        lineage=lineage,
        lineage_problem=problem,
        audit=_audit(call, ref, selected, view),
        may_approve=call.caller.provider
        and selected.workspace is not None
        and selected.status is LedgerStatus.AWAITING_APPROVAL,
    )


def _row(entry: LedgerEntry, view: TenantView | None) -> Row:
    return Row(
        target=entry.workspace or REGISTRY,
        workspace=row_workspace(entry),
        state=entry.status,
        attempts=entry.attempts,
        rounds=entry.rounds,
        message=view.reason(entry.status.value, entry.message) if view else entry.message,
        started=iso(entry.started),
        updated=iso(entry.updated),
        finished=iso(entry.finished),
        correlation_id=entry.correlation_id,
        rule=_shown(str(entry.detail.get("rule", "")), view),
        mode=str(entry.detail.get("mode", "")),
    )


def _lineage(call: Call, ref: AssetRef, view: TenantView | None) -> tuple[list[tuple[str, str]], str]:
    """The registry version's provenance tags, or why they could not be read (AzureML may be busy)."""
    try:
        asset = call.engine.gateway.get_registry_asset(call.engine.world().registry, ref)
    except Exception as error:  # a panel shows what it can: the reason is judged like any failure
        return [], judge(error).message
    if asset is None:
        return [], "not in the registry (yet)"
    found = [(label, asset.tags.get(tag, "")) for label, tag in LINEAGE_TAGS]
    return [(label, _shown(value, view)) for label, value in found if value], ""


def _audit(call: Call, ref: AssetRef, row: LedgerEntry, view: TenantView | None) -> list[AuditRecord]:
    """The asset's audit lines of the days the row changed on (the caller's own partition for a tenant)."""
    last = row.updated or utc_now()
    first = max(row.started or last, last - timedelta(days=AUDIT_DAYS - 1))
    days = [last - timedelta(days=n) for n in range((last.date() - first.date()).days + 1)]
    records: list[AuditRecord] = []
    for day in days:
        left = AUDIT_LINES - len(records)
        if left <= 0:
            break
        records += call.store.audit_about(str(ref), day=day, tenant=call.caller.tenant, limit=left)
    if view is None:
        return records
    return [_redacted(record, view) for record in records if not view.names_foreign(record.target)]


def _redacted(record: AuditRecord, view: TenantView) -> AuditRecord:
    return replace(record, reason=view.reason(record.outcome, record.reason))


def _shown(value: str, view: TenantView | None) -> str:
    return HIDDEN if view is not None and view.names_foreign(value) else value
