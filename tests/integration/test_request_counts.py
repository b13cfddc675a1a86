"""How many AzureML requests one share and one push make (issue 12: at most 8 per share, 3 per push),
counted by the emulator's request log while the real azure-ai-ml SDK talks to it. Counts are behaviour,
not timing. The SDK's bootstrap (cloud metadata, registry discovery) is counted apart, as the bench does:
a warm process makes none of it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devstack.emulator.launch import SDK_BOOTSTRAP_ROUTES, EmulatorAdmin
from shared.admin import apply_document
from shared.domain import AssetKind, AssetRef, LedgerStatus, workspace_arm_id
from shared.engine import Engine
from shared.events import MODEL_REGISTERED, RESOURCE_WRITE_SUCCESS, parse_event
from shared.policy_file import parse_policy
from shared.runtime import build_engine
from shared.settings import Settings
from tests.integration.conftest import SEED_POLICY, drain_pushes, register_model
from tests.support import SUB1, wait_for

TARGETS = ["workspace2", "workspace3", "workspace4"]


def fan_out_policy(prefix: str) -> str:
    """workspace1 shares `prefix-*` models; three workspaces of three tenants receive them."""
    seed = yaml.safe_load(SEED_POLICY.read_text())
    seed["share"] = [
        {"id": "contoso-shares", "tenant": "contoso", "workspaces": ["workspace1"],
         "assets": {"include": [f"{prefix}-*"]}},
    ]  # fmt: skip
    seed["push"] = [
        {"id": "all-get-them", "targets": {"workspaces": TARGETS},
         "assets": {"kinds": ["model"], "include": [f"{prefix}-*"]}},
    ]  # fmt: skip
    return yaml.safe_dump(seed)


def test_a_warm_share_makes_eight_requests_and_each_push_three(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    prefix = f"rq{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(fan_out_policy(prefix)))
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    name = f"{prefix}-m"
    counted = []
    for _ in range(2):  # the first round builds the clients and reads workspace1's GUID once
        model = register_model(ml, "workspace1", name, model_folder)
        ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
        admin.reset_request_log()
        engine.propagate(origin, ref, correlation_id=f"c{model.version}")
        share = admin.api_requests()
        admin.reset_request_log()
        pushed = drain_pushes(engine)
        counted.append((share, admin.api_requests(), admin.request_counts()))
        assert sorted(o.target for o in pushed) == TARGETS
        assert {o.status for o in pushed} == {LedgerStatus.SUCCEEDED.value}

    share, pushes, everything = counted[1]
    # The SDK's pollers of deployments that other tests started keep polling `/_ops/` in this shared
    # emulator (see test_reconcile), so the two long-running operations' polls are pinned from below;
    # on an idle emulator (the bench) they are 2 polls and 1 result read: 8 requests in all.
    polls = share.pop("GET /_ops/{op}", 0) + share.pop("GET /_ops/{op}/result", 0)
    assert polls >= 3, polls
    assert share == {
        "GET /workspaces/{ws}/{kind}/{name}/versions/{version}": 1,  # the source, with tags and job
        "GET /registries/{reg}/{kind}/{name}/versions": 1,  # destination, latest version, first owner
        "POST /registries/{reg}/import": 1,  # the copy (models.share's request, no pre-check)
        "GET /registries/{reg}/{kind}/{name}/versions/{version}": 1,  # read for the tag update
        "PUT /registries/{reg}/{kind}/{name}/versions/{version}": 1,  # provenance tags
    }, share
    assert sum(share.values()) + 3 <= 8
    # Per push: is it there already, the SDK's own list (create_or_update), the register.
    pushes.pop("GET /_ops/{op}", None)  # other tests' deployment pollers, as above
    assert pushes == {
        "GET /workspaces/{ws}/{kind}/{name}/versions/{version}": len(TARGETS),
        "GET /workspaces/{ws}/{kind}/{name}/versions": len(TARGETS),
        "PUT /workspaces/{ws}/{kind}/{name}/versions/{version}": len(TARGETS),
    }, pushes
    assert not [row for row in everything if row["route"].startswith(SDK_BOOTSTRAP_ROUTES)], everything
    cold_share = counted[0][0]
    assert cold_share["GET /workspaces/{ws}"] == 1, cold_share  # workspace1's GUID, read once
    assert all(cold_share[route] == count for route, count in share.items()), cold_share


def test_our_own_push_echoing_back_as_events_costs_no_azureml_request(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    """A push's register raises ModelRegistered (whose data carries the model's tags: `modelTags` in
    https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning) and ResourceWriteSuccess
    (no tags; its subject names the version) in the target workspace. Both are recognised as RegSync's
    own copy from the event and the ledger, without reading the asset."""
    prefix = f"rq{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(fan_out_policy(prefix)))
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    model = register_model(ml, "workspace1", f"{prefix}-e", model_folder)
    engine.propagate(origin, AssetRef(kind=AssetKind.MODEL, name=model.name, version=model.version),
                     correlation_id="c")  # fmt: skip
    drain_pushes(engine)
    copy = ml("workspace3").models.get(model.name, model.version)
    topic = workspace_arm_id(SUB1, "rg-tenants", "workspace3")
    registered = {
        "id": str(uuid.uuid4()), "topic": topic, "subject": f"models/{model.name}:{model.version}",
        "eventType": MODEL_REGISTERED, "eventTime": "2026-11-30T10:00:00Z", "dataVersion": "2",
        "data": {"modelName": model.name, "modelVersion": model.version, "modelTags": copy.tags,
                 "modelProperties": {}},
    }  # fmt: skip
    uri = f"{topic}/models/{model.name}/versions/{model.version}"
    written = {
        "id": str(uuid.uuid4()), "topic": f"/subscriptions/{SUB1}", "subject": uri,
        "eventType": RESOURCE_WRITE_SUCCESS, "eventTime": "2026-11-30T10:00:00Z",
        "data": {"resourceUri": uri, "status": "Succeeded"},
    }  # fmt: skip
    admin.reset_request_log()

    outcomes = [
        engine.handle_event(parse_event(event), correlation_id="echo") for event in (registered, written)
    ]

    assert [[(o.action, o.status) for o in answered] for answered in outcomes] == [[("share", "ignored")]] * 2
    assert "copies are never shared back" in outcomes[0][0].reason
    assert "copies are never shared back" in outcomes[1][0].reason
    assert sum(admin.api_requests().values()) == 0


def test_a_tenants_own_write_of_a_version_is_still_read_and_shared(
    engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    """No push row for it: the ResourceWriteSuccess of a tenant's own model version is judged as ever."""
    prefix = f"rq{uuid.uuid4().hex[:8]}"
    apply_document(engine.store, parse_policy(fan_out_policy(prefix)))
    model = register_model(ml, "workspace1", f"{prefix}-t", model_folder)
    topic = workspace_arm_id(SUB1, "rg-tenants", "workspace1")
    uri = f"{topic}/models/{model.name}/versions/{model.version}"
    written = {
        "id": str(uuid.uuid4()), "topic": f"/subscriptions/{SUB1}", "subject": uri,
        "eventType": RESOURCE_WRITE_SUCCESS, "eventTime": "2026-11-30T10:00:00Z",
        "data": {"resourceUri": uri, "status": "Succeeded"},
    }  # fmt: skip

    outcomes = engine.handle_event(parse_event(written), correlation_id="tenant")

    assert outcomes[0].action == "share" and outcomes[0].status == "succeeded", outcomes


def test_the_first_read_of_the_world_builds_the_registry_client_in_the_background(
    settings: Settings, admin: EmulatorAdmin
) -> None:
    """A cold process's first share needs the registry's client (a discovery call and the SDK's setup):
    it is built while the source workspace is read, not after."""
    engine = build_engine(settings)
    apply_document(engine.store, parse_policy(fan_out_policy("warm")))
    admin.reset_request_log()

    engine.world()

    def discovered() -> bool:
        return any(row["route"].endswith("/discovery") for row in admin.request_counts())

    wait_for(discovered, what="the registry's discovery call")
    assert sum(admin.api_requests().values()) == 0  # nothing but the client's own setup
