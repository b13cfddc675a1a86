"""The planner: observed snapshots plus policy -> typed steps, for a share, a fan-out and a single push.

Share and single-push plans run the real policy on small worlds (tests/unit/factories.py); fan-out
decisions are built directly (the policy has its own tests). Each branch is checked for the step it
returns and what that step would write; then properties over random decisions and ledger rows. How a
claimed row settles is in test_settlement.py. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus
from shared.ledger import LEASE, WAIT_LIMIT, transition
from shared.planner import (
    MAX_AUTOMATIC_ROUNDS,
    FanoutSnapshot,
    Retry,
    ShareSnapshot,
    World,
    newest_numeric,
    plan_approve,
    plan_fanout,
    plan_push,
    plan_push_before_observing,
    plan_share,
    read_digest,
)
from shared.planner import share as share_planning
from shared.policy import (
    AssetSelector,
    Destination,
    Effect,
    Gate,
    NameOwners,
    PushDecision,
    PushRule,
    ShareDecision,
    ShareRule,
    VersionPolicy,
)
from shared.provenance import TAG_CORRELATION, TAG_WORKSPACE, provenance_tags
from shared.records import Action, LedgerEntry, Memo, Outcome, Status, push_target
from shared.steps import Defer, Push, Record, Report, Share, Step, WriteRow, preview
from tests.unit.factories import (
    FRESH,
    KEY,
    NOW,
    STALE,
    WS1,
    WS3,
    WS4,
    decision,
    model,
    push_message,
    row,
    world,
)

S = LedgerStatus
WORLD = world()
SOURCE = model()
DESTINATION = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version="1")
SHARE_REASON = "shared by rule `share-all` of the provider as credit-card-default:1"


def ours(source: Asset = SOURCE, origin: str = "workspace1", **extra: str) -> Asset:
    """The registry version as RegSync leaves it: provenance stamped."""
    tags = provenance_tags(source, WORLD.workspaces[origin], rule_id="share-all", correlation_id="corr-0")
    return model(DESTINATION.name, DESTINATION.version, **tags, **extra)


def share_row(status: LedgerStatus, updated: datetime | None = FRESH) -> LedgerEntry:
    return row(status, target="share", updated=updated)


def share(
    *,
    source: Asset | None = SOURCE,
    in_registry: Asset | None = None,
    status: LedgerStatus | None = None,
    updated: datetime | None = FRESH,
    memo: Memo | None = None,
    conflict_row: LedgerEntry | None = None,
    on: World = WORLD,
) -> Step:
    snapshot = ShareSnapshot(
        WS1,
        SOURCE.ref,
        source,
        memo=memo,
        share_row=share_row(status, updated) if status is not None else None,
        conflict_row=conflict_row,
        in_registry=in_registry,
        owners=NameOwners(SOURCE.ref.kind, SOURCE.ref.name),  # nobody owns the name yet
    )
    return plan_share(snapshot, on, now=NOW, correlation_id="corr-1", event_id="evt-1")


# --- plan_share: nothing to share -------------------------------------------------------------------


def test_an_asset_gone_from_its_workspace_is_ignored_and_audited() -> None:
    step = share(source=None)

    assert isinstance(step, Record)
    assert step.outcome is not None
    assert (step.outcome.status, step.outcome.target) == (Status.IGNORED, "workspace1")
    assert step.audit is not None
    assert step.audit.outcome == Status.IGNORED


def test_our_own_workspace_copy_echoing_back_is_ignored_without_an_audit() -> None:
    copy = model(**{"regsync.registry.asset": "azureml://registries/r/models/credit-card-default/versions/1"})

    step = share(source=copy)

    assert isinstance(step, Report)
    assert step.outcome.status is Status.IGNORED
    assert "copies are never shared back" in step.outcome.reason


# --- plan_share: refusals -----------------------------------------------------------------------------


def test_a_share_the_policy_refuses_is_audited_and_remembered_with_the_policys_reason() -> None:
    private = world(share=())

    step = share(on=private)

    assert isinstance(step, Record)
    assert step.outcome == Outcome(
        Action.SHARE,
        str(SOURCE.ref),
        "workspace1",
        Status.REFUSED,
        "private: no share rule allows model credit-card-default:1 from workspace1",
    )
    assert step.audit is not None
    assert (step.audit.outcome, step.audit.correlation_id) == (Status.REFUSED, "corr-1")
    assert step.memo == ("workspace1", Memo(SOURCE.ref.key, private.fingerprint, "", Status.REFUSED))


def test_a_refusal_already_remembered_under_this_world_is_not_audited_again() -> None:
    private = world(share=())
    memo = Memo(SOURCE.ref.key, private.fingerprint, "", Status.REFUSED)

    step = share(on=private, memo=memo)

    assert isinstance(step, Report)
    assert step.outcome.status is Status.REFUSED


@pytest.mark.parametrize(
    "memo",
    [
        pytest.param(Memo(SOURCE.ref.key, "another-world", "", Status.REFUSED), id="other-world"),
        pytest.param(
            Memo(SOURCE.ref.key, world(share=()).fingerprint, "", Status.SUCCEEDED), id="not-refused"
        ),
    ],
)
def test_a_refusal_under_another_world_or_after_another_outcome_is_audited(memo: Memo) -> None:
    assert isinstance(share(on=world(share=()), memo=memo), Record)


def test_a_share_denied_by_a_rule_names_the_rule() -> None:
    denied = world(share=(ShareRule(id="share-all"), ShareRule(id="no-credit", effect=Effect.DENY)))

    step = share(on=denied)

    assert step.outcome is not None
    assert step.outcome.status is Status.REFUSED
    assert step.outcome.reason == "denied by share rule `no-credit` of the provider"


def test_a_share_allowed_without_a_destination_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    unnamed = ShareDecision(True, "allowed but unnamed")
    monkeypatch.setattr(share_planning, "decide_share", lambda *_: unnamed)

    step = share()

    assert isinstance(step, Record)
    assert step.outcome is not None
    assert (step.outcome.status, step.outcome.reason) == (Status.REFUSED, "allowed but unnamed")


# --- plan_share: share, stamp, done ---------------------------------------------------------------------


def test_an_asset_not_yet_in_the_registry_is_shared_to_its_destination_with_provenance() -> None:
    step = share()

    assert isinstance(step, Share)
    assert (step.name, step.stamp_only, step.destination) == ("share", False, DESTINATION)
    assert step.outcome == Outcome(
        Action.SHARE, str(DESTINATION), "shared-registry", Status.SUCCEEDED, SHARE_REASON
    )
    assert step.tags == provenance_tags(SOURCE, WS1, rule_id="share-all", correlation_id="corr-1")
    assert (step.origin, step.source, step.row) == (WS1, SOURCE, None)
    assert (step.event_id, step.correlation_id) == ("evt-1", "corr-1")


def test_a_renamed_destination_is_shared_under_its_new_name_and_done_once_there() -> None:
    renamed = world(share=(ShareRule(id="share-renamed", destination=Destination(name="{tenant}-{name}")),))
    destination = AssetRef(kind=AssetKind.MODEL, name="contoso-credit-card-default", version="1")
    tags = provenance_tags(SOURCE, WS1, rule_id="share-renamed", correlation_id="c")

    first = share(on=renamed)
    again = share(on=renamed, in_registry=model(destination.name, destination.version, **tags))

    assert isinstance(first, Share)
    assert first.destination == destination
    assert isinstance(again, WriteRow)
    assert again.outcome.status is Status.DONE
    assert again.after.asset_key == destination.key


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.RUNNING])
def test_our_registry_version_with_a_settled_or_running_share_row_is_done_with_nothing_to_write(
    status: LedgerStatus,
) -> None:
    step = share(in_registry=ours(), status=status)

    assert isinstance(step, Report)
    assert step.name == "done"
    assert (step.outcome.status, step.outcome.reason) == (Status.DONE, "already in the registry")


@pytest.mark.parametrize("status", [None, S.PENDING, S.RETRYING, S.FAILED])
def test_our_registry_version_settles_the_share_row_as_succeeded(status: LedgerStatus | None) -> None:
    step = share(in_registry=ours(), status=status)

    assert isinstance(step, WriteRow)
    assert (step.name, step.outcome.status) == ("done", Status.DONE)
    assert step.after.status is S.SUCCEEDED
    assert (step.after.asset_key, step.after.target) == (DESTINATION.key, "share")
    assert step.after.detail["origin"] == "workspace1"
    assert "evt-1" in step.after.event_ids
    assert step.audit is None and step.send is None


def test_our_registry_version_after_a_recorded_conflict_of_the_share_row_does_not_crash_the_plan() -> None:
    # A share whose response was lost is retried; the retry meets "already exists" (ConflictError) and
    # the share row settles as conflict. The registry holds our version all the same.
    step = share(in_registry=ours(), status=S.CONFLICT)

    assert step.outcome is not None
    assert step.outcome.status in {Status.DONE, Status.CONFLICT}


@pytest.mark.parametrize("status", [S.RUNNING, S.RETRYING])
def test_an_untagged_registry_version_while_our_share_is_in_flight_gets_stamped(status: LedgerStatus) -> None:
    step = share(in_registry=model(), status=status, updated=STALE)

    assert isinstance(step, Share)
    assert (step.name, step.stamp_only, step.destination) == ("stamp", True, DESTINATION)
    assert step.row is not None and step.row.status is status


def test_a_share_row_held_by_another_worker_is_not_taken_over() -> None:
    step = share(status=S.RUNNING, updated=NOW - timedelta(seconds=20))

    assert not isinstance(step, Share)


@pytest.mark.parametrize(
    "status",
    [
        S.RETRYING,
        S.FAILED,
        pytest.param(S.RUNNING, id="running-abandoned"),
    ],
)
def test_a_planned_share_can_claim_its_row(status: LedgerStatus) -> None:
    step = share(status=status, updated=STALE)

    assert isinstance(step, Share)
    assert step.row is not None
    claimed = transition(
        step.row, S.RUNNING, key=step.row.asset_key, target=step.row.target, now=NOW, message="x"
    )
    assert claimed.attempts == step.row.attempts + 1


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.CONFLICT])
def test_a_registry_version_gone_since_the_ledger_settled_is_not_shared_again(status: LedgerStatus) -> None:
    step = share(status=status, updated=STALE)

    assert isinstance(step, Report)
    assert step.outcome.status is Status.SKIPPED and "no longer holds it" in step.outcome.reason


# --- plan_share: conflicts ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, S.PENDING, S.SUCCEEDED, S.FAILED, S.CONFLICT, S.AWAITING_APPROVAL])
def test_an_untagged_registry_version_without_our_share_in_flight_is_a_recorded_conflict(
    status: LedgerStatus | None,
) -> None:
    step = share(in_registry=model(area="x"), status=status)

    assert isinstance(step, WriteRow)
    assert (step.name, step.outcome.status, step.before) == ("conflict", Status.CONFLICT, None)
    assert "already holds an asset RegSync did not share" in step.outcome.reason
    assert "workspace1's credit-card-default:1 needs another version" in step.outcome.reason
    assert (step.after.asset_key, step.after.target, step.after.status) == (
        DESTINATION.key,
        "conflict|workspace1",
        S.CONFLICT,
    )
    assert step.audit is not None and step.audit.outcome == Status.CONFLICT


@pytest.mark.parametrize("status", [None, S.RUNNING, S.RETRYING])
def test_a_registry_version_shared_from_another_workspace_is_a_conflict_naming_the_holder(
    status: LedgerStatus | None,
) -> None:
    step = share(in_registry=ours(origin="workspace3"), status=status)

    assert step.outcome is not None
    assert step.outcome.status is Status.CONFLICT
    assert step.outcome.reason.startswith(
        "registry model credit-card-default:1 already holds workspace3's credit-card-default:1;"
    )
    assert "registry versions are immutable" in step.outcome.reason


def test_a_registry_version_from_the_same_workspace_but_another_source_version_is_a_conflict() -> None:
    step = share(in_registry=ours(source=model(version="7")))

    assert step.outcome is not None
    assert step.outcome.status is Status.CONFLICT
    assert "already holds workspace1's credit-card-default:7" in step.outcome.reason


def test_a_conflict_already_recorded_is_reported_not_written_or_audited_again() -> None:
    recorded = row(S.CONFLICT, target="conflict|workspace1")

    step = share(in_registry=ours(origin="workspace3"), conflict_row=recorded)

    assert isinstance(step, Report)
    assert (step.name, step.outcome.status) == ("conflict", Status.CONFLICT)


def test_a_dry_run_shows_each_share_step_by_its_name() -> None:
    planned = preview(share())
    done = preview(share(in_registry=ours()))
    ignored = preview(share(source=model(**{"regsync.registry.asset": "azureml://x"})))

    assert planned is not None and planned.label == "planned:share"
    assert done is not None and done.label == "planned:done"
    assert ignored is not None and ignored.label == "ignored"


# --- plan_fanout -------------------------------------------------------------------------------------

REGISTRY_ASSET = model(version="2")


def fanout(
    decisions: list[PushDecision],
    rows: dict[str, LedgerEntry] | None = None,
    *,
    version: str = "2",
    latest: str = "2",
    retry: Retry = Retry.NEVER,
    in_flight: bool = False,
) -> list[Step]:
    asset = model(version=version)
    snapshot = FanoutSnapshot(
        asset, NameOwners(asset.ref.kind, asset.ref.name), rows or {}, in_flight, latest
    )
    return plan_fanout(snapshot, decisions, retry=retry, now=NOW, correlation_id="corr-1", event_id="evt-1")


def per_target(steps: list[Step]) -> dict[str, Step]:
    """The step of each target; the summary record (no outcome) left out."""
    return {step.outcome.target: step for step in steps if step.outcome is not None}


def names(steps: list[Step]) -> dict[str, str]:
    return {target: step.name for target, step in per_target(steps).items()}


def only(steps: list[Step]) -> Step:
    [step] = per_target(steps).values()
    return step


def pushed(
    status: LedgerStatus,
    *,
    attempts: int = 1,
    rounds: int = 1,
    updated: datetime | None = FRESH,
    message: str = "",
) -> LedgerEntry:
    """A push row of workspace3."""
    return row(
        status,
        target=push_target("workspace3"),
        attempts=attempts,
        rounds=rounds,
        updated=updated,
        message=message,
    )


def test_a_share_still_in_flight_fans_out_later() -> None:
    [step] = fanout([decision("workspace3")], in_flight=True)

    assert isinstance(step, Report)
    assert (step.outcome.action, step.outcome.status) == (Action.FANOUT, Status.SKIPPED)


def test_no_decisions_means_no_steps() -> None:
    assert fanout([]) == []


def test_not_subscribed_targets_are_silent_and_other_refusals_are_reported() -> None:
    denied = decision("workspace4", allowed=False, reason="denied by push rule `no-prod` of the provider")

    steps = fanout([decision("workspace2", allowed=False), denied, decision("workspace3")])

    assert names(steps) == {"workspace4": "", "workspace3": "enqueue"}
    refusal = per_target(steps)["workspace4"]
    assert isinstance(refusal, Report)
    assert refusal.outcome.status is Status.REFUSED
    assert refusal.outcome.reason == denied.reason


@pytest.mark.parametrize(("version", "planned"), [("2", True), ("1", False)])
def test_latest_policy_plans_only_the_latest_version(version: str, planned: bool) -> None:
    assert bool(fanout([decision("workspace3")], version=version, latest="2")) is planned


def test_without_a_known_latest_version_the_version_itself_is_the_latest() -> None:
    assert names(fanout([decision("workspace3")], version="5", latest="")) == {"workspace3": "enqueue"}


@pytest.mark.parametrize(("version", "planned"), [("1", True), ("2", False), ("3", False)])
def test_pinned_policy_plans_only_the_pinned_version_even_when_it_is_not_the_latest(
    version: str, planned: bool
) -> None:
    pinned = decision("workspace3", version_policy=VersionPolicy.PINNED, pinned_version="1")

    assert bool(fanout([pinned], version=version, latest="2")) is planned


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_all_policy_plans_every_version(version: str) -> None:
    every = decision("workspace3", version_policy=VersionPolicy.ALL)

    assert names(fanout([every], version=version, latest="2")) == {"workspace3": "enqueue"}


def test_steps_follow_the_order_of_the_decisions_and_end_with_one_summary() -> None:
    steps = fanout([decision("workspace4"), decision("workspace1"), decision("workspace3")])

    assert [step.outcome.target for step in steps if step.outcome] == [
        "workspace4",
        "workspace1",
        "workspace3",
    ]
    summary = steps[-1]
    assert isinstance(summary, Record) and summary.outcome is None and summary.audit is not None
    assert summary.audit.action == Action.FANOUT
    assert (
        summary.audit.reason
        == "queued for [workspace4, workspace1, workspace3]; refused: []; 0 not subscribed"
    )


def test_the_summary_counts_refusals_and_silent_targets() -> None:
    denied = decision("workspace4", allowed=False, reason="denied by push rule `no-prod` of the provider")

    steps = fanout([decision("workspace2", allowed=False), denied, decision("workspace3")])

    summary = steps[-1]
    assert isinstance(summary, Record) and summary.audit is not None
    assert summary.audit.reason == (
        "queued for [workspace3]; refused: [workspace4 (denied by push rule `no-prod` of the provider)]; "
        "1 not subscribed"
    )


def test_nothing_queued_means_no_summary() -> None:
    steps = fanout([decision("workspace3")], {"workspace3": pushed(S.SUCCEEDED)})

    assert all(step.outcome is not None for step in steps)


def test_the_action_names_who_asked() -> None:
    owners = NameOwners(REGISTRY_ASSET.ref.kind, REGISTRY_ASSET.ref.name)
    snapshot = FanoutSnapshot(REGISTRY_ASSET, owners, {}, False, "2")

    [step, _] = plan_fanout(
        snapshot,
        [decision("workspace3")],
        retry=Retry.ALWAYS,
        now=NOW,
        correlation_id="c",
        action=Action.PULL,
    )

    assert step.outcome is not None and step.outcome.action is Action.PULL


# --- plan_fanout: new rows ---------------------------------------------------------------------------


def test_a_new_automatic_target_is_enqueued_with_the_decisions_reason() -> None:
    wanted = decision("workspace3")

    step = only(fanout([wanted]))

    assert isinstance(step, WriteRow)
    assert step.name == "enqueue"
    assert step.outcome == Outcome(
        Action.PUSH, str(REGISTRY_ASSET.ref), "workspace3", Status.PENDING, wanted.reason
    )
    assert step.before is None
    assert (step.after.asset_key, step.after.target, step.after.status) == (
        REGISTRY_ASSET.ref.key,
        "push|workspace3",
        S.PENDING,
    )
    assert step.after.detail == {"rule": "push-workspace3", "mode": "register"}
    assert step.after.event_ids == ("evt-1",)
    assert step.send is not None
    assert (step.send.ref, step.send.target, step.send.attempt) == (REGISTRY_ASSET.ref, "workspace3", 1)
    assert (step.send.correlation_id, step.send.event_id) == ("corr-1", "evt-1")


def test_a_new_gated_target_awaits_approval_and_sends_nothing() -> None:
    gated = decision("workspace4", gate=Gate.APPROVAL)

    step = only(fanout([gated]))

    assert isinstance(step, WriteRow)
    assert step.name == "await_approval"
    assert step.after.status is S.AWAITING_APPROVAL
    assert step.outcome.reason == f"{gated.reason}: waits for approval"
    assert step.send is None


def test_rows_of_other_targets_do_not_count() -> None:
    other = row(S.SUCCEEDED, target=push_target("workspace4"))

    assert names(fanout([decision("workspace3")], {"workspace4": other})) == {"workspace3": "enqueue"}


# --- plan_fanout: existing rows ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.AWAITING_APPROVAL, S.CONFLICT])
@pytest.mark.parametrize("gate", list(Gate))
def test_settled_or_waiting_rows_are_skipped(status: LedgerStatus, gate: Gate) -> None:
    existing = pushed(status, updated=STALE, message="as it was")

    step = only(fanout([decision("workspace3", gate=gate)], {"workspace3": existing}))

    assert isinstance(step, Report)
    assert step.name == "skip"
    assert step.outcome.status is Status.of(status)
    assert step.outcome.reason == f"already {status.value}: as it was"


@pytest.mark.parametrize("status", [S.PENDING, S.RUNNING, S.RETRYING])
@pytest.mark.parametrize("updated", [STALE, None], ids=["stale", "never-updated"])
def test_in_flight_rows_past_the_lease_are_requeued(status: LedgerStatus, updated: datetime | None) -> None:
    existing = pushed(status, updated=updated)

    step = only(fanout([decision("workspace3")], {"workspace3": existing}))

    assert isinstance(step, WriteRow)
    assert step.name == "requeue"
    assert step.outcome.reason.startswith(f"{status.value} since ")
    assert "abandoned" in step.outcome.reason
    assert (step.before, step.after.status, step.after.etag) == (existing, S.PENDING, existing.etag)
    assert step.send is not None


@pytest.mark.parametrize("status", [S.PENDING, S.RUNNING, S.RETRYING])
@pytest.mark.parametrize("age", [timedelta(0), LEASE / 2, LEASE])
def test_in_flight_rows_within_the_lease_are_skipped(status: LedgerStatus, age: timedelta) -> None:
    step = only(fanout([decision("workspace3")], {"workspace3": pushed(status, updated=NOW - age)}))

    assert isinstance(step, Report)
    assert step.name == "skip"
    assert step.outcome.status is Status.of(status)


@pytest.mark.parametrize(
    ("retry", "rounds", "requeued"),
    [
        (Retry.NEVER, 1, False),
        (Retry.AUTOMATIC, 1, True),
        (Retry.AUTOMATIC, MAX_AUTOMATIC_ROUNDS, False),
        (Retry.AUTOMATIC, MAX_AUTOMATIC_ROUNDS + 3, False),
        (Retry.ALWAYS, 1, True),
        (Retry.ALWAYS, 9, True),
    ],
)
def test_failed_rows_are_retried_as_the_caller_allows(retry: Retry, rounds: int, requeued: bool) -> None:
    failed = pushed(S.FAILED, attempts=5, rounds=rounds, updated=STALE)

    step = only(fanout([decision("workspace3")], {"workspace3": failed}, retry=retry))

    if not requeued:
        assert isinstance(step, Report) and step.name == "skip"
        assert step.outcome.status is Status.FAILED
        return
    assert isinstance(step, WriteRow)
    assert step.name == "requeue"
    assert step.outcome.reason == "failed after 5 attempt(s): retried"
    # a new round: the push gets its whole attempt budget again
    assert (step.after.status, step.after.attempts, step.after.rounds) == (S.PENDING, 0, rounds + 1)
    assert step.send is not None and step.send.attempt == 1


@pytest.mark.parametrize("updated", [FRESH, STALE, None])
def test_refused_rows_are_requeued_now_that_the_rules_allow(updated: datetime | None) -> None:
    step = only(fanout([decision("workspace3")], {"workspace3": pushed(S.REFUSED, updated=updated)}))

    assert isinstance(step, WriteRow)
    assert (step.name, step.outcome.reason) == ("requeue", "refused earlier, allowed now")
    assert step.after.status is S.PENDING
    assert step.send is not None


def test_a_gated_target_with_a_refused_row_waits_for_approval_again() -> None:
    step = only(fanout([decision("workspace3", gate=Gate.APPROVAL)], {"workspace3": pushed(S.REFUSED)}))

    assert isinstance(step, WriteRow)
    assert step.name == "requeue"
    assert step.after.status is S.AWAITING_APPROVAL
    assert step.send is None


def test_a_mixed_fanout_plans_each_target_by_its_own_row() -> None:
    decisions = [
        decision("workspace1", allowed=False),
        decision("workspace2"),
        decision("workspace3"),
        decision("workspace4", gate=Gate.APPROVAL),
        decision("workspace5"),
        decision("workspace6", version_policy=VersionPolicy.PINNED, pinned_version="1"),
    ]
    rows = {
        "workspace1": row(S.REFUSED, target=push_target("workspace1")),
        "workspace2": row(S.SUCCEEDED, target=push_target("workspace2")),
        "workspace3": row(S.RUNNING, target=push_target("workspace3"), updated=STALE),
    }

    assert names(fanout(decisions, rows)) == {
        "workspace2": "skip",
        "workspace3": "requeue",
        "workspace4": "await_approval",
        "workspace5": "enqueue",
    }


# --- newest_numeric ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "others", "newest"),
    [
        ("1", ["2", "10"], "10"),
        ("10", ["9"], "10"),
        ("3", ["v7", "1.2", "2"], "3"),
        ("20240501120000", ["20240501120005"], "20240501120005"),
        ("4", [], "4"),
    ],
)
def test_integer_versions_compare_as_numbers(version: str, others: list[str], newest: str) -> None:
    assert newest_numeric(version, others) == newest


def test_the_newest_numeric_version_is_one_of_the_versions_given() -> None:
    assert newest_numeric("010", ["9"]) == "010"


def test_a_late_old_version_is_not_wanted_under_latest_once_the_newer_one_is_known() -> None:
    steps = fanout([decision("workspace3")], version="1", latest=newest_numeric("1", ["2"]))

    assert steps == []


# --- one push: before observing --------------------------------------------------------------------------

MESSAGE = push_message("workspace3")


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param(None, id="no-row"),
        pytest.param(pushed(S.PENDING), id="pending"),
        pytest.param(pushed(S.PENDING, updated=STALE), id="pending-stale"),
        pytest.param(pushed(S.RETRYING), id="retrying"),
        pytest.param(pushed(S.RUNNING, updated=STALE), id="running-stale"),
        pytest.param(pushed(S.RUNNING, updated=None), id="running-no-time"),
        # A requeued refusal: the push observes and checks the rules again before acting.
        pytest.param(pushed(S.REFUSED), id="refused"),
    ],
)
def test_a_push_message_for_a_claimable_row_goes_on_to_observe(existing: LedgerEntry | None) -> None:
    assert plan_push_before_observing(MESSAGE, existing, now=NOW) is None


@pytest.mark.parametrize(
    ("updated", "delay"),
    [
        (FRESH, int((LEASE - (NOW - FRESH)).total_seconds())),
        (NOW, int(LEASE.total_seconds())),
        (NOW - LEASE, 1),
    ],
    ids=["running-fresh", "running-just-now", "running-at-lease"],
)
def test_a_push_message_for_a_row_another_worker_holds_is_deferred_until_its_lease_ends(
    updated: datetime, delay: int
) -> None:
    """Looked at again when the holder's lease runs out: taken over then if the holder crashed."""
    step = plan_push_before_observing(MESSAGE, pushed(S.RUNNING, updated=updated), now=NOW)

    assert isinstance(step, Defer)
    assert (step.message, step.delay_seconds) == (MESSAGE, delay)
    assert step.outcome.status is Status.SKIPPED
    assert "running elsewhere" in step.outcome.reason


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param(pushed(S.SUCCEEDED), id="succeeded"),
        pytest.param(pushed(S.SUCCEEDED, updated=None), id="succeeded-no-time"),
        pytest.param(pushed(S.AWAITING_APPROVAL), id="awaiting"),
        pytest.param(pushed(S.AWAITING_APPROVAL, updated=STALE), id="awaiting-old"),
        pytest.param(pushed(S.CONFLICT), id="conflict"),
        # failed for good in this round: a redelivery must not fail it again
        pytest.param(pushed(S.FAILED, updated=STALE), id="failed"),
    ],
)
def test_a_push_message_for_a_settled_or_waiting_row_does_nothing(existing: LedgerEntry) -> None:
    step = plan_push_before_observing(MESSAGE, existing, now=NOW)

    assert isinstance(step, Report)
    assert step.outcome.status is Status.of(existing.status)
    assert step.outcome.reason == f"nothing to do: {existing.status.value}"


