"""The HTTP API through the REGISTERED functions (app.get_functions()), with real azure.functions requests,
against Azurite and the AzureML emulator on the seed scenario.

`shared.runtime.engine` is pointed at the test's engine (own tables and queues). "Nothing written" is
checked on the ledger, audit, rules and Seen tables and on both queues, and on the registry where it
matters.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceNotFoundError

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from shared import runtime
from shared.domain import AssetKind, AssetRef
from shared.engine import Engine
from shared.ratelimit import RateLimiter
from tests.conftest import registered_functions
from tests.integration.conftest import drain_pushes, register_model

pytestmark = pytest.mark.integration

FUNCTIONS = registered_functions()
PROVIDER = [{"typ": "name", "val": "ops@provider"}, {"typ": "roles", "val": "regsync.provider"}]


def tenant(tenant_id: str) -> list[dict[str, str]]:
    return [
        {"typ": "name", "val": f"someone@{tenant_id}"},
        {"typ": "roles", "val": "regsync.tenant"},
        {"typ": "regsync_tenant", "val": tenant_id},
    ]


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> dict[str, Any]:
        assert set(self.body) == {"error"}, self.body
        return dict(self.body["error"])


Call = Callable[..., Reply]
ROUTES = {
    "api_sync": ("POST", "sync"),
    "api_plan": ("GET", "plan"),
    "api_pull": ("POST", "pull"),
    "api_approve": ("POST", "approve"),
    "api_recall": ("POST", "recall"),
    "api_status": ("GET", "status"),
    "api_verify": ("GET", "verify"),
    "api_audit": ("GET", "audit"),
    "api_rules_list": ("GET", "rules"),
    "api_rules_put": ("PUT", "rules"),
    "api_rules_validate": ("POST", "rules/validate"),
    "api_rules_delete": ("DELETE", "rules/{rule_id}"),
}


@pytest.fixture
def call(seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> Call:
    monkeypatch.setattr(runtime, "engine", lambda: seeded)
    unlimited = RateLimiter(per_minute=0, burst=1)  # the rate limit has its own test
    monkeypatch.setattr(runtime, "limiter", lambda: unlimited)

    def invoke(
        name: str,
        body: Any = None,
        *,
        caller: list[dict[str, str]] | None = PROVIDER,
        params: dict[str, str] | None = None,
        route_params: dict[str, str] | None = None,
    ) -> Reply:
        method, route = ROUTES[name]
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"}
        if caller is not None:
            principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": caller}
            headers["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(principal).encode()).decode()
        url = "http://localhost/api/" + route.format(**(route_params or {}))
        request = func.HttpRequest(
            method=method,
            url=url,
            headers=headers,
            params=params or {},
            route_params=route_params or {},
            body=raw,
        )
        response = FUNCTIONS[name].get_user_function()(request)
        return Reply(response.status_code, json.loads(response.get_body()), dict(response.headers))

    return invoke


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything RegSync writes to storage: table rows (without timestamps' churn) and queue depths."""
    store = engine.store

    def rows(table: Any) -> list[tuple[Any, ...]]:
        return sorted(tuple(sorted(entity.items())) for entity in table.list_entities())

    assert engine.reconciles is not None
    return {
        "ledger": rows(store.ledger),
        "audit": rows(store.audit_log),
        "rules": rows(store.rules),
        "seen": rows(store.seen),
        "inventory": rows(store.inventory),
        "pushes": engine.pushes.client.get_queue_properties().approximate_message_count,
        "reconciles": engine.reconciles.client.get_queue_properties().approximate_message_count,
    }


def queued(engine: Engine) -> list[dict[str, Any]]:
    return [json.loads(message.content) for message in engine.pushes.client.peek_messages(max_messages=32)]


def in_registry(ml: Callable[[str], Any], name: str, version: str) -> bool:
    try:
        ml("registry").models.get(name, version)
    except ResourceNotFoundError:
        return False
    return True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def push_rule(rule_id: str, name: str, **extra: Any) -> dict[str, Any]:
    body = {"id": rule_id, "targets": {"workspaces": ["workspace3"]}, "assets": {"include": [name]}}
    return {"push": [{**body, **extra}]}


