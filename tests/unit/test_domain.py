"""The domain types: validation at the edge, asset ids and keys, workspace ARM ids, registry regions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain import (
    Asset,
    AssetKind,
    AssetRef,
    Registry,
    Tenant,
    Workspace,
    parse_workspace_arm_id,
    workspace_arm_id,
)

SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"

HOSTILE_NAMES = [
    pytest.param("a' or '1' eq '1", id="odata-injection"),
    pytest.param("ws1' or PartitionKey ne '", id="odata-keyword"),
    pytest.param('ws"1', id="double-quote"),
    pytest.param("ws'1", id="single-quote"),
    pytest.param("wsé1", id="unicode-letter"),
    pytest.param("ws\u200b1", id="zero-width-space"),
    pytest.param("ws\x001", id="nul"),
    pytest.param("ws1\n", id="trailing-newline"),
    pytest.param("ws\t1", id="tab"),
    pytest.param("ws/1", id="slash"),
    pytest.param("ws\\1", id="backslash"),
    pytest.param("../ws1", id="dot-dot"),
    pytest.param("a" * 260, id="260-chars"),
    pytest.param("", id="empty"),
    pytest.param(" ws1", id="leading-space"),
]


def workspace_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "ws1",
        "tenant": "contoso",
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-ml",
        "region": "eastus",
    }
    return fields | overrides


def failing_fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


# --- AssetRef --------------------------------------------------------------------------------------


def test_int_version_becomes_text() -> None:
    ref = AssetRef(kind=AssetKind.MODEL, name="m", version=3)

    assert ref.version == "3"


def test_text_version_is_kept_as_given() -> None:
    assert AssetRef(kind="model", name="m", version="2024.01-rc1").version == "2024.01-rc1"


@pytest.mark.parametrize("version", [True, False])
def test_bool_version_is_refused(version: bool) -> None:
    with pytest.raises(ValidationError) as raised:
        AssetRef(kind="model", name="m", version=version)

    assert failing_fields(raised.value) == {"version"}


@pytest.mark.parametrize("version", [1.5, -1, "", "v 1", "1'"])
def test_malformed_version_is_refused(version: object) -> None:
    with pytest.raises(ValidationError) as raised:
        AssetRef(kind="model", name="m", version=version)

    assert failing_fields(raised.value) == {"version"}


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        AssetRef(kind="dataset", name="m", version="1")

    assert failing_fields(raised.value) == {"kind"}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_asset_name_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AssetRef(kind="model", name=name, version="1")

    assert failing_fields(raised.value) == {"name"}


def test_asset_name_may_be_255_characters_but_not_256() -> None:
    assert AssetRef(kind="model", name="a" * 255, version="1").name == "a" * 255
    with pytest.raises(ValidationError):
        AssetRef(kind="model", name="a" * 256, version="1")


@pytest.mark.parametrize(
    ("kind", "segment"),
    [
        (AssetKind.MODEL, "models"),
        (AssetKind.ENVIRONMENT, "environments"),
        (AssetKind.COMPONENT, "components"),
        (AssetKind.DATA, "data"),
    ],
)
def test_registry_id_uses_azureml_collection_names(kind: AssetKind, segment: str) -> None:
    ref = AssetRef(kind=kind, name="credit-card-default", version="2")

    assert ref.registry_id("shared-reg") == (
        f"azureml://registries/shared-reg/{segment}/credit-card-default/versions/2"
    )


def test_key_and_text_name_kind_name_and_version() -> None:
    ref = AssetRef(kind="environment", name="sklearn-env", version="7")

    assert ref.key == "environment:sklearn-env:7"
    assert str(ref) == "environment sklearn-env:7"


def test_refs_are_immutable_and_equal_by_value() -> None:
    ref = AssetRef(kind="model", name="m", version=1)

    assert ref == AssetRef(kind="model", name="m", version="1")
    assert hash(ref) == hash(AssetRef(kind="model", name="m", version="1"))
    with pytest.raises(ValidationError):
        ref.name = "other"  # type: ignore[misc]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        AssetRef(kind="model", name="m", version="1", registry="r")  # type: ignore[call-arg]

    assert failing_fields(raised.value) == {"registry"}


def test_asset_tags_default_to_empty() -> None:
    asset = Asset(ref=AssetRef(kind="model", name="m", version="1"))

    assert asset.tags == {}
    assert asset.job_name is None


# --- Workspace, Tenant ------------------------------------------------------------------------------


def test_workspace_defaults_to_dev_stage() -> None:
    assert Workspace(**workspace_fields()).stage == "dev"


def test_workspace_subscription_id_is_lower_cased() -> None:
    workspace = Workspace(**workspace_fields(subscription_id=SUBSCRIPTION.upper()))

    assert workspace.subscription_id == SUBSCRIPTION


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_workspace_name_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Workspace(**workspace_fields(name=name))

    assert failing_fields(raised.value) == {"name"}


@pytest.mark.parametrize("tenant", HOSTILE_NAMES)
def test_hostile_tenant_of_workspace_is_refused_naming_the_field(tenant: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Workspace(**workspace_fields(tenant=tenant))

    assert failing_fields(raised.value) == {"tenant"}


@pytest.mark.parametrize("tenant_id", [*HOSTILE_NAMES, pytest.param("Contoso", id="upper-case")])
def test_hostile_tenant_id_is_refused_naming_the_field(tenant_id: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Tenant(id=tenant_id)

    assert failing_fields(raised.value) == {"id"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subscription_id", "not-a-guid"),
        ("subscription_id", "0000aaaa-1111-2222-3333-44445555666' or '1' eq '1"),
        ("resource_group", "rg/other"),
        ("resource_group", "rg'"),
        ("resource_group", "rg."),
        ("region", "east us"),
        ("region", "eastus\n"),
        ("stage", "Prod"),
        ("stage", "prod'"),
    ],
)
def test_malformed_workspace_field_is_refused_naming_it(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Workspace(**workspace_fields(**{field: value}))

    assert failing_fields(raised.value) == {field}


def test_workspace_name_length_is_3_to_33() -> None:
    assert Workspace(**workspace_fields(name="abc")).name == "abc"
    assert Workspace(**workspace_fields(name="a" * 33)).name == "a" * 33
    for name in ("ab", "a" * 34):
        with pytest.raises(ValidationError):
            Workspace(**workspace_fields(name=name))


def test_workspace_region_is_normalised_to_lower_case() -> None:
    assert Workspace(**workspace_fields(region="EastUS")).region == "eastus"


def test_tenant_display_name_is_limited_to_256_characters() -> None:
    assert Tenant(id="contoso", display_name="x" * 256).display_name == "x" * 256
    with pytest.raises(ValidationError) as raised:
        Tenant(id="contoso", display_name="x" * 257)

    assert failing_fields(raised.value) == {"display_name"}


# --- ARM ids --------------------------------------------------------------------------------------


def test_workspace_arm_id_is_its_event_grid_topic() -> None:
    workspace = Workspace(**workspace_fields())

    assert workspace.arm_id == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
        "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
    )
    assert workspace.arm_id == workspace_arm_id(SUBSCRIPTION, "rg-ml", "ws1")


def test_parse_workspace_arm_id_round_trips() -> None:
    assert parse_workspace_arm_id(workspace_arm_id(SUBSCRIPTION, "rg-ml", "ws1")) == (
        SUBSCRIPTION,
        "rg-ml",
        "ws1",
    )


def test_parse_workspace_arm_id_is_case_insensitive_and_lower_cases_the_subscription() -> None:
    topic = (
        f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}/RESOURCEGROUPS/RG-ML"
        "/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/WS1"
    )

    assert parse_workspace_arm_id(topic) == (SUBSCRIPTION, "RG-ML", "WS1")


def test_parse_workspace_arm_id_accepts_resources_below_the_workspace() -> None:
    resource = workspace_arm_id(SUBSCRIPTION, "rg-ml", "ws1") + "/environments/sklearn/versions/3"

    assert parse_workspace_arm_id(resource) == (SUBSCRIPTION, "rg-ml", "ws1")


@pytest.mark.parametrize(
    "resource_id",
    [
        "",
        "not an id",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
        "/providers/Microsoft.MachineLearningServices/registries/reg1",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/Microsoft.Storage/workspaces/ws1",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
        "/providers/Microsoft.MachineLearningServices/workspaces/",
        f"prefix/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
        "/providers/Microsoft.MachineLearningServices/workspaces/ws1",
    ],
)
def test_parse_workspace_arm_id_rejects_other_resources(resource_id: str) -> None:
    assert parse_workspace_arm_id(resource_id) is None


# --- Registry ---------------------------------------------------------------------------------------


def make_registry(*regions: str) -> Registry:
    return Registry(name="shared-reg", subscription_id=SUBSCRIPTION, resource_group="rg-ml", regions=regions)


def test_registry_primary_region_is_the_first() -> None:
    assert make_registry("westeurope", "eastus").primary_region == "westeurope"


def test_registry_covers_its_regions_case_insensitively() -> None:
    registry = make_registry("eastus", "westeurope")

    assert registry.covers("eastus")
    assert registry.covers("westeurope")
    assert registry.covers("WestEurope")
    assert not registry.covers("westus")
    assert not registry.covers("eastus2")


def test_registry_needs_a_region() -> None:
    with pytest.raises(ValidationError) as raised:
        make_registry()

    assert failing_fields(raised.value) == {"regions"}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_registry_name_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Registry(name=name, subscription_id=SUBSCRIPTION, resource_group="rg", regions=("eastus",))

    assert failing_fields(raised.value) == {"name"}