# --- one push: after observing ----------------------------------------------------------------------------

IN_REGISTRY = ours()  # shared from workspace1


def push(
    *,
    asset: Asset | None = IN_REGISTRY,
    on: World = WORLD,
    target: str = "workspace3",
    existing: LedgerEntry | None = None,
) -> Step:
    message = push_message(target)
    owners = NameOwners(message.ref.kind, message.ref.name)  # nobody owns the name: anyone may receive it
    return plan_push(
        message, existing, asset=asset, owners=owners, target=on.workspaces.get(target), world=on, now=NOW
    )


def test_an_allowed_push_carries_the_registry_provenance_and_the_rule() -> None:
    step = push(existing=pushed(S.PENDING))

    assert isinstance(step, Push)
    assert (step.target, step.registry, step.rule_id) == (WS3, WORLD.registry, "push-all")
    assert step.action is not None and step.row == pushed(S.PENDING)
    assert step.tags[TAG_WORKSPACE] == "workspace1"
    assert step.tags[TAG_CORRELATION] == "corr-1"  # the push's own correlation, not the share's
    assert step.outcome.status is Status.SUCCEEDED


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        pytest.param(
            {"target": "workspace9"}, "workspace workspace9 is no longer managed by RegSync", id="gone"
        ),
        pytest.param(
            {"asset": None}, "model credit-card-default:1 is not in registry shared-registry", id="not-there"
        ),
        pytest.param(
            {"on": world(push=())},
            "not subscribed: no push rule sends model credit-card-default:1 to workspace3",
            id="unsubscribed",
        ),
        pytest.param(
            {"target": "workspace1"},
            "workspace1 is where model credit-card-default:1 comes from; an origin never receives its own",
            id="origin-by-provenance",
        ),
    ],
)
def test_a_push_the_rules_no_longer_allow_is_refused_and_audited(
    kwargs: dict[str, object], reason: str
) -> None:
    step = push(**kwargs)  # type: ignore[arg-type]

    assert isinstance(step, WriteRow)
    assert step.name == "refuse"
    assert (step.outcome.status, step.outcome.reason) == (Status.REFUSED, reason)
    assert step.after.status is S.REFUSED
    assert step.audit is not None and step.audit.outcome == Status.REFUSED
    assert step.send is None


