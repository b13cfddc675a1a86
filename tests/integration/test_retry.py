"""RegSync's AzureML clients retry throttling and outages in-process briefly (shared.azureml.retry).

Through the real SDK against the emulator's injected faults. What is honoured comes from azure-core's
RetryPolicy (azure/core/pipeline/policies/_retry.py, `is_retry`: a response carrying Retry-After is
retried for any method; `get_backoff_time`: exponential) and from ARM's throttling contract (a 429 names
in Retry-After how long to wait: learn.microsoft.com/azure/azure-resource-manager/management/
request-limits-and-throttling). A short wait is slept in-process; a long one goes to the queue at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.emulator.launch import EmulatorAdmin
from shared.azureml.retry import IN_PROCESS_MAX_WAIT_S, IN_PROCESS_RETRIES
from shared.domain import AssetKind, AssetRef
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.storage import StateStore
from tests.integration.conftest import register_model

VERSION_READS = r"/workspaces/workspace1/models/{name}/versions/1$"


@pytest.fixture
def faults(admin: EmulatorAdmin) -> Iterator[EmulatorAdmin]:
    admin.clear_faults()
    admin.reset_request_log()
    yield admin
    admin.clear_faults()


@pytest.fixture
def model(ml: Callable[[str], Any], model_folder: Path) -> AssetRef:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    register_model(ml, "workspace1", name, model_folder, version="1")
    return AssetRef(kind=AssetKind.MODEL, name=name, version="1")


def reads(admin: EmulatorAdmin) -> tuple[int, int]:
    """(requests, of which faulted) on the model version route."""
    found = [
        c
        for c in admin.request_counts()
        if c["method"] == "GET" and c["route"].endswith("/versions/{version}")
    ]
    return sum(c["count"] for c in found), sum(c["faulted"] for c in found)


@pytest.mark.parametrize("status", [429, 503])
def test_a_briefly_throttled_call_is_retried_in_process_and_answers(
    seeded: Engine[StateStore], model: AssetRef, faults: EmulatorAdmin, status: int
) -> None:
    faults.set_fault(
        VERSION_READS.format(name=model.name), status=status, method="GET", count=2, retry_after=1
    )
    workspace = seeded.store.get_workspace("workspace1")
    assert workspace is not None

    asset = seeded.gateway.get_asset(workspace, model)

    assert asset is not None and asset.ref == model
    assert reads(faults) == (3, 2)


def test_a_long_retry_after_goes_to_the_queue_at_once_with_its_delay(
    seeded: Engine[StateStore], model: AssetRef, faults: EmulatorAdmin
) -> None:
    wait = int(IN_PROCESS_MAX_WAIT_S) + 26
    faults.set_fault(
        VERSION_READS.format(name=model.name), status=429, method="GET", count=1, retry_after=wait
    )
    workspace = seeded.store.get_workspace("workspace1")
    assert workspace is not None

    with pytest.raises(TemporaryError) as raised:
        seeded.gateway.get_asset(workspace, model)

    assert raised.value.retry_after == wait
    assert reads(faults) == (1, 1)  # not slept on in-process


def test_a_lasting_outage_gives_up_after_a_few_retries(
    seeded: Engine[StateStore], model: AssetRef, faults: EmulatorAdmin
) -> None:
    faults.set_fault(VERSION_READS.format(name=model.name), status=503, method="GET", count=50, retry_after=1)
    workspace = seeded.store.get_workspace("workspace1")
    assert workspace is not None

    with pytest.raises(TemporaryError):
        seeded.gateway.get_asset(workspace, model)

    assert reads(faults) == (IN_PROCESS_RETRIES + 1, IN_PROCESS_RETRIES + 1)
