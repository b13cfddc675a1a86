"""Recall end to end (issue 14 §1) on Azurite and the AzureML emulator, through the real azure-ai-ml SDK:
a bad version recalled fleet-wide is archived where it was registered, the endpoint serving it goes back
to the previous RegSync deployment, the registry version is tagged and archived, and no later event,
reconcile or pull delivers it again. The CLI's `--dry-run` shows the plan and changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devstack.emulator.launch import EmulatorAdmin
from shared.azureml import deployment_name
from shared.cli import app
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.policy_file import parse_policy
from shared.settings import Settings
from tests.integration.conftest import cli_env, drain_pushes, follow_pushes, register_model

pytestmark = pytest.mark.integration
TARGETS = ("workspace3", "workspace4")


def fleet_rules(engine: Engine, name: str, endpoint: str, on_remove: str = "keep") -> None:
    """contoso shares `name`; northwind registers it in workspace3, woodgrove serves it on workspace4."""
    document = parse_policy(
        f"""
share:
  - {{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}]}}}}
push:
  - id: register-{name}
    tenant: northwind
    targets: {{workspaces: [workspace3]}}
    assets: {{kinds: [model], include: [{name}]}}
    on_remove: {on_remove}
  - id: serve-{name}
    tenant: woodgrove
    targets: {{workspaces: [workspace4]}}
    assets: {{kinds: [model], include: [{name}]}}
    action: {{mode: deploy_online, endpoint: {endpoint}, instance_count: 1}}