def test_a_push_refused_because_the_share_was_revoked_says_so() -> None:
    revoked = world(share=(ShareRule(id="share-all"), ShareRule(id="stop", effect=Effect.DENY)))

    step = push(on=revoked)

    assert step.outcome is not None
    assert step.outcome.reason == "not shared from workspace1: denied by share rule `stop` of the provider"


# --- approval -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [None, pushed(S.PENDING), pushed(S.REFUSED), pushed(S.SUCCEEDED)])
def test_approving_a_push_that_does_not_wait_does_nothing(existing: LedgerEntry | None) -> None:
    assert (
        plan_approve(MESSAGE.ref, "workspace3", existing, approver="ops@x", now=NOW, correlation_id="c")
        is None
    )


def test_approving_a_waiting_push_queues_it_and_must_not_be_lost() -> None:
    waiting = pushed(S.AWAITING_APPROVAL)

    step = plan_approve(MESSAGE.ref, "workspace3", waiting, approver="ops@x", now=NOW, correlation_id="c-9")

    assert step is not None
    assert (step.name, step.must_win, step.before) == ("approve", True, waiting)
    assert step.after.status is S.PENDING
    assert step.outcome.reason == "approved by ops@x"
    assert step.audit is not None and step.audit.actor == "ops@x"
    assert step.send is not None and (step.send.target, step.send.correlation_id) == ("workspace3", "c-9")


