"""A push that deploys never waits for provisioning (issue 11 §2), on the in-memory ports: the push
starts the deployment and the row is `deploying`; delayed follow-up checks move it to `succeeded` (the
new deployment then takes the traffic, or becomes the batch default) or `failed` with Azure's reason
(the old deployment keeps serving), or fail it at the deadline. Each ledger transition has a test."""

from __future__ import annotations

import pytest

from shared.azureml import deployment_name
from shared.domain import LedgerStatus
from shared.errors import PermanentError
from shared.policy import AssetSelector, PushAction, PushMode, PushRule, ShareRule, Targets
from shared.records import ASSET_PUSHED, PUSH_FAILED, PushMessage, Status, push_target
from tests.engine.conftest import World, model, throttled

SHARE_ALL = ShareRule(id="share-all")


@pytest.fixture(autouse=True)
def ready_at_the_first_check(world: World) -> None:
    world.catalog.provisioning_reads = 0  # tests that need it provisioning for longer say so


def deploy_rule(mode: PushMode = PushMode.DEPLOY_ONLINE, **action: object) -> PushRule:
    return PushRule(
        id="deploy",
        targets=Targets(workspaces=("workspace4",)),
        assets=AssetSelector(kinds=("model",)),
        action=PushAction(mode=mode, endpoint="scoring", **action),  # type: ignore[arg-type]
    )


def push_once(world: World, version: str) -> None:
    """A model version is registered in workspace1, shared, fanned out and its push message run once."""
    world.engine.handle_event(world.register("workspace1", model("churn", version)), correlation_id="c")
    first = world.pushes.take()
    assert first is not None and first.delay_seconds == 0
    world.engine.execute_push(PushMessage.model_validate(first.body))


def follow(world: World) -> Status:
    """Run the next (delayed) follow-up check, as the queue delivers it once its delay has passed."""
    message = world.pushes.take()
    assert message is not None and message.delay_seconds == 30
    check = PushMessage.model_validate(message.body)
    assert check.follow > 0
    world.clock.advance(seconds=message.delay_seconds)
    return world.engine.execute_push(check).status


def row(world: World, version: str) -> object:
    return world.state.ledger[(model("churn", version).ref.key, push_target("workspace4"))]


def endpoint(world: World):  # type: ignore[no-untyped-def]
    return world.catalog.endpoints[("workspace4", "scoring")]


