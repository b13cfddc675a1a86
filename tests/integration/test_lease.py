"""The short ledger lease, renewed while a push's AzureML call runs (shared.engine.lease).

On Azurite and the emulator through the real SDK; the engine's clock is the test's (the renewal period
is shortened so a renewal happens while the test watches, the lease itself is measured on the fake
clock). A push that outlasts its lease keeps its claim while its worker lives; a crashed worker's claim
is taken over by the redelivered message once its lease runs out, which the deferral waits exactly for.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.domain import AssetRef, LedgerStatus, Pushed, Registry, Workspace
from shared.engine import Engine
from shared.events import parse_event
from shared.ledger import LEASE, LEASE_SECONDS
from shared.policy import PushAction
from shared.ports import Catalog
from shared.queues import WorkQueue
from shared.records import LedgerEntry, PushMessage, Status, push_target
from shared.storage import StateStore
from tests.integration.test_exactly_once import register_bert
from tests.support import model_registered

BERT = "bert-base-uncased_fine-tuned"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))  # as stored

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class HeldPush:
    """The real gateway, whose push waits (for the test's word) before it calls AzureML, or crashes."""

    gateway: Catalog
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    crash: bool = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)

    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> Pushed:
        self.started.set()
        if self.crash:
            raise SystemExit("simulated host crash in the middle of a push")
        assert self.release.wait(60), "the test never released the push"
        return self.gateway.push(target, registry, ref, action, tags)


def on_clock(engine: Engine[StateStore], clock: Clock, renew_every: float) -> Engine[StateStore]:
    engine.clock = clock
    engine.applier.clock = clock
    engine.applier.lease_renewal_seconds = renew_every
    return engine


def first_push(engine: Engine[StateStore]) -> PushMessage:
    queue = engine.pushes
    assert isinstance(queue, WorkQueue)
    message = next(iter(queue.client.receive_messages(max_messages=1, visibility_timeout=300)))
    return PushMessage.model_validate(json.loads(message.content))


def row_of(engine: Engine[StateStore], push: PushMessage) -> LedgerEntry:
    row = engine.store.get_entry(push.ref.key, push_target(push.target))
    assert row is not None
    return row


