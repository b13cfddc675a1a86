"""HTML for the status page: Jinja2 templates with autoescaping on (every value from the ledger, the audit
log or AzureML is text, never markup) and the headers every page and fragment carries.

Who calls it: shared.ui.routes. The Content-Security-Policy allows scripts, styles and requests from the
app itself only: no inline script or style, no other origin, no framing; docs/dashboard.md explains it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.api.call import ApiResponse
from shared.cli.status import NOTHING, SYMBOLS
from shared.domain import LedgerStatus

HERE = Path(__file__).resolve().parent
HTML = "text/html"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The words a state is shown with: the CLI's symbols (`regsync status`) and the ledger's states.
STATE_WORDS = {
    LedgerStatus.SUCCEEDED: "succeeded (deployments: ready)",
    LedgerStatus.PENDING: "pending (queued)",
    LedgerStatus.RUNNING: "running",
    LedgerStatus.RETRYING: "retrying",
    LedgerStatus.DEPLOYING: "deploying",
    LedgerStatus.FAILED: "failed",
    LedgerStatus.CONFLICT: "conflict",
    LedgerStatus.AWAITING_APPROVAL: "awaiting approval",
    LedgerStatus.REFUSED: "refused",
}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(symbols=SYMBOLS, nothing=NOTHING, words=STATE_WORDS, states=list(LedgerStatus))


def html(template: str, *, cache: str = "no-store", **values: Any) -> ApiResponse:
    body = _templates.get_template(template).render(**values)
    return ApiResponse(200, body, {**SECURITY_HEADERS, "Cache-Control": cache}, media_type=HTML)
