"""Recall (issue 14 §1) on the in-memory ports: the tombstone first, then each workspace takes the
version back (a registered copy archived; an endpoint's traffic or a batch default moved back to the
previous RegSync deployment, or the deployment removed when there is none and the rule allows it), the
registry version tagged and archived; and nothing (event, reconcile, pull, queued push) delivers it again.
"""

from __future__ import annotations

import pytest

from shared.auth import Caller
from shared.azureml import deployment_name
from shared.domain import AssetKind, LedgerStatus
from shared.engine import PROVIDER
from shared.errors import NotFoundError, TemporaryError
from shared.planner.recall import TAG_RECALLED
from shared.policy import AssetSelector, OnRemove, PushAction, PushMode, PushRule, ShareRule, Targets
from shared.records import ASSET_RECALLED, PushMessage, Status, Tombstone, push_target
from tests.engine.conftest import World, model

SHARE_ALL = ShareRule(id="share-all")
TO_WS3 = PushRule(id="to-ws3", targets=Targets(workspaces=("workspace3",)))


def deploy_rule(mode: PushMode = PushMode.DEPLOY_ONLINE, **action: object) -> PushRule:
    return PushRule(
        id="deploy",
        targets=Targets(workspaces=("workspace4",)),
        assets=AssetSelector(kinds=("model",)),
        action=PushAction(mode=mode, endpoint="scoring", **action),  # type: ignore[arg-type]
    )


def deliver(world: World, version: str) -> None:
    """`churn:version` registered in workspace1, shared, fanned out, pushed and (deployments) promoted."""
    world.engine.handle_event(world.register("workspace1", model("churn", version)), correlation_id="c")
    world.catalog.provisioning_reads = 0
    while (message := world.pushes.take()) is not None:
        world.engine.execute_push(PushMessage.model_validate(message.body))


def recall(world: World, version: str, **kwargs: object) -> list[object]:
    return world.engine.recall(  # type: ignore[no-any-return]
        AssetKind.MODEL, "churn", version, reason="bad scores", correlation_id="r", **kwargs
    )


def statuses(outcomes: list[object]) -> list[tuple[str, str]]:
    return [(o.target, o.label) for o in outcomes]  # type: ignore[attr-defined]


