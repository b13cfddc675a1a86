"""HTML for the status page: Jinja2 templates with autoescaping on (every value from the ledger, the audit
log or AzureML is text, never markup) and the headers every page and fragment carries.

Who calls it: shared.ui.routes. The Content-Security-Policy allows scripts, styles and requests from the
app itself only: no inline script or style, no other origin, no framing; docs/dashboard.md explains it.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.api.call import ApiResponse
from shared.cli.status import NOTHING, SYMBOLS
from shared.domain import LedgerStatus

HERE = Path(__file__).resolve().parent
HTML = "text/html"
MIN_COMPRESSED = 4096  # bytes; smaller replies go as they are
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
# The words a state is shown with: the ledger's states (those of `regsync status`), two explained.
STATE_WORDS = {state: state.value.replace("_", " ") for state in LedgerStatus} | {
    LedgerStatus.SUCCEEDED: "succeeded (deployments: ready)",
    LedgerStatus.PENDING: "pending (queued)",
}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# The CLI's symbols, but for two that common fonts (DejaVu, on many Linux desktops) lack: a box would hide
# the state. The words, and the states they name, are the CLI's.
PAGE_SYMBOLS = {**SYMBOLS, LedgerStatus.DEPLOYING: "\u25f7", LedgerStatus.AWAITING_APPROVAL: "\u2016"}

_templates.globals.update(symbols=PAGE_SYMBOLS, nothing=NOTHING, words=STATE_WORDS, states=list(LedgerStatus))


def html(template: str, *, cache: str = "no-store", **values: Any) -> ApiResponse:
    body = _templates.get_template(template).render(**values)
    return ApiResponse(200, body, {**SECURITY_HEADERS, "Cache-Control": cache}, media_type=HTML)


def compressed(reply: ApiResponse, request_headers: Mapping[str, str]) -> ApiResponse:
    """`reply` gzipped when the client accepts it and it is worth it: a page of the matrix is a table of
    thousands of near-identical cells (about 800 KiB at 100 workspaces x 50 assets, 30 KiB gzipped), and
    neither the Functions host nor App Service compresses responses."""
    accepts = any(
        key.lower() == "accept-encoding" and "gzip" in value.lower() for key, value in request_headers.items()
    )
    body = reply.body.encode() if isinstance(reply.body, str) else reply.body
    if not accepts or len(body) < MIN_COMPRESSED:
        return reply
    headers = {**reply.headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return replace(reply, body=gzip.compress(body, compresslevel=6), headers=headers)
