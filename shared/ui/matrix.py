"""The status page's matrix: one page of registry assets x the workspaces the caller may see.

Who calls it: shared.ui.routes (`GET /api/ui/matrix`). What a caller sees is decided by the status
route's own functions (shared.api.views: `visible_tenant`, `in_view`, `columns`, `redaction`), so the
page never shows what `GET /api/status` would not. A page is read from the ledger in key order (one
asset is one partition) only as far as it needs, SCAN_BUDGET rows at most: `after` is the last asset of
the page before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.api.call import Call, QueryInt, Strict
from shared.api.views import columns, in_view, redaction, visible_tenant
from shared.domain import (
    ASSET_NAME_PATTERN,
    ASSET_VERSION_PATTERN,
    AssetKind,
    LedgerStatus,
    TenantId,
    WorkspaceName,
)
from shared.engine import TenantView
from shared.records import LedgerEntry

REGISTRY = "registry"  # the matrix's column of the share rows, as in `regsync status`
PAGE_LIMIT = 200  # assets per page, at most
# Ledger rows one page reads at most: a filter that matches little (a state no cell is in) answers in
# bounded time with what it found so far and a next page that reads on, instead of scanning everything.
SCAN_BUDGET = 20_000
_NAME_CHARS = r"[A-Za-z0-9_.\-]"
# A ledger key (`kind:name:version`), what a page continues after.
ASSET_KEY = rf"^(?:model|environment|component|data):{ASSET_NAME_PATTERN[1:-1]}:{ASSET_VERSION_PATTERN[1:]}"
Search = Annotated[str, StringConstraints(pattern=rf"^{_NAME_CHARS}{{1,64}}$")]


class MatrixQuery(Strict):
    """The page's filters: tenant, workspace, kind, a state some cell of the asset is in, the start of
    the asset's name (case-sensitive, as AzureML's names); and the page (`after`, `limit`)."""

    tenant: TenantId | None = None
    workspace: WorkspaceName | None = None
    kind: AssetKind | None = None
    state: LedgerStatus | None = None
    search: Search | None = None
    after: str | None = Field(default=None, pattern=ASSET_KEY)
    limit: QueryInt = Field(default=50, ge=1, le=PAGE_LIMIT)


@dataclass(frozen=True)
class Cell:
    target: str  # a workspace, or REGISTRY
    state: LedgerStatus
    attempts: int
    message: str  # as the caller may read it (TenantView for a tenant)


@dataclass(frozen=True)
class AssetRow:
    key: str  # kind:name:version
    origin: str
    cells: dict[str, Cell]

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(":")[1]

    @property
    def version(self) -> str:
        return self.key.rsplit(":", 1)[1]


@dataclass(frozen=True)
class Matrix:
    query: MatrixQuery
    provider: bool
    tenant: str | None  # whose rows are in view; None: every tenant's
    tenants: list[str]  # the tenants the caller may filter by
    workspaces: list[str]  # every workspace the caller may see (the filter's choices)
    columns: list[str]  # the workspaces of this view
    rows: list[AssetRow]
    next_after: str | None  # the next page continues after this asset; None: this is the last page
    partial: bool  # the page stopped at the scan budget before it was full: more may match further on


def matrix(call: Call) -> Matrix:
    query = call.query(MatrixQuery)
    tenant = visible_tenant(call, query.tenant, query.workspace)  # checks what the query names first
    world = call.engine.world()
    owners = {name: workspace.tenant for name, workspace in world.workspaces.items()}
    view = redaction(call)
    mine = call.caller.tenant
    rows: list[AssetRow] = []
    next_after, scanned, read = None, None, 0
    for entries in _ledger(call, query):
        if len(rows) == query.limit:
            next_after = rows[-1].key
            break
        if read >= SCAN_BUDGET:  # a rare filter: this page stops here, the next one reads on
            next_after = scanned
            break
        read += len(entries)
        scanned = entries[0].asset_key
        row = _in_view(entries, query, owners, tenant, view)
        if row is not None:
            rows.append(row)
    return Matrix(
        query=query,
        provider=call.caller.provider,
        tenant=tenant,
        tenants=sorted({owner for owner in owners.values() if mine in (None, owner)}),
        workspaces=columns(owners, mine, None),
        columns=columns(owners, tenant, query.workspace),
        rows=rows,
        next_after=next_after,
        partial=next_after is not None and len(rows) < query.limit,
    )


def _in_view(
    entries: list[LedgerEntry],
    query: MatrixQuery,
    owners: dict[str, str],
    tenant: str | None,
    view: TenantView | None,
) -> AssetRow | None:
    """The asset's row if it has a cell in view and passes the state filter."""
    seen = [entry for entry in entries if in_view(entry, owners, tenant, query.workspace)]
    if not seen or (query.state is not None and all(e.status is not query.state for e in seen)):
        return None
    return AssetRow(seen[0].asset_key, _origin(seen), _cells(seen, view))


def _ledger(call: Call, query: MatrixQuery) -> Iterator[list[LedgerEntry]]:
    """The rows of each asset after `after`, in key order. A kind or a name prefix is a key range (one
    per kind, in key order), so a search reads only the assets it finds, not the whole ledger."""
    if query.kind is None and query.search is None:
        prefixes = [""]
    else:
        kinds = [query.kind] if query.kind is not None else sorted(AssetKind, key=lambda kind: kind.value)
        prefixes = [f"{kind.value}:{query.search or ''}" for kind in kinds]
    for prefix in prefixes:
        rows = call.store.ledger_after(query.after, prefix=prefix)
        for _, entries in groupby(rows, key=lambda entry: entry.asset_key):
            yield list(entries)


def _cells(entries: list[LedgerEntry], view: TenantView | None) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    # A share row before a conflict row: the registry column shows the share when there is one.
    for entry in sorted(entries, key=lambda e: e.target != "share"):
        target = entry.workspace or REGISTRY
        if target not in cells:
            message = view.reason(entry.status.value, entry.message) if view else entry.message
            cells[target] = Cell(target, entry.status, entry.attempts, message)
    return cells


def _origin(entries: list[LedgerEntry]) -> str:
    return next((str(e.detail.get("origin", "")) for e in entries if e.workspace is None), "")
