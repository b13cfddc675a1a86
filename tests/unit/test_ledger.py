"""The ledger's one transition function, walked exhaustively: every (from, to) pair of statuses is either
a legal move whose result obeys the rules of shared/ledger.py, or an IllegalTransitionError. Then the
lease boundary of `held` and `abandoned`, and random walks over legal moves as properties.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import LedgerStatus
from shared.ledger import (
    ALLOWED,
    LEASE,
    WAIT_LIMIT,
    IllegalTransitionError,
    abandoned,
    held,
    lease_left_seconds,
    renewed,
    transition,
)
from shared.records import MAX_EVENT_IDS, LedgerEntry
from tests.unit.factories import NOW, row

S = LedgerStatus
EARLIER = NOW - timedelta(hours=2)
QUEUED = {S.PENDING, S.AWAITING_APPROVAL}
FINAL = {S.SUCCEEDED, S.FAILED, S.CONFLICT, S.REFUSED, S.RECALLED}
IN_FLIGHT = {S.PENDING, S.RUNNING, S.RETRYING, S.DEPLOYING}
PAIRS = list(itertools.product([None, *LedgerStatus], list(LedgerStatus)))


def _id(value: object) -> str:
    return value.value if isinstance(value, LedgerStatus) else "none"


def existing(status: LedgerStatus) -> LedgerEntry:
    """A row with a history: attempts, a second round, timestamps, events, detail and an ETag."""
    return row(
        status,
        target="push|workspace3",
        attempts=3,
        rounds=2,
        updated=EARLIER,
        started=EARLIER,
        finished=EARLIER if status.final else None,
        message="before",
        event_ids=("evt-a", "evt-b"),
        correlation_id="corr-old",
        detail={"rule": "push-old", "mode": "register"},
        etag='W/"7"',
    )


def move(before: LedgerEntry | None, to: LedgerStatus, **overrides: str) -> LedgerEntry:
    fields = {"message": "after", "event_id": "evt-c", "correlation_id": "corr-new", **overrides}
    return transition(
        before,
        to,
        key="model:other:9",
        target="push|elsewhere",
        now=NOW,
        detail={"rule": "push-new", "wave": "1"},
        **fields,
    )


# --- the table itself -----------------------------------------------------------------------------


def test_allowed_names_every_status_and_the_missing_row() -> None:
    assert set(ALLOWED) == {None, *LedgerStatus}
    assert all(targets <= set(LedgerStatus) for targets in ALLOWED.values())


def test_a_success_and_a_conflict_are_final_until_a_person_acts() -> None:
    assert ALLOWED[S.SUCCEEDED] == {S.SUCCEEDED, S.RECALLED, S.PENDING}  # a repair queues it again
    # A share recorded as a conflict whose registry version turns out to be our own is done after all.
    assert ALLOWED[S.CONFLICT] == {S.CONFLICT, S.SUCCEEDED}


def test_a_new_row_never_starts_as_retrying_or_failed() -> None:
    assert S.RETRYING not in ALLOWED[None]
    assert S.FAILED not in ALLOWED[None]


# --- every pair -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "to"), PAIRS, ids=[f"{_id(a)}->{_id(b)}" for a, b in PAIRS])
def test_every_move_is_legal_and_follows_the_rules_or_raises(
    start: LedgerStatus | None, to: LedgerStatus
) -> None:
    before = existing(start) if start is not None else None

    if to not in ALLOWED[start]:
        with pytest.raises(IllegalTransitionError, match=f"-> {to.value} is not a legal move"):
            move(before, to)
        return
    after = move(before, to)

    assert after.status is to
    assert after.updated == NOW
    assert after.message == "after"
    assert after.finished == (NOW if to in FINAL else None)
    assert after.correlation_id == "corr-new"
    if before is None:
        # a new row: named by the arguments, no history, no ETag (the write is a create)
        assert (after.asset_key, after.target, after.etag) == ("model:other:9", "push|elsewhere", None)
        assert (after.attempts, after.rounds) == ((1, 1) if to is S.RUNNING else (0, 1))
        assert after.started == (NOW if to is S.RUNNING else None)
        assert after.event_ids == ("evt-c",)
        assert after.detail == {"rule": "push-new", "wave": "1"}
        return
    # an existing row keeps its identity and ETag, so the write is conditional on what was read
    assert (after.asset_key, after.target, after.etag) == (before.asset_key, before.target, 'W/"7"')
    assert after.event_ids == ("evt-a", "evt-b", "evt-c")
    assert after.detail == {"rule": "push-new", "mode": "register", "wave": "1"}
    new_round = to in QUEUED and start in {S.FAILED, S.REFUSED, S.RECALLED}
    if to is S.RUNNING:
        assert (after.attempts, after.rounds, after.started) == (4, 2, NOW)
    elif new_round:
        assert (after.attempts, after.rounds, after.started) == (0, 3, EARLIER)
    else:
        assert (after.attempts, after.rounds, after.started) == (3, 2, EARLIER)


@pytest.mark.parametrize(("start", "to"), [(a, b) for a, b in PAIRS if b not in ALLOWED[a]])
def test_an_illegal_move_names_the_row_and_the_move(start: LedgerStatus | None, to: LedgerStatus) -> None:
    before = existing(start) if start is not None else None
    was = start.value if start is not None else "no row"

    with pytest.raises(IllegalTransitionError) as caught:
        move(before, to)

    assert str(caught.value) == (
        f"ledger row model:other:9 -> push|elsewhere: {was} -> {to.value} is not a legal move"
    )


def test_an_illegal_move_is_a_value_error_for_callers_that_catch_those() -> None:
    assert issubclass(IllegalTransitionError, ValueError)


# --- fields the caller leaves out -----------------------------------------------------------------


def test_no_correlation_id_keeps_the_rows_own() -> None:
    after = move(existing(S.PENDING), S.RUNNING, correlation_id="")

    assert after.correlation_id == "corr-old"


def test_no_event_id_adds_none() -> None:
    after = move(existing(S.PENDING), S.RUNNING, event_id="")

    assert after.event_ids == ("evt-a", "evt-b")


def test_an_event_id_already_recorded_is_not_added_twice() -> None:
    after = move(existing(S.PENDING), S.RUNNING, event_id="evt-a")

    assert after.event_ids == ("evt-a", "evt-b")


def test_event_ids_are_capped_keeping_the_latest() -> None:
    current: LedgerEntry | None = None
    for number in range(MAX_EVENT_IDS + 5):
        current = move(current, S.PENDING, event_id=f"evt-{number}")

    assert current is not None
    assert current.event_ids == tuple(f"evt-{number}" for number in range(5, MAX_EVENT_IDS + 5))


def test_a_move_does_not_change_the_row_it_was_given() -> None:
    before = existing(S.RETRYING)

    move(before, S.RUNNING)

    assert before == existing(S.RETRYING)


# --- the lease ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(timedelta(0), True, id="just-claimed"),
        pytest.param(-timedelta(minutes=1), True, id="clock-skew"),
        pytest.param(LEASE, True, id="at-the-lease"),
        pytest.param(LEASE + timedelta(microseconds=1), False, id="past-the-lease"),
    ],
)
def test_a_running_row_is_held_up_to_and_including_its_lease(age: timedelta, expected: bool) -> None:
    assert held(row(S.RUNNING, updated=NOW - age), NOW) is expected


def test_no_row_and_a_running_row_without_a_time_are_not_held() -> None:
    assert held(None, NOW) is False
    assert held(row(S.RUNNING, updated=None), NOW) is False


@pytest.mark.parametrize("status", [s for s in LedgerStatus if s is not S.RUNNING])
def test_only_running_rows_are_held(status: LedgerStatus) -> None:
    assert held(row(status, updated=NOW), NOW) is False


@pytest.mark.parametrize(
    ("status", "limit"),
    [(S.RUNNING, LEASE), *((status, WAIT_LIMIT) for status in sorted(IN_FLIGHT - {S.RUNNING}))],
)
def test_in_flight_rows_are_abandoned_only_past_their_limit(status: LedgerStatus, limit: timedelta) -> None:
    """A running row past its (short) lease: its worker stopped renewing. A row waiting on a message
    (queued, retrying, deploying) only once it was not written for WAIT_LIMIT: its message was lost."""
    assert abandoned(row(status, updated=NOW), NOW) is False
    assert abandoned(row(status, updated=NOW - limit), NOW) is False
    assert abandoned(row(status, updated=NOW - limit - timedelta(microseconds=1)), NOW) is True


@pytest.mark.parametrize("status", sorted(IN_FLIGHT))
def test_in_flight_rows_never_updated_are_abandoned(status: LedgerStatus) -> None:
    assert abandoned(row(status, updated=None), NOW) is True


def test_a_waiting_row_outlives_a_running_rows_lease() -> None:
    """Retry-After delays and deployment checks last longer than a claim's lease: not a lost message."""
    assert WAIT_LIMIT > 10 * LEASE
    assert abandoned(row(S.RETRYING, updated=NOW - 2 * LEASE), NOW) is False
    assert abandoned(row(S.RUNNING, updated=NOW - 2 * LEASE), NOW) is True