# --- what a memo depends on ------------------------------------------------------------------------------


def test_the_read_digest_is_empty_when_no_rule_looks_at_tags() -> None:
    assert read_digest(model(stage="prod"), WORLD.policy) == ""


def test_the_read_digest_changes_with_the_tags_the_rules_read_and_only_those() -> None:
    policy = world(push=(PushRule(id="prod-only", assets=AssetSelector(tags={"stage": "prod"})),)).policy

    base = read_digest(model(stage="prod", owner="a"), policy)

    assert base != ""
    assert read_digest(model(stage="test", owner="a"), policy) != base
    assert read_digest(model(stage="prod", owner="b"), policy) == base
    assert read_digest(model(stage=""), policy) != read_digest(model(), policy)  # empty is not absent


def test_the_world_fingerprint_changes_with_rules_workspaces_and_the_registry() -> None:
    moved = world(workspaces=(WS1, WS3, WS4.model_copy(update={"stage": "test"})))

    assert world().fingerprint == WORLD.fingerprint
    assert world(share=()).fingerprint != WORLD.fingerprint
    assert moved.fingerprint != WORLD.fingerprint
    assert world(workspaces=(WS1, WS3)).fingerprint != WORLD.fingerprint


# --- properties -----------------------------------------------------------------------------------------

