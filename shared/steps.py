"""The plan as a value: the typed steps the planner returns and apply carries out.

Who uses it: shared.planner builds lists of these (pure); shared.engine.apply executes them (the only
writer); a dry run returns their previews. Each step carries everything apply needs, including the
audit line it will write, so what a plan says and what apply does cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain import Asset, AssetRef, Registry, Workspace
from shared.policy import NameOwners, PushAction
from shared.records import (
    AuditRecord,
    LedgerEntry,
    Memo,
    OutboundEvent,
    Outcome,
    PushMessage,
    Status,
    Tombstone,
)


@dataclass(frozen=True)
class Report:
    """Nothing to write: done already, not ours, or a decision nobody needs recorded again."""

    outcome: Outcome
    name: str = ""  # the planned step's name in a preview; "" shows the outcome as it is


@dataclass(frozen=True)
class Record:
    """An audit line and/or a memo, no ledger change: refusals, ignored events, a fan-out summary."""

    outcome: Outcome | None
    audit: AuditRecord | None = None
    memo: tuple[str, Memo] | None = None
    name: str = ""
    once: bool = False  # the audit line is written once per refusal window (a refusal asked for again)
    watermark: tuple[str, datetime] | None = None  # how far the reconcile's timer has read (key, time)


@dataclass(frozen=True)
class WriteRow:
    """One ledger transition (create if `before` is None, else conditional on its ETag), then maybe a
    push message and an audit line. Losing the race to another worker means that worker does it."""

    outcome: Outcome
    before: LedgerEntry | None
    after: LedgerEntry
    name: str
    audit: AuditRecord | None = None
    send: PushMessage | None = None
    delay_seconds: int = 0
    must_win: bool = False  # an approval must not be lost: a lost race is a temporary failure


@dataclass(frozen=True)
class Defer:
    """Send a push message again later: its row is held by another worker right now."""

    outcome: Outcome
    message: PushMessage
    delay_seconds: int
    name: str = "defer"


@dataclass(frozen=True)
class Share:
    """Claim the share row, copy the asset into the registry (or only stamp its provenance), settle."""

    outcome: Outcome
    origin: Workspace
    source: Asset
    registry: Registry
    destination: AssetRef
    tags: dict[str, str]
    row: LedgerEntry | None
    stamp_only: bool
    event_id: str
    correlation_id: str
    owners: NameOwners  # who owns the destination name, as planned: apply's claim must agree
    name: str = "share"
    require_signature: str | None = None  # the share rule's `require_signature` (`tenant`)


@dataclass(frozen=True)
class Push:
    """Claim the push row, make the registry asset available in the target workspace, settle."""

    outcome: Outcome
    message: PushMessage
    row: LedgerEntry | None
    target: Workspace
    registry: Registry
    action: PushAction
    tags: dict[str, str]
    rule_id: str
    name: str = "push"
    verify: bool = False  # verify the registry copy's signature and bytes first (the action's rule)


@dataclass(frozen=True)
class Follow:
    """Check a started deployment (its row is `deploying`): still provisioning -> check again later;
    not started (its endpoint was not ready) -> start it; ready -> move its traffic, succeed; failed or
    past the deadline -> fail with Azure's reason (the old deployment keeps serving)."""

    outcome: Outcome
    message: PushMessage
    row: LedgerEntry
    target: Workspace
    registry: Registry
    action: PushAction
    tags: dict[str, str]
    name: str = "follow"


@dataclass(frozen=True)
class Claim:
    """Write down who owns a registry name that was published before ownership existed (its oldest
    version's provenance tenant), insert-if-absent, with one audit line."""

    owners: NameOwners
    tenant: str
    audit: AuditRecord
    outcome: None = None
    name: str = ""


@dataclass(frozen=True)
class Bury:
    """Record a recall's tombstone (insert-if-absent: the first recall's record stands), its audit line
    and its Recalled event. Planned first, so nothing delivers the version while it is taken back."""

    outcome: Outcome
    tombstone: Tombstone
    audit: AuditRecord
    event: OutboundEvent
    name: str = "tombstone"


@dataclass(frozen=True)
class Retire:
    """Take a recalled version back from one workspace (archive its copy, move its endpoint's traffic or
    default to `fallback`, or remove its deployment), then write its row `recalled` and an audit line."""

    outcome: Outcome
    row: LedgerEntry
    after: LedgerEntry
    target: Workspace
    registry: Registry
    ref: AssetRef
    action: PushAction
    fallback: str | None
    audit: AuditRecord
    name: str = "retire"


@dataclass(frozen=True)
class ArchiveInRegistry:
    """Tag a recalled registry version and archive it, with an audit line."""

    outcome: Outcome
    registry: Registry
    ref: AssetRef
    tags: dict[str, str]
    audit: AuditRecord
    name: str = "archive"


@dataclass(frozen=True)
class Repromote:
    """Self-heal: give RegSync's deployment of `ref` its traffic (batch: the default) back."""

    outcome: Outcome
    target: Workspace
    action: PushAction
    ref: AssetRef
    audit: AuditRecord
    name: str = "repromote"


RecallStep = Bury | Retire | ArchiveInRegistry | Repromote
Step = Report | Record | WriteRow | Defer | Share | Push | Follow | Claim | RecallStep


@dataclass(frozen=True)
class Settlement:
    """How a claimed row ends after its AzureML call: the row to write and what follows from it."""

    outcome: Outcome
    row: LedgerEntry
    audit: AuditRecord | None = None
    event: OutboundEvent | None = None
    resend: PushMessage | None = None
    delay_seconds: int = 0


def preview(step: Step) -> Outcome | None:
    """What a dry run shows for a step: `planned:NAME`, or the outcome itself for final answers."""
    if step.outcome is None or not step.name:
        return step.outcome
    return replace(step.outcome, status=Status.PLANNED, step=step.name)
