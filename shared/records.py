"""RegSync's vocabulary: what it writes down (ledger rows, audit records, memos), what it sends (queue
messages, outbound events) and what it answers (outcomes). Pure values, no I/O.

Who uses it: every layer. The planner builds these values, apply writes them through the ports, the
storage adapter maps them to table entities, the API and the CLI render outcomes. Statuses and actions
are enums here, once, so no module compares free strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain import AssetKind, AssetRef, LedgerStatus

MAX_EVENT_IDS = 20
# The most tag text a push message carries (a queue message holds 64 KiB, base64-encoded): more is read
# from the registry by the push instead.
MAX_CARRIED_TAG_CHARS = 8192  # a ledger row remembers the latest event ids that touched it, not all of them
SHARE_TARGET = "share"  # the ledger row of an asset's share to the registry
PUSH_TARGET_PREFIX = "push|"  # the ledger rows of an asset's pushes: `push|{workspace}`
CONFLICT_TARGET_PREFIX = "conflict|"  # a share that found its destination taken: `conflict|{workspace}`
REGISTRY_SCOPE = "@registry"  # the memo partition of the registry's push side


def carried(tags: Mapping[str, str]) -> dict[str, str] | None:
    """`tags` as a push message carries them, or None when they are too big to carry."""
    size = sum(len(key) + len(value) for key, value in tags.items())
    return dict(tags) if size <= MAX_CARRIED_TAG_CHARS else None


def utc_now() -> datetime:
    return datetime.now(UTC)


def push_target(workspace: str) -> str:
    return f"{PUSH_TARGET_PREFIX}{workspace}"


class Action(StrEnum):
    """What an outcome or an audit record is about."""

    SHARE = "share"
    PUSH = "push"
    FANOUT = "fanout"
    PULL = "pull"
    APPROVE = "approve"
    EVENT = "event"
    RECONCILE = "reconcile"
    SYNC = "sync"
    PUBLISH = "publish"
    RECALL = "recall"
    ROLLOUT = "rollout"


class Status(StrEnum):
    """How a step ended (or, in a plan, would end). Ledger statuses, plus the ones no row records."""

    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    DEPLOYING = "deploying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CONFLICT = "conflict"
    AWAITING_APPROVAL = "awaiting_approval"
    REFUSED = "refused"
    RECALLED = "recalled"
    DONE = "done"  # nothing to do: already as wanted
    IGNORED = "ignored"  # not ours to act on (a foreign topic, our own copy)
    SKIPPED = "skipped"  # not now (e.g. a share still in flight fans out later)
    SCHEDULED = "scheduled"  # queued for a worker
    PLANNED = "planned"  # a dry run: `step` says what would happen

    @classmethod
    def of(cls, status: LedgerStatus) -> Status:
        return cls(status.value)


@dataclass(frozen=True)
class Outcome:
    """What one step did, or in a plan would do. Returned to the triggers, the HTTP API and the CLI."""

    action: Action
    subject: str
    target: str
    status: Status
    reason: str
    step: str = ""  # the planned step, for Status.PLANNED

    @property
    def label(self) -> str:
        """The status as printed and as the API answers it: `planned:STEP` in a plan."""
        return f"planned:{self.step}" if self.status is Status.PLANNED else self.status.value

    def as_dict(self) -> dict[str, str]:
        return {
            "action": self.action.value,
            "subject": self.subject,
            "target": self.target,
            "status": self.label,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        status, _, step = str(data["status"]).partition(":")
        return cls(
            action=Action(data["action"]),
            subject=str(data["subject"]),
            target=str(data["target"]),
            status=Status(status),
            reason=str(data["reason"]),
            step=step,
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One (registry asset version, target) row: `share` for the registry, `push|{ws}` for a workspace.

    Only shared.ledger.transition makes new values of it; apply writes them with ETag conditions.
    """

    asset_key: str
    target: str
    status: LedgerStatus
    attempts: int = 0  # attempts of the current round
    rounds: int = 1  # how many times the work was queued afresh (a retried failure starts a new round)
    message: str = ""
    started: datetime | None = None
    finished: datetime | None = None
    updated: datetime | None = None
    event_ids: tuple[str, ...] = ()
    correlation_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None

    @property
    def workspace(self) -> str | None:
        """The target workspace of a push row; None for share and conflict rows."""
        return (
            self.target.removeprefix(PUSH_TARGET_PREFIX)
            if self.target.startswith(PUSH_TARGET_PREFIX)
            else None
        )

    def with_event(self, event_id: str | None) -> tuple[str, ...]:
        if not event_id or event_id in self.event_ids:
            return self.event_ids
        return (*self.event_ids, event_id)[-MAX_EVENT_IDS:]


