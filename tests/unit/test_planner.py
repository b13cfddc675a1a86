"""The planner: desired state minus actual state -> the next step, for shares, fan-outs and single pushes.

Decisions are built directly (the policy has its own tests); the planner is exercised branch by branch,
then by properties over random decisions and ledger rows. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus, Workspace
from shared.planner import (
    DEFAULT_LEASE,
    TAG_CORRELATION,
    TAG_JOB,
    TAG_NAME,
    TAG_RULE,
    TAG_TENANT,
    TAG_VERSION,
    TAG_WORKSPACE,
    FanoutPlan,
    FanoutStep,
    LedgerStatusView,
    Origin,
    PushStep,
    SharePlan,
    ShareStep,
    newest_numeric,
    origin_of,
    plan_fanout,
    plan_push,
    plan_share,
    provenance_tags,
)
from shared.policy import Gate, PushAction, PushDecision, ShareDecision, VersionPolicy

SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FRESH = NOW - timedelta(minutes=1)
STALE = NOW - DEFAULT_LEASE - timedelta(seconds=1)


def workspace(name: str, tenant: str = "contoso") -> Workspace:
    return Workspace(
        name=name, tenant=tenant, subscription_id=SUBSCRIPTION, resource_group="rg-ml", region="eastus"
    )


def model(name: str = "credit-card-default", version: str = "1", **tags: str) -> Asset:
    return Asset(ref=AssetRef(kind=AssetKind.MODEL, name=name, version=version), tags=tags)


WS1 = workspace("workspace1")
WS3 = workspace("workspace3", "fabrikam")
SOURCE = model()
DESTINATION = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version="1")
ALLOW_SHARE = ShareDecision(True, "shared by rule `share-all` of the provider", "share-all", DESTINATION)


def ours(source: Asset = SOURCE, origin: Workspace = WS1, **extra: str) -> Asset:
    """The registry version as RegSync leaves it: provenance stamped."""
    tags = provenance_tags(source, origin, rule_id="share-all", correlation_id="corr-1")
    return model(DESTINATION.name, DESTINATION.version, **tags, **extra)


def row(status: LedgerStatus, attempts: int = 1, updated: datetime | None = FRESH) -> LedgerStatusView:
    return LedgerStatusView(status=status, attempts=attempts, updated=updated)


def push(
    target: str,
    *,
    allowed: bool = True,
    gate: Gate = Gate.AUTOMATIC,
    version_policy: VersionPolicy = VersionPolicy.LATEST,
    pinned_version: str | None = None,
) -> PushDecision:
    if not allowed:
        return PushDecision(False, f"not subscribed: nothing sends to {target}", target)
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


def fanout(
    decisions: list[PushDecision],
    rows: dict[str, LedgerStatusView] | None = None,
    *,
    version: str = "2",
    latest: str = "2",
    lease: timedelta = DEFAULT_LEASE,
    retry_failed_below: int = 0,
) -> list[FanoutPlan]:
    return plan_fanout(
        decisions,
        rows or {},
        version=version,
        latest_version=latest,
        now=NOW,
        lease=lease,
        retry_failed_below=retry_failed_below,
    )


def steps(plans: list[FanoutPlan]) -> dict[str, FanoutStep]:
    return {plan.target: plan.step for plan in plans}


# --- provenance -----------------------------------------------------------------------------------------


def test_provenance_tags_record_origin_rule_and_correlation() -> None:
    tags = provenance_tags(SOURCE, WS1, rule_id="share-all", correlation_id="corr-1")

    assert tags == {
        TAG_TENANT: "contoso",
        TAG_WORKSPACE: "workspace1",
        TAG_NAME: "credit-card-default",
        TAG_VERSION: "1",
        TAG_RULE: "share-all",
        TAG_CORRELATION: "corr-1",
    }


def test_provenance_tags_include_the_training_job_only_when_known() -> None:
    trained = Asset(ref=SOURCE.ref, job_name="brave_lamp_7x2")

    with_job = provenance_tags(trained, WS1, rule_id="r", correlation_id="c")
    without_job = provenance_tags(SOURCE, WS1, rule_id="r", correlation_id="c")

    assert with_job[TAG_JOB] == "brave_lamp_7x2"
    assert TAG_JOB not in without_job


def test_provenance_tags_without_a_rule_record_an_empty_rule() -> None:
    assert provenance_tags(SOURCE, WS1, rule_id=None, correlation_id="c")[TAG_RULE] == ""


def test_provenance_tags_are_all_under_the_regsync_prefix() -> None:
    tags = provenance_tags(Asset(ref=SOURCE.ref, job_name="j"), WS1, rule_id="r", correlation_id="c")

    assert all(key.startswith("regsync.") for key in tags)


def test_origin_of_reads_back_what_provenance_tags_wrote() -> None:
    source = model("bert-base-uncased_fine-tuned", "3")
    tags = provenance_tags(source, WS3, rule_id="r", correlation_id="c")

    assert origin_of({**tags, "area": "nlp"}) == Origin("workspace3", "bert-base-uncased_fine-tuned", "3")


@pytest.mark.parametrize("missing", [TAG_WORKSPACE, TAG_NAME, TAG_VERSION])
def test_origin_of_needs_workspace_name_and_version(missing: str) -> None:
    tags = provenance_tags(SOURCE, WS1, rule_id="r", correlation_id="c")

    assert origin_of({key: value for key, value in tags.items() if key != missing}) is None
    assert origin_of({**tags, missing: ""}) is None


def test_origin_of_untagged_asset_is_none() -> None:
    assert origin_of({"area": "diabetes"}) is None


# --- plan_share ---------------------------------------------------------------------------------------


def test_share_refused_by_policy_is_refused_with_the_policys_reason() -> None:
    decision = ShareDecision(False, "private: no share rule allows model credit-card-default:1 from ws1")

    plan = plan_share(decision, SOURCE, WS1, in_registry=None, share_row_status=None)

    assert plan == SharePlan(ShareStep.REFUSE, decision.reason)


def test_share_allowed_without_a_destination_is_refused() -> None:
    decision = ShareDecision(True, "allowed but unnamed")

    plan = plan_share(decision, SOURCE, WS1, in_registry=None, share_row_status=None)

    assert plan.step is ShareStep.REFUSE
    assert plan.destination is None


def test_asset_not_yet_in_the_registry_is_shared_to_its_destination() -> None:
    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=None, share_row_status=None)

    assert plan == SharePlan(ShareStep.SHARE, ALLOW_SHARE.reason, DESTINATION)


@pytest.mark.parametrize("status", [None, *LedgerStatus])
def test_registry_version_from_this_very_origin_is_done_whatever_the_ledger_says(
    status: LedgerStatus | None,
) -> None:
    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=ours(), share_row_status=status)

    assert plan.step is ShareStep.DONE
    assert plan.reason == "credit-card-default:1 is already shared"
    assert plan.destination == DESTINATION


def test_renamed_destination_from_this_origin_is_done() -> None:
    destination = AssetRef(kind=AssetKind.MODEL, name="contoso-credit-card-default", version="1")
    decision = ShareDecision(True, "renamed", "share-renamed", destination)
    tags = provenance_tags(SOURCE, WS1, rule_id="share-renamed", correlation_id="c")
    in_registry = model(destination.name, destination.version, **tags)

    plan = plan_share(decision, SOURCE, WS1, in_registry, share_row_status=None)

    assert plan.step is ShareStep.DONE
    assert plan.destination == destination


@pytest.mark.parametrize("status", [LedgerStatus.RUNNING, LedgerStatus.RETRYING])
def test_untagged_registry_version_while_our_share_is_in_flight_gets_stamped(status: LedgerStatus) -> None:
    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=model(), share_row_status=status)

    assert plan.step is ShareStep.STAMP
    assert plan.destination == DESTINATION
    assert "provenance" in plan.reason


@pytest.mark.parametrize(
    "status",
    [
        None,
        LedgerStatus.PENDING,
        LedgerStatus.SUCCEEDED,
        LedgerStatus.FAILED,
        LedgerStatus.CONFLICT,
        LedgerStatus.AWAITING_APPROVAL,
        LedgerStatus.REFUSED,
    ],
)
def test_untagged_registry_version_without_our_share_in_flight_is_a_conflict(
    status: LedgerStatus | None,
) -> None:
    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=model(area="x"), share_row_status=status)

    assert plan.step is ShareStep.CONFLICT
    assert plan.destination == DESTINATION
    assert "already holds an asset RegSync did not share" in plan.reason
    assert "workspace1's credit-card-default:1 needs another version" in plan.reason


@pytest.mark.parametrize("status", [None, LedgerStatus.RUNNING, LedgerStatus.RETRYING])
def test_registry_version_shared_from_another_workspace_is_a_conflict_naming_the_holder(
    status: LedgerStatus | None,
) -> None:
    theirs = ours(source=model(), origin=WS3)

    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=theirs, share_row_status=status)

    assert plan.step is ShareStep.CONFLICT
    assert plan.reason.startswith(
        "registry model credit-card-default:1 already holds workspace3's credit-card-default:1;"
    )
    assert "registry versions are immutable" in plan.reason


def test_registry_version_from_the_same_workspace_but_another_source_version_is_a_conflict() -> None:
    older = ours(source=model(version="7"))

    plan = plan_share(ALLOW_SHARE, SOURCE, WS1, in_registry=older, share_row_status=None)

    assert plan.step is ShareStep.CONFLICT
    assert "already holds workspace1's credit-card-default:7" in plan.reason


# --- plan_fanout: which decisions get a plan --------------------------------------------------------------


def test_refused_decisions_get_no_plan() -> None:
    plans = fanout([push("workspace2", allowed=False), push("workspace3")])

    assert [plan.target for plan in plans] == ["workspace3"]


def test_no_decisions_means_no_plans() -> None:
    assert fanout([]) == []


@pytest.mark.parametrize(("version", "planned"), [("2", True), ("1", False)])
def test_latest_policy_plans_only_the_latest_version(version: str, planned: bool) -> None:
    plans = fanout([push("workspace3")], version=version, latest="2")

    assert bool(plans) is planned


@pytest.mark.parametrize(("version", "planned"), [("1", True), ("2", False), ("3", False)])
def test_pinned_policy_plans_only_the_pinned_version_even_when_it_is_not_the_latest(
    version: str, planned: bool
) -> None:
    decision = push("workspace3", version_policy=VersionPolicy.PINNED, pinned_version="1")

    plans = fanout([decision], version=version, latest="2")

    assert bool(plans) is planned


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_all_policy_plans_every_version(version: str) -> None:
    plans = fanout([push("workspace3", version_policy=VersionPolicy.ALL)], version=version, latest="2")

    assert [plan.target for plan in plans] == ["workspace3"]


def test_plans_follow_the_order_of_the_decisions_and_carry_them() -> None:
    decisions = [push("workspace4"), push("workspace1"), push("workspace3")]

    plans = fanout(decisions)

    assert [plan.target for plan in plans] == ["workspace4", "workspace1", "workspace3"]
    assert [plan.decision for plan in plans] == decisions


# --- plan_fanout: new rows ----------------------------------------------------------------------------


def test_new_automatic_target_is_enqueued_with_the_decisions_reason() -> None:
    decision = push("workspace3")

    [plan] = fanout([decision])

    assert plan == FanoutPlan("workspace3", FanoutStep.ENQUEUE, decision.reason, decision)


def test_new_gated_target_awaits_approval() -> None:
    decision = push("workspace4", gate=Gate.APPROVAL)

    [plan] = fanout([decision])

    assert plan.step is FanoutStep.AWAIT_APPROVAL
    assert plan.reason == f"{decision.reason}: waits for approval"


def test_rows_of_other_targets_do_not_count() -> None:
    plans = fanout([push("workspace3")], {"workspace4": row(LedgerStatus.SUCCEEDED)})

    assert steps(plans) == {"workspace3": FanoutStep.ENQUEUE}


# --- plan_fanout: existing rows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [LedgerStatus.SUCCEEDED, LedgerStatus.AWAITING_APPROVAL, LedgerStatus.CONFLICT]
)
@pytest.mark.parametrize("gate", list(Gate))
def test_settled_or_waiting_rows_are_skipped(status: LedgerStatus, gate: Gate) -> None:
    [plan] = fanout([push("workspace3", gate=gate)], {"workspace3": row(status, updated=STALE)})

    assert plan.step is FanoutStep.SKIP
    assert plan.reason == status.value


@pytest.mark.parametrize("status", [LedgerStatus.PENDING, LedgerStatus.RUNNING, LedgerStatus.RETRYING])
def test_in_flight_rows_older_than_the_lease_are_requeued(status: LedgerStatus) -> None:
    [plan] = fanout([push("workspace3")], {"workspace3": row(status, updated=STALE)})

    assert plan.step is FanoutStep.REQUEUE
    assert plan.reason.startswith(f"{status.value} since ")
    assert "abandoned" in plan.reason


@pytest.mark.parametrize("status", [LedgerStatus.PENDING, LedgerStatus.RUNNING, LedgerStatus.RETRYING])
def test_in_flight_rows_without_a_timestamp_are_requeued(status: LedgerStatus) -> None:
    [plan] = fanout([push("workspace3")], {"workspace3": row(status, updated=None)})

    assert plan.step is FanoutStep.REQUEUE


@pytest.mark.parametrize("status", [LedgerStatus.PENDING, LedgerStatus.RUNNING, LedgerStatus.RETRYING])
@pytest.mark.parametrize("age", [timedelta(0), timedelta(minutes=5), DEFAULT_LEASE])
def test_in_flight_rows_within_the_lease_are_skipped(status: LedgerStatus, age: timedelta) -> None:
    [plan] = fanout([push("workspace3")], {"workspace3": row(status, updated=NOW - age)})

    assert plan.step is FanoutStep.SKIP
    assert plan.reason == status.value


def test_a_custom_lease_decides_what_is_stale() -> None:
    rows = {"workspace3": row(LedgerStatus.RUNNING, updated=NOW - timedelta(minutes=3))}

    short = fanout([push("workspace3")], rows, lease=timedelta(minutes=2))
    long = fanout([push("workspace3")], rows, lease=timedelta(minutes=5))

    assert steps(short) == {"workspace3": FanoutStep.REQUEUE}
    assert steps(long) == {"workspace3": FanoutStep.SKIP}


@pytest.mark.parametrize(
    ("attempts", "retry_below", "step"),
    [
        (1, 3, FanoutStep.REQUEUE),
        (2, 3, FanoutStep.REQUEUE),
        (3, 3, FanoutStep.SKIP),
        (5, 3, FanoutStep.SKIP),
        (0, 0, FanoutStep.SKIP),
        (1, 0, FanoutStep.SKIP),
    ],
)
def test_failed_rows_are_retried_only_below_the_attempt_limit(
    attempts: int, retry_below: int, step: FanoutStep
) -> None:
    rows = {"workspace3": row(LedgerStatus.FAILED, attempts=attempts, updated=STALE)}

    [plan] = fanout([push("workspace3")], rows, retry_failed_below=retry_below)

    assert plan.step is step
    if step is FanoutStep.REQUEUE:
        assert plan.reason == f"failed after {attempts} attempt(s): retried"


def test_failed_rows_are_not_retried_by_default() -> None:
    [plan] = fanout([push("workspace3")], {"workspace3": row(LedgerStatus.FAILED, attempts=1)})

    assert plan.step is FanoutStep.SKIP
    assert plan.reason == "failed"


@pytest.mark.parametrize("updated", [FRESH, STALE, None])
def test_refused_rows_are_requeued_now_that_the_rules_allow(updated: datetime | None) -> None:
    [plan] = fanout([push("workspace3")], {"workspace3": row(LedgerStatus.REFUSED, updated=updated)})

    assert plan.step is FanoutStep.REQUEUE
    assert plan.reason == "refused earlier, allowed now"


def test_a_gated_target_with_a_refused_row_is_requeued_not_sent_for_approval() -> None:
    [plan] = fanout([push("workspace4", gate=Gate.APPROVAL)], {"workspace4": row(LedgerStatus.REFUSED)})

    assert plan.step is FanoutStep.REQUEUE


def test_mixed_fanout_plans_each_target_by_its_own_row() -> None:
    decisions = [
        push("workspace1", allowed=False),
        push("workspace2"),
        push("workspace3"),
        push("workspace4", gate=Gate.APPROVAL),
        push("workspace5"),
        push("workspace6", version_policy=VersionPolicy.PINNED, pinned_version="1"),
    ]
    rows = {
        "workspace1": row(LedgerStatus.REFUSED),
        "workspace2": row(LedgerStatus.SUCCEEDED),
        "workspace3": row(LedgerStatus.RUNNING, updated=STALE),
    }

    plans = fanout(decisions, rows)

    assert steps(plans) == {
        "workspace2": FanoutStep.SKIP,
        "workspace3": FanoutStep.REQUEUE,
        "workspace4": FanoutStep.AWAIT_APPROVAL,
        "workspace5": FanoutStep.ENQUEUE,
    }


# --- plan_push ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        pytest.param(None, PushStep.CLAIM, id="no-row"),
        pytest.param(row(LedgerStatus.SUCCEEDED), PushStep.DONE, id="succeeded"),
        pytest.param(row(LedgerStatus.SUCCEEDED, updated=None), PushStep.DONE, id="succeeded-no-time"),
        pytest.param(row(LedgerStatus.AWAITING_APPROVAL), PushStep.HOLD, id="awaiting"),
        pytest.param(row(LedgerStatus.AWAITING_APPROVAL, updated=STALE), PushStep.HOLD, id="awaiting-old"),
        pytest.param(row(LedgerStatus.CONFLICT), PushStep.HOLD, id="conflict"),
        pytest.param(row(LedgerStatus.RUNNING), PushStep.BUSY, id="running-fresh"),
        pytest.param(row(LedgerStatus.RUNNING, updated=NOW), PushStep.BUSY, id="running-just-now"),
        pytest.param(
            row(LedgerStatus.RUNNING, updated=NOW - DEFAULT_LEASE), PushStep.BUSY, id="running-at-lease"
        ),
        pytest.param(row(LedgerStatus.RUNNING, updated=STALE), PushStep.CLAIM, id="running-stale"),
        pytest.param(row(LedgerStatus.RUNNING, updated=None), PushStep.CLAIM, id="running-no-time"),
        pytest.param(row(LedgerStatus.FAILED), PushStep.CLAIM, id="failed"),
        pytest.param(row(LedgerStatus.RETRYING), PushStep.CLAIM, id="retrying"),
        pytest.param(row(LedgerStatus.PENDING), PushStep.CLAIM, id="pending"),
        pytest.param(row(LedgerStatus.PENDING, updated=STALE), PushStep.CLAIM, id="pending-stale"),
        # A requeued refusal: the push claims it and re-checks the rules before acting.
        pytest.param(row(LedgerStatus.REFUSED), PushStep.CLAIM, id="refused"),
    ],
)
def test_plan_push_by_ledger_row(view: LedgerStatusView | None, expected: PushStep) -> None:
    assert plan_push(view, now=NOW) is expected


def test_plan_push_respects_a_custom_lease() -> None:
    view = row(LedgerStatus.RUNNING, updated=NOW - timedelta(minutes=3))

    assert plan_push(view, now=NOW, lease=timedelta(minutes=2)) is PushStep.CLAIM
    assert plan_push(view, now=NOW, lease=timedelta(minutes=5)) is PushStep.BUSY


# --- properties -----------------------------------------------------------------------------------------

TARGETS = [f"workspace{index}" for index in range(1, 9)]
VERSIONS = ["1", "2", "3"]


@st.composite
def push_decisions(draw: st.DrawFn) -> list[PushDecision]:
    targets = draw(st.lists(st.sampled_from(TARGETS), unique=True, max_size=len(TARGETS)))
    decisions = []
    for target in targets:
        policy = draw(st.sampled_from(list(VersionPolicy)))
        decisions.append(
            push(
                target,
                allowed=draw(st.booleans()),
                gate=draw(st.sampled_from(list(Gate))),
                version_policy=policy,
                pinned_version=draw(st.sampled_from(VERSIONS)) if policy is VersionPolicy.PINNED else None,
            )
        )
    return decisions


LEDGER_ROWS = st.dictionaries(
    st.sampled_from(TARGETS),
    st.builds(
        LedgerStatusView,
        status=st.sampled_from(list(LedgerStatus)),
        attempts=st.integers(0, 6),
        updated=st.none() | st.integers(0, 30).map(lambda minutes: NOW - timedelta(minutes=minutes)),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    decisions=push_decisions(),
    rows=LEDGER_ROWS,
    version=st.sampled_from(VERSIONS),
    latest=st.sampled_from(VERSIONS),
    retry_below=st.integers(0, 4),
)
def test_every_plan_is_for_an_allowed_target_and_no_refusal_is_planned(
    decisions: list[PushDecision],
    rows: dict[str, LedgerStatusView],
    version: str,
    latest: str,
    retry_below: int,
) -> None:
    plans = fanout(decisions, rows, version=version, latest=latest, retry_failed_below=retry_below)

    allowed = {decision.target for decision in decisions if decision.allowed}
    refused = {decision.target for decision in decisions if not decision.allowed}
    planned = [plan.target for plan in plans]
    assert set(planned) <= allowed
    assert not set(planned) & refused
    assert len(planned) == len(set(planned))
    for plan in plans:
        assert plan.decision.allowed
        assert plan.decision.target == plan.target
        if plan.decision.version_policy is VersionPolicy.LATEST:
            assert version == latest
        if plan.decision.version_policy is VersionPolicy.PINNED:
            assert version == plan.decision.pinned_version
        existing = rows.get(plan.target)
        if plan.step in {FanoutStep.ENQUEUE, FanoutStep.AWAIT_APPROVAL}:
            assert existing is None
        else:
            assert existing is not None
        if plan.step is FanoutStep.AWAIT_APPROVAL:
            assert plan.decision.gate is Gate.APPROVAL
        if plan.step is FanoutStep.ENQUEUE:
            assert plan.decision.gate is Gate.AUTOMATIC
        if existing is not None and existing.status in {LedgerStatus.SUCCEEDED, LedgerStatus.CONFLICT}:
            assert plan.step is FanoutStep.SKIP
    wanted_allowed = [
        decision.target
        for decision in decisions
        if decision.allowed
        and (
            decision.version_policy is VersionPolicy.ALL
            or (decision.version_policy is VersionPolicy.LATEST and version == latest)
            or (decision.version_policy is VersionPolicy.PINNED and version == decision.pinned_version)
        )
    ]
    assert planned == wanted_allowed


@settings(max_examples=200, deadline=None)
@given(
    view=st.none()
    | st.builds(
        LedgerStatusView,
        status=st.sampled_from(list(LedgerStatus)),
        attempts=st.integers(0, 6),
        updated=st.none() | st.integers(-5, 30).map(lambda minutes: NOW - timedelta(minutes=minutes)),
    )
)
def test_a_push_never_claims_a_succeeded_held_or_freshly_running_row(view: LedgerStatusView | None) -> None:
    step = plan_push(view, now=NOW)

    if view is None:
        assert step is PushStep.CLAIM
        return
    fresh = view.updated is not None and NOW - view.updated <= DEFAULT_LEASE
    if view.status is LedgerStatus.SUCCEEDED:
        assert step is PushStep.DONE
    elif view.status in {LedgerStatus.AWAITING_APPROVAL, LedgerStatus.CONFLICT}:
        assert step is PushStep.HOLD
    elif view.status is LedgerStatus.RUNNING and fresh:
        assert step is PushStep.BUSY
    else:
        assert step is PushStep.CLAIM


@pytest.mark.parametrize(
    ("version", "others", "newest"),
    [
        ("1", ["2", "10"], "10"),
        ("10", ["9"], "10"),
        ("3", ["v7", "1.2", "2"], "3"),
        ("20240501120000", ["20240501120005"], "20240501120005"),
    ],
)
def test_integer_versions_compare_as_numbers(version: str, others: list[str], newest: str) -> None:
    assert newest_numeric(version, others) == newest


def test_a_late_old_version_is_not_wanted_under_latest_once_the_newer_one_is_known() -> None:
    decision = PushDecision(True, "pushed", "ws3", "r", PushAction(), version_policy=VersionPolicy.LATEST)
    plans = plan_fanout([decision], {}, version="1", latest_version=newest_numeric("1", ["2"]), now=NOW)
    assert plans == []
