"""How a claimed row settles after its AzureML call (`settle_push`, `settle_share`): the row written, the
audit line, the outbound event and, for a push failing temporarily, the message sent again. Then the
rule issue 8 was about, as properties: a push fails for good exactly once per round, at its last attempt,
with one audit record and one PushFailed event, and a requeued round gets its whole budget again.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import AssetKind, LedgerStatus, Pushed
from shared.errors import Failure, Kind
from shared.ledger import transition
from shared.planner import (
    MAX_AUTOMATIC_ROUNDS,
    FanoutSnapshot,
    Retry,
    ShareSnapshot,
    plan_fanout,
    plan_push,
    plan_push_before_observing,
    plan_share,
    settle_push,
    settle_share,
)
from shared.policy import NameOwners
from shared.provenance import provenance_tags
from shared.records import ASSET_PUSHED, ASSET_SHARED, PUSH_FAILED, LedgerEntry, PushMessage, Status
from shared.steps import Push, Report, Settlement, Share, WriteRow
from tests.unit.factories import NOW, WS1, WS3, decision, model, push_message, world

S = LedgerStatus
WORLD = world()
IN_REGISTRY = model(**provenance_tags(model(), WS1, rule_id="share-all", correlation_id="corr-0"))
MAX = 5
THROTTLED = Failure(Kind.TEMPORARY, "AzureML throttled (429)", 30.0)
PERMANENT_KINDS = [Kind.PERMANENT, Kind.REFUSED, Kind.INVALID, Kind.NOT_FOUND]


def push_step(message: PushMessage, existing: LedgerEntry | None = None) -> Push:
    """The push as the queue worker plans it for `message` (the rules allow it)."""
    assert plan_push_before_observing(message, existing, now=NOW) is None
    owners = NameOwners(IN_REGISTRY.ref.kind, IN_REGISTRY.ref.name)
    step = plan_push(message, existing, asset=IN_REGISTRY, owners=owners, target=WS3, world=WORLD, now=NOW)
    assert isinstance(step, Push)
    return step


def claim(existing: LedgerEntry | None, key: str, target: str) -> LedgerEntry:
    """What apply writes before the AzureML call: the row, running, one attempt more."""
    return transition(existing, S.RUNNING, key=key, target=target, now=NOW, message="working")


def settle(attempt: int, failure: Failure | None, *, max_attempts: int = MAX) -> Settlement:
    step = push_step(push_message(attempt=attempt))
    claimed = claim(step.row, step.message.ref.key, "push|workspace3")
    return settle_push(
        step, claimed, failure, Pushed(what="registered m:1"), max_attempts=max_attempts, now=NOW
    )


# --- settle_push ---------------------------------------------------------------------------------------


def test_a_push_that_worked_succeeds_with_an_audit_and_an_asset_pushed_event() -> None:
    settled = settle(1, None)

    assert (settled.outcome.status, settled.outcome.reason) == (Status.SUCCEEDED, "registered m:1")
    assert (settled.row.status, settled.row.finished) == (S.SUCCEEDED, NOW)
    assert settled.audit is not None
    assert (settled.audit.outcome, settled.audit.correlation_id) == (Status.SUCCEEDED, "corr-1")
    assert settled.event is not None
    assert settled.event.event_type == ASSET_PUSHED
    assert settled.event.data == {
        "asset": "model:credit-card-default:1",
        "target": "workspace3",
        "correlation_id": "corr-1",
        "what": "registered m:1",
    }
    assert (settled.resend, settled.delay_seconds) == (None, 0)


@pytest.mark.parametrize("kind", [Kind.TEMPORARY, Kind.UNEXPECTED])
@pytest.mark.parametrize("attempt", [1, MAX - 1])
def test_a_retryable_failure_before_the_last_attempt_is_sent_again_without_audit_or_event(
    kind: Kind, attempt: int
) -> None:
    settled = settle(attempt, Failure(kind, "throttled", 30.0))

    assert settled.outcome.status is Status.RETRYING
    assert settled.outcome.reason == f"throttled; attempt {attempt} of {MAX}, next in 30 s"
    assert (settled.row.status, settled.row.finished) == (S.RETRYING, None)
    assert settled.resend == push_message(attempt=attempt + 1)
    assert settled.delay_seconds == 30
    assert (settled.audit, settled.event) == (None, None)


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(30.0, 30), (120.0, 120), (1.0, 1), (0.0, 1), (0.3, 1), (7.6, 8)]
)
def test_the_resend_waits_as_long_as_azure_asked_and_at_least_a_second(
    retry_after: float, delay: int
) -> None:
    settled = settle(1, Failure(Kind.TEMPORARY, "throttled", retry_after))

    assert settled.delay_seconds == delay


@pytest.mark.parametrize("kind", [Kind.TEMPORARY, Kind.UNEXPECTED])
@pytest.mark.parametrize("attempt", [MAX, MAX + 2])
def test_a_retryable_failure_at_the_last_attempt_fails_for_good_once(kind: Kind, attempt: int) -> None:
    settled = settle(attempt, Failure(kind, "throttled", 30.0))

    assert settled.outcome.status is Status.FAILED
    assert settled.outcome.reason == f"gave up after {attempt} attempts: throttled"
    assert (settled.row.status, settled.row.finished) == (S.FAILED, NOW)
    assert settled.resend is None
    assert settled.audit is not None and settled.audit.outcome == Status.FAILED
    assert settled.event is not None
    assert settled.event.event_type == PUSH_FAILED
    assert settled.event.data["error"] == settled.outcome.reason


@pytest.mark.parametrize("attempt", [1, MAX])
def test_a_conflict_is_final_recorded_once_and_never_sent_again(attempt: int) -> None:
    settled = settle(attempt, Failure(Kind.CONFLICT, "the workspace already holds m:1"))

    assert (settled.outcome.status, settled.outcome.reason) == (
        Status.CONFLICT,
        "the workspace already holds m:1",
    )
    assert settled.row.status is S.CONFLICT
    assert settled.audit is not None and settled.audit.outcome == Status.CONFLICT
    assert (settled.event, settled.resend) == (None, None)


@pytest.mark.parametrize("kind", PERMANENT_KINDS)
def test_a_permanent_failure_fails_for_good_at_once(kind: Kind) -> None:
    settled = settle(1, Failure(kind, "AzureML refused (400)"))

    assert (settled.outcome.status, settled.outcome.reason) == (Status.FAILED, "AzureML refused (400)")
    assert settled.row.status is S.FAILED
    assert settled.resend is None
    assert settled.audit is not None
    assert settled.event is not None and settled.event.event_type == PUSH_FAILED


def test_a_settled_row_keeps_the_claims_etag_and_attempts() -> None:
    existing = transition(
        None, S.PENDING, key="model:credit-card-default:1", target="push|workspace3", now=NOW, message="q"
    )
    stored = replace(existing, etag='W/"4"')  # as read back from storage
    step = push_step(push_message(), stored)
    claimed = claim(stored, stored.asset_key, stored.target)

    settled = settle_push(step, claimed, THROTTLED, None, max_attempts=MAX, now=NOW)

    assert (settled.row.etag, settled.row.attempts) == ('W/"4"', 1)


# --- settle_share -------------------------------------------------------------------------------------


def share_settles(failure: Failure | None) -> tuple[Share, Settlement]:
    snapshot = ShareSnapshot(WS1, model().ref, model(), owners=NameOwners(AssetKind.MODEL, model().ref.name))
    step = plan_share(snapshot, WORLD, now=NOW, correlation_id="corr-1", event_id="evt-1")
    assert isinstance(step, Share)
    claimed = claim(step.row, step.destination.key, "share")
    return step, settle_share(step, claimed, failure, now=NOW)


def test_a_share_that_worked_succeeds_with_an_audit_and_an_asset_shared_event() -> None:
    step, settled = share_settles(None)

    assert settled.outcome.status is Status.SUCCEEDED
    assert (
        settled.outcome.reason
        == "shared model credit-card-default:1 from workspace1 as credit-card-default:1"
    )
    assert (settled.row.status, settled.row.finished) == (S.SUCCEEDED, NOW)
    assert settled.audit is not None and settled.audit.outcome == Status.SUCCEEDED
    assert settled.event is not None
    assert settled.event.event_type == ASSET_SHARED
    assert settled.event.data == {
        **step.tags,
        "asset": "model:credit-card-default:1",
        "target": "shared-registry",
        "correlation_id": "corr-1",
    }
    assert settled.resend is None


@pytest.mark.parametrize("kind", [Kind.TEMPORARY, Kind.UNEXPECTED])
def test_a_share_failing_temporarily_is_retrying_quietly(kind: Kind) -> None:
    _, settled = share_settles(Failure(kind, "throttled"))

    assert settled.outcome.status is Status.RETRYING
    assert (settled.row.status, settled.row.finished) == (S.RETRYING, None)
    assert (settled.audit, settled.event, settled.resend) == (None, None, None)


def test_a_share_conflict_is_recorded_once_without_an_event() -> None:
    _, settled = share_settles(Failure(Kind.CONFLICT, "already exists"))

    assert (settled.outcome.status, settled.row.status) == (Status.CONFLICT, S.CONFLICT)
    assert settled.audit is not None and settled.audit.outcome == Status.CONFLICT
    assert settled.event is None


@pytest.mark.parametrize("kind", [kind for kind in PERMANENT_KINDS if kind is not Kind.REFUSED])
def test_a_share_failing_permanently_fails_with_an_audit(kind: Kind) -> None:
    _, settled = share_settles(Failure(kind, "AzureML refused (400)"))

    assert (settled.outcome.status, settled.outcome.reason) == (Status.FAILED, "AzureML refused (400)")
    assert (settled.row.status, settled.row.finished) == (S.FAILED, NOW)
    assert settled.audit is not None
    assert settled.event is None


def test_a_share_refused_at_the_last_moment_is_refused_not_failed() -> None:
    """E.g. the name was claimed by another tenant between plan and apply (ownership)."""
    _, settled = share_settles(Failure(Kind.REFUSED, "the name belongs to northwind"))

    assert (settled.outcome.status, settled.row.status) == (Status.REFUSED, S.REFUSED)
    assert settled.audit is not None and settled.event is None


# --- properties: one failure per round ------------------------------------------------------------------

RETRYABLE = st.builds(
    Failure,
    kind=st.sampled_from([Kind.TEMPORARY, Kind.UNEXPECTED]),
    message=st.sampled_from(["throttled (429)", "service unavailable (503)", "unexpected KeyError: x"]),
    retry_after=st.floats(0, 600, allow_nan=False),
)


def one_round(
    message: PushMessage, existing: LedgerEntry | None, failures: st.DataObject, max_attempts: int
) -> tuple[list[tuple[PushMessage, Settlement]], LedgerEntry]:
    """Deliver `message` and every message it sends again, each attempt failing retryably."""
    settlements = []
    current: PushMessage | None = message
    row = existing
    while current is not None:
        assert len(settlements) <= max_attempts, "a push was sent again past its attempt limit"
        step = push_step(current, row)
        claimed = claim(row, current.ref.key, "push|workspace3")
        settled = settle_push(
            step, claimed, failures.draw(RETRYABLE), None, max_attempts=max_attempts, now=NOW
        )
        settlements.append((current, settled))
        row, current = settled.row, settled.resend
    assert row is not None
    return settlements, row


@settings(max_examples=200, deadline=None)
@given(max_attempts=st.integers(1, 8), failures=st.data())
def test_a_push_failing_temporarily_every_time_fails_for_good_exactly_once_at_its_last_attempt(
    max_attempts: int, failures: st.DataObject
) -> None:
    settlements, last_row = one_round(push_message(), None, failures, max_attempts)

    failed = [(sent, settled) for sent, settled in settlements if settled.outcome.status is Status.FAILED]
    assert len(failed) == 1
    assert failed[0][0].attempt == max_attempts
    assert failed[0][1] is settlements[-1][1]
    for sent, settled in settlements[:-1]:
        assert settled.outcome.status is Status.RETRYING
        assert settled.resend is not None and settled.resend.attempt == sent.attempt + 1
        assert settled.resend.model_copy(update={"attempt": sent.attempt}) == sent
        assert settled.delay_seconds >= 1
    assert sum(settled.audit is not None for _, settled in settlements) == 1
    assert [settled.event.event_type for _, settled in settlements if settled.event] == [PUSH_FAILED]
    assert (last_row.status, last_row.attempts, last_row.rounds) == (S.FAILED, max_attempts, 1)


@settings(max_examples=100, deadline=None)
@given(max_attempts=st.integers(1, 6), failures=st.data())
def test_every_round_the_reconcile_queues_gets_the_whole_budget_and_fails_once(
    max_attempts: int, failures: st.DataObject
) -> None:
    message: PushMessage | None = push_message()  # the fan-out's first message
    row: LedgerEntry | None = None
    failed_rounds = 0
    while message is not None:
        assert failed_rounds < MAX_AUTOMATIC_ROUNDS, "the reconcile queued a failed push once too often"
        settlements, row = one_round(message, row, failures, max_attempts)
        assert [settled.outcome.status for _, settled in settlements].count(Status.FAILED) == 1
        assert len(settlements) == max_attempts
        failed_rounds += 1
        # a redelivery of the last message finds the round failed and does nothing
        redelivered = plan_push_before_observing(settlements[-1][0], row, now=NOW)
        assert isinstance(redelivered, Report) and redelivered.outcome.status is Status.FAILED
        owners = NameOwners(AssetKind.MODEL, IN_REGISTRY.ref.name)
        snapshot = FanoutSnapshot(IN_REGISTRY, owners, {"workspace3": row}, False, "1")
        [step, *_] = plan_fanout(
            snapshot, [decision("workspace3")], retry=Retry.AUTOMATIC, now=NOW, correlation_id="corr-1"
        )
        if not isinstance(step, WriteRow):  # the reconcile leaves it to a person
            break
        row, message = step.after, step.send  # what apply writes and sends for the requeue
    assert failed_rounds == MAX_AUTOMATIC_ROUNDS


def test_queue_messages_from_a_newer_release_keep_their_work() -> None:
    # A rolling deploy: an older worker reads a message carrying a field it does not know yet.
    raw = '{"kind": "model", "name": "m", "version": "1", "target": "ws", "correlation_id": "c", "wave": 2}'
    message = PushMessage.model_validate_json(raw)
    assert (message.name, message.version, message.target) == ("m", "1", "ws")
