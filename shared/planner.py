"""Desired state minus actual state -> the next steps. Pure: no I/O, no Azure import.

Who calls it: the engine, after it has observed the origin workspace, the registry and the ledger, and
after the policy has decided. In the spirit of gitops-engine's sync: the diff is a pure function, apply
is the engine's job, and "already there with the same content" counts as done. Provenance tags live here
too, because the planner reads them back to tell our own registry versions from someone else's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain import Asset, AssetRef, LedgerStatus, Workspace
from shared.policy import Gate, PushDecision, ShareDecision, version_wanted

TAG_PREFIX = "regsync."
TAG_TENANT = "regsync.origin.tenant"
TAG_WORKSPACE = "regsync.origin.workspace"
TAG_NAME = "regsync.origin.name"
TAG_VERSION = "regsync.origin.version"
TAG_JOB = "regsync.origin.job"
TAG_RULE = "regsync.rule"
TAG_CORRELATION = "regsync.correlation"
TAG_REGISTRY_ID = "regsync.registry.asset"

# A ledger row that says "pending" or "running" for longer than this was abandoned (a crash, a lost
# message): the next reconcile or redelivered event takes it over. Longer than host.json's
# functionTimeout (10 min), so a push still running is never taken over.
DEFAULT_LEASE = timedelta(minutes=15)


def provenance_tags(
    source: Asset, origin: Workspace, *, rule_id: str | None, correlation_id: str
) -> dict[str, str]:
    """Tags stamped on what RegSync creates, so anyone can trace it back to where it came from."""
    tags = {
        TAG_TENANT: origin.tenant,
        TAG_WORKSPACE: origin.name,
        TAG_NAME: source.ref.name,
        TAG_VERSION: source.ref.version,
        TAG_RULE: rule_id or "",
        TAG_CORRELATION: correlation_id,
    }
    if source.job_name:
        tags[TAG_JOB] = source.job_name
    return tags


@dataclass(frozen=True)
class Origin:
    """Where a registry asset came from, read back from its provenance tags."""

    workspace: str
    name: str
    version: str


def origin_of(tags: Mapping[str, str]) -> Origin | None:
    if not all(tags.get(key) for key in (TAG_WORKSPACE, TAG_NAME, TAG_VERSION)):
        return None
    return Origin(tags[TAG_WORKSPACE], tags[TAG_NAME], tags[TAG_VERSION])


# --- share ------------------------------------------------------------------------------------


def registry_copy(source: Asset) -> str | None:
    """Why `source` must not be shared, if it is RegSync's own copy of a registry asset (else None)."""
    registry_id = source.tags.get(TAG_REGISTRY_ID)
    if not registry_id:
        return None
    return f"{source.ref} is RegSync's copy of {registry_id}; copies are never shared back"


class ShareStep(StrEnum):
    REFUSE = "refuse"  # the policy (or the region) says no
    SHARE = "share"  # not in the registry yet: share it
    STAMP = "stamp"  # in the registry from us, provenance not stamped yet (a share cut short)
    DONE = "done"  # in the registry from this very origin: nothing to do
    CONFLICT = "conflict"  # a different asset holds the destination name and version


@dataclass(frozen=True)
class SharePlan:
    step: ShareStep
    reason: str
    destination: AssetRef | None = None


def plan_share(
    decision: ShareDecision,
    source: Asset,
    origin: Workspace,
    in_registry: Asset | None,
    share_row_status: LedgerStatus | None,
) -> SharePlan:
    """What to do about sharing `source` from `origin`, given what the registry and the ledger hold."""
    copy_reason = registry_copy(source)
    if copy_reason:
        return SharePlan(ShareStep.REFUSE, copy_reason)
    if not decision.allowed or decision.destination is None:
        return SharePlan(ShareStep.REFUSE, decision.reason)
    destination = decision.destination
    if in_registry is None:
        return SharePlan(ShareStep.SHARE, decision.reason, destination)
    found = origin_of(in_registry.tags)
    wanted = Origin(origin.name, source.ref.name, source.ref.version)
    if found == wanted:
        return SharePlan(
            ShareStep.DONE, f"{destination.name}:{destination.version} is already shared", destination
        )
    if found is None and share_row_status in {LedgerStatus.RUNNING, LedgerStatus.RETRYING}:
        return SharePlan(
            ShareStep.STAMP, "our share was cut short before its provenance was stamped", destination
        )
    holder = (
        f"{found.workspace}'s {found.name}:{found.version}" if found else "an asset RegSync did not share"
    )
    return SharePlan(
        ShareStep.CONFLICT,
        f"registry {destination.kind.value} {destination.name}:{destination.version} already holds {holder}; "
        f"registry versions are immutable, so {origin.name}'s {source.ref.name}:{source.ref.version} "
        "needs another version or a destination naming rule",
        destination,
    )


