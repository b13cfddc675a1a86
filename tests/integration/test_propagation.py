"""The engine end to end on Azurite and the emulator, through the real azure-ai-ml SDK."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from tests.integration.conftest import drain_pushes, register_model


def test_a_model_registered_in_workspace1_reaches_the_registry_and_workspace3_only(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    model = register_model(ml, "workspace1", "credit-card-default", model_folder)
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=model.version)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None

    outcomes = seeded.propagate(origin, ref, correlation_id="c1")

    statuses = {(o.action, o.target): o.status for o in outcomes}
    assert statuses[("share", "regsync-registry")] == "succeeded"
    assert statuses[("push", "workspace3")] == "pending"
    in_registry = ml("registry").models.get("credit-card-default", model.version)
    assert in_registry.tags["regsync.origin.workspace"] == "workspace1"
    assert in_registry.tags["regsync.rule"] == "contoso-shares-credit-card"

    pushed = drain_pushes(seeded)
    assert [(o.target, o.status) for o in pushed] == [("workspace3", LedgerStatus.SUCCEEDED.value)]
    in_workspace3 = ml("workspace3").models.get("credit-card-default", model.version)
    assert in_workspace3.path.startswith("azureml://registries/regsync-registry/models/credit-card-default")
    assert in_workspace3.tags["regsync.origin.tenant"] == "contoso"
    import pytest
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        ml("workspace2").models.get("credit-card-default", model.version)


def test_a_model_trained_by_a_job_keeps_its_job_link_through_share_and_push(
    seeded: Engine, ml: Callable[[str], Any]
) -> None:
    from azure.ai.ml.entities import Model

    job = f"job-{uuid.uuid4().hex[:8]}"
    model = ml("workspace1").models.create_or_update(
        Model(
            name="credit-card-default",
            path=f"azureml://jobs/{job}/outputs/artifacts/paths/model/",
            type="custom_model",
        )
    )
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=model.version)
    origin = seeded.store.get_workspace("workspace1")
    assert origin is not None

    outcomes = seeded.propagate(origin, ref, correlation_id="job")

    assert outcomes[0].status == "succeeded", outcomes[0].reason
    in_registry = ml("registry").models.get("credit-card-default", model.version)
    assert in_registry.tags["regsync.origin.job"] == job
    assert [o.status for o in drain_pushes(seeded)] == ["succeeded"]