def until(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    """Poll with a deadline (the renewal thread runs on its own)."""
    stop = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < stop, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def propagated(seeded: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path) -> PushMessage:
    """BERT shared from workspace3 and fanned out: its first push message, not yet run."""
    version = register_bert(ml, model_folder)
    seeded.handle_event(parse_event(model_registered("workspace3", BERT, version)), correlation_id="lease")
    return first_push(seeded)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(seeded: Engine[StateStore], clock: Clock) -> Iterator[tuple[Engine[StateStore], HeldPush]]:
    held = HeldPush(seeded.applier.catalog)
    seeded.applier.catalog = held
    yield on_clock(seeded, clock, renew_every=0.05), held
    held.release.set()


def test_a_push_that_outlasts_its_lease_keeps_its_claim_and_settles_once(
    propagated: PushMessage,
    worker: tuple[Engine[StateStore], HeldPush],
    clock: Clock,
    ml: Callable[[str], Any],
) -> None:
    engine, held = worker
    outcomes: list[Any] = []
    running = threading.Thread(target=lambda: outcomes.append(engine.execute_push(propagated)))
    running.start()
    assert held.started.wait(30)
    claimed_at = row_of(engine, propagated).updated
    assert claimed_at == clock.now

    for _ in range(4):  # over twice the lease in all, renewed all along
        clock.advance(LEASE / 2 + timedelta(seconds=10))
        until(lambda: row_of(engine, propagated).updated == clock.now, "a renewal at the new time")
    renewed_row = row_of(engine, propagated)
    assert renewed_row.status is LedgerStatus.RUNNING and renewed_row.attempts == 1
    assert clock.now - claimed_at > 2 * LEASE

    another = engine.execute_push(propagated)  # a duplicate delivery on another worker meanwhile
    assert another.status is Status.SKIPPED and "running elsewhere" in another.reason

    held.release.set()
    running.join(60)
    assert [outcome.status for outcome in outcomes] == [Status.SUCCEEDED]
    settled = row_of(engine, propagated)
    assert (settled.status, settled.attempts) == (LedgerStatus.SUCCEEDED, 1)
    versions = [model.version for model in ml(propagated.target).models.list(name=BERT)]
    assert versions.count(propagated.version) == 1


def test_a_crashed_workers_push_is_taken_over_once_its_lease_runs_out(
    propagated: PushMessage, worker: tuple[Engine[StateStore], HeldPush], clock: Clock
) -> None:
    engine, held = worker
    held.crash = True
    with pytest.raises(SystemExit):
        engine.execute_push(propagated)
    crashed = row_of(engine, propagated)
    assert crashed.status is LedgerStatus.RUNNING  # the crash left its claim behind
    held.crash = False
    held.release.set()

    clock.advance(LEASE - timedelta(seconds=15))  # the host is back; the message is redelivered
    deferred = engine.execute_push(propagated)
    assert deferred.status is Status.SKIPPED
    assert row_of(engine, propagated).etag == crashed.etag  # a held row is left alone

    clock.advance(timedelta(seconds=16))  # when the deferral comes back: the lease has run out
    retried = engine.execute_push(propagated)

    assert retried.status is Status.SUCCEEDED
    settled = row_of(engine, propagated)
    assert (settled.status, settled.attempts) == (LedgerStatus.SUCCEEDED, 2)


@pytest.fixture
def sent(worker: tuple[Engine[StateStore], HeldPush]) -> list[tuple[PushMessage, int]]:
    """What the worker queues (a probe on its queue instance; the messages are still sent)."""
    queue = worker[0].pushes
    assert isinstance(queue, WorkQueue)
    record: list[tuple[PushMessage, int]] = []
    send = queue.send

    def recording(body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        record.append((PushMessage.model_validate(body), delay_seconds))
        send(body, delay_seconds=delay_seconds)

    queue.send = recording  # type: ignore[method-assign]
    return record


def test_the_redelivered_message_waits_exactly_for_the_crashed_claims_lease(
    propagated: PushMessage,
    worker: tuple[Engine[StateStore], HeldPush],
    clock: Clock,
    sent: list[tuple[PushMessage, int]],
) -> None:
    engine, held = worker
    held.crash = True
    with pytest.raises(SystemExit):
        engine.execute_push(propagated)
    clock.advance(LEASE - timedelta(seconds=15))

    engine.execute_push(propagated)

    assert [(message.watch, delay) for message, delay in sent] == [(True, LEASE_SECONDS + 1), (False, 15)]


def test_the_watch_of_a_crashed_claim_takes_the_push_over_when_the_lease_runs_out(
    propagated: PushMessage,
    worker: tuple[Engine[StateStore], HeldPush],
    clock: Clock,
    sent: list[tuple[PushMessage, int]],
) -> None:
    """However long the host keeps the original message in flight, the watch retries the push."""
    engine, held = worker
    held.crash = True
    with pytest.raises(SystemExit):
        engine.execute_push(propagated)
    held.crash = False
    held.release.set()
    [(watch, delay)] = sent
    assert watch.watch and delay == LEASE_SECONDS + 1
    clock.advance(timedelta(seconds=delay))

    retried = engine.execute_push(watch)

    assert retried.status is Status.SUCCEEDED
    settled = row_of(engine, propagated)
    assert (settled.status, settled.attempts) == (LedgerStatus.SUCCEEDED, 2)


def test_the_watch_of_a_settled_push_does_nothing(
    propagated: PushMessage,
    worker: tuple[Engine[StateStore], HeldPush],
    clock: Clock,
    sent: list[tuple[PushMessage, int]],
) -> None:
    engine, held = worker
    held.release.set()
    assert engine.execute_push(propagated).status is Status.SUCCEEDED
    [(watch, _)] = sent
    settled = row_of(engine, propagated)
    clock.advance(LEASE * 2)

    outcome = engine.execute_push(watch)

    assert outcome.status is Status.SUCCEEDED and "nothing to take over" in outcome.reason
    assert row_of(engine, propagated).etag == settled.etag
    assert len(sent) == 1  # nothing re-sent
