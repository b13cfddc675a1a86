"""The demo's harness: one run of the story on the local stack, acting as the tenants (azure-ai-ml
MLClients on the emulator) and as the operator (`regsync` in-process), and counting PASS/FAIL checks.

Every wait polls the ledger, the audit trail or the endpoint with a deadline; nothing sleeps to
synchronise. Used by the acts (devstack/demo/seed.py, inference.py, promotion.py, recall.py) and run.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from azure.core.exceptions import ResourceNotFoundError
from rich.console import Console

from devstack.emulator.launch import EmulatorAdmin
from devstack.stack import LocalStack
from shared.azureml import StaticDevCredential
from shared.cli import app as regsync
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.records import AuditRecord, LedgerEntry
from shared.storage import StateStore

REGISTRY = "regsync-registry"
STEP_DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.25
T = TypeVar("T")


@dataclass
class Demo:
    """One run of the story: the stack's env, a store on its tables, SDK clients, and the checks so far."""

    stack: LocalStack
    console: Console
    store: StateStore
    admin: EmulatorAdmin  # the emulator's admin API: what the demo injects (a deployment that fails)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    clients: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, list[LedgerStatus]] = field(default_factory=dict)  # each ledger row's states, printed

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

    def register_model(self, workspace: str, name: str, folder: Path | str, **extra: Any) -> str:
        """Register a model from a local folder (uploaded) or an `azureml://` path (a job's output)."""
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

    def invoke(self, workspace: str, endpoint: str, request: Path) -> Any:
        """`online_endpoints.invoke` (the SDK: endpoint, keys, POST to the scoring URI), answer parsed."""
        return json.loads(
            self.ml(workspace).online_endpoints.invoke(endpoint_name=endpoint, request_file=str(request))
        )

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

    def cli_json(self, *args: str) -> Any:
        """`regsync --json ARGS...`, its printed JSON (None when the command failed)."""
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = self.cli("--json", *args)
        return json.loads(captured.getvalue()) if code == 0 else None

    def reconcile(self, workspace: str) -> bool:
        """`regsync --json sync --workspace W` (the reconcile of W's share side and of the pushes into it,
        inline); prints a count per outcome."""
        answer = self.cli_json("sync", "--workspace", workspace)
        if answer is not None:
            counts = Counter(o["status"] for o in answer["outcomes"])
            self.say("  reconcile: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
        return answer is not None

    def follow(self, ref: AssetRef, target: str, until: Collection[LedgerStatus]) -> LedgerEntry | None:
        """The push row of `ref` to `target` once its state is one of `until`; prints each state change
        of `ref`'s rows on the way."""

        def reached() -> LedgerEntry | None:
            rows = {entry.target: entry for entry in self.store.entries_for_asset(ref.key)}
            for row_target, entry in sorted(rows.items()):
                states = self.seen.setdefault(f"{ref.key}|{row_target}", [])
                if states[-1:] != [entry.status]:
                    states.append(entry.status)
                    where = row_target.removeprefix("push|") or "registry"
                    self.say(f"  {ref} -> {where}: {entry.status.value}")
            found = rows.get(f"push|{target}")
            return found if found is not None and found.status in until else None

        return self.poll(reached, f"{ref} -> {target} to be {'/'.join(sorted(until))}")

    def states(self, ref: AssetRef, target: str) -> list[LedgerStatus]:
        """The states `follow` saw the push of `ref` to `target` go through, in order."""
        return self.seen.get(f"{ref.key}|push|{target}", [])

    def wait_pushed(self, ref: AssetRef, targets: list[str]) -> bool:
        """Until every push of `ref` to `targets` succeeded."""
        done = all(self.follow(ref, target, {LedgerStatus.SUCCEEDED}) for target in targets)
        return self.check(f"{ref} reached {', '.join(targets)}", done)

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
