"""Dependency order within a push (issue 14 §3) on Azurite and the AzureML emulator, through the real
SDK: a deploy rule naming an environment of the target workspace (`azureml:NAME:VERSION`, resolved
there: azure/ai/ml/_utils/_endpoint_utils.py, upload_dependencies) whose environment is only in the
registry gets that environment pushed first; the deployment is made once it is there."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.policy_file import parse_policy
from tests.integration.conftest import follow_pushes, register_model
from tests.integration.test_recall import status

pytestmark = pytest.mark.integration


def test_a_deployments_missing_environment_is_pushed_into_the_workspace_first(
    seeded: Engine, ml: Callable[[str], Any], tmp_path: Path, model_folder: Path
) -> None:
    from azure.ai.ml.entities import Environment
    from azure.ai.ml.entities._assets import Code  # the SDK has no public API for named code assets

    name, endpoint = f"dp-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    env = AssetRef(kind=AssetKind.ENVIRONMENT, name=f"{name}-env", version="1")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def init():\n    pass\n", encoding="utf-8")
    ml("workspace4")._code.create_or_update(
        Code(name=f"{name}-score", version="1", path=str(tmp_path / "code"))
    )
    ml("workspace1").environments.create_or_update(
        Environment(name=env.name, version="1", image="python:3.11")
    )

    def rules(push: str) -> None:
        document = parse_policy(
            f"""
share:
  - {{id: share-{name}, tenant: contoso, workspaces: [workspace1], assets: {{include: [{name}, {env.name}]}}}}
push:{push}
""",
            known_tenants=["contoso", "woodgrove"],
            known_workspaces=seeded.store.list_workspaces(),
        )
        seeded.store.put_policy(document.policy, replace_all=True)

    rules(" []")
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None
    seeded.propagate(origin, env, correlation_id="env")  # in the registry; in no workspace but its own
    rules(
        f"""
  - id: deploy-{name}
    tenant: woodgrove
    targets: {{workspaces: [workspace4]}}
    assets: {{kinds: [model], include: [{name}]}}
    action: {{mode: deploy_online, endpoint: {endpoint}, instance_count: 1,
              code_configuration: {{code: 'azureml:{name}-score:1'}}, environment: 'azureml:{env.name}:1'}}
  - id: environments-{name}
    tenant: woodgrove
    targets: {{workspaces: [workspace4]}}
    assets: {{kinds: [environment], include: [{env.name}]}}
"""
    )
    model = register_model(ml, "workspace1", name, model_folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)

    seeded.propagate(origin, ref, correlation_id="model")
    outcomes = follow_pushes(
        seeded,
        lambda: status(seeded, ref, "workspace4") in {LedgerStatus.SUCCEEDED, LedgerStatus.FAILED},
        deadline_s=120,
    )

    first = next(o for o in outcomes if o.subject == str(ref))
    assert first.status.value == "skipped"
    assert f"pushed first: environment azureml:{env.name}:1 (pending)" in first.reason
    assert status(seeded, ref, "workspace4") is LedgerStatus.SUCCEEDED
    assert ml("workspace4").environments.get(env.name, "1").version == "1"
    deployment = ml("workspace4").online_deployments.get(
        next(o.name for o in ml("workspace4").online_deployments.list(endpoint_name=endpoint)),
        endpoint_name=endpoint,
    )
    assert env.name in str(deployment.environment)