@dataclass(frozen=True)
class AuditRecord:
    """One decision or action, including refusals and ignored events. Never updated."""

    action: str  # an Action, or an administrative verb (`rules`)
    outcome: str  # a Status, or an administrative result (`stored`, `removed`)
    reason: str
    subject: str = ""
    target: str = ""
    actor: str = "regsync"
    correlation_id: str = ""
    at: datetime = field(default_factory=utc_now)
    # The tenants the record concerns (the origin's for a share, the target's for a push or pull, the
    # caller's for its rule changes): each gets a copy in its own audit partition. Empty: provider only.
    tenants: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What the record says, without when or in which correlation: identical refusals share it."""
        said = (self.action, self.outcome, self.reason, self.subject, self.target, self.actor)
        return digest({str(index): str(value) for index, value in enumerate(said)})


def digest(values: Mapping[str, str]) -> str:
    """A short, order-independent fingerprint of what a decision read (e.g. an asset's tags)."""
    return hashlib.sha256(json.dumps(dict(values), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Memo:
    """What the reconcile already judged: one asset version, under policy `fingerprint`, having read
    inputs with `read_digest`. Valid only while BOTH are unchanged (a re-tagged asset is judged again)."""

    asset_key: str
    fingerprint: str
    read_digest: str
    outcome: Status

    def holds(self, fingerprint: str, read_digest: str) -> bool:
        return self.fingerprint == fingerprint and self.read_digest == read_digest


class Message(BaseModel):
    """A queue message. `traceparent` is the W3C trace context of the span that queued it (stamped when
    it is sent, shared.telemetry), so the worker's span joins the trace of the event that caused it.

    Fields a newer release adds are ignored, not refused: during a rolling deploy an older worker may
    receive a newer message, and refusing it would drop the work (required fields are still checked)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ReconcileMessage(Message):
    """One unit of reconcile work: a workspace's share side, or the registry's push side."""

    scope: Literal["workspace", "registry"]
    name: str = ""
    correlation_id: str
    traceparent: str = ""


class PushMessage(Message):
    """One push, as queued for the push worker. `attempt` counts within the ledger row's round and is
    the one source of truth for "last attempt" (settings.max_push_attempts), not the queue's dequeue count.
    """

    kind: AssetKind
    name: str
    version: str
    target: str
    correlation_id: str
    event_id: str = ""
    attempt: int = Field(default=1, ge=1)
    traceparent: str = ""
    # When the propagation began: the event's time if an event caused it, else when the push was first
    # queued. Re-sent attempts keep it; the propagation latency metric measures from it.
    origin_time: datetime | None = None
    # 0: a push. n > 0: the n-th delayed check of a started deployment (its row is `deploying` and
    # remembers n as `checks`: a stale or duplicate check finds another number and does nothing).
    follow: int = Field(default=0, ge=0)
    # The registry version's tags as the fan-out read them, so the push checks the rules again without
    # reading the version again. None (older messages, approvals, tags too big to carry): it reads them.
    tags: dict[str, str] | None = None
    # True: the watch of a claimed push, sent with the lease's delay when the push is claimed. It takes
    # the push over if its worker stopped renewing the claim (a crash); otherwise it does nothing.
    watch: bool = False

    @property
    def ref(self) -> AssetRef:
        return AssetRef(kind=self.kind, name=self.name, version=self.version)


class OutboundEvent(Message):
    """One of RegSync's own events, as queued for the publisher (the queue is the outbox)."""

    event_type: str
    subject: str
    data: dict[str, str]
    id: str
    traceparent: str = ""


ASSET_SHARED = "RegSync.AssetShared"
ASSET_PUSHED = "RegSync.AssetPushed"
PUSH_FAILED = "RegSync.PushFailed"
ASSET_RECALLED = "RegSync.AssetRecalled"


@dataclass(frozen=True)
class Tombstone:
    """A recalled registry asset version (`KIND:NAME:VERSION`): who recalled it, when and why. While it
    exists no event, reconcile, pull or queued push delivers that version (shared.planner.recall)."""

    asset_key: str
    actor: str
    reason: str
    at: datetime
    tenant: str = ""  # the tenant that recalled it ("": the provider)
    correlation_id: str = ""
