"""Drift (issue 14 §2) on the in-memory ports: each divergence made by hand is reported with what RegSync
would do; the reconcile repairs only what rules with `self_heal: true` delivered; and finding nothing
costs no asset read (the reconcile's own listing is reused)."""

from __future__ import annotations

import pytest

from shared.auth import Caller
from shared.azureml import deployment_name
from shared.errors import NotFoundError
from shared.policy import AssetSelector, Gate, PushAction, PushMode, PushRule, ShareRule, Targets
from shared.provenance import TAG_REGISTRY_ID
from shared.records import PushMessage
from tests.engine.conftest import World, model

SHARE_ALL = ShareRule(id="share-all")


def to_ws3(**fields: object) -> PushRule:
    return PushRule(id="to-ws3", targets=Targets(workspaces=("workspace3",)), **fields)  # type: ignore[arg-type]


def serve_ws4(**fields: object) -> PushRule:
    return PushRule(
        id="serve",
        targets=Targets(workspaces=("workspace4",)),
        assets=AssetSelector(kinds=("model",)),
        action=PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint="scoring"),
        **fields,  # type: ignore[arg-type]
    )


def deliver(world: World, version: str) -> None:
    world.engine.handle_event(world.register("workspace1", model("churn", version)), correlation_id="c")
    world.catalog.provisioning_reads = 0
    while (message := world.pushes.take()) is not None:
        world.engine.execute_push(PushMessage.model_validate(message.body))


def kinds(world: World, **scope: object) -> list[tuple[str, str, str, bool]]:
    lines = world.engine.drift(**scope)  # type: ignore[arg-type]
    return [(line.workspace, line.subject, line.divergence.value, line.heals) for line in lines]


def reconcile_ws(world: World, name: str) -> None:
    world.engine.reconcile_workspace(name, correlation_id="timer")


@pytest.mark.parametrize("self_heal", [False, True])
def test_a_copy_deleted_by_hand_is_reported_and_pushed_again_only_where_opted_in(
    world: World, self_heal: bool
) -> None:
    world.rules(SHARE_ALL, to_ws3(self_heal=self_heal))
    deliver(world, "1")
    del world.catalog.workspaces["workspace3"][model("churn", "1").ref.kind, "churn", "1"]

    [line] = world.engine.drift()
    assert (line.workspace, line.divergence.value, line.would) == ("workspace3", "missing", "push it again")
    assert line.heals is self_heal

    reconcile_ws(world, "workspace3")
    world.drain()
    assert (
        world.catalog.get_asset(world.state.workspaces["workspace3"], model("churn", "1").ref) is not None
    ) is self_heal
    assert (world.engine.drift() == []) is self_heal


@pytest.mark.parametrize("self_heal", [False, True])
def test_traffic_moved_by_hand_is_reported_and_moved_back_only_where_opted_in(
    world: World, self_heal: bool
) -> None:
    world.rules(SHARE_ALL, serve_ws4(self_heal=self_heal))
    deliver(world, "1")
    deliver(world, "2")
    endpoint = world.catalog.endpoints[("workspace4", "scoring")]
    v1, v2 = deployment_name(model("churn", "1").ref), deployment_name(model("churn", "2").ref)
    endpoint.traffic = {v1: 100, v2: 0}  # someone moved it back by hand

    [line] = world.engine.drift()
    assert line.divergence.value == "traffic" and f"{v2} takes 0%" in line.found

    reconcile_ws(world, "workspace4")

    assert endpoint.traffic == ({v1: 0, v2: 100} if self_heal else {v1: 100, v2: 0})


def test_a_deployment_deleted_by_hand_is_deployed_again_where_opted_in(world: World) -> None:
    world.rules(SHARE_ALL, serve_ws4(self_heal=True))
    deliver(world, "1")
    endpoint = world.catalog.endpoints[("workspace4", "scoring")]
    del endpoint.deployments[deployment_name(model("churn", "1").ref)]
    assert kinds(world) == [("workspace4", "model churn:1", "missing", True)]

    reconcile_ws(world, "workspace4")
    world.drain()  # the push starts it again; its follow-up check is queued
    world.drain()

    assert deployment_name(model("churn", "1").ref) in endpoint.deployments


def test_an_older_version_than_latest_and_a_copy_no_rule_allows_are_reported(world: World) -> None:
    world.rules(SHARE_ALL, to_ws3(), serve_ws4(gate=Gate.APPROVAL))
    deliver(world, "1")
    world.engine.approve("workspace4", model("churn", "1").ref, approver="ops", correlation_id="a")
    world.drain()
    world.drain()
    deliver(world, "2")  # workspace4's push of 2 waits for approval: it serves 1

    assert kinds(world) == [("workspace4", "model churn:1", "stale", False)]

    world.rules(SHARE_ALL, serve_ws4(gate=Gate.APPROVAL))  # workspace3's rule removed
    assert ("workspace3", "model churn:2", "unallowed", False) in kinds(world)


def test_tags_changed_by_hand_are_read_only_when_asked_for(world: World) -> None:
    world.rules(SHARE_ALL, to_ws3(self_heal=True))
    deliver(world, "1")
    stored = world.catalog.workspaces["workspace3"][model("churn", "1").ref.kind, "churn", "1"]
    stored.asset = stored.asset.model_copy(update={"tags": {**stored.asset.tags, TAG_REGISTRY_ID: "mine"}})

    assert kinds(world) == []  # no copy read
    assert kinds(world, tags=True) == [("workspace3", "model churn:1", "tags", False)]


def test_a_tenant_sees_the_drift_of_its_own_workspaces_only(world: World) -> None:
    world.rules(SHARE_ALL, to_ws3(), serve_ws4())
    deliver(world, "1")
    world.catalog.workspaces["workspace3"].clear()
    del world.catalog.endpoints[("workspace4", "scoring")]

    northwind = Caller(name="nw", provider=False, tenant="northwind")
    assert [w for w, *_ in kinds(world, caller=northwind)] == ["workspace3"]
    assert [w for w, *_ in kinds(world)] == ["workspace3", "workspace4"]
    with pytest.raises(NotFoundError):
        world.engine.drift(caller=northwind, workspace="workspace4")


def test_a_steady_state_reconcile_reads_no_drift_unless_a_rule_opts_in_and_no_asset_when_nothing_changed(
    world: World,
) -> None:
    world.rules(SHARE_ALL, to_ws3())
    deliver(world, "1")
    world.state.faults.calls.clear()
    reconcile_ws(world, "workspace3")
    assert "list_ledger" not in world.state.faults.calls

    world.rules(SHARE_ALL, to_ws3(self_heal=True))
    reconcile_ws(world, "workspace3")  # the rules changed: judged again once
    world.state.faults.calls.clear()
    world.catalog.faults.calls.clear()
    reconcile_ws(world, "workspace3")

    assert world.state.faults.calls.count("list_ledger") == 1
    assert "get_asset" not in world.catalog.faults.calls
    assert world.catalog.faults.calls.count("workspace_latest") == 4  # the reconcile's own, once per kind
