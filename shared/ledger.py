"""The one place a ledger row changes: `transition(row, to, ...)` -> the next row. Pure, no I/O.

Who calls it: the planner (to build the rows its steps will write) and apply (to re-base a step on a row
that changed under it). Status, attempts, rounds, lease and timestamps follow the rules below and
nowhere else; `ALLOWED` lists every legal move and the tests walk all of them (kopf's `with_outcome`).

- A claim (-> running) counts one attempt of the current round; queueing a row afresh after it failed
  or was refused starts a new round with no attempts (so a retried push gets its full attempt budget
  and fails for good at most once per round).
- Final statuses set `finished`; any other clears it.
- A push that deploys moves running -> deploying -> succeeded (ready) | failed; a follow-up message
  checks it, writing the row each time (conditional on its ETag, so one follow-up chain survives).
- A running row is held by its worker while its short lease runs: the worker renews it (`renewed`,
  shared.engine.lease) while its AzureML call runs, so a crashed worker's row is taken over within a
  `LEASE` of its last renewal, never while a live worker still holds it (`held`). A queued, retrying or
  deploying row not written for `WAIT_LIMIT` lost its message (`abandoned`): it is sent again.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.domain import LedgerStatus
from shared.records import LedgerEntry

# A claim lasts LEASE past its last renewal; its worker renews it every LEASE_RENEWAL while its AzureML
# call runs (a third of the lease: two renewals may fail before anyone takes the row over). So a
# crashed worker's row is taken over about a minute after the crash, by the redelivered message.
LEASE = timedelta(seconds=60)
LEASE_RENEWAL = LEASE / 3
LEASE_SECONDS = int(LEASE.total_seconds())
# A queued, retrying or deploying row waits on a queue message (Retry-After delays, follow-up checks
# every REGSYNC_DEPLOYMENT_POLL_SECONDS): only one not written for this long lost its message.
WAIT_LIMIT = timedelta(minutes=15)

S = LedgerStatus
_QUEUED = frozenset({S.PENDING, S.AWAITING_APPROVAL})
ALLOWED: dict[LedgerStatus | None, frozenset[LedgerStatus]] = {
    None: frozenset({S.PENDING, S.AWAITING_APPROVAL, S.RUNNING, S.SUCCEEDED, S.CONFLICT, S.REFUSED}),
    S.PENDING: frozenset({S.PENDING, S.RUNNING, S.SUCCEEDED, S.REFUSED}),
    S.AWAITING_APPROVAL: frozenset({S.PENDING, S.REFUSED}),
    S.RUNNING: frozenset(
        {S.RUNNING, S.PENDING, S.RETRYING, S.DEPLOYING, S.SUCCEEDED, S.FAILED, S.CONFLICT, S.REFUSED}
    ),
    # A started deployment: checked again (deploying), ready (succeeded, traffic moved), failed (Azure's
    # reason, or the deadline passed), no longer allowed by the rules (refused: traffic never moved), or
    # queued again by the reconcile when its follow-up was lost (abandoned: not written for a lease).
    S.DEPLOYING: frozenset({S.DEPLOYING, S.PENDING, S.SUCCEEDED, S.FAILED, S.REFUSED}),
    S.RETRYING: frozenset({S.RUNNING, S.PENDING, S.SUCCEEDED, S.FAILED, S.REFUSED}),
    S.FAILED: frozenset({S.PENDING, S.RUNNING, S.SUCCEEDED}),
    S.REFUSED: frozenset({S.PENDING, S.AWAITING_APPROVAL, S.RUNNING, S.REFUSED}),
    S.SUCCEEDED: frozenset({S.SUCCEEDED}),
    # A share recorded as a conflict whose registry version turns out to be our own (a retried share
    # whose first response was lost) is done after all.
    S.CONFLICT: frozenset({S.CONFLICT, S.SUCCEEDED}),
}
# A recall (shared.planner.recall) ends any row no worker holds. A recalled row is queued again only when
# the rules allow the version there again: after a fleet-wide recall its tombstone never does; after a
# removed rule's `on_remove: recall`, a rule that delivers it again may.
RECALLABLE = frozenset(set(LedgerStatus) - {S.RUNNING, S.CONFLICT, S.RECALLED})  # a conflict is not our copy
ALLOWED = {
    start: targets | {S.RECALLED} if start in RECALLABLE else targets for start, targets in ALLOWED.items()
} | {S.RECALLED: frozenset({S.RECALLED, S.PENDING, S.AWAITING_APPROVAL})}
# Self-heal (shared.planner.drift, rules with `self_heal: true`): a delivered copy or deployment deleted
# by hand is queued again.
ALLOWED[S.SUCCEEDED] = ALLOWED[S.SUCCEEDED] | {S.PENDING}
# Moves into a queued status that start a new round: the work failed or was refused before.
_NEW_ROUND_FROM = frozenset({S.FAILED, S.REFUSED, S.RECALLED})


class IllegalTransitionError(ValueError):
    """A move `ALLOWED` does not list: a bug in the caller, never an input problem."""


def held(row: LedgerEntry | None, now: datetime) -> bool:
    """Is the row claimed by a worker whose lease still runs?"""
    return (
        row is not None and row.status is S.RUNNING and row.updated is not None and now - row.updated <= LEASE
    )


def abandoned(row: LedgerEntry, now: datetime) -> bool:
    """Running past its lease (its worker crashed), or queued, retrying or deploying for longer than
    `WAIT_LIMIT` (its message was lost): send it again."""
    if row.status is S.RUNNING:
        return not held(row, now)
    in_flight = row.status in {S.PENDING, S.RETRYING, S.DEPLOYING}
    return in_flight and (row.updated is None or now - row.updated > WAIT_LIMIT)


def lease_left_seconds(row: LedgerEntry | None, now: datetime) -> int:
    """Whole seconds until a held row's lease runs out (at least 1): when to look at it again."""
    if row is None or not held(row, now) or row.updated is None:
        return 1
    return max(1, math.ceil((row.updated + LEASE - now).total_seconds()))


