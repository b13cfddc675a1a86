"""Issue 9, sections 2 and 4, through the registered HTTP functions on Azurite and the AzureML emulator:
a tenant's audit trail is its own (partition, paging, no crowding out), refusals asked for again are
audited once, tenants are rate-limited, and what a tenant is answered with names no other tenant's
workspaces, rules, audiences or regions, while the provider still sees everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared import runtime
from shared.engine import Engine
from shared.ratelimit import RateLimiter
from tests.integration.conftest import register_model
from tests.integration.test_http_api import PROVIDER, Call, call, snapshot, tenant, unique

pytestmark = pytest.mark.integration
__all__ = ["call"]  # the fixture, shared with test_http_api

OTHERS = ("northwind", "woodgrove", "litware", "workspace3", "workspace4", "workspace5", "westus")


def registry_model(ml: Callable[[str], Any], folder: Path) -> str:
    """A model put into the registry directly (no provenance): a tenant's pull of it is refused."""
    from azure.ai.ml.entities import Model

    name = unique("refusable")
    ml("registry").models.create_or_update(Model(name=name, version="1", path=str(folder)))
    return name


def pull(call: Call, who: str, workspace: str, name: str, version: str = "1") -> Any:
    body = {"workspace": workspace, "kind": "model", "name": name, "version": version}
    return call("api_pull", body, caller=tenant(who))


def own_rule(call: Call, who: str) -> None:
    document = {"push": [{"id": f"{who}-audited", "tenant": who, "assets": {"include": ["nothing-*"]}}]}
    assert call("api_rules_put", document, caller=tenant(who)).status == 200


def trail(call: Call, who: str | None, **params: str) -> dict[str, Any]:
    """`GET /api/audit` as tenant `who`, or as the provider (None)."""
    reply = call("api_audit", params=params, caller=tenant(who) if who else PROVIDER)
    assert reply.status == 200, reply.body
    return dict(reply.body)


# --- section 2: a tenant's audit trail is its own -------------------------------------------------------


