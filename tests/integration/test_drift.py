"""Drift end to end (issue 14 §2) on Azurite and the AzureML emulator: each divergence is made by hand
through the azure-ai-ml SDK, as a tenant's engineer would, and `regsync drift` lists it with what RegSync
would do; the reconcile repairs only what a rule with `self_heal: true` delivered.

How the hand-made changes are made: a workspace model version is deleted through the SDK's REST
operations (`model_versions.delete`, Azure's `DELETE .../models/{name}/versions/{version}`; the SDK's
`MLClient.models` has archive and restore, no delete), traffic is moved with `online_endpoints
.begin_create_or_update` as in the SDK's blue/green samples, tags with `models.create_or_update` (tags
and description are what a version's update may change).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.azureml import deployment_name
from shared.domain import AssetKind, AssetRef
from shared.engine import Engine
from shared.policy_file import parse_policy
from tests.integration.conftest import drain_pushes, follow_pushes, register_model
from tests.integration.test_recall import status

pytestmark = pytest.mark.integration


def rules(engine: Engine, prefix: str, endpoint: str, *, serve: bool = True) -> None:
    serving = f"""
  - id: serve-{prefix}
    tenant: woodgrove
    targets: {{workspaces: [workspace4]}}
    assets: {{kinds: [model], include: [{prefix}-a]}}
    action: {{mode: deploy_online, endpoint: {endpoint}, instance_count: 1}}
"""
    document = parse_policy(
        f"""
share:
  - {{id: share-{prefix}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{prefix}-*]}}}}
push:
  - id: heal-{prefix}
    tenant: northwind
    targets: {{workspaces: [workspace3]}}
    assets: {{kinds: [model], include: [{prefix}-*]}}
    self_heal: true
{serving if serve else ""}""",
        known_tenants=["contoso", "northwind", "woodgrove"],
        known_workspaces=engine.store.list_workspaces(),
    )
    engine.store.put_policy(document.policy, replace_all=True)


def share(engine: Engine, ml: Callable[[str], Any], folder: Path, name: str) -> AssetRef:
    model = register_model(ml, "workspace1", name, folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    engine.propagate(origin, ref, correlation_id=f"share-{name}")
    return ref


def found(engine: Engine, **scope: Any) -> set[tuple[str, str, str, bool]]:
    return {(d.workspace, d.subject, d.divergence.value, d.heals) for d in engine.drift(**scope)}


def test_each_divergence_made_by_hand_is_listed_and_only_opted_in_rules_heal(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    prefix, endpoint = f"dr{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    rules(seeded, prefix, endpoint)
    a, b = share(seeded, ml, model_folder, f"{prefix}-a"), share(seeded, ml, model_folder, f"{prefix}-b")
    follow_pushes(
        seeded,
        lambda: (
            status(seeded, a, "workspace4") is not None
            and all(
                status(seeded, ref, target) is not None and status(seeded, ref, target).value == "succeeded"
                for ref, target in ((a, "workspace3"), (b, "workspace3"), (a, "workspace4"))
            )
        ),
    )
    assert found(seeded, tags=True) == set()

    ws3, ws4 = ml("workspace3"), ml("workspace4")
    ws3.models._model_versions_operation.delete(  # deleted by hand
        resource_group_name="rg-tenants", workspace_name="workspace3", name=a.name, version=a.version
    )
    copy = ws3.models.get(b.name, b.version)
    copy.tags = {**copy.tags, "regsync.registry.asset": "edited"}  # tags changed by hand
    ws3.models.create_or_update(copy)
    live = ws4.online_endpoints.get(endpoint)
    live.traffic = {deployment_name(a): 0}  # traffic taken off RegSync's deployment by hand
    ws4.online_endpoints.begin_create_or_update(live).result()
    from azure.ai.ml.entities import Model

    newer = ml("registry").models.create_or_update(  # a newer version, not deliverable (no provenance)
        Model(name=a.name, version=str(int(a.version) + 1), path=str(model_folder), type="custom_model")
    )

    drifted = found(seeded, tags=True)

    assert drifted == {
        ("workspace3", str(a), "missing", True),
        ("workspace3", str(a), "stale", False),
        ("workspace3", str(b), "tags", False),
        ("workspace4", str(a), "traffic", False),
        ("workspace4", str(a), "stale", False),
    }, drifted
    lines = {(d.workspace, d.divergence.value): d for d in seeded.drift(tags=True)}
    assert lines[("workspace3", "missing")].would == "push it again"
    assert lines[("workspace4", "traffic")].would == f"move the traffic back to {deployment_name(a)}"
    assert f"the registry's latest is {newer.version}" in lines[("workspace4", "stale")].found
    assert found(seeded) == drifted - {("workspace3", str(b), "tags", False)}  # no copy read unasked

    for workspace in ("workspace3", "workspace4"):
        seeded.reconcile_workspace(workspace, correlation_id="timer")
    drain_pushes(seeded)

    assert (
        ws3.models.get(a.name, a.version)
        .tags["regsync.registry.asset"]
        .endswith(f"/{a.name}/versions/{a.version}")
    )
    assert {kind for w, _, kind, _ in found(seeded, tags=True) if w == "workspace3"} == {"stale", "tags"}
    assert ws4.online_endpoints.get(endpoint).traffic.get(deployment_name(a), 0) == 0  # not opted in

    rules(seeded, prefix, endpoint, serve=False)  # woodgrove's rule removed
    assert ("workspace4", str(a), "unallowed", False) in found(seeded)