TARGETS = [f"workspace{index}" for index in range(1, 9)]
VERSIONS = ["1", "2", "3"]


@st.composite
def push_decisions(draw: st.DrawFn) -> list[PushDecision]:
    targets = draw(st.lists(st.sampled_from(TARGETS), unique=True, max_size=len(TARGETS)))
    decisions = []
    for target in targets:
        policy = draw(st.sampled_from(list(VersionPolicy)))
        refusal = draw(st.sampled_from(["", "denied by push rule `x` of the provider"]))
        decisions.append(
            decision(
                target,
                allowed=draw(st.booleans()),
                gate=draw(st.sampled_from(list(Gate))),
                version_policy=policy,
                pinned_version=draw(st.sampled_from(VERSIONS)) if policy is VersionPolicy.PINNED else None,
                reason=refusal,
            )
        )
    return decisions


TIMES = st.none() | st.integers(0, 30).map(lambda minutes: NOW - timedelta(minutes=minutes))


@st.composite
def ledger_rows(draw: st.DrawFn) -> dict[str, LedgerEntry]:
    targets = draw(st.lists(st.sampled_from(TARGETS), unique=True))
    return {
        target: row(
            draw(st.sampled_from(list(LedgerStatus))),
            target=push_target(target),
            attempts=draw(st.integers(0, 6)),
            rounds=draw(st.integers(1, 4)),
            updated=draw(TIMES),
        )
        for target in targets
    }


