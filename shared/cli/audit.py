"""`regsync audit`: the audit trail (every decision and action, refusals included), newest first.

In-process it reads the audit table; with `--api`, `GET /api/audit` (a tenant principal sees the records
about its own workspaces only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from shared.cli.application import CliError, application
from shared.cli.backend import backend
from shared.storage import iso

COLUMNS = ["AT", "ACTION", "OUTCOME", "SUBJECT", "TARGET", "ACTOR", "REASON"]


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    day: Annotated[str | None, typer.Option("--day", help="UTC day YYYYMMDD (default: today).")] = None,
) -> None:
    """Show the newest audit records of one UTC day."""
    cli = application(ctx)
    records = backend(cli).audit(limit=limit, day=_day(day))
    if cli.json_output:
        fields = ("action", "outcome", "reason", "subject", "target", "actor", "correlation_id")
        cli.emit_json([{**{name: getattr(r, name) for name in fields}, "at": iso(r.at)} for r in records])
        return
    cli.emit_table(
        COLUMNS,
        [(iso(r.at), r.action, r.outcome, r.subject, r.target, r.actor, r.reason) for r in records],
    )


def _day(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"`day`: `{text}` is not a date (YYYYMMDD)") from None
