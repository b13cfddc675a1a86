"""Progressive rollout: which targets of a push rule with waves (or maintenance windows) may receive a
version now. Pure.

Who calls it: shared.planner.fanout (`plan_fanout`), for every fan-out (an event's, the reconcile's, a
person's sync, a pull). A target in wave k is held until every target of the earlier waves (among all
the world's workspaces, which the decision carries: a fan-out narrowed to one workspace sees no other
decision, and before the canary starts no row either) has its push row
`succeeded` (a deployment: ready and taking the traffic) for at least the rule's `wait_healthy`. A failed
(or conflicting) earlier target stops the rollout until an operator resumes it (`regsync rollout
resume`, a `rollout|RULE` row in the version's ledger partition, which the fan-out reads anyway) or
recalls the version. Held targets get no row: the reconcile judges the version again on each pass (no
memo is kept while something is held), which is how the next wave starts. A target with maintenance
windows (the rule's `maintenance`, or its workspace entry's own) is held the same way while none of
the rule's windows, or none of the workspace's, is open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from shared.domain import LedgerStatus, Window
from shared.policy import PushDecision
from shared.records import LedgerEntry

ROLLOUT_TARGET_PREFIX = "rollout|"  # `rollout|{rule}`: the rule's rollout of this version was resumed
_STOPPING = frozenset({LedgerStatus.FAILED, LedgerStatus.CONFLICT})


def rollout_target(rule_id: str) -> str:
    return f"{ROLLOUT_TARGET_PREFIX}{rule_id}"


def resumed_rules(entries: Iterable[LedgerEntry]) -> frozenset[str]:
    """The rules whose rollout of this version an operator resumed (from the version's ledger rows)."""
    return frozenset(
        entry.target.removeprefix(ROLLOUT_TARGET_PREFIX)
        for entry in entries
        if entry.target.startswith(ROLLOUT_TARGET_PREFIX)
    )


def hold_waves(
    decisions: list[PushDecision],
    rows: Mapping[str, LedgerEntry],
    resumed: frozenset[str],
    *,
    now: datetime,
) -> tuple[list[PushDecision], list[tuple[PushDecision, str]]]:
    """The decisions that may go now (a wave's say which wave they are in) and the held ones, with why."""
    going: list[PushDecision] = []
    held: list[tuple[PushDecision, str]] = []
    for decision in decisions:
        closed = _outside_windows(decision, now)
        if closed is not None:
            held.append((decision, closed))
            continue
        if not decision.allowed or decision.rollout is None:
            going.append(decision)
            continue
        label = f"rollout of rule {decision.rule_id}, wave {decision.wave + 1}"
        why = _waiting(decision, _earlier(decision, decisions, rows), rows, resumed, now)
        if why is None:
            going.append(replace(decision, reason=f"{decision.reason}; {label}"))
        else:
            held.append((decision, f"{label}: {why}"))
    return going, held


def _outside_windows(decision: PushDecision, now: datetime) -> str | None:
    """Why an allowed push into a workspace with maintenance windows waits: none of the rule's windows
    naming it is open, or none of the workspace's own (both must be, when both have windows)."""
    if not decision.allowed:
        return None
    closed = [
        f"outside {what}; the next opens at {_next_opening(windows, now)}"
        for what, windows in (
            (f"{decision.target}'s maintenance windows (rule {decision.rule_id})", decision.windows),
            (f"workspace {decision.target}'s own maintenance windows", decision.workspace_windows),
        )
        if windows and not any(window.open_at(now) for window in windows)
    ]
    return "; ".join(closed) or None


def _next_opening(windows: tuple[Window, ...], now: datetime) -> str:
    return min(window.next_opening(now) for window in windows).isoformat(timespec="minutes")


def _earlier(
    decision: PushDecision, decisions: list[PushDecision], rows: Mapping[str, LedgerEntry]
) -> dict[str, int]:
    """The targets of this rule's earlier waves: among all the world's workspaces (the decision knows
    them), this fan-out's, and those its rows remember (a target since moved out of the rule)."""
    earlier = dict(decision.earlier_waves)
    for other in decisions:
        if other.allowed and other.rule_id == decision.rule_id and other.wave < decision.wave:
            earlier.setdefault(other.target, other.wave)
    for workspace, row in rows.items():
        wave = row.detail.get("wave")
        if row.detail.get("rule") == decision.rule_id and isinstance(wave, int) and wave < decision.wave:
            earlier.setdefault(workspace, wave)
    return earlier


def _waiting(
    decision: PushDecision,
    earlier: dict[str, int],
    rows: Mapping[str, LedgerEntry],
    resumed: frozenset[str],
    now: datetime,
) -> str | None:
    assert decision.rollout is not None
    failed = sorted(ws for ws in earlier if (row := rows.get(ws)) is not None and row.status in _STOPPING)
    if failed and decision.rule_id not in resumed:
        first = rows[failed[0]]
        return (
            f"stopped: {failed[0]} (wave {earlier[failed[0]] + 1}) {first.status.value}: {first.message}; "
            "`regsync rollout resume` continues it, `regsync recall` takes the version back"
        )
    waiting = sorted(
        ws
        for ws in earlier
        if ws not in failed and ((row := rows.get(ws)) is None or row.status is not LedgerStatus.SUCCEEDED)
    )
    if waiting:
        states = ", ".join(
            f"{ws}: {rows[ws].status.value if ws in rows else 'not started'}" for ws in waiting
        )
        return f"waits for the earlier waves ({states})"
    finished = [
        row.finished
        for ws in earlier
        if (row := rows.get(ws)) is not None and row.status is LedgerStatus.SUCCEEDED and row.finished
    ]
    wait = timedelta(seconds=decision.rollout.wait_seconds)
    if finished and now < max(finished) + wait:
        until = (max(finished) + wait).isoformat(timespec="seconds")
        since = max(finished).isoformat(timespec="seconds")
        wanted = decision.rollout.wait_healthy
        return f"the earlier waves are healthy since {since}; waits until {until} (wait_healthy {wanted})"
    return None