def test_a_renewal_moves_only_the_time_and_keeps_the_etag() -> None:
    claimed = row(S.RUNNING, updated=NOW - LEASE)
    later = NOW + timedelta(seconds=5)

    renewal = renewed(claimed, later)

    assert renewal.updated == later and held(renewal, later + LEASE)
    assert renewal.etag == claimed.etag
    assert (renewal.attempts, renewal.rounds, renewal.started) == (
        claimed.attempts,
        claimed.rounds,
        claimed.started,
    )


@pytest.mark.parametrize("status", [s for s in LedgerStatus if s is not S.RUNNING])
def test_only_a_running_row_can_be_renewed(status: LedgerStatus) -> None:
    with pytest.raises(IllegalTransitionError):
        renewed(row(status, updated=NOW), NOW)


@pytest.mark.parametrize(
    ("age", "left"),
    [
        pytest.param(timedelta(0), int(LEASE.total_seconds()), id="just-claimed"),
        pytest.param(LEASE - timedelta(seconds=10.5), 11, id="rounded-up"),
        pytest.param(LEASE, 1, id="at-the-lease"),
        pytest.param(2 * LEASE, 1, id="abandoned"),
    ],
)
def test_a_held_row_is_looked_at_again_when_its_lease_runs_out(age: timedelta, left: int) -> None:
    assert lease_left_seconds(row(S.RUNNING, updated=NOW - age), NOW) == left