@settings(max_examples=300, deadline=None)
@given(
    decisions=push_decisions(),
    rows=ledger_rows(),
    version=st.sampled_from(VERSIONS),
    latest=st.sampled_from(VERSIONS),
    retry=st.sampled_from(list(Retry)),
)
def test_every_fanout_step_is_for_an_allowed_wanted_target_and_no_refusal_is_queued(
    decisions: list[PushDecision], rows: dict[str, LedgerEntry], version: str, latest: str, retry: Retry
) -> None:
    steps = fanout(decisions, rows, version=version, latest=latest, retry=retry)

    by_target = {d.target: d for d in decisions}
    outcomes = [step for step in steps if step.outcome is not None]
    assert len(outcomes) == len({step.outcome.target for step in outcomes if step.outcome})
    wanted = [
        d.target
        for d in decisions
        if d.allowed
        and (
            d.version_policy is VersionPolicy.ALL
            or (d.version_policy is VersionPolicy.LATEST and version == latest)
            or (d.version_policy is VersionPolicy.PINNED and version == d.pinned_version)
        )
    ]
    planned = [s.outcome.target for s in outcomes if s.outcome and by_target[s.outcome.target].allowed]
    assert planned == wanted
    for step in outcomes:
        assert step.outcome is not None
        chosen, existing = by_target[step.outcome.target], rows.get(step.outcome.target)
        if not chosen.allowed:  # a refusal is reported, never written or sent
            assert isinstance(step, Report) and step.outcome.status is Status.REFUSED
            assert not chosen.reason.startswith("not subscribed")
            continue
        if existing is not None and existing.status in {S.SUCCEEDED, S.CONFLICT, S.AWAITING_APPROVAL}:
            assert isinstance(step, Report) and step.name == "skip"
        if isinstance(step, WriteRow):
            assert step.before is existing
            assert (step.send is not None) is (step.after.status is S.PENDING)
            if step.after.status is S.AWAITING_APPROVAL:
                assert chosen.gate is Gate.APPROVAL
            if existing is None:
                assert step.after.status is (
                    S.AWAITING_APPROVAL if chosen.gate is Gate.APPROVAL else S.PENDING
                )
    queued = any(isinstance(step, WriteRow) for step in steps)
    assert queued is (bool(steps) and isinstance(steps[-1], Record) and steps[-1].outcome is None)


