"""The reconcile: without any event it reaches the state the event path reaches, and at steady state it
costs one list call per asset kind and scope, with no writes at all.

The emulator is shared by the whole test session, so each test's rules only cover names with a prefix of
its own; everything else in the emulator is private to these rules.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.policy_file import parse_policy
from shared.records import Outcome, ReconcileMessage
from tests.integration.conftest import SEED_POLICY, apply_document, drain_pushes, register_model

WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def scoped_policy(prefix: str) -> str:
    """The seed inventory with rules that only cover names starting with `prefix`."""
    seed = yaml.safe_load(SEED_POLICY.read_text())
    seed["share"] = [
        {
            "id": "contoso-shares",
            "tenant": "contoso",
            "workspaces": ["workspace1"],
            "assets": {"include": [f"{prefix}-*"]},
        },
        {
            "id": "northwind-shares",
            "tenant": "northwind",
            "workspaces": ["workspace3"],
            "assets": {"include": [f"{prefix}-*"]},
        },
    ]
    seed["push"] = [
        {
            "id": "northwind-gets-models",
            "tenant": "northwind",
            "targets": {"workspaces": ["workspace3"]},
            "assets": {"kinds": ["model"], "include": [f"{prefix}-*"]},
        },
        {
            "id": "woodgrove-gets-environments",
            "tenant": "woodgrove",
            "targets": {"workspaces": ["workspace4"]},
            "assets": {"kinds": ["environment"], "include": [f"{prefix}-*"]},
        },
    ]
    return yaml.safe_dump(seed)


def register_environment(ml: Callable[[str], Any], workspace: str, name: str) -> str:
    from azure.ai.ml.entities import Environment

    env = Environment(name=name, version="1", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04")
    return str(ml(workspace).environments.create_or_update(env).version)


def list_pages(dump: dict[str, Any], *, skip: str) -> int:
    """How many list pages a reconcile reads: per scope and kind, ceil(containers / 20), at least 1."""
    scopes = [scope for name, scope in dump["workspaces"].items() if name != skip]
    scopes += list(dump["registries"].values())
    plurals = ("models", "environments", "components", "data")
    return sum(
        max(1, math.ceil(len(scope["assets"].get(kind, {})) / 20)) for scope in scopes for kind in plurals
    )


def reconcile_everything(engine: Engine) -> list[Outcome]:
    """What the timer's messages make the queue workers do, run inline."""
    outcomes: list[Outcome] = []
    for workspace in engine.store.list_workspaces():
        outcomes += engine.reconcile(
            ReconcileMessage(scope="workspace", name=workspace.name, correlation_id="rc")
        )
    outcomes += engine.reconcile(ReconcileMessage(scope="registry", correlation_id="rc"))
    return outcomes


def converge(engine: Engine, rounds: int = 4) -> None:
    for _ in range(rounds):
        acted = [o for o in reconcile_everything(engine) if o.status not in {"done", "refused", "skipped"}]
        pushed = drain_pushes(engine)
        if not acted and not pushed:
            return
    raise AssertionError("the reconcile did not converge")


def final_state(engine: Engine, refs: list[AssetRef]) -> dict[str, dict[str, str]]:
    return {
        ref.kind.value: {
            entry.target: entry.status.value for entry in engine.store.entries_for_asset(ref.key)
        }
        for ref in refs
    }


def test_reconcile_alone_reaches_the_state_the_event_path_reaches(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(scoped_policy(prefix)))
    model = register_model(ml, "workspace1", f"{prefix}-credit", model_folder)
    env_version = register_environment(ml, "workspace3", f"{prefix}-env")
    refs = [
        AssetRef(kind=AssetKind.MODEL, name=f"{prefix}-credit", version=model.version),
        AssetRef(kind=AssetKind.ENVIRONMENT, name=f"{prefix}-env", version=env_version),
    ]

    converge(engine)  # no event was delivered: only the reconcile ran

    assert final_state(engine, refs) == {
        "model": {"share": "succeeded", "push|workspace3": "succeeded"},
        "environment": {"share": "succeeded", "push|workspace4": "succeeded"},
    }
    assert (
        ml("workspace3").models.get(f"{prefix}-credit", model.version).tags["regsync.origin.workspace"]
        == "workspace1"
    )
    assert (
        ml("workspace4").environments.get(f"{prefix}-env", env_version).tags["regsync.origin.tenant"]
        == "northwind"
    )

    # The event path, on a twin asset, ends in the same ledger state.
    twin = register_model(ml, "workspace1", f"{prefix}-twin", model_folder)
    twin_ref = AssetRef(kind=AssetKind.MODEL, name=f"{prefix}-twin", version=twin.version)
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    engine.propagate(origin, twin_ref, correlation_id="event")
    drain_pushes(engine)
    assert final_state(engine, [twin_ref])["model"] == final_state(engine, refs[:1])["model"]


