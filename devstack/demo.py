"""`make demo` (`python -m devstack.demo`): the seed story, played on the local stack through the real SDK.

Brings up Azurite, the AzureML emulator and the local Functions host (devstack.stack.local_stack), loads
examples/seed-policy.yaml with `regsync policy load`, then acts as the tenants would, with azure-ai-ml
MLClients on the emulator: models and an environment are registered, and RegSync (the Functions app on
the local host, woken by the emulator's Event Grid events and by the reconcile) does the rest. Each step
waits with a deadline, polling the ledger or the audit trail, then checks the outcome with the SDK. At
the end it prints `regsync status` and `regsync audit`, stops everything it started, and exits 0 only if
every check held. Also called by tests/e2e/test_demo.py (`main`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from azure.core.exceptions import ResourceNotFoundError
from rich.console import Console

from devstack.emulator.launch import apply_env, restore_env
from devstack.stack import REPO_ROOT, LocalStack, StackRecord, local_stack
from shared.azureml import StaticDevCredential
from shared.cli import app as regsync
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.records import AuditRecord
from shared.settings import Settings
from shared.storage import StateStore

WORLD = REPO_ROOT / "devstack" / "worlds" / "seed.yaml"
POLICY = REPO_ROOT / "examples" / "seed-policy.yaml"
REGISTRY = "regsync-registry"
STEP_DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.25
BERT = "bert-base-uncased_fine-tuned"
T = TypeVar("T")


@dataclass
class Demo:
    """One run of the story: the stack's env, a store on its tables, SDK clients, and the checks so far."""

    stack: LocalStack
    console: Console
    store: StateStore
    checks: list[tuple[str, bool]] = field(default_factory=list)
    clients: dict[str, Any] = field(default_factory=dict)

    # --- acting as a tenant --------------------------------------------------------------------------

    def ml(self, workspace: str) -> Any:
        """An MLClient on `workspace` as its tenant would build it (the SDK finds the emulator via env)."""
        from azure.ai.ml import MLClient

        if workspace not in self.clients:
            found = self.store.get_workspace(workspace)
            assert found is not None, f"workspace {workspace} is not in the loaded policy"
            self.clients[workspace] = MLClient(
                StaticDevCredential(), found.subscription_id, found.resource_group, workspace
            )
        return self.clients[workspace]

    def register_model(self, workspace: str, name: str, folder: Path, **extra: Any) -> str:
        from azure.ai.ml.entities import Model

        model = self.ml(workspace).models.create_or_update(
            Model(name=name, path=str(folder), type="custom_model", **extra)
        )
        self.say(f"{workspace} registered model {name}:{model.version}")
        return str(model.version)

    def ml_registry(self) -> Any:
        from azure.ai.ml import MLClient

        if REGISTRY not in self.clients:
            self.clients[REGISTRY] = MLClient(StaticDevCredential(), registry_name=REGISTRY)
        return self.clients[REGISTRY]

    def registry_has(self, name: str, version: str) -> bool:
        try:
            self.ml_registry().models.get(name=name, version=version)
        except ResourceNotFoundError:
            return False
        return True

    def has(self, workspace: str, kind: AssetKind, name: str, version: str) -> bool:
        operations = self.ml(workspace).models if kind is AssetKind.MODEL else self.ml(workspace).environments
        try:
            operations.get(name=name, version=version)
        except ResourceNotFoundError:
            return False
        return True

    # --- RegSync's side ----------------------------------------------------------------------------------

    def cli(self, *args: str) -> int:
        """`regsync --env-file DIR/stack.env ARGS...`, in-process; returns the exit code."""
        command = typer.main.get_command(regsync)
        env_file = str(self.stack.state_dir / "stack.env")
        try:
            result = command.main(["--env-file", env_file, *args], standalone_mode=False)
        except SystemExit as stop:
            return int(stop.code or 0)
        return int(result or 0)

    def reconcile(self, workspace: str) -> bool:
        """`regsync --json sync --workspace W` (the reconcile of W's share side and of the pushes into it,
        inline); prints a count per outcome."""
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = self.cli("--json", "sync", "--workspace", workspace)
        if code == 0:
            counts = Counter(o["status"] for o in json.loads(captured.getvalue())["outcomes"])
            self.say("  reconcile: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
        return code == 0

    def wait_pushed(self, ref: AssetRef, targets: list[str]) -> bool:
        """Until every push of `ref` to `targets` succeeded; prints each state change on the way."""
        wanted = {f"push|{name}" for name in targets}
        shown: dict[str, str] = {}

        def settled() -> bool:
            rows = {entry.target: entry.status for entry in self.store.entries_for_asset(ref.key)}
            for target, state in sorted(rows.items()):
                if shown.get(target) != state:
                    shown[target] = state
                    self.say(f"  {ref} -> {target.removeprefix('push|') or 'registry'}: {state.value}")
            return all(rows.get(target) is LedgerStatus.SUCCEEDED for target in wanted)

        return self.check(f"{ref} reached {', '.join(targets)}", bool(self.poll(settled, f"{ref} pushes")))

    def wait_audit(self, subject: str, action: str) -> AuditRecord | None:
        """The newest audit record about `subject` and `action`, waiting for it to appear."""

        def found() -> AuditRecord | None:
            records = self.store.recent_audit(limit=200)
            return next((r for r in records if r.subject == subject and r.action == action), None)

        return self.poll(found, f"an audit record for {action} of {subject}")

    def ledger(self) -> list[tuple[str, str, str]]:
        return sorted((e.asset_key, e.target, e.status.value) for e in self.store.list_ledger())

    # --- reporting ---------------------------------------------------------------------------------------

    def poll(self, probe: Callable[[], T], what: str) -> T | None:
        """The first truthy `probe()` within the step deadline, or None (and a line saying so)."""
        deadline = time.monotonic() + STEP_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            result = probe()
            if result:
                return result
            time.sleep(POLL_SECONDS)  # polling with a deadline, not synchronising by sleep
        self.say(f"  timed out after {STEP_DEADLINE_SECONDS:.0f} s waiting for {what}")
        return None

    def check(self, label: str, ok: bool) -> bool:
        self.checks.append((label, ok))
        self.console.print(f"  [{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {label}")
        return ok

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def step(self, title: str) -> None:
        self.console.rule(title)


# --- the story ---------------------------------------------------------------------------------------------


def share_credit_card(demo: Demo, folder: Path) -> None:
    demo.step("1. workspace1 registers credit-card-default: shared, pushed to workspace3 only")
    version = demo.register_model("workspace1", "credit-card-default", folder)
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=version)
    demo.wait_pushed(ref, ["workspace3"])
    demo.check("workspace3 has it (SDK)", demo.has("workspace3", ref.kind, ref.name, version))
    demo.check("workspace2 does not (SDK)", not demo.has("workspace2", ref.kind, ref.name, version))


