"""`regsync audit`: the audit trail (every decision and action, refusals included), newest first.

In-process it reads the audit table: the day's records (the provider's view), or with `--tenant` one
tenant's own partition. With `--api`, `GET /api/audit`: a tenant principal sees its own records only.
A page ends with the token for the next one (`--next`), on stderr, so stdout stays the records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import Field

from shared.cli.application import CliError, application, checked
from shared.cli.backend import backend
from shared.domain import TenantId
from shared.entities import AUDIT_ROW, iso

COLUMNS = ["AT", "ACTION", "OUTCOME", "SUBJECT", "TARGET", "ACTOR", "REASON"]


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    day: Annotated[str | None, typer.Option("--day", help="UTC day YYYYMMDD (default: today).")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's own records.")] = None,
    after: Annotated[
        str | None, typer.Option("--next", help="Continue after the page that printed this token.")
    ] = None,
) -> None:
    """Show the newest audit records of one UTC day, a page at a time."""
    cli = application(ctx)
    if tenant is not None:
        checked("tenant", TenantId, tenant)
    if after is not None:
        checked("next", Annotated[str, Field(pattern=AUDIT_ROW)], after)
    page = backend(cli).audit(limit=limit, day=_day(day), tenant=tenant, after=after)
    records = page.records
    if cli.json_output:
        fields = ("action", "outcome", "reason", "subject", "target", "actor", "correlation_id")
        cli.emit_json([{**{name: getattr(r, name) for name in fields}, "at": iso(r.at)} for r in records])
    else:
        cli.emit_table(
            COLUMNS,
            [(iso(r.at), r.action, r.outcome, r.subject, r.target, r.actor, r.reason) for r in records],
        )
    if page.continuation:
        cli.message(f"more records: add `--next {page.continuation}`")


def _day(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"`day`: `{text}` is not a date (YYYYMMDD)") from None