@settings(max_examples=300, deadline=None)
@given(
    status=st.none() | st.sampled_from(list(LedgerStatus)),
    attempts=st.integers(0, 6),
    updated=st.none() | st.integers(-5, 30).map(lambda minutes: NOW - timedelta(minutes=minutes)),
)
def test_a_push_never_claims_a_settled_waiting_or_held_row_and_can_claim_the_rest(
    status: LedgerStatus | None, attempts: int, updated: datetime | None
) -> None:
    existing = pushed(status, attempts=attempts, updated=updated) if status is not None else None

    step = plan_push_before_observing(MESSAGE, existing, now=NOW)

    if existing is None:
        assert step is None
        return
    age = NOW - existing.updated if existing.updated is not None else None
    if existing.status is S.RUNNING and age is not None and age <= LEASE:
        assert isinstance(step, Defer)
    elif existing.status in {S.SUCCEEDED, S.AWAITING_APPROVAL, S.CONFLICT, S.FAILED, S.RECALLED} or (
        existing.status is S.DEPLOYING and age is not None and age <= WAIT_LIMIT
    ):
        assert isinstance(step, Report)
    else:
        assert step is None
    if step is None:  # what comes next (a claim or a refusal; a check of a deploying row) is legal
        nexts = (S.DEPLOYING, S.REFUSED) if existing.status is S.DEPLOYING else (S.RUNNING, S.REFUSED)
        for to in nexts:
            transition(existing, to, key=KEY, target=existing.target, now=NOW, message="next")


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param(None, id="no-row"),
        *(
            pytest.param(pushed(status), id=status.value)
            for status in LedgerStatus
            if status is not S.RUNNING
        ),
    ],
)
def test_the_watch_of_a_claim_that_settled_does_nothing(existing: LedgerEntry | None) -> None:
    """Its own messages carry a queued, retrying or deploying row: a watch must not start a second chain."""
    watch = MESSAGE.model_copy(update={"watch": True})

    step = plan_push_before_observing(watch, existing, now=NOW)

    assert isinstance(step, Report)
    assert "nothing to take over" in step.outcome.reason


def test_the_watch_of_a_held_claim_keeps_watching_and_takes_over_an_abandoned_one() -> None:
    watch = MESSAGE.model_copy(update={"watch": True})

    held_step = plan_push_before_observing(watch, pushed(S.RUNNING, updated=FRESH), now=NOW)
    abandoned_step = plan_push_before_observing(watch, pushed(S.RUNNING, updated=NOW - LEASE * 2), now=NOW)

    assert isinstance(held_step, Defer) and held_step.message == watch
    assert abandoned_step is None
