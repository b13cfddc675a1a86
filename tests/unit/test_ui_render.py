"""The status page's HTML (shared/ui/): whatever the ledger holds is shown as text, never as markup, and
every page and fragment carries the Content-Security-Policy; its queries are bounded like the API's."""

from __future__ import annotations

import gzip

import pytest

from shared.api.call import validated
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.errors import InvalidInputError, NotFoundError
from shared.records import AuditRecord
from shared.ui.detail import Detail, Row
from shared.ui.matrix import AssetRow, Cell, Matrix, MatrixQuery
from shared.ui.render import compressed, html
from shared.ui.routes import page, static

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def a_matrix(message: str, origin: str) -> Matrix:
    cell = Cell("workspace1", LedgerStatus.FAILED, 3, message)
    return Matrix(
        query=MatrixQuery(),
        provider=True,
        tenant=None,
        tenants=["contoso"],
        workspaces=["workspace1"],
        columns=["workspace1"],
        rows=[AssetRow("model:m:1", origin, {"workspace1": cell})],
        next_after=None,
        partial=False,
    )


def a_detail(text: str) -> Detail:
    row = Row("workspace1", "workspace1", LedgerStatus.FAILED, 3, 1, text, "", "", "", "", text, "")
    audit = [AuditRecord("push", "failed", text, "model m:1", "workspace1", actor=text)]
    ref = AssetRef(kind=AssetKind.MODEL, name="m", version="1")
    return Detail(ref, row, [row], [("training job", text)], "", audit, True)


def test_hostile_text_is_shown_as_text() -> None:
    fragments = [
        html("matrix.html", m=a_matrix("", origin=HOSTILE)).body,
        html("cell.html", d=a_detail(HOSTILE)).body,
    ]

    for body in fragments:
        assert "<script>" not in body and "<img" not in body
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in body


def test_the_page_its_files_and_fragments_carry_the_policy() -> None:
    replies = [page({}), static({"name": "dashboard.js"}), html("matrix.html", m=a_matrix("", ""))]

    for reply in replies:
        policy = reply.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in page({}).body.replace('<script src="ui/static/dashboard.js" defer></script>', "")


@pytest.mark.parametrize(
    "query",
    [
        {"search": "<b>"},
        {"search": "x" * 65},
        {"limit": "0"},
        {"limit": "201"},
        {"after": "model:x"},
        {"state": "lost"},
        {"extra": "1"},
    ],
)
def test_the_matrix_query_is_bounded(query: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError):
        validated(MatrixQuery, query)


def test_an_unknown_file_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        static({"name": "../templates/page.html"})


def test_a_large_fragment_is_gzipped_for_a_client_that_accepts_it() -> None:
    reply = html("matrix.html", m=a_matrix("", origin="x" * 10_000))

    zipped = compressed(reply, {"Accept-Encoding": "gzip, deflate, br"})
    plain = compressed(reply, {})

    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body).decode() == reply.body
    assert plain is reply
