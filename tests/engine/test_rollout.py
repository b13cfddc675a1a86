"""Progressive rollout (issue 14 §3) on the in-memory ports: a push rule with three waves delivers a new
version to its canary first, the next wave only when every earlier target succeeded (deployments: ready)
at least `wait_healthy` ago; a failed canary stops the rollout (plan shows it) until an operator resumes."""

from __future__ import annotations

from shared.azureml import deployment_name
from shared.domain import AssetKind, LedgerStatus, Window
from shared.engine import SyncScope
from shared.engine.requests import PROVIDER
from shared.policy import (
    AssetSelector,
    MaintenanceWindow,
    PushAction,
    PushMode,
    PushRule,
    Rollout,
    ShareRule,
    Targets,
    Wave,
)
from shared.records import push_target
from tests.engine.conftest import World, model, workspace

SHARE_ALL = ShareRule(id="share-all")
WAVES = PushRule(
    id="waves",
    targets=Targets(workspaces=("workspace2", "workspace3", "workspace4")),
    assets=AssetSelector(kinds=("model",)),
    action=PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint="scoring"),
    rollout=Rollout(
        waves=(Wave(workspaces=("workspace4",)), Wave(stages=("prod",)), Wave(rest=True)), wait_healthy="10m"
    ),
)


def row_status(world: World, target: str) -> LedgerStatus | None:
    row = world.state.ledger.get((model("churn", "1").ref.key, push_target(target)))
    return row.status if row else None


def plan(world: World) -> dict[str, tuple[str, str]]:
    result = world.engine.sync(SyncScope("all", dry_run=True), caller=PROVIDER, correlation_id="plan")
    return {o.target: (o.label, o.reason) for o in result.outcomes if o.subject == "model churn:1"}


def test_a_three_wave_rollout_waits_for_each_wave_and_its_health(world: World) -> None:
    world.rules(SHARE_ALL, WAVES)
    world.catalog.provisioning_reads = 0

    outcomes = world.engine.handle_event(
        world.register("workspace1", model("churn", "1")), correlation_id="c"
    )

    by_target = {o.target: o for o in outcomes if o.action == "push"}
    assert by_target["workspace4"].status == "pending" and "wave 1" in by_target["workspace4"].reason
    assert {by_target[w].status.value for w in ("workspace2", "workspace3")} == {"skipped"}
    assert "waits for the earlier waves (workspace4: not started)" in by_target["workspace2"].reason
    world.drain()
    assert row_status(world, "workspace4") is LedgerStatus.SUCCEEDED

    world.reconcile()
    assert row_status(world, "workspace2") is None  # healthy, but not for 10 minutes yet
    assert "waits until" in plan(world)["workspace2"][1]

    world.clock.advance(minutes=10)
    world.reconcile()
    world.drain()
    assert (row_status(world, "workspace2"), row_status(world, "workspace3")) == (
        LedgerStatus.SUCCEEDED,
        None,
    )

    world.clock.advance(minutes=10)
    world.reconcile()
    world.drain()
    assert row_status(world, "workspace3") is LedgerStatus.SUCCEEDED


def test_a_failed_canary_stops_the_rollout_until_an_operator_resumes_it(world: World) -> None:
    world.rules(SHARE_ALL, WAVES)
    world.catalog.provisioning_reads = 0
    world.catalog.provisioning_failures[deployment_name(model("churn", "1").ref)] = "OutOfQuota"
    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")
    world.drain()
    assert row_status(world, "workspace4") is LedgerStatus.FAILED
    world.clock.advance(hours=1)
    world.reconcile()  # the reconcile retries a failed push once: it fails again
    world.drain()
    assert row_status(world, "workspace4") is LedgerStatus.FAILED
    world.catalog.provisioning_failures.clear()

    stopped = plan(world)
    assert (row_status(world, "workspace2"), row_status(world, "workspace3")) == (None, None)
    assert (
        stopped["workspace2"][0] == "planned:hold"
        and "stopped: workspace4 (wave 1) failed" in stopped["workspace2"][1]
    )

    resumed = world.engine.resume_rollout(model("churn", "1").ref, "waves", correlation_id="ops")

    targets = {"workspace2", "workspace3", "workspace4"}
    assert {o.target: o.status.value for o in resumed if o.action == "push" and o.target in targets} == {
        "workspace2": "pending",
        "workspace3": "skipped",
        "workspace4": "failed",
    }
    world.drain()
    world.clock.advance(minutes=10)
    world.reconcile()
    world.drain()
    assert (row_status(world, "workspace2"), row_status(world, "workspace3")) == (
        LedgerStatus.SUCCEEDED,
        LedgerStatus.SUCCEEDED,
    )
    assert row_status(world, "workspace4") is LedgerStatus.FAILED  # resuming does not retry the canary