def renewed(row: LedgerEntry, now: datetime) -> LedgerEntry:
    """The claimed row with its lease renewed: only its time moves (no new attempt, same ETag, so the
    write is conditional on the row still being this worker's)."""
    if row.status is not S.RUNNING:
        raise IllegalTransitionError(
            f"ledger row {row.asset_key} -> {row.target}: only a running row has a lease"
        )
    return replace(row, updated=now)


def transition(
    row: LedgerEntry | None,
    to: LedgerStatus,
    *,
    key: str,
    target: str,
    now: datetime,
    message: str,
    event_id: str = "",
    correlation_id: str = "",
    detail: dict[str, Any] | None = None,
) -> LedgerEntry:
    """The row after moving `row` (None: no row yet) to status `to`. Keeps the ETag of `row`, so the
    write is conditional on nobody having changed it since it was read."""
    current = row.status if row else None
    if to not in ALLOWED[current]:
        move = f"{current.value if current else 'no row'} -> {to.value}"
        raise IllegalTransitionError(f"ledger row {key} -> {target}: {move} is not a legal move")
    base = row or LedgerEntry(key, target, to, attempts=0, rounds=1)
    attempts, rounds, started = base.attempts, base.rounds, base.started
    if row is not None and to in _QUEUED and row.status in _NEW_ROUND_FROM:
        attempts, rounds = 0, row.rounds + 1
    if to is S.RUNNING:
        attempts, started = attempts + 1, now
    return replace(
        base,
        status=to,
        attempts=attempts,
        rounds=rounds,
        message=message,
        started=started,
        updated=now,
        finished=now if to.final else None,
        event_ids=base.with_event(event_id),
        correlation_id=correlation_id or base.correlation_id,
        detail={**base.detail, **(detail or {})},
    )
