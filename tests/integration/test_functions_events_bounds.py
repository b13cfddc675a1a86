"""The Event Grid function against malformed events (issue 9 §5), on Azurite and the emulator.

Each malformed event of a batch is refused on its own (logged, acknowledged: the function returns, so
the host answers 2xx and Event Grid does not redeliver it for 24 hours) and writes nothing; its valid
neighbour is handled as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.events import RESOURCE_WRITE_SUCCESS
from tests.integration.conftest import register_model
from tests.integration.test_functions import FUNCTIONS, app_engine, grid_event
from tests.support import model_registered
from tests.unit.test_events_properties import deep

pytestmark = pytest.mark.integration
__all__ = ["app_engine"]  # the fixture, used by name


def malformed() -> list[dict[str, Any]]:
    base = model_registered("workspace1", "credit-card-default", "1")
    return [
        {**base, "data": ["ModelName"]},
        {**base, "data": "ModelName=m"},
        {**base, "data": 12},
        {**base, "subject": 42},
        # Found by `make fuzz`: a subject [] once read as "", and data.resourceUri stood in for it.
        {
            **base,
            "subject": [],
            "eventType": RESOURCE_WRITE_SUCCESS,
            "data": {"resourceUri": "/subscriptions/s"},
        },
        {**base, "eventType": None},
        {**base, "id": None},
        {**base, "id": "e\x1b[2J"},
        # An unknown type with a 70,000-character subject once failed its audit write (PropertyValueTooLarge).
        {**base, "eventType": "X.Unknown", "subject": "x" * 70_000},
        {**base, "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": ["code"]},
    ]


def event_object(raw: dict[str, Any], data: Any) -> func.EventGridEvent:
    return func.EventGridEvent(
        id=raw["id"],
        data=data,
        topic=raw["topic"],
        subject=raw["subject"],
        event_type=raw["eventType"],
        event_time=None,
        data_version="",
    )


def test_each_malformed_event_of_a_batch_is_refused_on_its_own_and_writes_nothing(
    app_engine: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    for raw in malformed():
        FUNCTIONS["on_workspace_event"](grid_event(raw))  # returns: acknowledged, never an exception
    # Nested deeper than JSON can encode: built as the binding would hand it over.
    deep_tags = {"ModelName": "m", "ModelVersion": 1, "ModelTags": {"a": deep(5_000, 1)}}
    FUNCTIONS["on_workspace_event"](event_object(model_registered("workspace1", "m", "1"), deep_tags))
    assert list(app_engine.store.list_ledger()) == []
    assert app_engine.store.recent_audit() == []

    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    batch = [*malformed()[:3], model_registered("workspace1", "credit-card-default", version)]
    for raw in batch:
        FUNCTIONS["on_workspace_event"](grid_event(raw))
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=version)
    rows = {entry.target: entry.status for entry in app_engine.store.entries_for_asset(ref.key)}
    assert rows == {"share": LedgerStatus.SUCCEEDED, "push|workspace3": LedgerStatus.PENDING}
