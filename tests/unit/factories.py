"""Builders for the pure engine's unit tests (ledger, planner, settlement): workspaces, assets, worlds,
ledger rows and push decisions with readable defaults, so each test states only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus, Registry, Workspace
from shared.ledger import WAIT_LIMIT
from shared.planner import World
from shared.policy import Gate, Policy, PushAction, PushDecision, PushRule, ShareRule, VersionPolicy
from shared.records import LedgerEntry, PushMessage, push_target

SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FRESH = NOW - timedelta(seconds=10)  # well within the lease
STALE = NOW - WAIT_LIMIT - timedelta(seconds=1)  # past a running row's lease and a waiting row's limit
REGISTRY = Registry(
    name="shared-registry", subscription_id=SUBSCRIPTION, resource_group="rg-ml", regions=("eastus",)
)
KEY = "model:credit-card-default:1"


def workspace(name: str, tenant: str = "contoso", *, region: str = "eastus", stage: str = "dev") -> Workspace:
    return Workspace(
        name=name,
        tenant=tenant,
        subscription_id=SUBSCRIPTION,
        resource_group="rg-ml",
        region=region,
        stage=stage,
    )


WS1 = workspace("workspace1")
WS3 = workspace("workspace3", "fabrikam")
WS4 = workspace("workspace4", "woodgrove", stage="prod")


def model(name: str = "credit-card-default", version: str = "1", **tags: str) -> Asset:
    return Asset(ref=AssetRef(kind=AssetKind.MODEL, name=name, version=version), tags=tags)


def world(
    share: tuple[ShareRule, ...] = (ShareRule(id="share-all"),),
    push: tuple[PushRule, ...] = (PushRule(id="push-all"),),
    workspaces: tuple[Workspace, ...] = (WS1, WS3, WS4),
) -> World:
    """By default every asset is shared and pushed everywhere, automatically."""
    return World(REGISTRY, Policy(share=share, push=push), {ws.name: ws for ws in workspaces})


def row(
    status: LedgerStatus,
    *,
    target: str = push_target("workspace3"),
    attempts: int = 1,
    rounds: int = 1,
    updated: datetime | None = FRESH,
    **fields: Any,
) -> LedgerEntry:
    """A ledger row as read from storage (with an ETag)."""
    return LedgerEntry(
        KEY,
        target,
        status,
        attempts=attempts,
        rounds=rounds,
        updated=updated,
        etag=fields.pop("etag", 'W/"1"'),
        **fields,
    )


def push_message(target: str = "workspace3", *, attempt: int = 1, version: str = "1") -> PushMessage:
    return PushMessage(
        kind=AssetKind.MODEL,
        name="credit-card-default",
        version=version,
        target=target,
        correlation_id="corr-1",
        event_id="evt-1",
        attempt=attempt,
    )


def decision(
    target: str,
    *,
    allowed: bool = True,
    gate: Gate = Gate.AUTOMATIC,
    version_policy: VersionPolicy = VersionPolicy.LATEST,
    pinned_version: str | None = None,
    reason: str = "",
) -> PushDecision:
    """A push decision built directly: the policy has its own tests."""
    if not allowed:
        return PushDecision(False, reason or f"not subscribed: nothing sends to {target}", target)
    return PushDecision(
        True,
        f"pushed by rule `push-{target}` of the provider",
        target,
        rule_id=f"push-{target}",
        action=PushAction(),
        gate=gate,
        version_policy=version_policy,
        pinned_version=pinned_version,
    )
