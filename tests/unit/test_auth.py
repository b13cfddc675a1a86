"""shared.auth: App Service's X-MS-CLIENT-PRINCIPAL header -> Caller, and who may act for whom."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.auth import Caller, ForbiddenError, UnauthenticatedError, parse_principal


def header(claims: list[Any], **extra: Any) -> dict[str, str]:
    principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims, **extra}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode()}


def raw(text: bytes) -> dict[str, str]:
    return {"x-ms-client-principal": base64.b64encode(text).decode()}


def test_provider_role_acts_for_everyone() -> None:
    caller = parse_principal(
        header([{"typ": "name", "val": "ops@provider"}, {"typ": "roles", "val": "regsync.provider"}])
    )
    assert caller == Caller(name="ops@provider", provider=True)
    assert caller.may_act_for("contoso") and caller.may_act_for(None)


def test_tenant_role_with_its_claim_acts_for_that_tenant_only() -> None:
    caller = parse_principal(
        header(
            [
                {"typ": "name", "val": "ann@contoso"},
                {"typ": "roles", "val": "regsync.tenant"},
                {"typ": "regsync_tenant", "val": "contoso"},
            ]
        )
    )
    assert caller == Caller(name="ann@contoso", provider=False, tenant="contoso")
    assert caller.may_act_for("contoso")
    assert not caller.may_act_for("northwind")
    assert not caller.may_act_for(None)  # provider-level things are not a tenant's
    with pytest.raises(ForbiddenError, match="tenant `contoso` may not act on workspace `workspace3`"):
        caller.require("northwind", "workspace `workspace3`")


def test_custom_role_and_name_claim_types_are_honoured() -> None:
    caller = parse_principal(
        header(
            [{"typ": "upn", "val": "svc"}, {"typ": "http://schemas/role", "val": "regsync.provider"}],
            role_typ="http://schemas/role",
            name_typ="upn",
        )
    )
    assert caller.provider and caller.name == "svc"


def test_both_roles_make_a_provider() -> None:
    claims = [{"typ": "roles", "val": "regsync.tenant"}, {"typ": "roles", "val": "regsync.provider"}]
    assert parse_principal(header(claims)).provider


@pytest.mark.parametrize("headers", [{}, {"X-MS-CLIENT-PRINCIPAL": ""}, {"Authorization": "Bearer x"}])
def test_no_principal_is_unauthenticated(headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError, match="no X-MS-CLIENT-PRINCIPAL header"):
        parse_principal(headers)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-MS-CLIENT-PRINCIPAL": "not base64!!"}, "not base64-encoded JSON"),
        (raw(b"{not json"), "not base64-encoded JSON"),
        (raw(b"\xff\xfe"), "not base64-encoded JSON"),
        (raw(b"[1, 2]"), "not a JSON object"),
        (raw(b'{"claims": "roles"}'), "no claims list"),
        ({"X-MS-CLIENT-PRINCIPAL": "A" * 20_000}, "too large"),
    ],
)
def test_malformed_headers_are_unauthenticated(headers: dict[str, str], message: str) -> None:
    with pytest.raises(UnauthenticatedError, match=message):
        parse_principal(headers)


def test_no_regsync_role_is_forbidden() -> None:
    with pytest.raises(
        ForbiddenError, match=r"neither the `regsync\.provider` nor the `regsync\.tenant` role"
    ):
        parse_principal(header([{"typ": "name", "val": "someone"}, {"typ": "roles", "val": "reader"}]))


@pytest.mark.parametrize(
    "tenant_claims",
    [
        [],
        [{"typ": "regsync_tenant", "val": "contoso"}, {"typ": "regsync_tenant", "val": "northwind"}],
    ],
)
def test_tenant_role_needs_exactly_one_tenant_claim(tenant_claims: list[dict[str, str]]) -> None:
    with pytest.raises(ForbiddenError, match="exactly one `regsync_tenant` claim"):
        parse_principal(header([{"typ": "roles", "val": "regsync.tenant"}, *tenant_claims]))


@pytest.mark.parametrize("tenant", ["Contoso", "x' or 'a' eq 'a", "../etc", "", "a" * 64, "ten\nant"])
def test_hostile_tenant_claims_are_refused(tenant: str) -> None:
    claims = [{"typ": "roles", "val": "regsync.tenant"}, {"typ": "regsync_tenant", "val": tenant}]
    with pytest.raises(ForbiddenError):
        parse_principal(header(claims))


def test_hostile_claims_are_skipped_and_names_made_printable() -> None:
    claims: list[Any] = [
        "roles",
        {"typ": "roles"},
        {"typ": "roles", "val": ["regsync.provider"]},  # a list is not a role
        {"typ": 7, "val": "regsync.provider"},
        {"typ": "name", "val": "eve\r\n[forged log line]\x00" + "x" * 500},
        {"typ": "roles", "val": "regsync.tenant"},
        {"typ": "regsync_tenant", "val": "contoso"},
    ]
    caller = parse_principal(header(claims))
    assert not caller.provider and caller.tenant == "contoso"
    assert caller.name.startswith("eve??[forged log line]?")
    assert len(caller.name) == 128 and caller.name.isprintable()


def test_role_type_that_is_not_text_falls_back_to_roles() -> None:
    assert parse_principal(header([{"typ": "roles", "val": "regsync.provider"}], role_typ=["x"])).provider