def test_a_thousand_refused_pulls_of_one_tenant_hide_no_other_tenants_records(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    """The seen case: 1,000 refused pulls by Contoso; Northwind and Woodgrove still see their own."""
    own_rule(call, "northwind")
    own_rule(call, "woodgrove")
    name = registry_model(ml, model_folder)
    seeded.applier.refusal_window = 0  # every refusal audited: the volume of the seen case
    seeded.world_ttl = 300  # one world for the burst, as a warm instance has

    for _ in range(1000):
        assert pull(call, "contoso", "workspace1", name).body["outcome"]["status"] == "refused"

    # The provider's newest 1,000 of the day are all Contoso's: the old tenant view, cut from them, was empty.
    day = trail(call, None, limit="1000")
    assert {(r["action"], tuple(r["tenants"])) for r in day["records"]} == {("pull", ("contoso",))}
    for who in ("northwind", "woodgrove"):
        mine = trail(call, who)
        assert [(r["action"], r["target"]) for r in mine["records"]] == [("rules", who)]
        assert mine["tenant"] == who and mine["continuation"] is None
    # Contoso pages through its own partition: every record once, newest first, then no token.
    seen: list[str] = []
    params = {"limit": "300"}
    while True:
        page = trail(call, "contoso", **params)
        seen += [record["at"] + record["correlation_id"] for record in page["records"]]
        if page["continuation"] is None:
            break
        params = {"limit": "300", "continuation": page["continuation"]}
    assert len(seen) == len(set(seen)) == 1000
    assert seen == sorted(seen, reverse=True)  # newest first, across pages
    # The provider reads one tenant's partition with `tenant`.
    assert len(trail(call, None, tenant="contoso", limit="1000")["records"]) == 1000


def test_the_same_refused_pull_asked_again_is_audited_once_per_window(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, other = registry_model(ml, model_folder), registry_model(ml, model_folder)
    for _ in range(5):
        assert pull(call, "contoso", "workspace1", name).body["outcome"]["status"] == "refused"
    assert pull(call, "contoso", "workspace1", other).body["outcome"]["status"] == "refused"

    pulls = [r["subject"] for r in trail(call, "contoso")["records"] if r["action"] == "pull"]
    assert pulls == [f"model {other}:1", f"model {name}:1"]
    assert [r["subject"] for r in trail(call, None)["records"] if r["action"] == "pull"] == pulls


def test_a_tenant_over_its_rate_gets_429_with_retry_after_and_nothing_is_done(
    call: Call, seeded: Engine, monkeypatch: pytest.MonkeyPatch, ml: Callable[[str], Any], model_folder: Path
) -> None:
    now = [1000.0]
    limiter = RateLimiter(per_minute=1, burst=2, clock=lambda: now[0])
    monkeypatch.setattr(runtime, "limiter", lambda: limiter)
    name = registry_model(ml, model_folder)
    assert [pull(call, "contoso", "workspace1", name).status for _ in range(2)] == [200, 200]
    before = snapshot(seeded)

    refused = pull(call, "contoso", "workspace1", name)
    planned = call(
        "api_plan", params={"scope": "workspace", "workspace": "workspace1"}, caller=tenant("contoso")
    )

    for reply in (refused, planned):
        assert reply.status == 429, reply.body
        assert reply.headers["Retry-After"] == "60"
        assert reply.error["code"] == "too_many_requests"
        assert "REGSYNC_RATE_LIMIT_PER_MINUTE" in reply.error["message"]
    assert snapshot(seeded) == before
    # Other tenants have buckets of their own, the provider none, and reads are not limited.
    assert pull(call, "northwind", "workspace3", name).status == 200
    assert call("api_pull", {"workspace": "workspace1", "kind": "model", "name": name}).status == 200
    assert call("api_status", caller=tenant("contoso")).status == 200
    now[0] += 60
    assert pull(call, "contoso", "workspace1", name).status == 200


# --- section 4: refusals that do not disclose other tenants ---------------------------------------------


def test_a_pull_refusal_names_no_other_tenants_rule_or_audience(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    """Contoso shares credit-card-default with Northwind only; Woodgrove asks for it."""
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    assert call("api_sync", {"scope": "workspace", "workspace": "workspace1"}).status == 200

    by_woodgrove = pull(call, "woodgrove", "workspace4", "credit-card-default", version)
    by_provider = call(
        "api_pull",
        {"workspace": "workspace4", "kind": "model", "name": "credit-card-default", "version": version},
    )

    assert by_woodgrove.body["outcome"]["status"] == "refused"
    assert by_woodgrove.body["outcome"]["reason"] == "not shared with tenant woodgrove"
    full = by_provider.body["outcome"]["reason"]
    assert "contoso-shares-credit-card" in full and "northwind" in full  # the provider sees all
    # The audit: Woodgrove's own view says as little; the provider's copy of the same record says all.
    # (Both pulls concern Woodgrove: they were into its workspace, the provider's as well.)
    mine = [r for r in trail(call, "woodgrove")["records"] if r["action"] == "pull"]
    assert [(r["actor"], r["reason"]) for r in mine] == [
        ("ops@provider", "not shared with tenant woodgrove"),
        ("someone@woodgrove", "not shared with tenant woodgrove"),
    ]
    assert not any("tenants" in record for record in mine)
    reasons = [r["reason"] for r in trail(call, None, tenant="woodgrove")["records"] if r["action"] == "pull"]
    assert any("contoso-shares-credit-card" in reason for reason in reasons)
    for text in (json.dumps(by_woodgrove.body), json.dumps(trail(call, "woodgrove"))):
        assert "contoso" not in text and "northwind" not in text and "workspace1" not in text


def test_plan_and_sync_outcomes_name_no_other_tenants_workspaces_or_regions(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    register_model(ml, "workspace1", "credit-card-default", model_folder)
    params = {"scope": "workspace", "workspace": "workspace1"}

    provider = call("api_plan", params=params)
    contoso = call("api_plan", params=params, caller=tenant("contoso"))
    synced = call("api_sync", params, caller=tenant("contoso"))

    seen_by_provider = json.dumps(provider.body)
    assert all(name in seen_by_provider for name in ("workspace3", "workspace5", "westus"))
    for reply in (contoso, synced):
        assert reply.status == 200, reply.body
        assert reply.body["outcomes"], reply.body
        text = json.dumps(reply.body)
        assert not [name for name in OTHERS if name in text], text


def test_a_tenants_policy_is_checked_against_its_own_workspaces_only(call: Call, seeded: Engine) -> None:
    def problems(workspace: str) -> list[str]:
        document = {"push": [{"id": "c", "tenant": "contoso", "targets": {"workspaces": [workspace]}}]}
        reply = call("api_rules_validate", document, caller=tenant("contoso"))
        assert reply.status == 400, reply.body
        return [problem["message"].replace(workspace, "?") for problem in reply.error["problems"]]

    assert problems("workspace3") == problems("workspace9") == ["unknown workspace `?`"]
