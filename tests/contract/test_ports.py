"""The contract of each port, run on the in-memory fake and on the real adapter alike (see conftest)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain import Asset, AssetKind, AssetRef, LedgerStatus, Provisioning
from shared.errors import ConflictError
from shared.policy import PushAction, PushMode
from shared.ports import ConcurrentUpdateError
from shared.provenance import TAG_NAME, TAG_REGISTRY_ID, TAG_VERSION, TAG_WORKSPACE
from shared.records import AuditRecord, LedgerEntry, Memo, Status, Tombstone
from tests.contract.conftest import SEED_REGISTRY, CatalogPort, StatePort, unique, workspace

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def entry(key: str, status: LedgerStatus = LedgerStatus.PENDING) -> LedgerEntry:
    return LedgerEntry(key, "push|workspace3", status, attempts=1, rounds=1, message="m", updated=NOW)


def model(name: str, version: str = "1", **tags: str) -> Asset:
    return Asset(ref=AssetRef(kind=AssetKind.MODEL, name=name, version=version), tags=tags)


# --- inventory ------------------------------------------------------------------------------------------


def test_inventory_reads(state: StatePort) -> None:
    port = state.port
    assert port.get_registry() == SEED_REGISTRY and port.get_registry("other") is None
    assert [ws.name for ws in port.list_workspaces(tenant="contoso")] == ["workspace1", "workspace2"]
    assert port.get_workspace("workspace3") == workspace("workspace3") and port.get_workspace("nope") is None
    assert port.workspace_by_topic(workspace("workspace4").arm_id.upper()) == workspace("workspace4")
    assert port.get_tenant("northwind") is not None and port.get_tenant("nobody") is None
    assert [rule.id for rule in port.load_policy().share] == ["share-all"]


# --- ledger ---------------------------------------------------------------------------------------------


def test_a_row_is_created_once_and_updated_only_from_what_was_read(state: StatePort) -> None:
    port, key = state.port, f"model:{unique('m')}:1"
    created = port.create_entry(entry(key))
    assert created.etag
    with pytest.raises(ConcurrentUpdateError):
        port.create_entry(entry(key, LedgerStatus.RUNNING))
    running = port.update_entry(replace(created, status=LedgerStatus.RUNNING, event_ids=("e1",)))
    assert running.etag and running.etag != created.etag
    with pytest.raises(ConcurrentUpdateError):  # `created` is stale now
        port.update_entry(replace(created, status=LedgerStatus.FAILED))
    stored = port.get_entry(key, "push|workspace3")
    assert (stored.status, stored.event_ids, stored.rounds, stored.updated) == (
        LedgerStatus.RUNNING,
        ("e1",),
        1,
        NOW,
    )
    assert port.get_entry(key, "push|workspace9") is None


def test_an_assets_rows_are_written_together_or_not_at_all(state: StatePort) -> None:
    port, key = state.port, f"model:{unique('t')}:1"
    first = port.create_entry(entry(key))
    rows = [replace(entry(key), target=f"push|ws{index}") for index in range(3)]
    written = port.write_entries([(None, row) for row in rows])
    assert [row.target for row in written] == ["push|ws0", "push|ws1", "push|ws2"]
    assert all(row.etag for row in written)
    # One row exists already: nothing of the batch is written, not even the new row or the update.
    with pytest.raises(ConcurrentUpdateError):
        port.write_entries(
            [(None, replace(entry(key), target="push|ws9")), (None, rows[0]),
             (first, replace(first, status=LedgerStatus.RUNNING))]
        )  # fmt: skip
    assert port.get_entry(key, "push|ws9") is None
    assert port.get_entry(key, "push|workspace3").status is LedgerStatus.PENDING
    # Replacing what was read, in one go; a stale read fails the whole batch.
    running = port.write_entries([(row, replace(row, status=LedgerStatus.RUNNING)) for row in written])
    assert {port.get_entry(key, row.target).status for row in running} == {LedgerStatus.RUNNING}
    with pytest.raises(ConcurrentUpdateError):
        port.write_entries([(written[0], replace(written[0], status=LedgerStatus.FAILED))])


def test_an_assets_rows_are_its_own(state: StatePort) -> None:
    port, mine, other = state.port, f"model:{unique('a')}:1", f"model:{unique('b')}:1"
    port.create_entry(entry(mine))
    port.create_entry(replace(entry(mine), target="share"))
    port.create_entry(entry(other))
    assert sorted(row.target for row in port.entries_for_asset(mine)) == ["push|workspace3", "share"]


def test_a_workspaces_push_rows_are_listed_across_assets(state: StatePort) -> None:
    port, first, second = state.port, f"model:{unique('x')}:1", f"model:{unique('y')}:2"
    port.create_entry(entry(first))
    port.create_entry(entry(second))
    port.create_entry(replace(entry(first), target="push|workspace4"))
    port.create_entry(replace(entry(first), target="share"))
    mine = {(row.asset_key, row.target) for row in port.list_ledger(workspace="workspace3")}
    assert {(first, "push|workspace3"), (second, "push|workspace3")} <= mine
    assert all(target == "push|workspace3" for _, target in mine)


# --- audit and memos --------------------------------------------------------------------------------------


def test_audit_records_are_appended(state: StatePort) -> None:
    reason = unique("reason")
    state.port.audit(AuditRecord("push", "refused", reason, subject="model m:1", target="workspace3"))
    [found] = [record for record in state.audits() if record.reason == reason]
    assert (found.action, found.outcome, found.target) == ("push", "refused", "workspace3")


def test_a_key_is_first_once_per_window(state: StatePort) -> None:
    port, key = state.port, unique("refused-pull")
    assert port.first_in_window(key, now=NOW, window_seconds=600) is True
    assert port.first_in_window(key, now=NOW, window_seconds=600) is False
    later = NOW.replace(minute=NOW.minute + 11)  # the next window
    assert port.first_in_window(key, now=later, window_seconds=600) is True


def test_memos_are_kept_per_scope(state: StatePort) -> None:
    port, scope, key = state.port, unique("ws"), f"model:{unique('m')}:1"
    assert port.recall(scope, key) is None and port.memos_in(scope) == {}
    port.remember(scope, Memo(key, "f1", "d1", Status.REFUSED))
    port.remember(scope, Memo(key, "f2", "", Status.DONE))  # a newer judgement replaces the older
    assert port.recall(scope, key) == Memo(key, "f2", "", Status.DONE)
    assert port.memos_in(scope) == {key: Memo(key, "f2", "", Status.DONE)}
    assert port.memos_in(unique("elsewhere")) == {}


def test_the_first_claim_of_a_name_wins(state: StatePort) -> None:
    port, name = state.port, unique("owned")
    assert port.owner_of(AssetKind.MODEL, name) is None
    assert port.claim_owner(AssetKind.MODEL, name, "northwind") == "northwind"
    assert port.claim_owner(AssetKind.MODEL, name, "contoso") == "northwind"  # the owner as it stands
    assert port.owner_of(AssetKind.MODEL, name) == "northwind"
    assert port.owner_of(AssetKind.ENVIRONMENT, name) is None  # per kind


def test_the_first_recall_of_a_version_stands(state: StatePort) -> None:
    port, key = state.port, f"model:{unique('recalled')}:2"
    assert port.tombstone(key) is None
    first = Tombstone(key, "ops", "bad scores", NOW, tenant="contoso", correlation_id="c1")
    assert port.bury(first) == first
    assert port.bury(Tombstone(key, "someone", "again", NOW, correlation_id="c2")) == first
    assert port.tombstone(key) == first
    assert first in port.tombstones() and port.tombstone(f"model:{unique('other')}:1") is None


# --- work queues ------------------------------------------------------------------------------------------


def test_a_message_sent_with_a_delay_is_not_visible_yet(queue: tuple[Any, Any]) -> None:
    port, visible = queue
    port.send({"n": 1})
    port.send({"n": 2}, delay_seconds=600)
    assert visible() == [{"n": 1}]


def test_messages_sent_together_all_arrive(queue: tuple[Any, Any]) -> None:
    port, visible = queue
    port.send_all([{"n": n} for n in range(20)])
    port.send_all([{"n": 99}], delay_seconds=600)
    assert sorted(body["n"] for body in visible()) == list(range(20))


# --- the AzureML catalog ----------------------------------------------------------------------------------


def test_assets_are_read_where_they_are(catalog: CatalogPort) -> None:
    name = unique("ctr-read")
    catalog.register("workspace1", model(name, "1", team="a"))
    catalog.register("workspace1", model(name, "2", team="b"))
    port, ws1 = catalog.port, workspace("workspace1")
    assert port.get_asset(ws1, model(name, "2").ref).tags["team"] == "b"
    assert port.get_asset(ws1, model(name, "3").ref) is None
    assert port.get_asset(workspace("workspace2"), model(name, "1").ref) is None
    latest = {asset.ref.name: asset.ref.version for asset in port.workspace_latest(ws1, AssetKind.MODEL)}
    assert latest[name] == "2"
    assert port.get_registry_asset(SEED_REGISTRY, model(name).ref) is None


def test_a_share_copies_the_asset_with_its_tags_and_the_stamped_provenance(catalog: CatalogPort) -> None:
    name = unique("ctr-share")
    source = model(name, "1", team="a")
    catalog.register("workspace1", source)
    stamp = {TAG_WORKSPACE: "workspace1", TAG_NAME: name, TAG_VERSION: "1"}
    port = catalog.port
    port.share(workspace("workspace1"), source.ref, SEED_REGISTRY, source.ref, stamp)
    shared = port.get_registry_asset(SEED_REGISTRY, source.ref)
    assert shared is not None and shared.tags["team"] == "a" and shared.tags[TAG_WORKSPACE] == "workspace1"
    # The same share again (a retry after a lost answer) finds its own copy: stamped, nothing duplicated.
    assert port.share(workspace("workspace1"), source.ref, SEED_REGISTRY, source.ref, stamp) == shared
    assert port.registry_versions(SEED_REGISTRY, source.ref) == [shared]
    assert port.latest_registry_version(SEED_REGISTRY, source.ref) == "1"


def test_a_different_asset_under_a_registry_version_is_a_conflict(catalog: CatalogPort) -> None:
    name = unique("ctr-conflict")
    catalog.register("workspace1", model(name, "1"))
    catalog.put_in_registry(model(name, "1", owner="someone-else"))
    with pytest.raises(ConflictError):
        catalog.port.share(workspace("workspace1"), model(name).ref, SEED_REGISTRY, model(name).ref, {})


def test_a_push_registers_once_and_never_overwrites(catalog: CatalogPort) -> None:
    name = unique("ctr-push")
    catalog.put_in_registry(model(name, "1"))
    port, ws3, ref = catalog.port, workspace("workspace3"), model(name).ref
    assert port.push(ws3, SEED_REGISTRY, ref, PushAction(), {}).what.startswith("registered")
    assert port.push(ws3, SEED_REGISTRY, ref, PushAction(), {}).what.startswith("already registered")
    assert port.get_asset(ws3, ref).tags[TAG_REGISTRY_ID] == ref.registry_id(SEED_REGISTRY.name)
    catalog.register("workspace4", model(name, "1", local="yes"))
    with pytest.raises(ConflictError):
        port.push(workspace("workspace4"), SEED_REGISTRY, ref, PushAction(), {})


def test_a_deployment_is_started_checked_until_ready_then_promoted(catalog: CatalogPort) -> None:
    """A push that deploys only starts (endpoint first if missing); `deployment_state` says how it goes
    (a started endpoint shows as in progress, then absent until the push starts the deployment); once
    it is ready, `promote` gives it the traffic. No call waits for provisioning."""
    port, name = catalog.port, unique("ctr-dep")
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version="1")
    catalog.put_in_registry(model(name))
    ws4, action = workspace("workspace4"), PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint=unique("ep"))
    started = port.push(ws4, SEED_REGISTRY, ref, action, {"regsync.correlation": "c"})
    assert started.deploying
    deadline, seen = time.monotonic() + 60, []
    state = port.deployment_state(ws4, action, ref, started.operation)
    while state.state is not Provisioning.SUCCEEDED:
        assert time.monotonic() < deadline, seen
        assert state.state is not Provisioning.FAILED, state.reason
        seen.append(state.state)
        if state.state is Provisioning.ABSENT:
            assert port.push(ws4, SEED_REGISTRY, ref, action, {"regsync.correlation": "c"}).deploying
        time.sleep(0.05)  # polling with a deadline: provisioning takes its own time
        state = port.deployment_state(ws4, action, ref, started.operation)
    assert Provisioning.IN_PROGRESS in seen or Provisioning.ABSENT in seen  # it was not ready at once
    assert "100% of the traffic" in port.promote(ws4, action, ref)


def ready(port: Any, ws: Any, action: PushAction, ref: AssetRef) -> str:
    """Deploy `ref` and promote it once ready, polling with a deadline (provisioning takes its time)."""
    started = port.push(ws, SEED_REGISTRY, ref, action, {})
    deadline = time.monotonic() + 60
    while (
        state := port.deployment_state(ws, action, ref, started.operation)
    ).state is not Provisioning.SUCCEEDED:
        assert time.monotonic() < deadline and state.state is not Provisioning.FAILED, state.reason
        if state.state is Provisioning.ABSENT:
            port.push(ws, SEED_REGISTRY, ref, action, {})
        time.sleep(0.05)  # the poll interval, not a synchronisation
    return str(port.promote(ws, action, ref))


def test_a_recall_archives_regsyncs_copy_only_and_marks_the_registry_version(catalog: CatalogPort) -> None:
    name = unique("ctr-recall")
    catalog.put_in_registry(model(name, "1"))
    port, ws3, ref = catalog.port, workspace("workspace3"), model(name).ref
    port.push(ws3, SEED_REGISTRY, ref, PushAction(), {})
    catalog.register("workspace4", model(name, "1", local="yes"))  # not RegSync's copy

    assert port.retire(ws3, SEED_REGISTRY, ref, PushAction(), None) == f"archived {name}:1"
    assert "did not come from the registry" in port.retire(
        workspace("workspace4"), SEED_REGISTRY, ref, PushAction(), None
    )
    assert "nothing to archive" in port.retire(
        workspace("workspace2"), SEED_REGISTRY, ref, PushAction(), None
    )
    assert catalog.archived("workspace3", ref) and not catalog.archived("workspace4", ref)

    port.archive_registry_version(SEED_REGISTRY, ref, {"regsync.recalled": "now by ops"})
    assert catalog.archived("registry", ref)
    assert port.get_registry_asset(SEED_REGISTRY, ref).tags["regsync.recalled"] == "now by ops"


def test_a_recall_moves_an_endpoints_traffic_back_to_the_previous_deployment(catalog: CatalogPort) -> None:
    port, name = catalog.port, unique("ctr-back")
    ws4, action = workspace("workspace4"), PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint=unique("ep"))
    first, second = model(name, "1").ref, model(name, "2").ref
    catalog.put_in_registry(model(name, "1"))
    catalog.put_in_registry(model(name, "2"))
    ready(port, ws4, action, first)
    ready(port, ws4, action, second)
    view = port.endpoint_view(ws4, action)
    by_model = {d.model: d for d in view.deployments}
    old, new = (
        by_model[first.registry_id(SEED_REGISTRY.name)],
        by_model[second.registry_id(SEED_REGISTRY.name)],
    )
    assert old.deployed_at and new.deployed_at > old.deployed_at and new.state == "Succeeded"
    assert {d: share for d, share in view.traffic.items() if share} == {new.name: 100}

    assert f"traffic moved from {new.name} to {old.name}" in port.retire(
        ws4, SEED_REGISTRY, second, action, old.name
    )

    after = port.endpoint_view(ws4, action)
    assert {d: share for d, share in after.traffic.items() if share} == {old.name: 100}
    assert (
        port.endpoint_view(workspace("workspace4"), action.model_copy(update={"endpoint": unique("none")}))
        is None
    )
