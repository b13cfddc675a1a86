"""`regsync status`: the ledger as a matrix of registry assets x workspaces, readable at a glance.

Who calls it: operators, and the demo (devstack/demo.py), which prints its final state with this same
command. Rows are registry asset versions, columns the registry (the share) and the workspaces (the
pushes); each cell is one symbol (see LEGEND). A second table lists what failed, with its last error.
`--json` prints one row per ledger entry instead. One ledger scan: an operator query, not a hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Annotated

import typer

from shared.cli.application import Application, application, checked, unknown
from shared.domain import LedgerStatus, TenantId, WorkspaceName
from shared.storage import LedgerEntry, iso

SYMBOLS = {
    LedgerStatus.SUCCEEDED: "✓",
    LedgerStatus.PENDING: "…",
    LedgerStatus.RUNNING: "…",
    LedgerStatus.RETRYING: "↻",
    LedgerStatus.FAILED: "✗",
    LedgerStatus.CONFLICT: "!",
    LedgerStatus.AWAITING_APPROVAL: "⏸",
    LedgerStatus.REFUSED: "⊘",
}
NOTHING = "·"
LEGEND = (
    "✓ succeeded   … pending/running   ↻ retrying   ✗ failed   ! conflict   "
    "⏸ awaiting approval   ⊘ refused   · nothing"
)
TROUBLE = {LedgerStatus.FAILED, LedgerStatus.RETRYING, LedgerStatus.CONFLICT, LedgerStatus.REFUSED}
REGISTRY = "registry"


@dataclass(frozen=True)
class StatusRow:
    """One ledger entry as status shows it: `target` is a workspace, or `registry` for the share."""

    asset: str  # kind:name:version, the ledger's asset key
    target: str
    status: LedgerStatus
    attempts: int
    message: str
    updated: str
    origin: str  # the workspace a share came from; empty for pushes

    @classmethod
    def of(cls, entry: LedgerEntry) -> StatusRow:
        origin = "" if entry.workspace else str(entry.detail.get("origin", ""))
        return cls(
            asset=entry.asset_key,
            target=entry.workspace or REGISTRY,
            status=entry.status,
            attempts=entry.attempts,
            message=entry.message,
            updated=iso(entry.updated),
            origin=origin,
        )

    @property
    def label(self) -> str:
        kind, _, rest = self.asset.partition(":")
        return f"{kind} {rest}"

    def as_json(self) -> dict[str, object]:
        kind, name, version = self.asset.split(":", 2)  # names and versions hold no ':'
        row = asdict(self)
        return {**row, "asset": {"kind": kind, "name": name, "version": version}, "status": self.status.value}


def status(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's workspaces.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Only this workspace.")] = None,
) -> None:
    """Show every registry asset against every workspace: shared, pushed, pending, failed, ..."""
    cli = application(ctx)
    names = _workspaces(cli, tenant=tenant, workspace=workspace)
    rows = collect(cli, names)
    if cli.json_output:
        cli.emit_json([row.as_json() for row in rows])
        return
    render(cli, rows, names)


def collect(cli: Application, workspaces: set[str]) -> list[StatusRow]:
    """The rows of every asset that came from or went to one of `workspaces`, for those and the registry."""
    rows = [StatusRow.of(entry) for entry in cli.read_list(lambda: list(cli.store.list_ledger()))]
    wanted = {row.asset for row in rows if row.target in workspaces or row.origin in workspaces}
    return [row for row in rows if row.asset in wanted and row.target in {REGISTRY, *workspaces}]


def render(cli: Application, rows: list[StatusRow], workspaces: Iterable[str]) -> None:
    """The matrix, its legend, and the table of failures (only when there are any)."""
    names = sorted(workspaces)
    cells: dict[str, dict[str, str]] = {}
    origins: dict[str, str] = {}
    for row in rows:
        cells.setdefault(row.label, {})[row.target] = SYMBOLS[row.status]
        origins[row.label] = origins.get(row.label) or row.origin
    matrix = [
        [label, origins[label] or "-", *(cells[label].get(name, NOTHING) for name in [REGISTRY, *names])]
        for label in sorted(cells)
    ]
    cli.emit_table(["ASSET", "ORIGIN", REGISTRY.upper(), *names], matrix)
    cli.emit_line(LEGEND)
    trouble = [row for row in rows if row.status in TROUBLE]
    if trouble:
        cli.emit_line("")
        cli.emit_table(
            ["ASSET", "TARGET", "STATE", "ATTEMPTS", "LAST ERROR", "UPDATED"],
            [(r.label, r.target, r.status.value, str(r.attempts), r.message, r.updated) for r in trouble],
        )


def _workspaces(cli: Application, *, tenant: str | None, workspace: str | None) -> set[str]:
    """The workspaces to show; names are validated and must be known."""
    if workspace is not None:
        checked("workspace", WorkspaceName, workspace)
        if cli.read(lambda: cli.store.get_workspace(workspace), None) is None:
            raise unknown("workspace", workspace)
    if tenant is not None:
        checked("tenant", TenantId, tenant)
        if cli.read(lambda: cli.store.get_tenant(tenant), None) is None:
            raise unknown("tenant", tenant)
    names = {item.name for item in cli.read_list(lambda: cli.store.list_workspaces(tenant=tenant))}
    return names & {workspace} if workspace else names