def test_a_push_that_deploys_starts_it_and_returns_deploying_with_a_delayed_check(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    push_once(world, "1")
    started = row(world, "1")
    assert started.status is LedgerStatus.DEPLOYING and "started deploying" in started.message  # type: ignore[attr-defined]
    [check] = world.pushes.sent
    assert check.delay_seconds == 30 and check.body["follow"] == 1
    assert endpoint(world).traffic == {}  # no traffic before it is ready
    assert world.events(ASSET_PUSHED) == []


def test_a_check_while_provisioning_stays_deploying_and_checks_again(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    world.catalog.provisioning_reads = 2
    push_once(world, "1")
    assert follow(world) is Status.DEPLOYING
    assert row(world, "1").status is LedgerStatus.DEPLOYING  # type: ignore[attr-defined]
    assert "is Creating" in row(world, "1").message  # type: ignore[attr-defined]
    assert [m.body["follow"] for m in world.pushes.sent] == [2]


def test_a_ready_deployment_takes_the_traffic_and_the_push_succeeds_once(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    push_once(world, "1")
    assert follow(world) is Status.SUCCEEDED
    name = deployment_name(model("churn", "1").ref)
    assert endpoint(world).traffic == {name: 100}
    assert row(world, "1").status is LedgerStatus.SUCCEEDED  # type: ignore[attr-defined]
    assert len(world.events(ASSET_PUSHED)) == 1 and world.pushes.sent == []


def test_a_failed_deployment_fails_the_push_with_azures_reason_and_the_old_one_keeps_serving(
    world: World,
) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    push_once(world, "1")
    follow(world)
    old = deployment_name(model("churn", "1").ref)
    world.catalog.provisioning_failures[deployment_name(model("churn", "2").ref)] = "OutOfQuota: no quota"
    push_once(world, "2")
    assert follow(world) is Status.FAILED
    failed = row(world, "2")
    assert failed.status is LedgerStatus.FAILED and "OutOfQuota: no quota" in failed.message  # type: ignore[attr-defined]
    assert endpoint(world).traffic == {old: 100}
    assert [e.data["error"] for e in world.events(PUSH_FAILED)] == [failed.message]  # type: ignore[attr-defined]


def test_a_deployment_not_ready_by_the_deadline_fails(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    world.catalog.provisioning_reads = 10**6
    push_once(world, "1")
    world.clock.advance(seconds=1800)
    assert follow(world) is Status.FAILED
    assert "not ready after 1800 s" in row(world, "1").message  # type: ignore[attr-defined]
    assert endpoint(world).traffic == {}


def test_a_temporary_error_while_checking_checks_again_and_a_permanent_one_fails(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    push_once(world, "1")
    world.catalog.faults.fail("deployment_state", throttled(retry_after=45))
    message = world.pushes.take()
    assert message is not None
    world.engine.execute_push(PushMessage.model_validate(message.body))
    [again] = world.pushes.sent
    assert again.delay_seconds == 45 and row(world, "1").status is LedgerStatus.DEPLOYING  # type: ignore[attr-defined]
    world.catalog.faults.fail("deployment_state", PermanentError("denied"))
    world.pushes.take()
    assert world.engine.execute_push(PushMessage.model_validate(again.body)).status is Status.FAILED


def test_a_duplicate_or_stale_check_does_nothing(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule())
    world.catalog.provisioning_reads = 2
    push_once(world, "1")
    message = world.pushes.take()
    assert message is not None
    check = PushMessage.model_validate(message.body)
    world.engine.execute_push(check)  # checks = 2 now
    assert world.engine.execute_push(check).status is Status.DEPLOYING  # stale: reported, nothing sent
    assert len(world.pushes.sent) == 1
    plain = check.model_copy(update={"follow": 0})
    assert world.engine.execute_push(plain).status is Status.DEPLOYING and len(world.pushes.sent) == 1


def test_a_batch_deployment_becomes_the_default_only_on_success(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule(PushMode.DEPLOY_BATCH))
    push_once(world, "1")
    assert endpoint(world).default is None
    follow(world)
    assert endpoint(world).default == deployment_name(model("churn", "1").ref)
    world.catalog.provisioning_failures[deployment_name(model("churn", "2").ref)] = "ImageBuildFailure"
    push_once(world, "2")
    assert follow(world) is Status.FAILED
    assert endpoint(world).default == deployment_name(model("churn", "1").ref)


def test_old_deployments_beyond_the_policy_number_are_removed_once_the_new_one_is_ready(world: World) -> None:
    world.rules(SHARE_ALL, deploy_rule(keep_deployments=2))
    for version in ("1", "2", "3"):
        push_once(world, version)
        follow(world)
    names = [deployment_name(model("churn", v).ref) for v in ("2", "3")]
    assert sorted(endpoint(world).deployments) == sorted(names)
    assert {d: share for d, share in endpoint(world).traffic.items() if share} == {names[1]: 100}


def test_a_failed_deployment_is_not_one_of_those_kept_so_the_last_good_one_stays(world: World) -> None:
    """keep_deployments keeps what an endpoint can go back to (a recall): a failed deployment between two
    good ones is removed, not the older good one."""
    world.rules(SHARE_ALL, deploy_rule(keep_deployments=2))
    push_once(world, "1")
    follow(world)
    world.catalog.provisioning_failures[deployment_name(model("churn", "2").ref)] = "OutOfQuota"
    push_once(world, "2")
    assert follow(world) is Status.FAILED
    push_once(world, "3")
    follow(world)

    good = [deployment_name(model("churn", v).ref) for v in ("1", "3")]
    assert sorted(endpoint(world).deployments) == sorted(good)