def test_a_steady_state_reconcile_makes_list_calls_only_and_writes_nothing(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path, emulator: RunningEmulator
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(scoped_policy(prefix)))
    register_model(ml, "workspace1", f"{prefix}-steady", model_folder)
    converge(engine)
    tables = [engine.store.ledger, engine.store.audit_log, engine.store.seen]
    rows_before = [
        sorted((e["PartitionKey"], e["RowKey"], e.metadata["etag"]) for e in t.list_entities())
        for t in tables
    ]
    # The converging pushes' watches (shared.engine.lease) wait in the queue, invisible for a lease.
    waiting = engine.pushes.client.get_queue_properties().approximate_message_count
    admin = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    admin.reset_request_log()

    outcomes = reconcile_everything(engine)

    calls = admin.request_counts()
    # Operation polls (`/_ops/`) belong to deployments other tests started: the SDK's poller thread
    # follows them in the background (issue 11: pushes no longer wait on them). Not the reconcile's calls.
    bootstrap = ("/metadata", "/registrymanagement", "/_ops/")
    azureml = [c for c in calls if not c["route"].startswith(bootstrap)]
    assert not [c for c in azureml if c["method"] in WRITES], azureml
    assert not [c for c in azureml if "/versions/" in c["route"]], azureml  # no per-asset read
    # One paged list per asset kind and scope: the 4 in-region workspaces and the registry (workspace5
    # is outside the registry's regions and costs nothing). Pages hold 20 containers.
    assert sum(c["count"] for c in azureml) == list_pages(admin.dump(), skip="workspace5"), azureml
    assert all(o.status in {"done", "refused"} for o in outcomes), outcomes
    rows_after = [
        sorted((e["PartitionKey"], e["RowKey"], e.metadata["etag"]) for e in t.list_entities())
        for t in tables
    ]
    assert rows_after == rows_before
    assert engine.pushes.client.get_queue_properties().approximate_message_count == waiting  # none sent
    admin.close()


def test_a_new_subscriber_gets_the_existing_matching_assets(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(scoped_policy(prefix)))
    model = register_model(ml, "workspace1", f"{prefix}-late", model_folder)
    converge(engine)
    ref = AssetRef(kind=AssetKind.MODEL, name=f"{prefix}-late", version=model.version)
    assert "push|workspace4" not in {e.target for e in engine.store.entries_for_asset(ref.key)}

    policy = yaml.safe_load(scoped_policy(prefix))
    policy["push"].append(
        {
            "id": "woodgrove-subscribes",
            "tenant": "woodgrove",
            "targets": {"workspaces": ["workspace4"]},
            "assets": {"kinds": ["model"], "include": [f"{prefix}-*"]},
        }
    )
    apply_document(engine.store, parse_policy(yaml.safe_dump(policy)))
    converge(engine)

    statuses = {e.target: e.status for e in engine.store.entries_for_asset(ref.key)}
    assert statuses["push|workspace4"] is LedgerStatus.SUCCEEDED
    assert (
        ml("workspace4").models.get(f"{prefix}-late", model.version).path.startswith("azureml://registries/")
    )


def test_a_version_pinned_by_a_rule_reaches_its_workspace_although_it_is_not_the_latest(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    prefix = f"rc{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(scoped_policy(prefix)))
    name = f"{prefix}-promoted"
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    for version in ("1", "2"):  # both shared, by their events
        register_model(ml, "workspace1", name, model_folder, version=version)
        engine.propagate(
            origin, AssetRef(kind=AssetKind.MODEL, name=name, version=version), correlation_id="e"
        )
    drain_pushes(engine)

    policy = yaml.safe_load(scoped_policy(prefix))
    policy["push"].append(
        {
            "id": "prod-stays-on-1",
            "tenant": "woodgrove",
            "targets": {"workspaces": ["workspace4"]},
            "assets": {"kinds": ["model"], "include": [name]},
            "version_policy": "pinned",
            "pinned_version": "1",
        }
    )
    apply_document(engine.store, parse_policy(yaml.safe_dump(policy)))
    converge(engine)

    ws4 = {
        v: e.status
        for v in ("1", "2")
        for e in engine.store.entries_for_asset(f"model:{name}:{v}")
        if e.target == "push|workspace4"
    }
    assert ws4 == {"1": LedgerStatus.SUCCEEDED}
    assert ml("workspace4").models.get(name, "1").tags["regsync.origin.version"] == "1"


def test_an_asset_regsync_cannot_name_does_not_hide_the_rest_of_a_listing(
    seeded: Engine, ml: Callable[[str], Any]
) -> None:
    """Seen in a full run: an anonymous-style environment versioned by a 64-character hash made the whole
    listing of workspace1's environments fail, so its reconcile never converged."""
    from azure.ai.ml.entities import Environment

    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
    hashed, plain = f"rc-hashed-{uuid.uuid4().hex[:8]}", f"rc-plain-{uuid.uuid4().hex[:8]}"
    ml("workspace1").environments.create_or_update(Environment(name=hashed, version="f" * 64, image=image))
    ml("workspace1").environments.create_or_update(Environment(name=plain, version="1", image=image))
    workspace = seeded.store.get_workspace("workspace1")
    assert workspace is not None

    listed = {asset.ref.name for asset in seeded.gateway.workspace_latest(workspace, AssetKind.ENVIRONMENT)}

    assert plain in listed and hashed not in listed
