"""POST /api/rollout/resume through the registered function, on Azurite and the AzureML emulator: the
provider resumes any rollout, a tenant only its own push rules' (another tenant's rule is the same 404 as
an unknown one: test_http_api's NOT_YOURS), audited with the caller in the rule owner's audit trail; bad
input is 400 and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.domain import AssetKind, AssetRef
from shared.engine import Engine
from shared.planner.rollout import rollout_target
from shared.policy_file import parse_policy
from tests.integration.conftest import register_model
from tests.integration.test_http_api import Call, call, snapshot, tenant, unique

pytestmark = pytest.mark.integration
__all__ = ["call"]  # the fixture, used by name


def contoso_rollout(seeded: Engine, ml: Callable[[str], Any], folder: Path) -> tuple[AssetRef, str]:
    """A version contoso shared from workspace1 and its own push rule into workspace2, in waves."""
    name = unique("rs")
    rule = f"waves-{name}"
    document = parse_policy(
        f"""
share:
  - {{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}]}}}}
push:
  - id: {rule}
    tenant: contoso
    targets: {{workspaces: [workspace2]}}
    assets: {{kinds: [model], include: [{name}]}}
    rollout: {{waves: [{{workspaces: [workspace2]}}]}}
""",
        known_tenants=["contoso"],
        known_workspaces=seeded.store.list_workspaces(),
    )
    seeded.store.put_policy(document.policy, replace_all=True)
    model = register_model(ml, "workspace1", name, folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(origin, ref, correlation_id="share")
    return ref, rule


def test_a_tenant_resumes_its_own_rules_rollout_audited_with_it_as_the_caller(
    call: Call, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    ref, rule = contoso_rollout(seeded, ml, model_folder)
    body = {"name": ref.name, "version": ref.version, "rule": rule}
    before = snapshot(seeded)

    by_northwind = call("api_rollout_resume", body, caller=tenant("northwind"))

    assert by_northwind.status == 404
    assert by_northwind.error["message"] == f"push rule `{rule}` not found or not yours"
    assert snapshot(seeded) == before

    resumed = call("api_rollout_resume", body, caller=tenant("contoso"))

    assert resumed.status == 202, resumed.body
    done = [o for o in resumed.body["outcomes"] if o["action"] == "rollout"]
    assert [(o["target"], o["status"]) for o in done] == [(rule, "done")]
    assert {o["target"] for o in resumed.body["outcomes"]} <= {rule, "workspace1", "workspace2"}
    assert seeded.store.get_entry(ref.key, rollout_target(rule)) is not None
    [audited] = [r for r in seeded.store.recent_audit(tenant="contoso", limit=200) if r.action == "rollout"]
    assert (audited.actor, audited.subject) == ("someone@contoso", str(ref))
    assert call("api_rollout_resume", body).status == 202  # the provider may too


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "m", "version": "1", "rule": "bad rule!"}, "`rule`: String should match"),
        ({"name": "m", "version": "1", "rule": "r" * 101}, "`rule`: String should match"),
        ({"name": "m", "version": "1"}, "`rule`: Field required"),
        ({"name": "m", "rule": "r"}, "`version`: Field required"),
        ({"name": "m", "version": "1", "rule": "r", "dry_run": True}, "`dry_run`: Extra inputs"),
        ({"name": "m\u001b[2J", "version": "1", "rule": "r"}, "`name`: String should match"),
    ],
)
def test_bad_resume_input_is_400_naming_the_field_and_writes_nothing(
    call: Call, seeded: Engine, body: dict[str, Any], message: str
) -> None:
    before = snapshot(seeded)

    reply = call("api_rollout_resume", body)

    assert reply.status == 400, reply.body
    assert message in reply.error["message"], reply.error
    assert snapshot(seeded) == before
