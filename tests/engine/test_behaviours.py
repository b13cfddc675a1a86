"""Issue 8's nine wrong behaviours, each as a test on the in-memory ports (fast), plus the error mapping
cases the issue names. Each failed against the engine before the reshape (shared/engine.py of the first
batch); the numbers refer to the issue's list.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain import LedgerStatus
from shared.engine import PROVIDER, SyncScope
from shared.errors import PermanentError
from shared.policy import AssetSelector, Destination, PushRule, ShareRule, Targets
from shared.records import ASSET_PUSHED, PUSH_FAILED, Status
from tests.engine.conftest import World, model, throttled

SHARE_ALL = ShareRule(id="share-all")


def push_to(*targets: str, **selector: object) -> PushRule:
    return PushRule(id=f"push-to-{'-'.join(targets)}", targets=Targets(workspaces=targets), **selector)  # type: ignore[arg-type]


def test_1_a_push_conflict_is_recorded_once_and_never_retried(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    asset = model("churn")
    world.catalog.register("workspace3", model("churn", team="northwind"))  # not from the registry
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")
    assert world.drain() == [Status.CONFLICT]

    for _ in range(3):
        world.reconcile()
        world.drain()

    row = world.state.ledger[(asset.ref.key, "push|workspace3")]
    assert row.status is LedgerStatus.CONFLICT and row.attempts == 1
    assert world.catalog.faults.calls.count("push") == 1  # one AzureML call, not 10
    assert len(world.audited("push", "conflict")) == 1
    assert world.events(PUSH_FAILED) == []


def test_2_a_throttled_push_fails_for_good_exactly_once_per_round(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    world.catalog.faults.fail("push", throttled(), times=None)
    asset = model("churn")
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")

    assert world.drain() == [Status.RETRYING, Status.RETRYING, Status.FAILED]
    assert (len(world.events(PUSH_FAILED)), len(world.audited("push", "failed"))) == (1, 1)

    world.reconcile()  # queues the failed push afresh, once: a new round with its own attempts
    assert world.drain() == [Status.RETRYING, Status.RETRYING, Status.FAILED]
    assert (len(world.events(PUSH_FAILED)), len(world.audited("push", "failed"))) == (2, 2)
    row = world.state.ledger[(asset.ref.key, "push|workspace3")]
    assert (row.status, row.attempts, row.rounds) == (LedgerStatus.FAILED, 3, 2)

    world.reconcile()  # its automatic rounds are spent: a person decides now
    assert world.drain() == []
    assert len(world.events(PUSH_FAILED)) == 2


def test_4_a_tag_selected_push_fires_once_the_registry_asset_is_retagged(world: World) -> None:
    world.rules(push_to("workspace3", assets=AssetSelector(tags={"stage": "approved"})))
    asset = world.catalog.put_in_registry(model("vendor-model"))
    world.reconcile()
    assert world.drain() == []  # not approved yet; the registry side remembers it judged it

    world.catalog.retag_registry(asset.ref, {"stage": "approved"})
    world.reconcile()

    assert world.drain() == [Status.SUCCEEDED]
    assert world.catalog.get_asset(world.state.workspaces["workspace3"], asset.ref) is not None


def test_4_the_registry_side_reads_no_asset_again_while_no_rule_looks_at_tags(world: World) -> None:
    world.rules(push_to("workspace3"))
    world.catalog.put_in_registry(model("vendor-model"))
    world.reconcile()
    assert world.drain() == [Status.SUCCEEDED]
    world.reconcile()  # settled: the memo holds
    reads = world.catalog.faults.calls.count("get_registry_asset")
    world.reconcile()
    assert world.catalog.faults.calls.count("get_registry_asset") == reads


def test_5_a_sync_of_a_workspace_retries_its_failed_pushes_and_says_so(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    world.catalog.faults.fail("push", PermanentError("AzureML refused (400): quota"), times=1)
    asset = model("churn")
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")
    assert world.drain() == [Status.FAILED]

    result = world.engine.sync(
        SyncScope("workspace", workspace="workspace3"), caller=PROVIDER, correlation_id="s1"
    )

    [push] = [o for o in result.outcomes if o.action == "push" and o.subject == str(asset.ref)]
    assert push.status is Status.PENDING and push.reason.startswith("failed after 1 attempt(s): retried")
    assert world.drain() == [Status.SUCCEEDED]
    again = world.engine.sync(
        SyncScope("workspace", workspace="workspace3"), caller=PROVIDER, correlation_id="s2"
    )
    [done] = [o for o in again.outcomes if o.action == "push" and o.subject == str(asset.ref)]
    assert done.status is Status.SUCCEEDED  # the row's own status, never a blanket "done"


def test_6_one_throttled_asset_does_not_abort_the_registry_pass(world: World) -> None:
    world.rules(push_to("workspace3"))
    first, second = (
        world.catalog.put_in_registry(model("a-model")),
        world.catalog.put_in_registry(model("b-model")),
    )
    world.catalog.faults.fail("get_registry_asset", throttled(), times=1)  # the first asset read

    outcomes = world.engine.reconcile_registry(correlation_id="r1")

    by_subject = {o.subject: o.status for o in outcomes if o.target in {"", "workspace3"}}
    assert by_subject == {str(first.ref): Status.RETRYING, str(second.ref): Status.PENDING}
    world.reconcile()  # the next pass picks the throttled one up
    assert sorted(world.drain()) == [Status.SUCCEEDED, Status.SUCCEEDED]


def test_7_a_throttled_push_is_sent_again_after_azures_retry_after_as_the_next_attempt(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    world.catalog.faults.fail("push", throttled(retry_after=7), times=1)
    world.engine.handle_event(world.register("workspace1", model("churn")), correlation_id="c1")
    first = world.pushes.take()
    assert first is not None and first.body["attempt"] == 1
    from shared.records import PushMessage

    assert world.engine.execute_push(PushMessage.model_validate(first.body)).status is Status.RETRYING
    [again] = world.pushes.sent
    assert (again.delay_seconds, again.body["attempt"]) == (7, 2)
    assert world.drain() == [Status.SUCCEEDED]


def test_9_outbound_events_are_queued_not_published_inline(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    world.engine.handle_event(world.register("workspace1", model("churn")), correlation_id="c1")
    world.drain()
    # Apply only queues them (the outbox); functions/outbox.py publishes them off the critical path.
    assert [e.data["target"] for e in world.events(ASSET_PUSHED)] == ["workspace3"]


# --- the error mapping cases the issue names ---------------------------------------------------------


def test_a_storage_failure_right_after_the_claim_gives_the_row_back(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    asset = model("churn")
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")
    world.state.faults.fail("audit", ConnectionError("storage unreachable"), times=1)

    with pytest.raises(ConnectionError):  # the queue trigger raises: the host delivers the message again
        world.drain()

    row = world.state.ledger[(asset.ref.key, "push|workspace3")]
    assert row.status is LedgerStatus.RETRYING and "interrupted" in row.message  # not running until the lease


def test_a_lost_etag_race_after_the_azureml_call_does_not_lose_the_result(world: World) -> None:
    world.rules(SHARE_ALL, push_to("workspace3"))
    asset = model("churn")
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")
    push = world.catalog.push

    def push_while_another_worker_touches_the_row(*args: object) -> str:
        key = (asset.ref.key, "push|workspace3")
        world.state.update_entry(replace(world.state.ledger[key], event_ids=("duplicate-event",)))
        return push(*args)  # type: ignore[arg-type]

    world.catalog.push = push_while_another_worker_touches_the_row  # type: ignore[method-assign]
    assert world.drain() == [Status.SUCCEEDED]
    row = world.state.ledger[(asset.ref.key, "push|workspace3")]
    assert row.status is LedgerStatus.SUCCEEDED and "duplicate-event" in row.event_ids


def test_3_explain_is_the_plan_for_a_renaming_share_with_an_include_glob(world: World) -> None:
    """The runbook's own advice: tenant share rule with destination `{tenant}-{name}` and an include
    glob. The first batch's explain re-judged the renamed name against the glob and said private."""
    from shared.cli.explain import explained_targets

    world.rules(
        ShareRule(
            id="contoso-shares",
            tenant="contoso",
            assets=AssetSelector(include=("churn*",)),
            destination=Destination(name="{tenant}-{name}"),
        ),
        push_to("workspace3"),
    )
    asset = model("churn-v2")
    engine = world.engine
    plan = engine.plan_propagation(
        world.state.workspaces["workspace1"],
        asset.ref,
        world=engine.world(),
        correlation_id="x",
        source=asset,
    )
    rows = explained_targets(plan, sorted(world.state.workspaces))
    assert rows["workspace3"][1] == "yes"
    world.engine.handle_event(world.register("workspace1", asset), correlation_id="c1")
    assert world.drain() == [Status.SUCCEEDED]