def test_a_recall_archives_copies_marks_the_registry_and_says_so_everywhere(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    deliver(world, "2")
    v2 = model("churn", "2").ref

    outcomes = recall(world, "2")

    assert statuses(outcomes) == [
        ("regsync-registry", "recalled"),
        ("workspace3", "recalled"),
        ("regsync-registry", "recalled"),
    ]
    assert ("workspace3", v2) in world.catalog.archived and ("@registry", v2) in world.catalog.archived
    assert ("workspace3", model("churn", "1").ref) not in world.catalog.archived
    assert TAG_RECALLED in world.catalog.registry[(AssetKind.MODEL, "churn", "2")].asset.tags
    row = world.state.ledger[(v2.key, push_target("workspace3"))]
    assert row.status is LedgerStatus.RECALLED and row.message == "archived churn:2"
    buried = world.state.buried[v2.key]
    assert (buried.actor, buried.reason) == ("regsync-cli", "bad scores")
    [event] = world.events(ASSET_RECALLED)
    assert event.data["asset"] == v2.key and event.data["reason"] == "bad scores"
    assert world.audited("recall", "recalled") == [
        "bad scores",
        "archived churn:2",
        str(v2) + " tagged recalled and archived in the registry",
    ]


def test_nothing_delivers_a_recalled_version_again(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    recall(world, "1")
    # a new subscriber joins after the recall
    world.rules(SHARE_ALL, TO_WS3, PushRule(id="to-ws4", targets=Targets(workspaces=("workspace4",))))
    pushed = len(world.catalog.workspaces.get("workspace3", {}))

    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="again")
    assert world.pushes.sent == []  # the event again: nothing queued
    world.state.memos.clear()  # the reconcile judges everything afresh
    world.reconcile()
    assert world.pushes.sent == []
    pulled = world.engine.pull("workspace4", AssetKind.MODEL, "churn", "1", correlation_id="p")
    assert pulled.status is Status.REFUSED and pulled.reason.startswith("recalled by regsync-cli")
    assert len(world.catalog.workspaces.get("workspace3", {})) == pushed
    assert "workspace4" not in world.catalog.workspaces


def test_a_queued_push_refuses_a_version_recalled_after_its_world_was_read(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    world.engine.world_ttl = 3600  # this worker's cached world predates the recall
    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")
    ref = model("churn", "1").ref
    world.state.bury(Tombstone(ref.key, "ops", "bad", world.clock(), correlation_id="elsewhere"))

    message = world.pushes.take()
    assert message is not None
    outcome = world.engine.execute_push(PushMessage.model_validate(message.body))

    assert outcome.status is Status.REFUSED and outcome.reason.startswith("recalled by ops")
    assert "workspace3" not in world.catalog.workspaces


def test_an_online_endpoint_goes_back_to_the_previous_regsync_version(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    deliver(world, "1")
    deliver(world, "2")
    endpoint = world.catalog.endpoints[("workspace4", "scoring")]
    v1, v2 = deployment_name(model("churn", "1").ref), deployment_name(model("churn", "2").ref)
    assert endpoint.traffic == {v1: 0, v2: 100}

    outcomes = recall(world, "2")

    assert endpoint.traffic == {v1: 100, v2: 0}
    assert f"traffic moved from {v2} to {v1}" in outcomes[1].reason  # type: ignore[attr-defined]


def test_a_batch_endpoint_gets_its_previous_default_back(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule(PushMode.DEPLOY_BATCH))
    deliver(world, "1")
    deliver(world, "2")
    endpoint = world.catalog.endpoints[("workspace4", "scoring")]
    assert endpoint.default == deployment_name(model("churn", "2").ref)

    recall(world, "2")

    assert endpoint.default == deployment_name(model("churn", "1").ref)


@pytest.mark.parametrize("remove", [False, True])
def test_with_no_previous_version_the_deployment_goes_only_if_the_rule_allows_it(
    world: World, remove: bool
) -> None:
    world.rules(SHARE_ALL, deploy_rule(remove_when_recalled=remove))
    deliver(world, "1")
    name = deployment_name(model("churn", "1").ref)

    outcomes = recall(world, "1")

    endpoint = world.catalog.endpoints[("workspace4", "scoring")]
    assert (name in endpoint.deployments) is not remove
    reason = outcomes[1].reason  # type: ignore[attr-defined]
    assert ("removed" in reason) if remove else ("remove_when_recalled: false" in reason)
    row = world.state.ledger[(model("churn", "1").ref.key, push_target("workspace4"))]
    assert row.status is LedgerStatus.RECALLED


def test_a_dry_run_shows_the_plan_and_writes_nothing(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    audits = len(world.state.audits)

    planned = recall(world, "1", dry_run=True)

    assert statuses(planned) == [
        ("regsync-registry", "planned:tombstone"),
        ("workspace3", "planned:retire"),
        ("regsync-registry", "planned:archive"),
    ]
    assert world.state.buried == {} and world.catalog.archived == set()
    assert len(world.state.audits) == audits and world.events(ASSET_RECALLED) == []


def test_a_tenant_recalls_only_what_it_published(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    with pytest.raises(NotFoundError):
        recall(world, "1", caller=Caller(name="nw", provider=False, tenant="northwind"))
    assert world.state.buried == {}

    outcomes = recall(world, "1", caller=Caller(name="ct", provider=False, tenant="contoso"))

    # contoso published it; workspace3 (northwind's) is not named in contoso's answer
    assert [o.target for o in outcomes] == ["regsync-registry", "regsync-registry"]  # type: ignore[attr-defined]
    assert world.state.buried[model("churn", "1").ref.key].tenant == "contoso"
    assert ("workspace3", model("churn", "1").ref) in world.catalog.archived


def test_a_recall_that_could_not_reach_a_workspace_resumes_when_run_again(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    world.catalog.faults.fail("retire", TemporaryError("AzureML answered 503", retry_after=5))

    first = recall(world, "1")
    assert statuses(first)[1] == ("workspace3", "retrying")
    row = world.state.ledger[(model("churn", "1").ref.key, push_target("workspace3"))]
    assert row.status is LedgerStatus.SUCCEEDED  # untouched: not taken back yet

    again = recall(world, "1")

    assert statuses(again) == [("regsync-registry", "done"), ("workspace3", "recalled")]
    assert len(world.events(ASSET_RECALLED)) == 1  # one recall, one event


# --- on_remove: a removed push rule takes back what only it delivered -------------------------------------


def test_removing_a_rule_with_on_remove_recall_takes_back_only_what_no_rule_still_delivers(
    world: World,
) -> None:
    leaving = PushRule(
        id="leaving", targets=Targets(workspaces=("workspace3", "workspace4")), on_remove=OnRemove.RECALL
    )
    staying = PushRule(id="staying", targets=Targets(workspaces=("workspace4",)))
    world.rules(SHARE_ALL, leaving, staying)
    deliver(world, "1")
    v1 = model("churn", "1").ref
    world.rules(SHARE_ALL, staying)  # `leaving` removed

    outcomes = world.engine.withdraw_rule(leaving, caller=PROVIDER, correlation_id="rm")

    assert statuses(outcomes) == [("workspace3", "recalled"), ("workspace4", "skipped")]
    assert ("workspace3", v1) in world.catalog.archived and ("workspace4", v1) not in world.catalog.archived
    assert world.state.buried == {}  # not a fleet-wide recall: no tombstone

    world.rules(SHARE_ALL, staying, leaving)  # the rule comes back: the version may be delivered again
    world.state.memos.clear()
    world.reconcile()
    assert world.state.ledger[(v1.key, push_target("workspace3"))].status is LedgerStatus.PENDING


def test_removing_a_rule_that_keeps_takes_nothing_back(world: World) -> None:
    world.rules(SHARE_ALL, TO_WS3)
    deliver(world, "1")
    world.rules(SHARE_ALL)

    assert world.engine.withdraw_rule(TO_WS3, caller=PROVIDER, correlation_id="rm") == []
    assert world.catalog.archived == set()


def test_a_workspace_leaving_takes_back_what_rules_with_on_remove_recall_delivered(world: World) -> None:
    recalling = PushRule(
        id="recalling", targets=Targets(workspaces=("workspace3",)), on_remove=OnRemove.RECALL
    )
    keeping = PushRule(
        id="keeping", targets=Targets(workspaces=("workspace3",)), assets=AssetSelector(include=("other",))
    )
    world.rules(SHARE_ALL, recalling, keeping)
    deliver(world, "1")
    world.engine.handle_event(world.register("workspace1", model("other", "1")), correlation_id="o")
    world.drain()

    outcomes = world.engine.withdraw_workspace("workspace3", caller=PROVIDER, correlation_id="leave")

    assert statuses(outcomes) == [("workspace3", "recalled")]
    assert world.catalog.archived == {
        ("workspace3", model("churn", "1").ref)
    }  # `other` stays: its rule keeps