def test_no_row_is_looked_at_again_at_once() -> None:
    assert lease_left_seconds(None, NOW) == 1


@pytest.mark.parametrize("status", sorted(set(LedgerStatus) - IN_FLIGHT))
@pytest.mark.parametrize("updated", [NOW - 100 * WAIT_LIMIT, None])
def test_settled_or_waiting_rows_are_never_abandoned(status: LedgerStatus, updated: datetime | None) -> None:
    assert abandoned(row(status, updated=updated), NOW) is False


@given(seconds=st.integers(-3600, 2 * int(LEASE.total_seconds())))
def test_a_timed_running_row_is_either_held_or_abandoned(seconds: int) -> None:
    running = row(S.RUNNING, updated=NOW - timedelta(seconds=seconds))

    assert held(running, NOW) is not abandoned(running, NOW)


# --- properties: random walks over legal moves ------------------------------------------------------


@st.composite
def walks(draw: st.DrawFn) -> list[tuple[LedgerStatus, str]]:
    """A legal sequence of moves from no row, each with the event id it carries ("" for none)."""
    current: LedgerStatus | None = None
    steps = []
    for _ in range(draw(st.integers(1, 30))):
        current = draw(st.sampled_from(sorted(ALLOWED[current])))
        steps.append((current, draw(st.sampled_from(["", "e1", "e2", "e3", *(f"x{i}" for i in range(25))]))))
    return steps


@settings(max_examples=300, deadline=None)
@given(steps=walks())
def test_attempts_count_claims_of_the_round_and_rounds_count_fresh_queueings(
    steps: list[tuple[LedgerStatus, str]],
) -> None:
    current: LedgerEntry | None = None
    attempts, rounds = 0, 1
    for to, event_id in steps:
        if current is not None and to in QUEUED and current.status in {S.FAILED, S.REFUSED, S.RECALLED}:
            attempts, rounds = 0, rounds + 1
        if to is S.RUNNING:
            attempts += 1
        current = move(current, to, event_id=event_id)

        assert (current.attempts, current.rounds) == (attempts, rounds)
        assert (current.finished is not None) is to.final
        assert len(current.event_ids) == len(set(current.event_ids)) <= MAX_EVENT_IDS
        assert "" not in current.event_ids
        if event_id:  # the event that made this move is remembered, whatever the cap dropped
            assert event_id in current.event_ids


def test_a_deployment_is_started_then_ready_or_failed_never_started_from_nothing() -> None:
    assert S.DEPLOYING in ALLOWED[S.RUNNING]
    assert ALLOWED[S.DEPLOYING] == {S.DEPLOYING, S.PENDING, S.SUCCEEDED, S.FAILED, S.REFUSED, S.RECALLED}
    assert all(S.DEPLOYING not in ALLOWED[status] for status in (None, S.PENDING, S.FAILED, S.SUCCEEDED))
    assert not S.DEPLOYING.final
