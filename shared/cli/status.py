"""`regsync status`: the ledger as a matrix of registry assets x workspaces, readable at a glance.

Who calls it: operators, and the demo (devstack/demo/), which prints its final state with this same
command. Rows are registry asset versions, columns the registry (the share) and the workspaces (the
pushes); each cell is one symbol (see LEGEND). A second table lists what failed, with its last error.
`--json` prints one row per ledger entry instead. One ledger scan: an operator query, not a hot path.
The rows come from shared/cli/backend.py: the ledger in-process, or `GET /api/status` with `--api`
(which shows a tenant principal its own tenant's rows only).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer

from shared.cli.application import Application, application, checked
from shared.cli.backend import REGISTRY, StatusRow, backend
from shared.domain import LedgerStatus, TenantId, WorkspaceName

SYMBOLS = {
    LedgerStatus.SUCCEEDED: "✓",
    LedgerStatus.PENDING: "…",
    LedgerStatus.RUNNING: "…",
    LedgerStatus.RETRYING: "↻",
    LedgerStatus.DEPLOYING: "⧗",
    LedgerStatus.FAILED: "✗",
    LedgerStatus.CONFLICT: "!",
    LedgerStatus.AWAITING_APPROVAL: "⏸",
    LedgerStatus.REFUSED: "⊘",
    LedgerStatus.RECALLED: "⤺",
}
NOTHING = "·"
LEGEND = (
    "✓ succeeded (a deployment: ready)   ⧗ deploying   … pending/running   ↻ retrying   ✗ failed   "
    "! conflict   ⏸ awaiting approval   ⊘ refused   ⤺ recalled   · nothing"
)
TROUBLE = {LedgerStatus.FAILED, LedgerStatus.RETRYING, LedgerStatus.CONFLICT, LedgerStatus.REFUSED}
# Listed under the matrix with their reason and when they last changed: trouble, and deployments that
# are still provisioning (a failed deployment shows Azure's reason there).
LISTED = TROUBLE | {LedgerStatus.DEPLOYING}


def status(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's workspaces.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Only this workspace.")] = None,
) -> None:
    """Show every registry asset against every workspace: shared, pushed, pending, failed, ..."""
    cli = application(ctx)
    if workspace is not None:
        checked("workspace", WorkspaceName, workspace)
    if tenant is not None:
        checked("tenant", TenantId, tenant)
    view = backend(cli).status(tenant=tenant, workspace=workspace)
    if cli.json_output:
        cli.emit_json([row.as_json() for row in view.rows])
        return
    render(cli, view.rows, view.workspaces)


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
    trouble = [row for row in rows if row.status in LISTED]
    if trouble:
        cli.emit_line("")
        cli.emit_table(
            ["ASSET", "TARGET", "STATE", "ATTEMPTS", "REASON", "UPDATED"],
            [(r.label, r.target, r.status.value, str(r.attempts), r.message, r.updated) for r in trouble],
        )
