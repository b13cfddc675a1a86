"""`regsync plan|sync|pull|approve|status|audit` in-process (CliRunner) on Azurite and the AzureML emulator.

The CLI builds its own engine from the environment, exactly as an operator's shell would give it; the
test's `seeded` engine shares its tables and queues and is used to look behind the CLI's back. Assets
are registered through the real azure-ai-ml SDK, as a tenant would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from typer.testing import CliRunner, Result

from shared.cli import app
from shared.engine import Engine
from shared.settings import Settings
from tests.integration.conftest import cli_env, drain_pushes, register_model
from tests.integration.test_cli import table_rows

pytestmark = pytest.mark.integration
Run = Callable[..., Result]


@pytest.fixture
def run(settings: Settings, seeded: Engine) -> Run:
    """The CLI on the test's tables and queues; the emulator's variables are already in the environment."""
    env = cli_env(settings)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def queued(engine: Engine) -> list[tuple[str, str, str]]:
    messages = engine.pushes.client.peek_messages(max_messages=32)
    bodies = [json.loads(message.content) for message in messages]
    return sorted((body["name"], body["version"], body["target"]) for body in bodies)


def ledger(engine: Engine) -> list[tuple[str, str, str]]:
    return sorted((e.asset_key, e.target, e.status.value) for e in engine.store.list_ledger())


def mine(outcomes: list[dict[str, str]], version: str) -> set[tuple[str, str, str]]:
    """The outcomes about one version of credit-card-default (the emulator is shared by the session)."""
    subject = f"model credit-card-default:{version}"
    return {(o["action"], o["target"], o["status"]) for o in outcomes if o["subject"] == subject}


def test_plan_lists_the_share_and_the_push_and_changes_nothing(
    run: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version

    planned = as_json(run("--json", "plan", "--workspace", "workspace1"))
    table = run("plan", "--workspace", "workspace1")

    assert planned["dry_run"] is True and planned["scope"] == "workspace"
    assert mine(planned["outcomes"], version) == {
        ("share", "regsync-registry", "planned:share"),
        ("push", "workspace3", "planned:enqueue"),
        *(("push", name, "refused") for name in ("workspace1", "workspace4", "workspace5")),
    }
    rows = [row[:4] for row in table_rows(table.stdout)]
    assert ["share", f"model credit-card-default:{version}", "regsync-registry", "planned:share"] in rows
    assert ["push", f"model credit-card-default:{version}", "workspace3", "planned:enqueue"] in rows
    assert "nothing was changed" in table.stderr
    assert ledger(seeded) == [] and queued(seeded) == []
    assert seeded.store.recent_audit() == []
    with pytest.raises(ResourceNotFoundError):
        ml("registry").models.get("credit-card-default", version)


def test_sync_shares_and_queues_then_status_shows_the_matrix(
    run: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version

    synced = as_json(run("--json", "sync", "--tenant", "contoso"))

    assert ("share", "regsync-registry", "succeeded") in mine(synced["outcomes"], version)
    assert ("push", "workspace3", "pending") in mine(synced["outcomes"], version)
    assert ("credit-card-default", version, "workspace3") in queued(seeded)
    assert ml("registry").models.get("credit-card-default", version).tags["regsync.origin.workspace"] == (
        "workspace1"
    )
    key = f"model:credit-card-default:{version}"
    assert (key, "push|workspace3", "pending") in ledger(seeded)
    label = f"model credit-card-default:{version}"
    pending = [label, "workspace1", "✓", "·", "·", "…", "·", "·"]
    assert pending in table_rows(run("status").stdout)

    drain_pushes(seeded)

    shown = run("status")
    assert shown.exit_code == 0, shown.stderr
    header = shown.stdout.splitlines()[0].split()
    assert header == ["ASSET", "ORIGIN", "REGISTRY", *(f"workspace{n}" for n in range(1, 6))]
    assert [label, "workspace1", "✓", "·", "·", "✓", "·", "·"] in table_rows(shown.stdout)
    assert "✓ succeeded" in shown.stdout and "⏸ awaiting approval" in shown.stdout
    rows = as_json(run("--json", "status", "--workspace", "workspace3"))
    by_target = {(row["target"], row["status"]) for row in rows if row["asset"]["version"] == version}
    assert by_target == {("registry", "succeeded"), ("workspace3", "succeeded")}
    assert {"asset", "target", "status", "attempts", "message", "updated"} <= set(rows[0])
    narrowed = run("status", "--tenant", "woodgrove")
    assert narrowed.stdout.splitlines()[0].split() == ["ASSET", "ORIGIN", "REGISTRY", "workspace4"]
    assert label not in narrowed.stdout  # nothing of it came from or went to woodgrove
    trail = as_json(run("--json", "audit", "--limit", "200"))
    assert trail[0]["action"] == "push" and trail[0]["outcome"] == "succeeded"  # newest first
    # The session's emulator holds other tests' assets too: follow this asset's own trail.
    about_it = [r["action"] for r in trail if f"credit-card-default:{version}" in r["subject"]]
    assert about_it == ["push", "fanout", "share"]
    assert "sync" in [r["action"] for r in trail]


def test_a_pull_the_rules_refuse_says_why_and_queues_nothing(
    run: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    assert run("sync", "--workspace", "workspace1").exit_code == 0
    before = queued(seeded)

    refused = run("pull", "--workspace", "workspace2", "--name", "credit-card-default", "--version", version)

    assert refused.exit_code == 1
    assert f"pull of model credit-card-default:{version} into workspace2: refused" in refused.stdout
    assert "(not subscribed: no push rule sends" in refused.stdout
    assert queued(seeded) == before
    assert seeded.store.get_entry(f"model:credit-card-default:{version}", "push|workspace2") is None


def test_a_pull_of_a_name_the_registry_lacks_is_refused(run: Run) -> None:
    missing = run("--json", "pull", "--workspace", "workspace3", "--name", f"absent-{uuid.uuid4().hex[:8]}")
    assert missing.exit_code == 1
    assert "the registry has no model named absent-" in json.loads(missing.stdout)["outcome"]["reason"]


def test_a_gated_push_waits_until_approved(
    run: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path, tmp_path: Path
) -> None:
    from azure.ai.ml.entities import Model

    name = f"gated-{uuid.uuid4().hex[:8]}"
    ml("registry").models.create_or_update(Model(name=name, version="1", path=str(model_folder)))
    rule = tmp_path / "gated.yaml"
    rule.write_text(
        f"push:\n  - id: gated-to-ws2\n    targets: {{workspaces: [workspace2]}}\n"
        f"    assets: {{include: [{name}]}}\n    gate: approval\n",
        encoding="utf-8",
    )
    assert run("policy", "load", str(rule)).exit_code == 0
    approve = ("approve", "--workspace", "workspace2", "--name", name, "--version", "1")
    early = run(*approve)
    assert early.exit_code == 1 and "does not wait for approval (it is: no push)" in early.stderr

    # A sync of the workspace takes in the registry's push side into it: the gated push is planned.
    assert as_json(run("--json", "sync", "--workspace", "workspace2"))["scope"] == "workspace"
    assert (f"model:{name}:1", "push|workspace2", "awaiting_approval") in ledger(seeded)
    assert [item for item in queued(seeded) if item[0] == name] == []
    assert [f"model {name}:1", "-", "·", "·", "⏸", "·", "·", "·"] in table_rows(run("status").stdout)

    approved = run(*approve, "--approver", "ops")
    assert approved.exit_code == 0, approved.stderr
    assert f"model {name}:1 -> workspace2: pending (approved by ops)" in approved.stderr
    assert [item for item in queued(seeded) if item[0] == name] == [(name, "1", "workspace2")]
    drain_pushes(seeded)
    assert ml("workspace2").models.get(name, "1").path.endswith(f"/models/{name}/versions/1")


def test_scope_must_be_named_once_and_known(run: Run) -> None:
    assert run("plan").exit_code == 2
    assert run("sync", "--all", "--workspace", "workspace1").exit_code == 2
    unknown = run("sync", "--workspace", "nowhere")
    assert unknown.exit_code == 1 and "workspace `nowhere` is unknown" in unknown.stderr
    assert (
        run("sync", "--tenant", "contoso", "--asset", "model:m:1").exit_code == 2
    )  # --asset needs a workspace