# --- fan-out ----------------------------------------------------------------------------------


def newest_numeric(version: str, others: Iterable[str]) -> str:
    """Under `latest`, AzureML's own integer versions compare as numbers, whatever their creation order:
    an older version shared late must not replace a newer one. Other versions keep creation order."""
    numbers = [int(other) for other in (version, *others) if other.isdigit()]
    return str(max(numbers))


class FanoutStep(StrEnum):
    ENQUEUE = "enqueue"  # no row yet: create it pending and send a push message
    AWAIT_APPROVAL = "await_approval"  # no row yet, gated: create it awaiting approval, send nothing
    REQUEUE = "requeue"  # a row exists but its work was abandoned or failed and may be retried
    SKIP = "skip"  # done, in flight, waiting for approval, or not wanted


@dataclass(frozen=True)
class FanoutPlan:
    target: str
    step: FanoutStep
    reason: str
    decision: PushDecision


def plan_fanout(
    decisions: Iterable[PushDecision],
    rows: Mapping[str, LedgerStatusView],
    *,
    version: str,
    latest_version: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    retry_failed_below: int = 0,
) -> list[FanoutPlan]:
    """One plan per allowed target that wants this version; refusals are the caller's to report.

    `rows` maps a target workspace to its ledger row's state. `retry_failed_below` > 0 lets the
    reconcile retry failed pushes that have had fewer attempts than that.
    """
    plans = []
    for decision in decisions:
        if not decision.allowed or not version_wanted(decision, version, latest_version):
            continue
        row = rows.get(decision.target)
        plans.append(
            FanoutPlan(
                decision.target, *_fanout_step(decision, row, now, lease, retry_failed_below), decision
            )
        )
    return plans


@dataclass(frozen=True)
class LedgerStatusView:
    """The part of a ledger row the planner needs."""

    status: LedgerStatus
    attempts: int
    updated: datetime | None


def _fanout_step(
    decision: PushDecision, row: LedgerStatusView | None, now: datetime, lease: timedelta, retry_below: int
) -> tuple[FanoutStep, str]:
    if row is None:
        if decision.gate is Gate.APPROVAL:
            return FanoutStep.AWAIT_APPROVAL, f"{decision.reason}: waits for approval"
        return FanoutStep.ENQUEUE, decision.reason
    stale = row.updated is None or now - row.updated > lease
    if row.status in {LedgerStatus.PENDING, LedgerStatus.RUNNING, LedgerStatus.RETRYING} and stale:
        return FanoutStep.REQUEUE, f"{row.status.value} since {row.updated}: abandoned, sent again"
    if row.status is LedgerStatus.FAILED and row.attempts < retry_below:
        return FanoutStep.REQUEUE, f"failed after {row.attempts} attempt(s): retried"
    if row.status is LedgerStatus.REFUSED:
        return FanoutStep.REQUEUE, "refused earlier, allowed now"
    return FanoutStep.SKIP, f"{row.status.value}"


# --- one push -------------------------------------------------------------------------------------


class PushStep(StrEnum):
    CLAIM = "claim"  # take the row (running, attempts + 1) and do the push
    DONE = "done"  # already succeeded: a duplicate message
    BUSY = "busy"  # another worker holds a fresh claim: try again later
    HOLD = "hold"  # waiting for approval or in conflict: nothing to do (a refused row is re-judged)


def plan_push(row: LedgerStatusView | None, *, now: datetime, lease: timedelta = DEFAULT_LEASE) -> PushStep:
    if row is None:
        return PushStep.CLAIM
    if row.status is LedgerStatus.SUCCEEDED:
        return PushStep.DONE
    if row.status in {LedgerStatus.AWAITING_APPROVAL, LedgerStatus.CONFLICT}:
        return PushStep.HOLD
    if row.status is LedgerStatus.RUNNING and row.updated is not None and now - row.updated <= lease:
        return PushStep.BUSY
    return PushStep.CLAIM
