"""What every plan is made from and answers with: the world (inventory and rules, read once), the
retry policies, the outcome, audit line and outbound event builders, and small version helpers. Pure.

Who uses it: the other planner modules and the engine's use cases.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from shared.domain import Asset, AssetRef, LedgerStatus, Registry, Workspace
from shared.policy import (
    Policy,
)
from shared.records import (
    Action,
    AuditRecord,
    OutboundEvent,
    Outcome,
    Status,
    Tombstone,
    digest,
)
from shared.steps import Record

S = LedgerStatus
# Part of every world's fingerprint: decisions made before ownership of names existed are judged again
# (once) under it, which is when the reconcile adopts the names published before.
DECISION_RULES = "names-owned"
MAX_AUTOMATIC_ROUNDS = 2  # the reconcile queues a failed push afresh once; after that a person decides


class Retry(StrEnum):
    """May a failed push be queued afresh?"""

    NEVER = "never"  # an event: the reconcile or a person decides
    AUTOMATIC = "automatic"  # the reconcile: while the row has had fewer than MAX_AUTOMATIC_ROUNDS
    ALWAYS = "always"  # a person asked (sync, pull)


@dataclass(frozen=True)
class World:
    """Inventory and policy for one operation, read once at its start."""

    registry: Registry
    policy: Policy
    workspaces: Mapping[str, Workspace]
    recalled: Mapping[str, Tombstone] = field(default_factory=dict)  # by asset key: never delivered

    def with_tombstone(self, tombstone: Tombstone | None) -> World:
        """This world knowing of one more recall (read just before acting, fresher than the world)."""
        if tombstone is None or tombstone.asset_key in self.recalled:
            return self
        return replace(self, recalled={**self.recalled, tombstone.asset_key: tombstone})

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever a rule, a workspace or the registry changes: memos made under another world
        no longer hold (a new subscriber, a workspace moved to prod, a region added)."""
        parts = [DECISION_RULES, self.policy.fingerprint, self.registry.model_dump_json()]
        parts += [self.workspaces[name].model_dump_json() for name in sorted(self.workspaces)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def answer(action: Action, ref: AssetRef | str, target: str, status: Status, reason: str) -> Outcome:
    return Outcome(action, str(ref), target, status, reason)


def audit_line(
    outcome: Outcome, actor: str = "regsync", correlation_id: str = "", *, tenant: str | None = None
) -> AuditRecord:
    """The outcome's audit line, concerning `tenant` (the origin's or the target's; None: provider only)."""
    return AuditRecord(
        outcome.action,
        outcome.status,
        outcome.reason,
        subject=outcome.subject,
        target=outcome.target,
        actor=actor,
        correlation_id=correlation_id,
        tenants=(tenant,) if tenant else (),
    )


def outbound_event(event_type: str, ref: AssetRef, data: Mapping[str, str]) -> OutboundEvent:
    return OutboundEvent(event_type=event_type, subject=str(ref), data=dict(data), id=uuid.uuid4().hex)


def read_digest(asset: Asset, policy: Policy) -> str:
    """What a decision about `asset` read of it, as a digest: the tags the rules look at. "" when no
    rule looks at tags, so a memo then holds without reading the asset again."""
    keys = sorted(policy.tag_keys)
    return digest({key: asset.tags.get(key, "\x00absent") for key in keys}) if keys else ""


def recorded(
    outcome: Outcome,
    *,
    actor: str = "regsync",
    correlation_id: str = "",
    tenant: str | None = None,
    once: bool = False,
) -> Record:
    """An outcome with its audit line (a pull, a sync, a refusal a person asked for). `once`: an
    identical record within the refusal window is not written again (a refusal asked for repeatedly)."""
    return Record(outcome, audit_line(outcome, actor, correlation_id, tenant=tenant), once=once)


def oldest_version(versions: Iterable[str]) -> str | None:
    """The first version a name had: the smallest, if all are AzureML's integers; else the last listed
    (AzureML lists versions newest first)."""
    listed = list(versions)
    if not listed:
        return None
    if all(version.isdigit() for version in listed):
        return min(listed, key=int)
    return listed[-1]


def newest_numeric(version: str, others: Iterable[str]) -> str:
    """Under `latest`, AzureML's own integer versions compare as numbers, whatever their creation order:
    an older version shared late must not replace a newer one. Other versions keep creation order.
    The answer is one of the versions given, as written (`010` stays `010`)."""
    return max((candidate for candidate in (version, *others) if candidate.isdigit()), key=int)
