"""Dependency order within a push (issue 14 §3, shared/planner/dependencies.py), on the in-memory ports:
a deployment whose rule names an environment of the target workspace (`azureml:NAME:VERSION`) is made
only once that environment is there; its push is queued first when the rules deliver it there, and the
deployment fails with the reason, before AzureML is asked, when nothing will."""

from __future__ import annotations

from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus
from shared.planner.dependencies import workspace_dependencies
from shared.policy import AssetSelector, PushAction, PushMode, PushRule, ShareRule, Targets
from shared.records import PUSH_FAILED, Status, push_target
from tests.engine.conftest import World, model

SHARE_ALL = ShareRule(id="share-all")
ENV = Asset(ref=AssetRef(kind=AssetKind.ENVIRONMENT, name="sklearn-env", version="3"))
DEPLOY = PushRule(
    id="deploy",
    targets=Targets(workspaces=("workspace4",)),
    assets=AssetSelector(kinds=("model",)),
    action=PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint="scoring", environment="azureml:sklearn-env:3"),
)
ENVIRONMENTS = PushRule(
    id="environments",
    targets=Targets(workspaces=("workspace4",)),
    assets=AssetSelector(kinds=("environment",)),
)


def shared_environment(world: World) -> None:
    """sklearn-env:3 is in the registry (shared from workspace1) but in no other workspace."""
    world.rules(SHARE_ALL)
    world.engine.handle_event(world.register("workspace1", ENV), correlation_id="env")
    assert world.catalog.get_asset(world.state.workspaces["workspace4"], ENV.ref) is None


def test_a_deployment_waits_for_its_environment_which_is_pushed_first(world: World) -> None:
    shared_environment(world)
    world.rules(SHARE_ALL, DEPLOY, ENVIRONMENTS)
    world.catalog.provisioning_reads = 0

    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")
    statuses = world.drain()

    # The deployment's first run queues the environment and waits; the environment is registered; then
    # the deployment is started, and its check finds it ready.
    assert statuses == [Status.SKIPPED, Status.SUCCEEDED, Status.DEPLOYING, Status.SUCCEEDED]
    assert world.catalog.get_asset(world.state.workspaces["workspace4"], ENV.ref) is not None
    deployed = world.state.ledger[(model("churn", "1").ref.key, push_target("workspace4"))]
    assert deployed.status is LedgerStatus.SUCCEEDED
    assert [(target, ref.name) for target, ref, _ in world.catalog.deployments] == [("workspace4", "churn")]


def test_a_deployment_whose_environment_nothing_delivers_fails_naming_it_and_deploys_nothing(
    world: World,
) -> None:
    shared_environment(world)
    world.rules(SHARE_ALL, DEPLOY)  # no rule pushes environments to workspace4

    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")
    statuses = world.drain()

    assert statuses == [Status.FAILED]
    row = world.state.ledger[(model("churn", "1").ref.key, push_target("workspace4"))]
    assert row.status is LedgerStatus.FAILED
    assert "environment azureml:sklearn-env:3: not subscribed" in row.message
    assert "regsync sync --workspace workspace4" in row.message
    assert world.catalog.deployments == []  # AzureML was never asked
    assert [e.data["target"] for e in world.events(PUSH_FAILED)] == ["workspace4"]


def test_a_deployment_whose_environment_is_there_already_goes_at_once(world: World) -> None:
    world.catalog.register("workspace4", ENV)  # the tenant's own environment
    world.rules(SHARE_ALL, DEPLOY)
    world.catalog.provisioning_reads = 0

    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")

    assert world.drain() == [Status.DEPLOYING, Status.SUCCEEDED]


def test_only_an_environment_of_the_target_workspace_is_a_dependency_to_order() -> None:
    registry_env = "azureml://registries/regsync-registry/environments/sklearn-env/versions/3"
    online = PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint="scoring")
    assert workspace_dependencies(online.model_copy(update={"environment": "azureml:sklearn-env:3"})) == (
        ENV.ref,
    )
    assert workspace_dependencies(online.model_copy(update={"environment": registry_env})) == ()
    assert workspace_dependencies(online) == ()  # a no-code MLflow deployment
    assert workspace_dependencies(PushAction()) == ()  # a copy: its references are the registry's