def test_a_push_into_a_workspace_with_maintenance_windows_waits_until_one_opens(world: World) -> None:
    nightly = MaintenanceWindow(workspaces=("workspace3",), cron="0 2 * * *", duration="2h")
    world.rules(
        SHARE_ALL,
        PushRule(
            id="to-ws3-4", targets=Targets(workspaces=("workspace3", "workspace4")), maintenance=(nightly,)
        ),
    )

    outcomes = world.engine.handle_event(
        world.register("workspace1", model("churn", "1")), correlation_id="c"
    )  # 12:00

    held = {o.target: o for o in outcomes if o.action == "push"}
    assert held["workspace4"].status.value == "pending"  # no window names it
    assert held["workspace3"].status.value == "skipped"
    assert "outside workspace3's maintenance windows" in held["workspace3"].reason
    assert "the next opens at 2026-12-01T02:00" in held["workspace3"].reason
    world.drain()
    assert row_status(world, "workspace3") is None

    world.clock.advance(hours=14, minutes=30)  # 02:30: the window is open
    world.reconcile()
    world.drain()

    assert row_status(world, "workspace3") is LedgerStatus.SUCCEEDED


def test_a_sync_or_pull_narrowed_to_a_later_wave_waits_for_the_canary_that_has_no_row_yet(
    world: World,
) -> None:
    world.rules(SHARE_ALL)  # shared to the registry while no push rule exists: no row anywhere
    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")
    world.rules(SHARE_ALL, WAVES)
    world.catalog.provisioning_reads = 0
    narrowed = SyncScope("workspace", workspace="workspace2")

    synced = world.engine.sync(narrowed, caller=PROVIDER, correlation_id="s")
    pulled = world.engine.pull("workspace3", AssetKind.MODEL, "churn", correlation_id="p")

    [held] = [o for o in synced.outcomes if o.action == "push" and o.target == "workspace2"]
    assert held.status.value == "skipped"
    assert "waits for the earlier waves (workspace4: not started)" in held.reason
    assert pulled.status.value == "skipped" and "waits for the earlier waves" in pulled.reason
    world.drain()
    assert [row_status(world, w) for w in ("workspace2", "workspace3", "workspace4")] == [None, None, None]

    world.engine.sync(SyncScope("workspace", workspace="workspace4"), caller=PROVIDER, correlation_id="s")
    world.drain()
    assert row_status(world, "workspace4") is LedgerStatus.SUCCEEDED
    world.clock.advance(minutes=10)
    world.engine.sync(narrowed, caller=PROVIDER, correlation_id="s")
    world.drain()
    assert (row_status(world, "workspace2"), row_status(world, "workspace3")) == (
        LedgerStatus.SUCCEEDED,
        None,
    )


def test_a_workspaces_own_maintenance_windows_hold_every_push_and_combine_with_the_rules(
    world: World,
) -> None:
    """workspace3's entry opens 02:00-05:00; rule `to-ws3-4`'s window for it 04:00-06:00; both must be open,
    so its push starts at 04:00. workspace4 has no window: it goes at once."""
    own = Window(cron="0 2 * * *", duration="3h")
    world.state.workspaces["workspace3"] = workspace("workspace3").model_copy(update={"maintenance": (own,)})
    rules = MaintenanceWindow(workspaces=("workspace3",), cron="0 4 * * *", duration="2h")
    targets = Targets(workspaces=("workspace3", "workspace4"))
    world.rules(SHARE_ALL, PushRule(id="to-ws3-4", targets=targets, maintenance=(rules,)))

    outcomes = world.engine.handle_event(
        world.register("workspace1", model("churn", "1")), correlation_id="c"
    )  # 12:00: neither is open

    held = {o.target: o for o in outcomes if o.action == "push"}
    assert held["workspace4"].status.value == "pending"
    assert held["workspace3"].status.value == "skipped"
    assert "outside workspace3's maintenance windows (rule to-ws3-4)" in held["workspace3"].reason
    assert "outside workspace workspace3's own maintenance windows" in held["workspace3"].reason
    assert "the next opens at 2026-12-01T02:00" in held["workspace3"].reason

    world.clock.advance(hours=14, minutes=30)  # 02:30: the workspace's window only
    world.reconcile()
    world.drain()
    assert row_status(world, "workspace3") is None
    assert "own maintenance windows" not in plan(world)["workspace3"][1]

    world.clock.advance(hours=2)  # 04:30: both
    world.reconcile()
    world.drain()
    assert row_status(world, "workspace3") is LedgerStatus.SUCCEEDED


def test_a_workspaces_own_windows_hold_a_rule_without_windows_and_a_pull_too(world: World) -> None:
    own = Window(cron="0 2 * * *", duration="2h")
    world.state.workspaces["workspace3"] = workspace("workspace3").model_copy(update={"maintenance": (own,)})
    world.rules(SHARE_ALL, PushRule(id="to-ws3", targets=Targets(workspaces=("workspace3",))))
    world.engine.handle_event(world.register("workspace1", model("churn", "1")), correlation_id="c")

    pulled = world.engine.pull("workspace3", AssetKind.MODEL, "churn", correlation_id="p")

    assert pulled.status.value == "skipped" and "own maintenance windows" in pulled.reason
    world.drain()
    assert row_status(world, "workspace3") is None