def share_bert(demo: Demo, folder: Path) -> str:
    demo.step(f"2. workspace3 registers {BERT}: pushed to workspaces 1, 2 and 4 (another subscription)")
    version = demo.register_model("workspace3", BERT, folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    demo.wait_pushed(ref, ["workspace1", "workspace2", "workspace4"])
    demo.check("workspace4 has it (SDK)", demo.has("workspace4", ref.kind, BERT, version))
    return version


def fine_tune_and_share_back(demo: Demo, folder: Path, parent_version: str) -> None:
    demo.step(f"3. workspace4 pulls {BERT}, fine-tunes it and shares the new version back")
    code = demo.cli("pull", "--workspace", "workspace4", "--name", BERT, "--version", parent_version)
    demo.check("`regsync pull` into workspace4 succeeded (already there)", code == 0)
    parent = AssetRef(kind=AssetKind.MODEL, name=BERT, version=parent_version).registry_id(REGISTRY)
    version = str(int(parent_version) + 1)
    lineage = {"lineage.parent": parent, "lineage.fine_tuned_in": "workspace4"}
    demo.register_model("workspace4", BERT, folder, version=version, tags=lineage)
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    demo.wait_pushed(ref, ["workspace1", "workspace2", "workspace3"])
    shared = demo.ml_registry().models.get(name=BERT, version=version)
    tags = shared.tags or {}
    demo.check(
        f"the registry's {BERT}:{version} names its parent and its origin",
        tags.get("lineage.parent") == parent and tags.get("regsync.origin.workspace") == "workspace4",
    )


def keep_private(demo: Demo, folder: Path) -> None:
    demo.step("4. workspace2 registers a model no rule shares: it stays private")
    version = demo.register_model("workspace2", "contoso-churn", folder)
    record = demo.wait_audit(f"model contoso-churn:{version}", "share")
    demo.check("RegSync judged it and did not share it", record is not None and record.outcome == "refused")
    if record is not None:
        demo.say(f"  audit: {record.outcome}: {record.reason}")
    demo.check("the registry does not have it (SDK)", not demo.registry_has("contoso-churn", version))


def refuse_outside_regions(demo: Demo, folder: Path) -> None:
    demo.step("5. workspace5 (westus, outside the registry's regions) registers a model: refused")
    version = demo.register_model("workspace5", "litware-forecast", folder)
    record = demo.wait_audit(f"model litware-forecast:{version}", "share")
    refused = record is not None and record.outcome == "refused" and "westus" in record.reason
    demo.check("refused, with the region as the reason", refused)
    if record is not None:
        demo.say(f"  audit: {record.outcome}: {record.reason}")
    demo.check("the registry does not have it (SDK)", not demo.registry_has("litware-forecast", version))


def environment_via_reconcile(demo: Demo) -> None:
    demo.step("6. workspace3 registers environment nlp-env (no ModelRegistered event exists for it)")
    from azure.ai.ml.entities import Environment

    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
    environment = demo.ml("workspace3").environments.create_or_update(
        Environment(name="nlp-env", version="1", image=image, description="tokenizers and torch")
    )
    demo.say(f"workspace3 registered environment nlp-env:{environment.version}; reconciling workspace3")
    ref = AssetRef(kind=AssetKind.ENVIRONMENT, name="nlp-env", version=str(environment.version))
    # The reconcile races the ARM event on purpose: both paths are idempotent and must agree.
    demo.check(
        "`regsync sync --workspace workspace3` (the reconcile, inline) succeeded",
        demo.reconcile("workspace3"),
    )
    demo.wait_pushed(ref, ["workspace4"])
    entry = demo.store.get_entry(ref.key, "push|workspace4")
    how = "the ARM ResourceWriteSuccess event" if entry and entry.event_ids else "the reconcile"
    demo.say(f"  delivered after {how}")
    demo.check("workspace4 has nlp-env (SDK)", demo.has("workspace4", ref.kind, ref.name, ref.version))
    before = demo.ledger()
    demo.check("a second reconcile succeeded", demo.reconcile("workspace3"))
    demo.check("and changed nothing: the state has converged", demo.ledger() == before)


# --- running it ------------------------------------------------------------------------------------------


def play(demo: Demo, folder: Path) -> None:
    """The whole story; a step that raises is a failed check, and the story goes on."""
    demo.step("0. load the seed's tenants, workspaces, registry and rules")
    demo.check(
        "`regsync policy load examples/seed-policy.yaml`", demo.cli("policy", "load", str(POLICY)) == 0
    )
    steps: list[Callable[[], object]] = [
        lambda: share_credit_card(demo, folder),
        lambda: fine_tune_and_share_back(demo, folder, share_bert(demo, folder)),
        lambda: keep_private(demo, folder),
        lambda: refuse_outside_regions(demo, folder),
        lambda: environment_via_reconcile(demo),
    ]
    for step in steps:
        try:
            step()
        except Exception as error:  # report and go on: the final matrix shows what got through
            demo.check(f"the step ran without error ({type(error).__name__}: {error})", False)
    demo.step("where everything is: `regsync status`")
    demo.cli("status")
    demo.step("what RegSync did and refused: `regsync audit --limit 20`")
    demo.cli("audit", "--limit", "20")


def model_folder(state_dir: Path) -> Path:
    folder = state_dir / "model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    (folder / "model.pkl").write_bytes(b"demo weights")
    return folder


def fresh(state_dir: Path) -> None:
    """Start from an empty state directory, unless a stack still runs there (then refuse)."""
    if any(c.is_alive() for c in StackRecord.load(state_dir / "stack.json").components):
        raise SystemExit(
            f"a stack is still running in `{state_dir}`: `python -m devstack down --state-dir {state_dir}`"
        )
    shutil.rmtree(state_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".state" / "demo")
    state_dir: Path = parser.parse_args(argv).state_dir
    if not sys.stdout.isatty():  # a log file or a test: wide enough for one table row per line
        os.environ.setdefault("COLUMNS", "200")
    fresh(state_dir)
    console = Console(highlight=False)
    console.rule("RegSync demo: starting Azurite, the AzureML emulator and the local Functions host")
    with local_stack(WORLD, state_dir, speed=10) as stack:
        previous = apply_env(stack.env)  # the SDK and the settings read the stack's variables
        try:
            demo = Demo(stack, console, StateStore.from_settings(Settings()))
            play(demo, model_folder(state_dir))
        finally:
            restore_env(previous)
        console.rule("stopping the local stack")
    failed = [label for label, ok in demo.checks if not ok]
    console.print(f"{len(demo.checks) - len(failed)} of {len(demo.checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # local_stack has stopped everything on the way out
        sys.exit(130)
