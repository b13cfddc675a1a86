"""StateStore against a real Azurite: inventory, the topic index, hostile names, rules, ledger and audit.

Each test gets its own table prefix, so tests are independent and can run in any order.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.domain import LedgerStatus, Registry, Tenant, Window, Workspace
from shared.policy import Policy, PushRule, ShareRule
from shared.policy_file import parse_policy
from shared.ports import ConcurrentUpdateError
from shared.records import AuditRecord, LedgerEntry
from shared.settings import Settings
from shared.storage import StateError, StateStore

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed-policy.yaml"
SUB1 = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
HOSTILE = [
    pytest.param("' or ''='", id="odata-or"),
    pytest.param("acme' or PartitionKey ne '", id="odata-keyword"),
    pytest.param('acme"', id="double-quote"),
    pytest.param("acmé", id="unicode"),
    pytest.param("a" * 261, id="261-chars"),
]


@pytest.fixture
def store(storage_connection_string: str) -> StateStore:
    settings = Settings(
        storage_connection_string=storage_connection_string, table_prefix=f"t{uuid.uuid4().hex[:10]}"
    )
    created = StateStore.from_settings(settings)
    created.ensure_tables()
    return created


def workspace(
    name: str, tenant: str = "contoso", *, subscription: str = SUB1, region: str = "eastus"
) -> Workspace:
    return Workspace(
        name=name, tenant=tenant, subscription_id=subscription, resource_group="rg-tenants", region=region
    )


def inventory_rows(store: StateStore) -> list[tuple[str, str]]:
    return sorted((row["PartitionKey"], row["RowKey"]) for row in store.inventory.list_entities())


@pytest.fixture
def contoso(store: StateStore) -> StateStore:
    store.put_tenant(Tenant(id="contoso", display_name="Contoso"))
    store.put_tenant(Tenant(id="northwind"))
    return store


def test_tenant_round_trip(store: StateStore) -> None:
    store.put_tenant(Tenant(id="contoso", display_name="Contoso 'Ltd.\" & ünïcode"))
    store.put_tenant(Tenant(id="northwind"))
    assert store.get_tenant("contoso") == Tenant(id="contoso", display_name="Contoso 'Ltd.\" & ünïcode")
    assert [tenant.id for tenant in store.list_tenants()] == ["contoso", "northwind"]
    store.delete_tenant("northwind")
    assert store.get_tenant("northwind") is None
    assert [tenant.id for tenant in store.list_tenants()] == ["contoso"]


def test_workspace_round_trip_and_tenant_filter(contoso: StateStore) -> None:
    first, second = workspace("workspace1"), workspace("workspace3", "northwind", region="westeurope")
    contoso.put_workspace(first)
    contoso.put_workspace(second)
    assert contoso.get_workspace("workspace1") == first
    assert sorted(item.name for item in contoso.list_workspaces()) == ["workspace1", "workspace3"]
    assert contoso.list_workspaces(tenant="northwind") == [second]
    assert contoso.list_workspaces(tenant="woodgrove") == []


def test_a_workspaces_maintenance_windows_round_trip_and_are_removed_when_taken_out(
    contoso: StateStore,
) -> None:
    windows = (Window(cron="0 2 * * *", duration="2h"), Window(cron="0 6 * * 6", duration="30m"))
    plain = workspace("workspace1")
    contoso.put_workspace(plain.model_copy(update={"maintenance": windows}))
    assert contoso.get_workspace("workspace1") == plain.model_copy(update={"maintenance": windows})
    contoso.put_workspace(plain)  # an upsert merges: the windows must not survive it
    assert contoso.get_workspace("workspace1") == plain
    assert contoso.list_workspaces() == [plain]


def test_registry_round_trip_and_the_only_registry(store: StateStore) -> None:
    registry = Registry(
        name="regsync-registry",
        subscription_id=SUB1,
        resource_group="rg-registry",
        regions=("eastus", "westeurope"),
    )
    store.put_registry(registry)
    assert store.get_registry("regsync-registry") == registry
    assert store.get_registry() == registry
    assert store.get_registry("other") is None
    store.put_registry(registry.model_copy(update={"name": "second"}))
    with pytest.raises(StateError, match="several registries"):
        store.get_registry()
    store.delete_registry("second")
    assert store.list_registries() == [registry]


def test_workspace_topic_lookup_is_case_insensitive_and_accepts_subject_paths(contoso: StateStore) -> None:
    contoso.put_workspace(workspace("Workspace1"))
    provider = "providers/Microsoft.MachineLearningServices/workspaces"
    topic = f"/subscriptions/{SUB1}/resourceGroups/rg-tenants/{provider}"
    found = contoso.workspace_by_topic(f"{topic.upper()}/WORKSPACE1/models/credit-card-default/versions/1")
    assert found is not None and found.name == "Workspace1"
    assert contoso.workspace_by_topic(f"{topic}/workspace2") is None
    assert contoso.workspace_by_topic("/subscriptions/x/resourceGroups/y") is None


def test_workspace_name_clash_is_refused_and_changes_nothing(contoso: StateStore) -> None:
    contoso.put_workspace(workspace("workspace1"))
    before = inventory_rows(contoso)
    with pytest.raises(StateError, match="`workspace1` is already used by /subscriptions/1111"):
        contoso.put_workspace(workspace("workspace1", subscription=SUB2))
    assert inventory_rows(contoso) == before


def test_workspace_of_an_unknown_tenant_is_refused(contoso: StateStore) -> None:
    with pytest.raises(StateError, match="tenant `woodgrove` is unknown"):
        contoso.put_workspace(workspace("workspace4", "woodgrove"))
    assert contoso.list_workspaces() == []


def test_deleting_a_workspace_removes_its_topic_index_row(contoso: StateStore) -> None:
    contoso.put_workspace(workspace("workspace1"))
    assert any(row.startswith("arm|") for _, row in inventory_rows(contoso))
    contoso.delete_workspace("workspace1")
    assert not any(partition == "workspace" for partition, _ in inventory_rows(contoso))
    assert contoso.workspace_by_topic(workspace("workspace1").arm_id) is None


def test_a_tenant_with_workspaces_cannot_be_removed(contoso: StateStore) -> None:
    contoso.put_workspace(workspace("workspace1"))
    with pytest.raises(StateError, match="tenant `contoso` still has workspaces"):
        contoso.delete_tenant("contoso")
    assert contoso.get_tenant("contoso") is not None
    contoso.delete_workspace("workspace1")
    contoso.delete_tenant("contoso")
    assert contoso.get_tenant("contoso") is None


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_are_refused_before_anything_is_written(store: StateStore, hostile: str) -> None:
    with pytest.raises(ValidationError):
        store.put_tenant(Tenant(id=hostile))
    with pytest.raises(ValidationError):
        store.put_workspace(workspace(hostile))
    with pytest.raises(ValidationError):
        store.put_registry(
            Registry(name=hostile, subscription_id=SUB1, resource_group="rg", regions=("eastus",))
        )
    assert inventory_rows(store) == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_filter_value_matches_nothing_rather_than_everything(
    contoso: StateStore, hostile: str
) -> None:
    contoso.put_workspace(workspace("workspace1"))
    contoso.put_workspace(workspace("workspace3", "northwind"))
    assert contoso.list_workspaces(tenant=hostile) == []
    assert len(contoso.list_workspaces()) == 2


def test_a_hostile_point_read_finds_nothing(contoso: StateStore) -> None:
    assert contoso.get_tenant("contoso' or ''='") is None
    assert contoso.get_workspace("x' or RowKey ne '") is None


def share(rule_id: str, **fields: object) -> ShareRule:
    return ShareRule.model_validate({"id": rule_id, **fields})


def push(rule_id: str, **fields: object) -> PushRule:
    return PushRule.model_validate({"id": rule_id, **fields})


def by_id(policy: Policy) -> tuple[list[ShareRule], list[PushRule]]:
    return sorted(policy.share, key=lambda rule: rule.id), sorted(policy.push, key=lambda rule: rule.id)


def test_the_seed_policy_round_trips(store: StateStore) -> None:
    policy = parse_policy(SEED.read_text()).policy
    assert store.put_policy(policy) == []
    assert by_id(store.load_policy()) == by_id(policy)


def test_replace_all_removes_stale_rules_and_merge_keeps_them(store: StateStore) -> None:
    store.put_policy(Policy(share=(share("a"), share("b")), push=(push("c"),)))
    store.put_policy(Policy(share=(share("b", effect="deny"),)))
    assert {rule.id for rule in store.load_policy().share} == {"a", "b"}
    assert store.load_policy().push == (push("c"),)
    removed = store.put_policy(Policy(push=(push("d"),)), replace_all=True)
    assert sorted(removed) == ["a", "b", "c"]
    assert store.load_policy() == Policy(push=(push("d"),))


def test_more_rules_than_one_transaction_holds(store: StateStore) -> None:
    many = Policy(
        share=tuple(share(f"s{index:03d}") for index in range(150)),
        push=tuple(push(f"p{index:03d}") for index in range(120)),
    )
    store.put_policy(many)
    assert by_id(store.load_policy()) == by_id(many)
    removed = store.put_policy(Policy(share=(share("s000"),)), replace_all=True)
    assert len(removed) == 269
    assert store.load_policy() == Policy(share=(share("s000"),))


def test_an_id_of_the_other_kind_is_refused_without_replace_and_moves_with_it(store: StateStore) -> None:
    store.put_policy(Policy(share=(share("same"), share("other"))))
    with pytest.raises(StateError, match="rule id `same` is stored as a rule of the other kind"):
        store.put_policy(Policy(push=(push("same"), push("fresh"))))
    assert {rule.id for rule in store.load_policy().share} == {"same", "other"}
    assert store.load_policy().push == ()
    # With replace the old share row must go, or the stored policy no longer loads (duplicate id).
    store.put_policy(Policy(push=(push("same"),)), replace_all=True)
    assert store.load_policy() == Policy(push=(push("same"),))


def test_deleting_a_rule(store: StateStore) -> None:
    store.put_policy(Policy(share=(share("a"),), push=(push("b"),)))
    assert store.delete_rule("b") is True
    assert store.delete_rule("b") is False
    assert store.load_policy() == Policy(share=(share("a"),))


def entry(status: LedgerStatus = LedgerStatus.PENDING) -> LedgerEntry:
    return LedgerEntry(asset_key="model:credit-card-default:1", target="push|workspace3", status=status)


def test_ledger_create_is_first_come_first_served(store: StateStore) -> None:
    created = store.create_entry(entry())
    assert created is not None and created.etag
    with pytest.raises(ConcurrentUpdateError):
        store.create_entry(entry(LedgerStatus.RUNNING))
    stored = store.get_entry("model:credit-card-default:1", "push|workspace3")
    assert stored is not None and stored.status is LedgerStatus.PENDING


def test_ledger_update_with_a_stale_etag_is_refused(store: StateStore) -> None:
    created = store.create_entry(entry())
    assert created is not None
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    running = store.update_entry(
        replace(created, status=LedgerStatus.RUNNING, attempts=1, started=started, event_ids=("e1",))
    )
    with pytest.raises(ConcurrentUpdateError, match="changed meanwhile"):
        store.update_entry(replace(created, status=LedgerStatus.FAILED))
    stored = store.get_entry(created.asset_key, created.target)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.started, stored.event_ids) == (
        LedgerStatus.RUNNING,
        1,
        started,
        ("e1",),
    )
    assert stored.etag == running.etag
    assert [item.workspace for item in store.entries_for_asset(created.asset_key)] == ["workspace3"]


def test_audit_is_newest_first(store: StateStore) -> None:
    now = datetime.now(UTC)
    for offset, outcome in ((2, "oldest"), (0, "newest"), (1, "middle")):
        store.audit(
            AuditRecord(action="share", outcome=outcome, reason="r", at=now - timedelta(seconds=offset))
        )
    recent = store.recent_audit(day=now)
    assert [record.outcome for record in recent if record.at.date() == now.date()][:3] == [
        "newest",
        "middle",
        "oldest",
    ]
    assert len(store.recent_audit(day=now, limit=2)) == 2