""",
        known_tenants=["contoso", "northwind", "woodgrove"],
        known_workspaces=engine.store.list_workspaces(),
    )
    engine.store.put_policy(document.policy, replace_all=True)  # only these rules: the emulator is shared


def deliver(engine: Engine, ml: Callable[[str], Any], folder: Path, name: str) -> AssetRef:
    """A new version of `name` in workspace1, shared, fanned out, registered and deployed (ready)."""
    model = register_model(ml, "workspace1", name, folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    engine.propagate(origin, ref, correlation_id=f"deliver-{ref.version}")
    follow_pushes(engine, lambda: all(status(engine, ref, t) is LedgerStatus.SUCCEEDED for t in TARGETS))
    return ref


def status(engine: Engine, ref: AssetRef, target: str) -> LedgerStatus | None:
    row = engine.store.get_entry(ref.key, f"push|{target}")
    return row.status if row else None


def archived(ml: Callable[[str], Any], where: str, ref: AssetRef) -> bool:
    from azure.ai.ml.constants import ListViewType

    listed = ml(where).models.list(name=ref.name, list_view_type=ListViewType.ARCHIVED_ONLY)
    return ref.version in {str(found.version) for found in listed}


def serving(ml: Callable[[str], Any], endpoint: str) -> dict[str, int]:
    traffic = ml("workspace4").online_endpoints.get(endpoint).traffic or {}
    return {name: share for name, share in traffic.items() if share}


def test_a_recalled_version_is_taken_back_everywhere_and_never_delivered_again(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, endpoint = f"rc-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    fleet_rules(seeded, name, endpoint)
    good = deliver(seeded, ml, model_folder, name)
    bad = deliver(seeded, ml, model_folder, name)
    assert serving(ml, endpoint) == {deployment_name(bad): 100}

    outcomes = seeded.recall(AssetKind.MODEL, name, bad.version, reason="drifted scores", correlation_id="r1")

    assert {(o.target, o.status.value) for o in outcomes} == {
        ("regsync-registry", "recalled"),
        ("workspace3", "recalled"),
        ("workspace4", "recalled"),
    }, [o.reason for o in outcomes]
    assert archived(ml, "workspace3", bad) and not archived(ml, "workspace3", good)
    assert serving(ml, endpoint) == {deployment_name(good): 100}  # traffic back on the previous version
    assert "regsync.recalled" in ml("registry").models.get(name, bad.version).tags
    assert {status(seeded, bad, t) for t in TARGETS} == {LedgerStatus.RECALLED}
    tombstone = seeded.store.tombstone(bad.key)
    assert tombstone is not None and tombstone.reason == "drifted scores"
    audited = [r for r in seeded.store.recent_audit(limit=200) if r.action == "recall"]
    assert {r.target for r in audited} >= {"regsync-registry", "workspace3", "workspace4"}

    # Nothing delivers it again: the event once more, a reconcile of everything, a pull.
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(origin, bad, correlation_id="event-again")
    assert drain_pushes(seeded) == []
    for workspace in ("workspace1", "workspace3", "workspace4"):
        seeded.reconcile_workspace(workspace, correlation_id="rec")
    seeded.reconcile_registry(correlation_id="rec")
    assert [o for o in drain_pushes(seeded) if o.subject == str(bad)] == []
    pulled = seeded.pull("workspace3", AssetKind.MODEL, name, bad.version, correlation_id="p")
    assert pulled.status.value == "refused" and pulled.reason.startswith("recalled by")
    assert serving(ml, endpoint) == {deployment_name(good): 100}
    assert {status(seeded, bad, t) for t in TARGETS} == {LedgerStatus.RECALLED}


def test_the_cli_shows_a_recall_first_and_then_carries_it_out(
    settings: Settings, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = f"rc-{uuid.uuid4().hex[:8]}"
    fleet_rules(seeded, name, f"ep-{uuid.uuid4().hex[:8]}")
    bad = deliver(seeded, ml, model_folder, name)
    env = cli_env(settings)

    planned = CliRunner().invoke(
        app, ["--json", "recall", f"{name}:{bad.version}", "--reason", "leak", "--dry-run"], env=env
    )

    assert planned.exit_code == 0, planned.stderr
    # workspace4 has no earlier version to go back to and its rule keeps the deployment: only recorded
    assert {(o["target"], o["status"]) for o in json.loads(planned.stdout)["outcomes"]} == {
        ("regsync-registry", "planned:tombstone"),
        ("workspace3", "planned:retire"),
        ("workspace4", "planned:recall"),
        ("regsync-registry", "planned:archive"),
    }
    assert seeded.store.tombstone(bad.key) is None and not archived(ml, "workspace3", bad)

    done = CliRunner().invoke(app, ["recall", f"{name}:{bad.version}", "--reason", "leak"], env=env)

    assert done.exit_code == 0, done.stderr
    assert f"{bad} @ workspace3: recalled (archived {name}:{bad.version})" in done.stdout
    assert seeded.store.tombstone(bad.key) is not None and archived(ml, "workspace3", bad)


def test_removing_a_rule_that_says_on_remove_recall_archives_what_it_delivered(
    settings: Settings, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, endpoint = f"rc-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    fleet_rules(seeded, name, endpoint, on_remove="recall")
    ref = deliver(seeded, ml, model_folder, name)

    removed = CliRunner().invoke(
        app, ["--json", "policy", "remove", f"register-{name}"], env=cli_env(settings)
    )

    assert removed.exit_code == 0, removed.stderr
    withdrawn = json.loads(removed.stdout)["withdrawn"]
    assert [(o["target"], o["status"]) for o in withdrawn] == [("workspace3", "recalled")]
    assert archived(ml, "workspace3", ref)
    assert serving(ml, endpoint) == {deployment_name(ref): 100}  # another rule's deployment: untouched
    assert seeded.store.tombstone(ref.key) is None


def test_a_recall_goes_back_past_a_failed_deployment_to_the_last_good_one(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    """1 serves, 2's deployment fails (injected: the emulator's OutOfQuota), 3 serves; recalling 3 moves
    the traffic back to 1, which keep_deployments kept (a failed deployment is never one of those kept)."""
    name, endpoint = f"rc-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    fleet_rules(seeded, name, endpoint)
    good = deliver(seeded, ml, model_folder, name)
    failing = AssetRef(kind=AssetKind.MODEL, name=name, version=str(int(good.version) + 1))
    admin.set_provisioning("workspace4", endpoint, deployment_name(failing), failure="quota")
    register_model(ml, "workspace1", name, model_folder)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(origin, failing, correlation_id="fails")
    follow_pushes(seeded, lambda: status(seeded, failing, "workspace4") is LedgerStatus.FAILED)
    bad = deliver(seeded, ml, model_folder, name)
    assert serving(ml, endpoint) == {deployment_name(bad): 100}

    seeded.recall(AssetKind.MODEL, name, bad.version, reason="bad", correlation_id="r")

    assert serving(ml, endpoint) == {deployment_name(good): 100}


def test_rules_removed_by_a_load_with_replace_and_a_workspace_leaving_take_back_what_they_delivered(
    settings: Settings, seeded: Engine, ml: Callable[[str], Any], model_folder: Path, tmp_path: Path
) -> None:
    name, endpoint = f"rc-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    fleet_rules(seeded, name, endpoint, on_remove="recall")
    ref = deliver(seeded, ml, model_folder, name)
    env = cli_env(settings)
    kept = tmp_path / "kept.yaml"  # the register rule is gone from the file
    kept.write_text(
        f"""
share:
  - {{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}]}}}}
push:
  - id: serve-{name}
    tenant: woodgrove
    targets: {{workspaces: [workspace4]}}
    assets: {{kinds: [model], include: [{name}]}}
    action: {{mode: deploy_online, endpoint: {endpoint}, instance_count: 1}}
    on_remove: recall
""",
        encoding="utf-8",
    )

    loaded = CliRunner().invoke(app, ["policy", "load", str(kept), "--replace"], env=env)

    assert loaded.exit_code == 0, loaded.stderr
    assert f"{ref} @ workspace3: recalled" in loaded.stdout
    assert archived(ml, "workspace3", ref)

    left = CliRunner().invoke(app, ["--json", "workspace", "remove", "workspace4"], env=env)

    assert left.exit_code == 0, left.stderr
    [withdrawn] = json.loads(left.stdout)["withdrawn"]
    # workspace4 serves only this version: nothing to go back to, and the rule keeps the deployment
    assert (withdrawn["target"], withdrawn["status"]) == ("workspace4", "recalled")
    assert "remove_when_recalled: false" in withdrawn["reason"]
    assert seeded.store.get_workspace("workspace4") is None
