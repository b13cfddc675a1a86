"""Every use case of the engine on the in-memory ports: events, propagation, the reconcile, one push,
sync, pull and approve. Fast; the same flows run on Azurite and the emulator in tests/integration."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.auth import Caller, ForbiddenError
from shared.domain import AssetKind, LedgerStatus
from shared.engine import PROVIDER, SyncScope
from shared.errors import ConflictError, NotFoundError
from shared.events import IgnoredEvent
from shared.policy import AssetSelector, Gate, PushRule, ShareRule, Targets
from shared.records import ASSET_SHARED, Action, Status
from tests.engine.conftest import World, model

SHARE_ALL = ShareRule(id="share-all")
TO_WS3 = PushRule(id="to-ws3", targets=Targets(workspaces=("workspace3",)))


def test_an_ignored_event_is_audited_and_changes_nothing(world: World) -> None:
    event = IgnoredEvent(
        event_id="e1",
        event_type="Microsoft.Storage.BlobCreated",
        subject="models/x:1",
        reason="not an asset event",
    )
    [outcome] = world.engine.handle_event(event, correlation_id="c")
    assert (outcome.action, outcome.status) == (Action.EVENT, Status.IGNORED)
    assert world.audited("event", "ignored") == ["not an asset event"] and world.state.ledger == {}


def test_an_event_of_a_workspace_regsync_does_not_manage_is_ignored(world: World) -> None:
    event = world.register("workspace1", model("churn"))
    elsewhere = "/subscriptions/x/resourceGroups/y/providers/Microsoft.MachineLearningServices/workspaces/zz"
    foreign = replace(event, workspace_arm_id=elsewhere)
    [outcome] = world.engine.handle_event(foreign, correlation_id="c")
    assert outcome.status is Status.IGNORED and "not a workspace RegSync manages" in outcome.reason


def test_an_event_shares_stamps_provenance_and_fans_out(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    asset = model("churn", team="risk")
    outcomes = world.engine.handle_event(world.register("workspace1", asset), correlation_id="c")
    assert [(o.action, o.target, o.status) for o in outcomes if o.status is not Status.REFUSED] == [
        (Action.SHARE, "regsync-registry", Status.SUCCEEDED),
        (Action.PUSH, "workspace3", Status.PENDING),
    ]
    # Refusals an operator wants to see one by one come along; "not subscribed" stays silent.
    assert {o.target for o in outcomes if o.status is Status.REFUSED} == {"workspace1", "workspace5"}
    shared = world.catalog.get_registry_asset(world.state.registry, asset.ref)  # type: ignore[arg-type]
    assert shared is not None and shared.tags["team"] == "risk"
    assert (
        shared.tags["regsync.origin.workspace"] == "workspace1" and shared.tags["regsync.rule"] == "share-all"
    )
    assert [e.data["target"] for e in world.events(ASSET_SHARED)] == ["regsync-registry"]
    # A duplicate delivery: not shared twice, the push not queued twice.
    again = world.engine.handle_event(world.register("workspace1", asset), correlation_id="c2")
    assert [(o.action, o.status) for o in again if o.target != "workspace5" and o.target != "workspace1"] == [
        (Action.SHARE, Status.DONE),
        (Action.PUSH, Status.PENDING),
    ]
    assert len(world.pushes.sent) == 1


def test_a_private_asset_is_refused_and_audited_once_per_world(world: World) -> None:
    event = world.register("workspace2", model("contoso-churn"))
    for _ in range(3):
        [outcome] = world.engine.handle_event(event, correlation_id="c")
        assert outcome.status is Status.REFUSED and outcome.reason.startswith("private")
    assert len(world.audited("share", "refused")) == 1
    world.rules(TO_WS3)  # another world: judged and audited again
    world.engine.handle_event(event, correlation_id="c")
    assert len(world.audited("share", "refused")) == 2


def test_a_different_asset_under_a_taken_registry_version_is_a_conflict_recorded_once(world: World) -> None:
    world.rules(SHARE_ALL)
    world.engine.handle_event(world.register("workspace1", model("shared-name")), correlation_id="c")
    event = world.register("workspace2", model("shared-name"))  # same tenant: the name is contoso's
    for _ in range(2):
        [outcome] = world.engine.handle_event(event, correlation_id="c")
        assert outcome.status is Status.CONFLICT and "already holds workspace1's" in outcome.reason
    assert len(world.audited("share", "conflict")) == 1


def test_a_dry_run_plans_both_waves_and_writes_nothing(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    asset = model("churn")
    world.catalog.register("workspace1", asset)
    outcomes = world.engine.propagate(
        world.state.workspaces["workspace1"], asset.ref, correlation_id="c", dry_run=True
    )
    assert [o.label for o in outcomes if o.status is not Status.REFUSED] == [
        "planned:share",
        "planned:enqueue",
    ]
    assert (world.state.ledger, world.state.audits, world.pushes.sent, world.catalog.registry) == (
        {},
        [],
        [],
        {},
    )


def test_the_reconcile_shares_what_an_event_missed_and_then_rests(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    asset = world.catalog.register("workspace1", model("churn"))  # its event was lost
    world.reconcile()
    assert world.drain() == [Status.SUCCEEDED]
    writes = (len(world.state.audits), dict(world.state.ledger))
    world.reconcile()
    assert (len(world.state.audits), dict(world.state.ledger)) == writes and world.pushes.sent == []
    assert world.state.ledger[(asset.ref.key, "push|workspace3")].status is LedgerStatus.SUCCEEDED


def test_a_push_whose_rule_was_revoked_meanwhile_is_refused_and_recorded(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    world.engine.handle_event(world.register("workspace1", model("churn")), correlation_id="c")
    world.rules(SHARE_ALL)
    assert world.drain() == [Status.REFUSED]
    assert world.audited("push", "refused") == [
        "not subscribed: no push rule sends model churn:1 to workspace3"
    ]


def test_a_gated_push_waits_and_only_the_provider_approves_it(world: World) -> None:
    world.rules(
        SHARE_ALL, PushRule(id="gated", targets=Targets(workspaces=("workspace3",)), gate=Gate.APPROVAL)
    )
    asset = model("churn")
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c")
    assert world.pushes.sent == []
    tenant = Caller(name="someone", provider=False, tenant="northwind")
    with pytest.raises(ForbiddenError):
        world.engine.approve("workspace3", asset.ref, approver="x", correlation_id="a", caller=tenant)
    outcome = world.engine.approve("workspace3", asset.ref, approver="ops", correlation_id="a")
    assert (outcome.status, outcome.reason) == (Status.PENDING, "approved by ops")
    assert world.drain() == [Status.SUCCEEDED]
    with pytest.raises(ConflictError, match="does not wait for approval"):
        world.engine.approve("workspace3", asset.ref, approver="ops", correlation_id="a")


def test_a_pull_follows_the_rules_and_says_why_not(world: World) -> None:
    world.rules(
        PushRule(
            id="ws3-pulls",
            targets=Targets(workspaces=("workspace3",)),
            assets=AssetSelector(include=("vendor*",)),
        )
    )
    world.catalog.put_in_registry(model("vendor-model", "1"))
    world.catalog.put_in_registry(model("vendor-model", "2"))
    allowed = world.engine.pull("workspace3", AssetKind.MODEL, "vendor-model", "1", correlation_id="p")
    assert (allowed.action, allowed.status) == (
        Action.PULL,
        Status.PENDING,
    )  # an older version: the caller chose
    refused = world.engine.pull("workspace1", AssetKind.MODEL, "vendor-model", correlation_id="p")
    assert refused.status is Status.REFUSED and refused.reason.startswith("not subscribed")
    missing = world.engine.pull("workspace3", AssetKind.MODEL, "nothing-here", correlation_id="p")
    assert (missing.status, missing.reason) == (
        Status.REFUSED,
        "the registry has no model named nothing-here",
    )
    with pytest.raises(NotFoundError):
        world.engine.pull("workspace9", AssetKind.MODEL, "vendor-model", correlation_id="p")
    assert [r.outcome for r in world.state.audits if r.action == "pull"] == ["pending", "refused"]


def test_sync_scopes_are_checked_before_anything_runs(world: World) -> None:
    tenant = Caller(name="someone", provider=False, tenant="contoso")
    with pytest.raises(ForbiddenError):
        world.engine.sync(SyncScope("all"), caller=tenant, correlation_id="s")
    with pytest.raises(NotFoundError, match="not found or not yours"):  # another tenant's: as if unknown
        world.engine.sync(SyncScope("workspace", workspace="workspace3"), caller=tenant, correlation_id="s")
    with pytest.raises(NotFoundError, match="tenant `nobody` is unknown"):
        world.engine.sync(SyncScope("tenant", tenant="nobody"), caller=PROVIDER, correlation_id="s")
    assert world.state.audits == [] and world.catalog.faults.calls == []


def test_sync_of_everything_is_queued_and_a_plan_of_it_runs_inline(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    world.catalog.register("workspace1", model("churn"))
    queued = world.engine.sync(SyncScope("all"), caller=PROVIDER, correlation_id="s")
    assert (queued.scheduled, queued.outcomes) == (6, []) and len(world.reconciles.sent) == 6
    planned = world.engine.sync(SyncScope("all", dry_run=True), caller=PROVIDER, correlation_id="s")
    labels = [
        o.label for o in planned.outcomes if o.subject == "model churn:1" and o.status is not Status.REFUSED
    ]
    assert labels == ["planned:share", "planned:enqueue"]
