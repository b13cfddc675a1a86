"""The HTTP API against hostile input (issue 9 §3, §5, "Also"): 400 naming the limit, fast, nothing written.

Through the registered functions with real azure.functions requests, on Azurite and the emulator (the
fixtures of test_http_api.py). "Nothing written" is the same snapshot of tables and queues.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine import Engine
from tests.integration.test_http_api import Call, call, snapshot, tenant
from tests.unit.test_policy_file import BILLION_LAUGHS

pytestmark = pytest.mark.integration
__all__ = ["call"]  # the fixture, used by name

SYNC = {"scope": "workspace", "workspace": "workspace1"}
PULL = {"workspace": "workspace3", "kind": "model", "name": "credit-card-default"}
APPROVE = {**PULL, "version": "1"}
DEEP = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
NESTED = "the request body is nested deeper than 32 levels (setting REGSYNC_MAX_JSON_DEPTH)"


def refused(call: Call, seeded: Engine, name: str, body: Any, **options: Any) -> dict[str, Any]:
    """The 400's error of a request that must write nothing (a hang is the per-test timeout's to catch)."""
    before = snapshot(seeded)
    reply = call(name, body, **options)
    assert reply.status == 400, reply.body
    assert snapshot(seeded) == before
    return reply.error


@pytest.mark.parametrize("name", ["api_sync", "api_pull", "api_approve"])
def test_deeply_nested_json_is_400_naming_the_limit(call: Call, seeded: Engine, name: str) -> None:
    for body in (DEEP, b"[" * 100_000 + b"]" * 100_000, b'{"x":' + b"[" * 33 + b"]" * 33 + b"}"):
        assert refused(call, seeded, name, body) == {"code": "invalid_input", "message": NESTED}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"scope": "all", "scope": "workspace", "workspace": "workspace1"}', "the key `scope` twice"),
        (b'{"scope": "workspace", "workspace": "workspace1", "dry_run": NaN}', "NaN is not a JSON value"),
        (b'{"scope": "workspace", "workspace": "ws\\u0000"}', "`workspace`: String should match"),
        (b'{"scope": "workspace", "\\u001b[2J": 1}', "`\\x1b[2J`: Extra inputs are not permitted"),
    ],
)
def test_duplicate_keys_nan_and_hostile_keys_are_400(
    call: Call, seeded: Engine, body: bytes, message: str
) -> None:
    error = refused(call, seeded, "api_sync", body)
    assert message in error["message"], error


@pytest.mark.parametrize("dry_run", ["false", "true", 0, 1, "0", None])
def test_dry_run_must_be_a_json_boolean(call: Call, seeded: Engine, dry_run: Any) -> None:
    # `"dry_run": "false"` or `0` once ran a REAL sync.
    error = refused(call, seeded, "api_sync", {**SYNC, "dry_run": dry_run})
    assert error["message"] == "`dry_run`: Input should be a valid boolean"


def test_versions_and_names_are_never_coerced_from_other_types(call: Call, seeded: Engine) -> None:
    for body in ({**PULL, "version": 1.5}, {**PULL, "name": 7}, {**PULL, "kind": ["model"]}):
        refused(call, seeded, "api_pull", body)


@pytest.mark.parametrize("limit", [" 10", "+10", "10.0", "1_0", "0x10", "\u0661\u0660", "true"])
def test_query_integers_are_plain_decimal_digits(call: Call, seeded: Engine, limit: str) -> None:
    error = refused(call, seeded, "api_audit", None, params={"limit": limit})
    assert error["message"].startswith("`limit`: "), error
    assert call("api_audit", params={"limit": "10"}).status == 200


FULLWIDTH_DAY = "\uff12\uff10\uff12\uff16\uff10\uff11\uff10\uff11"
ARABIC_INDIC_DAY = "\u0662\u0660\u0662\u0666\u0660\u0661\u0660\u0661"


@pytest.mark.parametrize("day", [FULLWIDTH_DAY, "20260101\n", ARABIC_INDIC_DAY])
def test_query_days_are_ascii_digits(call: Call, seeded: Engine, day: str) -> None:
    refused(call, seeded, "api_audit", None, params={"day": day})


@pytest.mark.parametrize(
    ("name", "route_params"),
    [
        ("api_rules_list", None),
        ("api_rules_validate", None),
        ("api_rules_put", None),
        ("api_rules_delete", {"rule_id": "nope"}),
    ],
)
def test_rules_routes_refuse_unknown_query_parameters(
    call: Call, seeded: Engine, name: str, route_params: dict[str, str] | None
) -> None:
    body = None if name in ("api_rules_list", "api_rules_delete") else b"share: []\n"
    error = refused(call, seeded, name, body, params={"tenant": "x"}, route_params=route_params)
    assert error["message"] == "`tenant`: Extra inputs are not permitted"
    assert call("api_rules_list", params={"code": "function-key"}).status == 200


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (BILLION_LAUGHS, {"line": 1, "where": "", "message": "anchors (`&a`) are not allowed in a policy"}),
        ("a: &a [*a]\n", {"line": 1, "where": "", "message": "anchors (`&a`) are not allowed in a policy"}),
        (
            "share: []\n\x00",
            {
                "line": 2,
                "where": "",
                "message": "control character U+0000 is not allowed (write it escaped, or not at all)",
            },
        ),
        (
            "[" * 100_000,
            {"line": 1, "where": "", "message": "the document is nested deeper than 32 levels"},
        ),
        (
            'share:\n  - id: r1\n    description: "\\e]0;pwned\\a"\n',
            {
                "line": 3,
                "where": "share[0].description",
                "message": "control character U+001B is not allowed in free text",
            },
        ),
    ],
)
@pytest.mark.parametrize("name", ["api_rules_validate", "api_rules_put"])
def test_hostile_policy_documents_are_400_at_once_and_write_nothing(
    call: Call, seeded: Engine, name: str, text: str, problem: dict[str, Any]
) -> None:
    for caller in (None, tenant("contoso")):
        options = {} if caller is None else {"caller": caller}
        assert refused(call, seeded, name, text.encode(), **options)["problems"] == [problem]


def test_unknown_tenants_in_audience_are_400_with_the_line(call: Call, seeded: Engine) -> None:
    text = "share:\n  - id: s-typo\n    tenant: contoso\n    audience: [northwnd]\n"
    error = refused(call, seeded, "api_rules_put", text.encode(), caller=tenant("contoso"))
    assert error["problems"] == [
        {"line": 4, "where": "share[0].audience[0]", "message": "unknown tenant `northwnd`"}
    ]


@pytest.mark.parametrize("name", ["api_rules_validate", "api_rules_put"])
def test_an_empty_policy_body_is_400(call: Call, seeded: Engine, name: str) -> None:
    for body in (b"", b"  \n"):
        error = refused(call, seeded, name, body)
        assert error["message"] == "the request body is empty: send a policy document (YAML or JSON)"
