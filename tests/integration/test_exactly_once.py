"""At-least-once delivery, exactly-once effects: duplicates, concurrency, crashes, conflicts, refusals.

Everything runs against Azurite and the emulator through the real SDK; the engine is driven the way the
Event Grid adapter drives it (parse_event -> handle_event), and pushes are drained as the queue trigger
would run them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.domain import AssetKind, AssetRef, LedgerStatus, workspace_arm_id
from shared.engine import Engine
from shared.errors import TemporaryError
from shared.events import parse_event
from tests.integration.conftest import drain_pushes, register_model
from tests.support import model_registered

SUB1 = "11111111-1111-1111-1111-111111111111"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


BERT = "bert-base-uncased_fine-tuned"  # the seed rules push this one name to workspaces 1, 2 and 4


def register_bert(ml: Callable[[str], Any], folder: Path) -> str:
    """A new, unique version of the seed's BERT model in workspace3; returns the version."""
    version = f"v{uuid.uuid4().hex[:8]}"  # not an integer: AzureML compares those by value
    register_model(ml, "workspace3", BERT, folder, version=version)
    return version


def queued(engine: Engine) -> int:
    return int(engine.pushes.client.get_queue_properties().approximate_message_count)


def push_rows(engine: Engine, ref: AssetRef) -> dict[str, LedgerStatus]:
    return {
        entry.workspace: entry.status for entry in engine.store.entries_for_asset(ref.key) if entry.workspace
    }


def test_the_same_event_five_times_shares_once_and_pushes_once(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, version = BERT, register_bert(ml, model_folder)
    event = model_registered("workspace3", name, version, event_id="evt-duplicate")

    for _ in range(5):
        seeded.handle_event(parse_event(event), correlation_id="dup")

    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=version)
    share = seeded.store.get_entry(ref.key, "share")
    assert share is not None and share.status is LedgerStatus.SUCCEEDED and share.attempts == 1
    assert push_rows(seeded, ref) == dict.fromkeys(
        ("workspace1", "workspace2", "workspace4"), LedgerStatus.PENDING
    )
    assert queued(seeded) == 3
    assert [o.status for o in drain_pushes(seeded)] == ["succeeded"] * 3
    assert ml("registry").models.get(name, version).tags["regsync.origin.workspace"] == "workspace3"


def test_two_events_for_one_asset_at_once_end_with_one_share_and_one_push_per_target(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, version = BERT, register_bert(ml, model_folder)
    errors: list[Exception] = []

    def deliver(event_id: str) -> None:
        try:
            seeded.handle_event(
                parse_event(model_registered("workspace3", name, version, event_id=event_id)),
                correlation_id=event_id,
            )
        except TemporaryError as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(f"evt-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The one that lost the claim is answered (skipped: the holder fans out), not told to retry.
    assert errors == []

    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=version)
    assert queued(seeded) == 3
    assert sorted(push_rows(seeded, ref)) == ["workspace1", "workspace2", "workspace4"]
    share = seeded.store.get_entry(ref.key, "share")
    assert share is not None and share.status is LedgerStatus.SUCCEEDED


class CrashAfterShare:
    """An outbox that 'crashes the process' right after the share is recorded, before the fan-out."""

    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        raise SystemExit("simulated crash between share and fan-out")


def test_a_crash_between_share_and_fan_out_is_repaired_by_the_redelivered_event(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name, version = BERT, register_bert(ml, model_folder)
    event = model_registered("workspace3", name, version, event_id="evt-crash")
    outbox = seeded.applier.outbox
    seeded.applier.outbox = CrashAfterShare()
    with pytest.raises(SystemExit):
        seeded.handle_event(parse_event(event), correlation_id="crash")
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=version)
    assert push_rows(seeded, ref) == {}  # shared, but nothing fanned out

    seeded.applier.outbox = outbox
    outcomes = seeded.handle_event(parse_event(event), correlation_id="redelivered")

    assert outcomes[0].status == "done"  # the registry already holds it: not shared twice
    assert sorted(push_rows(seeded, ref)) == ["workspace1", "workspace2", "workspace4"]
    assert ml("registry").models.get(name, version).tags["regsync.origin.workspace"] == "workspace3"


def test_a_different_asset_under_an_existing_registry_version_is_a_recorded_conflict(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = unique("bert-conflict")
    register_model(ml, "workspace3", name, model_folder, version="1")
    register_model(ml, "workspace4", name, model_folder, version="1")  # woodgrove shares bert-* too
    seeded.handle_event(parse_event(model_registered("workspace3", name, "1")), correlation_id="first")
    event = model_registered("workspace4", name, "1")

    outcomes = seeded.handle_event(parse_event(event), correlation_id="second")

    assert [(o.action, o.status) for o in outcomes] == [("share", "conflict")]
    assert "already holds workspace3's" in outcomes[0].reason
    assert ml("registry").models.get(name, "1").tags["regsync.origin.workspace"] == "workspace3"
    audit = [r for r in seeded.store.recent_audit() if r.outcome == "conflict"]
    assert audit and audit[0].correlation_id == "second"
    again = seeded.handle_event(parse_event(event), correlation_id="third")  # no retry storm, no exception
    assert again[0].status == "conflict"


def test_a_workspace_outside_the_registry_regions_is_refused_with_its_reason(
    seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = unique("litware-model")
    version = register_model(ml, "workspace5", name, model_folder).version

    outcomes = seeded.handle_event(
        parse_event(model_registered("workspace5", name, version)), correlation_id="ws5"
    )

    reason = "workspace workspace5 is in westus, outside the registry's regions [eastus, westeurope]"
    assert [(o.status, o.reason) for o in outcomes] == [("refused", reason)]
    assert any(r.reason == reason for r in seeded.store.recent_audit())
    assert list(ml("registry").models.list(name=name)) == []


def test_an_event_from_a_topic_that_is_no_managed_workspace_is_acknowledged_and_audited(
    seeded: Engine,
) -> None:
    event = model_registered("workspace1", "m", "1")
    event["topic"] = workspace_arm_id(SUB1, "rg-elsewhere", "intruder")

    outcomes = seeded.handle_event(parse_event(event), correlation_id="foreign")

    assert [o.status for o in outcomes] == ["ignored"]
    assert "is not a workspace RegSync manages" in outcomes[0].reason
    assert seeded.store.recent_audit()[0].action == "event"
    assert queued(seeded) == 0