# --- sync and plan ----------------------------------------------------------------------------------------


def test_dry_run_sync_and_plan_list_the_share_and_push_and_change_nothing(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    before = snapshot(seeded)

    synced = call("api_sync", {"scope": "workspace", "workspace": "workspace1", "dry_run": True})
    planned = call(
        "api_plan",
        params={
            "scope": "asset",
            "workspace": "workspace1",
            "kind": "model",
            "name": "credit-card-default",
            "version": version,
            "code": "function-key",
        },
        caller=tenant("contoso"),
    )

    subject = f"model credit-card-default:{version}"
    for reply in (synced, planned):
        assert reply.status == 200, reply.body
        assert reply.body["dry_run"] is True
        steps = {
            (o["action"], o["target"], o["status"]) for o in reply.body["outcomes"] if o["subject"] == subject
        }
        assert ("share", "regsync-registry", "planned:share") in steps
    # The provider sees the push into Northwind's workspace; Contoso, the origin, sees its own side only.
    assert ("push", "workspace3", "planned:enqueue") in {
        (o["action"], o["target"], o["status"]) for o in synced.body["outcomes"] if o["subject"] == subject
    }
    assert "workspace3" not in json.dumps(planned.body) and "northwind" not in json.dumps(planned.body)
    assert snapshot(seeded) == before
    assert not in_registry(ml, "credit-card-default", version)


def test_sync_of_a_workspace_shares_and_queues_the_push(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version

    reply = call("api_sync", {"scope": "workspace", "workspace": "workspace1"}, caller=tenant("contoso"))

    assert reply.status == 200, reply.body
    subject = f"model credit-card-default:{version}"
    steps = {
        (o["action"], o["target"], o["status"]) for o in reply.body["outcomes"] if o["subject"] == subject
    }
    assert ("share", "regsync-registry", "succeeded") in steps
    assert not any(target == "workspace3" for _, target, _ in steps)  # Northwind's: not Contoso's to see
    assert in_registry(ml, "credit-card-default", version)
    assert {(m["name"], m["version"], m["target"]) for m in queued(seeded)} >= {
        ("credit-card-default", version, "workspace3")
    }
    actions = {(r.action, r.actor) for r in seeded.store.recent_audit()}
    assert ("sync", "someone@contoso") in actions


def test_sync_everything_is_the_providers_and_queues_one_reconcile_per_workspace(
    call: Call, seeded: Engine
) -> None:
    before = snapshot(seeded)
    refused = call("api_sync", {"scope": "all"}, caller=tenant("contoso"))
    assert refused.status == 403 and refused.error["code"] == "forbidden"
    assert snapshot(seeded) == before

    reply = call("api_sync", {"scope": "all"})
    assert reply.status == 202 and reply.body["scheduled"] == 6  # five workspaces and the registry


def test_a_throttled_share_during_a_sync_is_reported_as_retrying_with_its_reason(
    call: Call, ml: Callable[[str], Any], model_folder: Path, emulator: RunningEmulator
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    admin = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    # More faults than the SDK's own status retries (3), so its retries end and the 429 reaches RegSync;
    # a fixed count keeps the test deterministic and the clean-up below removes what is left.
    admin.set_fault(r"/import$", status=429, method="POST", count=20, retry_after=2)
    try:
        asset = {"kind": "model", "name": "credit-card-default", "version": version}
        reply = call("api_sync", {"scope": "asset", "workspace": "workspace1", "asset": asset})
    finally:
        admin.clear_faults()
    # The sync answers with each outcome as it is (issue 8): the share is retrying, and says why.
    assert reply.status == 200, reply.body
    [share] = reply.body["outcomes"]
    assert (share["action"], share["status"]) == ("share", "retrying")
    assert "429" in share["reason"]


# --- pull and approve -------------------------------------------------------------------------------------


def test_pull_allowed_is_queued_and_refused_is_an_answer_with_its_reason(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    from azure.ai.ml.entities import Model

    name = unique("pullable")
    ml("registry").models.create_or_update(Model(name=name, version="1", path=str(model_folder)))
    assert (
        call(
            "api_rules_put",
            push_rule("northwind-pulls", name, tenant="northwind"),
            caller=tenant("northwind"),
        ).status
        == 200
    )

    allowed = call(
        "api_pull", {"workspace": "workspace3", "kind": "model", "name": name}, caller=tenant("northwind")
    )
    assert allowed.status == 202, allowed.body
    assert allowed.body["outcome"]["status"] == "pending"
    assert "northwind-pulls" in allowed.body["outcome"]["reason"]
    assert (name, "1", "workspace3") in {(m["name"], m["version"], m["target"]) for m in queued(seeded)}

    refused = call(
        "api_pull",
        {"workspace": "workspace1", "kind": "model", "name": name, "version": "1"},
        caller=tenant("contoso"),
    )
    assert refused.status == 200
    assert refused.body["outcome"]["status"] == "refused"
    assert refused.body["outcome"]["reason"].startswith("not subscribed")
    assert seeded.store.get_entry(f"model:{name}:1", "push|workspace1") is None

    missing = call(
        "api_pull",
        {"workspace": "workspace3", "kind": "model", "name": unique("absent")},
        caller=tenant("northwind"),
    )
    # A name the registry lacks is an answer too: refused, with the reason.
    assert missing.status == 200
    assert missing.body["outcome"]["reason"].startswith("the registry has no model named absent")


def test_gated_push_waits_until_the_provider_approves(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    from azure.ai.ml.entities import Model

    name = unique("gated")
    ml("registry").models.create_or_update(Model(name=name, version="1", path=str(model_folder)))
    assert call("api_rules_put", push_rule("gated-to-ws3", name, gate="approval")).status == 200
    pulled = call(
        "api_pull",
        {"workspace": "workspace3", "kind": "model", "name": name, "version": "1"},
        caller=tenant("northwind"),
    )
    assert pulled.body["outcome"]["status"] == "awaiting_approval"
    body = {"workspace": "workspace3", "kind": "model", "name": name, "version": "1"}

    before = snapshot(seeded)
    by_tenant = call("api_approve", body, caller=tenant("northwind"))
    assert by_tenant.status == 403 and "only the provider role may approve" in by_tenant.error["message"]
    assert snapshot(seeded) == before

    approved = call("api_approve", body)
    assert approved.status == 202 and approved.body["outcome"]["status"] == "pending"
    assert "approved by ops@provider" in approved.body["outcome"]["reason"]
    assert (name, "workspace3") in {(m["name"], m["target"]) for m in queued(seeded)}
    again = call("api_approve", body)
    assert again.status == 409 and "does not wait for approval" in again.error["message"]
    drain_pushes(seeded)
    assert ml("workspace3").models.get(name, "1").path.startswith("azureml://registries/regsync-registry/")


# --- status, audit and rules ------------------------------------------------------------------------------


def test_status_shows_tenants_only_their_rows(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    assert call("api_sync", {"scope": "workspace", "workspace": "workspace1"}).status == 200

    everything = call("api_status", params={"name": "credit-card-default"})
    northwind = call("api_status", params={"name": "credit-card-default"}, caller=tenant("northwind"))
    contoso = call("api_status", params={"name": "credit-card-default"}, caller=tenant("contoso"))

    push = {
        "asset": {"kind": "model", "name": "credit-card-default", "version": version},
        "target": "workspace3",
    }
    assert any(push.items() <= row.items() and row["state"] == "pending" for row in everything.body["pushes"])
    assert [row["workspace"] for row in northwind.body["pushes"]] == ["workspace3"]
    assert northwind.body["shares"] == []
    assert contoso.body["pushes"] == []
    assert {(row["workspace"], row["state"]) for row in contoso.body["shares"]} == {
        ("workspace1", "succeeded")
    }
    other = call("api_status", params={"workspace": "workspace3"}, caller=tenant("contoso"))
    assert other.status == 404


def test_audit_shows_tenants_only_records_about_them(call: Call, seeded: Engine) -> None:
    assert (
        call(
            "api_rules_put",
            push_rule("nw-audit", "nothing-*", tenant="northwind"),
            caller=tenant("northwind"),
        ).status
        == 200
    )
    assert (
        call(
            "api_pull",
            {"workspace": "workspace1", "kind": "model", "name": "credit-card-default", "version": "1"},
            caller=tenant("contoso"),
        ).status
        == 200
    )
    assert call("api_sync", {"scope": "workspace", "workspace": "workspace5"}).status == 200

    provider = call("api_audit", params={"limit": "50"})
    northwind = call("api_audit", caller=tenant("northwind"))
    assert {r["action"] for r in provider.body["records"]} >= {"rules", "sync"}
    assert [(r["action"], r["target"]) for r in northwind.body["records"]] == [("rules", "northwind")]
    assert call("api_audit", params={"day": "2024-01-01"}).status == 400
    assert call("api_audit", params={"day": "20241301"}).error["message"].startswith("`day`")


def test_rules_list_put_validate_delete_for_provider_and_tenant(call: Call, seeded: Engine) -> None:
    listed = call("api_rules_list", caller=tenant("contoso"))
    owners = {(rule["id"], rule["tenant"], rule["editable"]) for rule in listed.body["rules"]}
    assert ("contoso-shares-credit-card", "contoso", True) in owners
    assert ("provider-keeps-confidential", None, False) in owners
    assert not any(rule_tenant == "northwind" for _, rule_tenant, _ in owners)

    document = (
        b"push:\n  - id: contoso-gets-nlp\n    tenant: contoso\n    targets: {workspaces: [workspace2]}\n"
    )
    assert call("api_rules_validate", document, caller=tenant("contoso")).body == {
        "valid": True,
        "share_rules": 0,
        "push_rules": 1,
    }
    assert "contoso-gets-nlp" not in {rule.id for rule in seeded.store.load_policy().push}
    assert call("api_rules_put", document, caller=tenant("contoso")).body["stored"] == ["contoso-gets-nlp"]
    assert "contoso-gets-nlp" in {rule.id for rule in seeded.store.load_policy().push}
    removed = call("api_rules_delete", caller=tenant("contoso"), route_params={"rule_id": "contoso-gets-nlp"})
    assert removed.body == {"removed": "contoso-gets-nlp", "withdrawn": []}  # on_remove: keep
    assert "contoso-gets-nlp" not in {rule.id for rule in seeded.store.load_policy().push}
    gone = call("api_rules_delete", route_params={"rule_id": "contoso-gets-nlp"})
    assert gone.status == 404 and gone.error["message"] == "rule `contoso-gets-nlp` does not exist"


def test_invalid_policy_is_400_listing_problems_by_line_and_writes_nothing(
    call: Call, seeded: Engine
) -> None:
    before = snapshot(seeded)
    document = b"push:\n  - id: bad\n    tenant: nobody\n    targets: {workspaces: [nowhere]}\n"
    for name in ("api_rules_put", "api_rules_validate"):
        reply = call(name, document)
        assert reply.status == 400
        assert reply.error["code"] == "invalid_input"
        assert reply.error["message"] == "the policy document has 2 problems"
        assert reply.error["problems"] == [
            {"line": 3, "where": "push[0].tenant", "message": "unknown tenant `nobody`"},
            {"line": 4, "where": "push[0].targets.workspaces[0]", "message": "unknown workspace `nowhere`"},
        ]
    shape = call("api_rules_validate", b"push:\n  - id: bad\n    gate: sometimes\n")
    assert [(p["line"], p["where"]) for p in shape.error["problems"]] == [(3, "push[0].gate")]
    assert snapshot(seeded) == before


# --- tenants cannot touch other tenants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "route_params", "message"),
    [
        ("api_sync", {"scope": "all"}, None, "only the provider role may sync"),
        (
            "api_approve",
            {"workspace": "workspace1", "kind": "model", "name": "m", "version": "1"},
            None,
            "only the provider",
        ),
        (
            "api_rules_put",
            {"push": [{"id": "steal", "tenant": "northwind"}]},
            None,
            "must name tenant `contoso`",
        ),
        (
            "api_rules_put",
            {"share": [{"id": "provider-keeps-confidential", "tenant": "contoso"}]},
            None,
            "belongs to the provider",
        ),
        (
            "api_rules_put",
            {"share": [{"id": "northwind-shares-bert", "tenant": "contoso"}]},
            None,
            "rule id `northwind-shares-bert` is not available: choose another id",
        ),
        (
            "api_rules_put",
            {"push": [{"id": "own", "tenant": "contoso"}], "tenants": [{"id": "evil"}]},
            None,
            "only the provider may write tenants",
        ),
        (  # a tenant cannot make itself the owner of another tenant's names
            "api_rules_put",
            {"ownership": [{"id": "mine-now", "tenants": ["contoso"], "prefixes": ["nlp-"]}]},
            None,
            "only the provider may write tenants, workspaces, registries or ownership",
        ),
        ("api_rules_delete", None, {"rule_id": "provider-keeps-confidential"}, "the provider"),
    ],
)
def test_what_a_tenants_role_may_not_do_is_403(
    call: Call, seeded: Engine, name: str, body: Any, route_params: dict[str, str] | None, message: str
) -> None:
    """Refusals that concern the caller's role or its own document, never another tenant's things."""
    before = snapshot(seeded)
    reply = call(name, body, caller=tenant("contoso"), route_params=route_params)
    assert reply.status == 403, reply.body
    assert reply.error["code"] == "forbidden"
    assert message in reply.error["message"]
    assert "tenant northwind" not in reply.error["message"]  # never who owns what
    assert snapshot(seeded) == before


# Each case: a request naming another tenant's thing (`theirs`) and the same naming an unknown one.
NOT_YOURS = [
    ("api_sync", "workspace", {"scope": "workspace", "workspace": "{}"}, "workspace3", "workspace9"),
    (
        "api_sync",
        "workspace",
        {"scope": "workspace", "workspace": "{}", "dry_run": True},
        "workspace3",
        "ws-x",
    ),
    ("api_sync", "tenant", {"scope": "tenant", "tenant": "{}"}, "northwind", "nobody"),
    ("api_plan", "workspace", {"scope": "workspace", "workspace": "{}"}, "workspace4", "workspace9"),
    ("api_pull", "workspace", {"workspace": "{}", "kind": "model", "name": "m"}, "workspace3", "workspace9"),
    ("api_status", "workspace", {"workspace": "{}"}, "workspace3", "workspace9"),
    ("api_status", "tenant", {"tenant": "{}"}, "northwind", "nobody"),
    ("api_verify", "workspace", {"name": "m", "version": "1", "workspace": "{}"}, "workspace3", "workspace9"),
    ("api_audit", "tenant", {"tenant": "{}"}, "woodgrove", "nobody"),
    ("api_rules_delete", "rule", {"rule_id": "{}"}, "northwind-gets-credit-card", "no-such-rule"),
]


@pytest.mark.parametrize(("name", "noun", "template", "theirs", "unknown"), NOT_YOURS)
def test_another_tenants_things_are_as_unknown_to_a_tenant_as_things_that_do_not_exist(
    call: Call, seeded: Engine, name: str, noun: str, template: dict[str, Any], theirs: str, unknown: str
) -> None:
    before = snapshot(seeded)
    replies = []
    for thing in (theirs, unknown):
        filled = {
            key: value.format(thing) if isinstance(value, str) else value for key, value in template.items()
        }
        if name == "api_rules_delete":
            reply = call(name, caller=tenant("contoso"), route_params=filled)
        elif ROUTES[name][0] == "GET":
            reply = call(name, caller=tenant("contoso"), params=filled)
        else:
            reply = call(name, filled, caller=tenant("contoso"))
        assert reply.status == 404, reply.body
        assert reply.error == {"code": "not_found", "message": f"{noun} `{thing}` not found or not yours"}
        replies.append(reply.error["message"].replace(thing, "?"))
    assert replies[0] == replies[1]  # one answer: nothing tells theirs from nothing
    assert snapshot(seeded) == before


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "status", "message"),
    [
        ("api_sync", b"{not json", 400, "the request body is not valid JSON"),
        ("api_sync", b"[1]", 400, "the request body must be a JSON object"),
        (
            "api_sync",
            {"scope": "workspace", "workspace": "workspace1", "surprise": 1},
            400,
            "`surprise`: Extra inputs are not permitted",
        ),
        ("api_sync", {"scope": "workspace"}, 400, "scope `workspace` takes workspace"),
        (
            "api_sync",
            {"scope": "everything"},
            400,
            "`scope`: Input should be 'all', 'tenant', 'workspace' or 'asset'",
        ),
        (
            "api_pull",
            {"workspace": "ws' or RowKey ne '", "kind": "model", "name": "x"},
            400,
            "`workspace`: String",
        ),
        (
            "api_pull",
            {"workspace": "workspace1", "kind": "model", "name": "../../etc\n"},
            400,
            "`name`: String",
        ),
        (
            "api_pull",
            {"workspace": "workspace9", "kind": "model", "name": "m"},
            404,
            "workspace `workspace9` is unknown",
        ),
        ("api_rules_put", b"\xff\xfe", 400, "the policy document is not UTF-8 text"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_writes_nothing(
    call: Call, seeded: Engine, name: str, body: Any, status: int, message: str
) -> None:
    before = snapshot(seeded)
    reply = call(name, body)
    assert reply.status == status, reply.body
    assert reply.error["message"].startswith(message), reply.error
    assert snapshot(seeded) == before


def test_oversized_body_is_413(call: Call, seeded: Engine) -> None:
    limit = 1_048_576
    reply = call("api_rules_put", b"#" * (limit + 1))
    assert reply.status == 413
    assert reply.error == {
        "code": "payload_too_large",
        "message": f"the request body has {limit + 1} bytes; the limit is {limit} "
        "(setting REGSYNC_MAX_BODY_BYTES)",
    }


def test_no_principal_is_401_and_a_bad_one_too(call: Call) -> None:
    missing = call("api_status", caller=None)
    assert missing.status == 401 and missing.error["code"] == "unauthenticated"
    no_role = call("api_status", caller=[{"typ": "roles", "val": "reader"}])
    assert no_role.status == 403


def test_unknown_query_parameters_are_refused_but_the_function_key_is_not(call: Call) -> None:
    params = {"scope": "workspace", "workspace": "workspace1", "code": "function-key"}
    assert call("api_plan", params=params).status == 200
    reply = call("api_plan", params={**params, "verbose": "1"})
    assert reply.status == 400 and reply.error["message"].startswith("`verbose`")


# --- one use case per verb: the API and the CLI answer alike (issue 8, 8) --------------------------------


def test_the_api_and_the_cli_answer_the_same_scope_alike(
    call: Call, seeded: Engine, settings: Any, ml: Callable[[str], Any], model_folder: Path
) -> None:
    from typer.testing import CliRunner

    from shared.cli import app
    from tests.integration.conftest import cli_env

    def cli(*args: str) -> Any:
        return CliRunner().invoke(app, ["--json", *args], env=cli_env(settings))

    # `all`: queued by both, one reconcile message per workspace and one for the registry.
    over_http, in_process = call("api_sync", {"scope": "all"}), cli("sync", "--all")
    assert over_http.status == 202 and in_process.exit_code == 0, in_process.stderr
    assert over_http.body["scheduled"] == json.loads(in_process.stdout)["scheduled"] == 6
    # An asset of a workspace: a scope of both, with the same outcomes (a plan, so nothing changes).
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    asset = {"kind": "model", "name": "credit-card-default", "version": version}
    planned = call("api_plan", params={"scope": "asset", "workspace": "workspace1", **asset})
    from_cli = cli("plan", "--workspace", "workspace1", "--asset", f"model:credit-card-default:{version}")
    assert from_cli.exit_code == 0, from_cli.stderr
    steps = [(o["action"], o["target"], o["status"]) for o in planned.body["outcomes"]]
    assert steps == [(o["action"], o["target"], o["status"]) for o in json.loads(from_cli.stdout)["outcomes"]]
    assert ("push", "workspace3", "planned:enqueue") in steps
    # An unknown tenant: the same sentence, as a 404 and as a one-line error.
    unknown = call("api_sync", {"scope": "tenant", "tenant": "nobody"})
    refused = cli("sync", "--tenant", "nobody")
    assert (unknown.status, unknown.error["message"]) == (404, "tenant `nobody` is unknown")
    assert (refused.exit_code, refused.stderr.strip()) == (1, "tenant `nobody` is unknown")


def test_storage_that_cannot_be_reached_is_503_with_retry_after(
    seeded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8: with Azurite unreachable the API answered 500 "internal"; it is a temporary failure."""
    from shared.runtime import build_engine
    from shared.settings import Settings

    dead = "http://127.0.0.1:9/devstoreaccount1"  # port 9 (discard): nothing listens on loopback
    account = "AccountName=devstoreaccount1;AccountKey=" + base64.b64encode(b"k" * 64).decode()
    unreachable = f"DefaultEndpointsProtocol=http;{account};TableEndpoint={dead};QueueEndpoint={dead};"
    monkeypatch.setattr(
        runtime, "engine", lambda: build_engine(Settings(storage_connection_string=unreachable))
    )
    request = func.HttpRequest(
        method="GET",
        url="http://localhost/api/status",
        headers={
            "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps({"claims": PROVIDER}).encode()).decode()
        },
        params={},
        body=b"",
    )
    response = FUNCTIONS["api_status"].get_user_function()(request)
    assert response.status_code == 503, response.get_body()
    assert int(response.headers["Retry-After"]) >= 1
    assert json.loads(response.get_body())["error"]["code"] == "temporarily_unavailable"


# --- recall -----------------------------------------------------------------------------------------------


def test_a_tenant_recalls_what_it_published_and_nothing_of_anyone_else(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    """contoso published credit-card-default (the seed rules push it to northwind's workspace3): contoso
    may recall it, sees the plan first, and is not told about workspace3; northwind may not recall it."""
    model = register_model(ml, "workspace1", "credit-card-default", model_folder)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(
        origin,
        AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=model.version),
        correlation_id="c",
    )
    drain_pushes(seeded)
    body = {"name": "credit-card-default", "version": model.version, "reason": "leaks PII"}
    before = snapshot(seeded)

    refused = call("api_recall", body, caller=tenant("northwind"))
    planned = call("api_recall", {**body, "dry_run": True}, caller=tenant("contoso"))
    missing_reason = call("api_recall", {"name": "credit-card-default"}, caller=tenant("contoso"))

    assert refused.status == 404 and "not found or not yours" in refused.error["message"]
    assert missing_reason.status == 400, missing_reason.body
    assert planned.status == 200 and planned.body["dry_run"] is True
    assert [o["status"] for o in planned.body["outcomes"]] == ["planned:tombstone", "planned:archive"]
    assert snapshot(seeded) == before  # refused, invalid and planned: nothing written

    done = call("api_recall", body, caller=tenant("contoso"))

    assert done.status == 202, done.body
    assert {o["target"] for o in done.body["outcomes"]} == {"regsync-registry"}  # workspace3 is northwind's
    row = seeded.store.get_entry(f"model:credit-card-default:{model.version}", "push|workspace3")
    assert row is not None and row.status.value == "recalled"
