"""Progressive rollout end to end (issue 14 §3) on Azurite and the AzureML emulator: a three-wave rollout
of a deployment stops at a canary whose provisioning fails (injected with the emulator's admin
`set_provisioning`, which makes the deployment end `Failed` with Azure's OutOfQuota error), `plan` shows
it stopped, and `regsync rollout resume` lets the later waves go, one after the other. A sync narrowed
to a later-wave workspace before the canary has a row waits for it all the same."""

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
from shared.engine import Engine, SyncScope
from shared.engine.requests import PROVIDER
from shared.policy_file import parse_policy
from shared.settings import Settings
from tests.integration.conftest import cli_env, follow_pushes, register_model
from tests.integration.test_recall import status

pytestmark = pytest.mark.integration


def test_a_three_wave_rollout_stops_at_a_failed_canary_and_resumes_on_command(
    settings: Settings, seeded: Engine, ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    name, endpoint = f"wv-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    document = parse_policy(
        f"""
share:
  - {{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}]}}}}
push:
  - id: waves-{name}
    targets: {{workspaces: [workspace2, workspace3, workspace4]}}
    assets: {{kinds: [model], include: [{name}]}}
    action: {{mode: deploy_online, endpoint: {endpoint}, instance_count: 1}}
    rollout:
      waves: [{{workspaces: [workspace4]}}, {{stages: [prod]}}, {{rest: true}}]
      wait_healthy: 0s
""",
        known_tenants=["contoso"],
        known_workspaces=seeded.store.list_workspaces(),
    )
    seeded.store.put_policy(document.policy, replace_all=True)
    model = register_model(ml, "workspace1", name, model_folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    admin.set_provisioning("workspace4", endpoint, deployment_name(ref), failure="quota", times=None)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None

    first = {o.target: o for o in seeded.propagate(origin, ref, correlation_id="w") if o.action == "push"}

    assert first["workspace4"].status.value == "pending"
    assert {first[w].status.value for w in ("workspace2", "workspace3")} == {"skipped"}
    follow_pushes(seeded, lambda: status(seeded, ref, "workspace4") is LedgerStatus.FAILED)
    planned = {
        o.target: o
        for o in seeded.reconcile_registry(correlation_id="p", dry_run=True)
        if o.subject == str(ref)
    }
    assert planned["workspace2"].label == "planned:hold"
    assert "stopped: workspace4 (wave 1) failed" in planned["workspace2"].reason
    assert "OutOfQuota" in planned["workspace2"].reason
    assert status(seeded, ref, "workspace2") is None and status(seeded, ref, "workspace3") is None

    resumed = CliRunner().invoke(
        app,
        ["--json", "rollout", "resume", f"{name}:{ref.version}", "--rule", f"waves-{name}"],
        env=cli_env(settings),
    )

    assert resumed.exit_code == 0, resumed.stderr
    after = {
        o["target"]: o["status"] for o in json.loads(resumed.stdout)["outcomes"] if o["action"] == "push"
    }
    assert (after["workspace2"], after["workspace3"]) == ("pending", "skipped")
    follow_pushes(seeded, lambda: status(seeded, ref, "workspace2") is LedgerStatus.SUCCEEDED)
    assert status(seeded, ref, "workspace3") is None  # the third wave waits for the second
    seeded.reconcile_registry(correlation_id="timer")
    follow_pushes(seeded, lambda: status(seeded, ref, "workspace3") is LedgerStatus.SUCCEEDED)
    traffic = ml("workspace3").online_endpoints.get(endpoint).traffic
    assert traffic == {deployment_name(ref): 100}


def test_a_sync_narrowed_to_a_later_wave_before_the_canary_started_pushes_nothing_there(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = f"nw-{uuid.uuid4().hex[:8]}"
    share = f"{{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}]}}}}"
    waves = f"""
  - id: waves-{name}
    targets: {{workspaces: [workspace2, workspace4]}}
    assets: {{kinds: [model], include: [{name}]}}
    rollout: {{waves: [{{workspaces: [workspace4]}}, {{rest: true}}], wait_healthy: 0s}}
"""

    def rules(push: str) -> None:
        document = parse_policy(
            f"share:\n  - {share}\npush:{push or ' []'}\n",
            known_tenants=["contoso"],
            known_workspaces=seeded.store.list_workspaces(),
        )
        seeded.store.put_policy(document.policy, replace_all=True)

    rules("")  # shared to the registry while no push rule exists: no row anywhere
    model = register_model(ml, "workspace1", name, model_folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(origin, ref, correlation_id="share")
    rules(waves)

    narrowed = seeded.sync(
        SyncScope("workspace", workspace="workspace2"), caller=PROVIDER, correlation_id="narrow"
    )

    [held] = [o for o in narrowed.outcomes if o.action == "push" and o.subject == str(ref)]
    assert held.status.value == "skipped"
    assert "waits for the earlier waves (workspace4: not started)" in held.reason
    assert status(seeded, ref, "workspace2") is None
    assert [m.name for m in ml("workspace2").models.list() if m.name == name] == []

    seeded.sync(SyncScope("workspace", workspace="workspace4"), caller=PROVIDER, correlation_id="canary")
    follow_pushes(seeded, lambda: status(seeded, ref, "workspace4") is LedgerStatus.SUCCEEDED)
    seeded.sync(SyncScope("workspace", workspace="workspace2"), caller=PROVIDER, correlation_id="next")
    follow_pushes(seeded, lambda: status(seeded, ref, "workspace2") is LedgerStatus.SUCCEEDED)
    assert ml("workspace2").models.get(name, version=ref.version).version == ref.version
