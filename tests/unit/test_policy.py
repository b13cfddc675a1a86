"""Share and push rules, one feature at a time: what they match, who they bind, and the reasons given."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain import Asset, AssetKind, AssetRef, Registry
from shared.policy import (
    AssetSelector,
    Destination,
    Effect,
    Gate,
    Policy,
    PushAction,
    PushDecision,
    PushMode,
    PushRule,
    ShareRule,
    Targets,
    VersionPolicy,
    decide_push,
    decide_share,
    decide_targets,
    pinned_versions,
    region_refusal,
    version_wanted,
)
from tests.unit.factories import SUBSCRIPTION, workspace

REGISTRY = Registry(
    name="shared-reg",
    subscription_id=SUBSCRIPTION,
    resource_group="rg-ml",
    regions=("eastus", "westeurope"),
)


def asset(
    name: str = "credit-card-default",
    version: str = "1",
    kind: AssetKind = AssetKind.MODEL,
    **tags: str,
) -> Asset:
    return Asset(ref=AssetRef(kind=kind, name=name, version=version), tags=tags)


def failing_fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


# Contoso has ws1 (dev) and ws2 (prod); Fabrikam has ws3 (dev) and ws4 (prod); ws5 is out of region.
WS1 = workspace("ws1", "contoso", stage="dev")
WS2 = workspace("ws2", "contoso", region="westeurope", stage="prod")
WS3 = workspace("ws3", "fabrikam", stage="dev")
WS4 = workspace("ws4", "fabrikam", stage="prod")
WS5 = workspace("ws5", "fabrikam", region="westus")
ALL_WORKSPACES = (WS1, WS2, WS3, WS4, WS5)
WS5_REFUSAL = "workspace ws5 is in westus, outside the registry's regions [eastus, westeurope]"

SHARE_ALL = ShareRule(id="share-all")
PUSH_ALL = PushRule(id="push-all")


def share(*rules: ShareRule, push: tuple[PushRule, ...] = ()) -> Policy:
    return Policy(share=rules, push=push)


def allowed_targets(decisions: list[PushDecision]) -> list[str]:
    return [decision.target for decision in decisions if decision.allowed]


# --- Share: private by default, selectors ----------------------------------------------------------


def test_without_share_rules_an_asset_is_private() -> None:
    decision = decide_share(asset(), WS1, REGISTRY, Policy())

    assert not decision.allowed
    assert decision.reason == "private: no share rule allows model credit-card-default:1 from ws1"
    assert decision.rule_id is None
    assert decision.destination is None


def test_provider_share_rule_shares_under_the_same_name_by_default() -> None:
    decision = decide_share(asset(), WS1, REGISTRY, share(SHARE_ALL))

    assert decision.allowed
    assert decision.rule_id == "share-all"
    assert decision.destination == AssetRef(kind="model", name="credit-card-default", version="1")
    assert decision.reason == "shared by rule `share-all` of the provider as credit-card-default:1"
    assert decision.audience is None


@pytest.mark.parametrize("kind", list(AssetKind))
def test_share_rule_matches_only_its_kinds(kind: AssetKind) -> None:
    rule = ShareRule(id="models-only", assets=AssetSelector(kinds=(AssetKind.MODEL,)))

    decision = decide_share(asset(kind=kind), WS1, REGISTRY, share(rule))

    assert decision.allowed is (kind is AssetKind.MODEL)


@pytest.mark.parametrize(
    ("name", "shared"),
    [
        ("credit-card-default", True),
        ("credit-card-v2", True),
        ("bert-base-uncased", True),
        ("bert-base-draft", False),
        ("credit-card-tmp", False),
        ("resnet50", False),
        ("Credit-card-default", False),
    ],
)
def test_share_rule_includes_then_excludes_by_name_glob(name: str, shared: bool) -> None:
    selector = AssetSelector(include=("credit-*", "bert-*"), exclude=("*-draft", "*-tmp"))
    rule = ShareRule(id="globbed", assets=selector)

    assert decide_share(asset(name), WS1, REGISTRY, share(rule)).allowed is shared


def test_glob_character_classes_and_single_character_wildcards_work() -> None:
    rule = ShareRule(id="versions", assets=AssetSelector(include=("model-v?",), exclude=("model-v[0-3]",)))
    policy = share(rule)

    assert decide_share(asset("model-v7"), WS1, REGISTRY, policy).allowed
    assert not decide_share(asset("model-v2"), WS1, REGISTRY, policy).allowed
    assert not decide_share(asset("model-v10"), WS1, REGISTRY, policy).allowed


@pytest.mark.parametrize(
    ("tags", "shared"),
    [
        ({"share": "yes", "team": "risk"}, True),
        ({"share": "yes", "team": ""}, True),
        ({"share": "yes"}, False),
        ({"share": "no", "team": "risk"}, False),
        ({"share": "YES", "team": "risk"}, False),
        ({}, False),
    ],
)
def test_tag_selector_wants_exact_values_and_star_means_present(tags: dict[str, str], shared: bool) -> None:
    rule = ShareRule(id="tagged", assets=AssetSelector(tags={"share": "yes", "team": "*"}))

    assert decide_share(asset(**tags), WS1, REGISTRY, share(rule)).allowed is shared


def test_literal_star_tag_value_matches_any_value_including_star() -> None:
    rule = ShareRule(id="tagged", assets=AssetSelector(tags={"stage": "*"}))

    assert decide_share(asset(stage="*"), WS1, REGISTRY, share(rule)).allowed


# --- Share: deny, owners, workspaces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("deny_tenant", "allow_tenant"),
    [(None, None), (None, "contoso"), ("contoso", None), ("contoso", "contoso")],
)
@pytest.mark.parametrize("deny_first", [True, False])
def test_share_deny_beats_allow_whoever_owns_them_and_in_any_order(
    deny_tenant: str | None, allow_tenant: str | None, deny_first: bool
) -> None:
    deny = ShareRule(id="zz-deny", tenant=deny_tenant, effect=Effect.DENY)
    allow = ShareRule(id="aa-allow", tenant=allow_tenant)
    rules = (deny, allow) if deny_first else (allow, deny)

    decision = decide_share(asset(), WS1, REGISTRY, share(*rules))

    assert not decision.allowed
    assert decision.rule_id == "zz-deny"
    owner = f"tenant {deny_tenant}" if deny_tenant else "the provider"
    assert decision.reason == f"denied by share rule `zz-deny` of {owner}"


def test_share_deny_only_applies_to_assets_it_selects() -> None:
    deny = ShareRule(id="no-drafts", effect=Effect.DENY, assets=AssetSelector(include=("*-draft",)))
    policy = share(SHARE_ALL, deny)

    assert decide_share(asset("credit-card-default"), WS1, REGISTRY, policy).allowed
    assert not decide_share(asset("credit-card-draft"), WS1, REGISTRY, policy).allowed


def test_tenant_share_rule_applies_only_to_its_own_workspaces() -> None:
    policy = share(ShareRule(id="contoso-shares", tenant="contoso"))

    assert decide_share(asset(), WS1, REGISTRY, policy).allowed
    assert decide_share(asset(), WS2, REGISTRY, policy).allowed
    refused = decide_share(asset(), WS3, REGISTRY, policy)
    assert not refused.allowed
    assert refused.reason.startswith("private:")


def test_tenant_share_rule_naming_another_tenants_workspace_shares_nothing() -> None:
    rule = ShareRule(id="contoso-grabs-ws3", tenant="contoso", workspaces=("ws3",))

    assert not decide_share(asset(), WS3, REGISTRY, share(rule)).allowed
    assert not decide_share(asset(), WS1, REGISTRY, share(rule)).allowed


def test_tenant_deny_does_not_reach_another_tenants_workspaces() -> None:
    deny = ShareRule(id="contoso-keeps", tenant="contoso", effect=Effect.DENY)
    policy = share(SHARE_ALL, deny)

    assert not decide_share(asset(), WS1, REGISTRY, policy).allowed
    assert decide_share(asset(), WS3, REGISTRY, policy).allowed


def test_provider_share_rule_applies_to_every_tenant() -> None:
    for origin in (WS1, WS2, WS3, WS4):
        assert decide_share(asset(), origin, REGISTRY, share(SHARE_ALL)).allowed, origin.name


def test_workspace_scoped_share_rule_applies_only_to_the_named_workspaces() -> None:
    rule = ShareRule(id="ws1-only", tenant="contoso", workspaces=("ws1",))

    assert decide_share(asset(), WS1, REGISTRY, share(rule)).allowed
    assert not decide_share(asset(), WS2, REGISTRY, share(rule)).allowed


def test_origin_outside_the_registry_regions_cannot_share() -> None:
    decision = decide_share(asset(), WS5, REGISTRY, share(SHARE_ALL))

    assert not decision.allowed
    assert (
        decision.reason == "workspace ws5 is in westus, outside the registry's regions [eastus, westeurope]"
    )


def test_region_refusal_is_none_for_covered_regions() -> None:
    assert region_refusal(WS1, REGISTRY) is None
    assert region_refusal(WS2, REGISTRY) is None
    assert region_refusal(WS5, REGISTRY) == WS5_REFUSAL


# --- Share: destination naming --------------------------------------------------------------------


def test_destination_template_fills_name_tenant_workspace_and_version() -> None:
    rule = ShareRule(
        id="renamed", destination=Destination(name="{tenant}-{workspace}-{name}", version="{version}.0")
    )

    decision = decide_share(asset(version="3"), WS1, REGISTRY, share(rule))

    assert decision.destination == AssetRef(
        kind="model", name="contoso-ws1-credit-card-default", version="3.0"
    )
    assert (
        decision.reason == "shared by rule `renamed` of the provider as contoso-ws1-credit-card-default:3.0"
    )


def test_destination_keeps_the_asset_kind() -> None:
    decision = decide_share(asset(kind=AssetKind.DATA), WS1, REGISTRY, share(SHARE_ALL))

    assert decision.destination is not None
    assert decision.destination.kind is AssetKind.DATA


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "{name}-{stage}"}, "destination.name uses unknown field(s) ['stage']"),
        ({"name": "{version}"}, "destination.name uses unknown field(s) ['version']"),
        ({"name": "{}"}, "destination.name uses unknown field(s) ['']"),
        ({"name": "{0}"}, "destination.name uses unknown field(s) ['0']"),
        ({"name": "{name.__class__}"}, "destination.name uses unknown field(s) ['name.__class__']"),
        ({"name": "{name!r}"}, "destination.name uses unknown field(s) ['name!r']"),
        ({"name": "{name:>300}"}, "destination.name uses unknown field(s) ['name:>300']"),
        ({"version": "{name}"}, "destination.version uses unknown field(s) ['name']"),
        ({"version": "{tenant}"}, "destination.version uses unknown field(s) ['tenant']"),
    ],
)
def test_destination_with_unknown_template_field_is_refused(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Destination(**fields)


def test_destination_lengths_are_limited() -> None:
    with pytest.raises(ValidationError) as raised:
        Destination(name="a" * 256, version="b" * 51)

    assert failing_fields(raised.value) == {"name", "version"}


@pytest.mark.parametrize("template", ["{tenant}/{name}", "bad name", "x{", "{name}'"])
def test_destination_that_cannot_name_an_asset_is_refused_at_validation(template: str) -> None:
    with pytest.raises(ValidationError):
        Destination(name=template)


def test_most_specific_share_rule_names_the_destination() -> None:
    provider = ShareRule(id="a-provider", destination=Destination(name="provider-{name}"))
    tenant = ShareRule(id="b-tenant", tenant="contoso", destination=Destination(name="tenant-{name}"))
    scoped = ShareRule(
        id="c-workspace", tenant="contoso", workspaces=("ws1",), destination=Destination(name="ws-{name}")
    )
    policy = share(provider, tenant, scoped)

    naming = {
        origin.name: (decision.rule_id, decision.destination and decision.destination.name)
        for origin in (WS1, WS2, WS3)
        for decision in [decide_share(asset(), origin, REGISTRY, policy)]
    }

    assert naming == {
        "ws1": ("c-workspace", "ws-credit-card-default"),
        "ws2": ("b-tenant", "tenant-credit-card-default"),
        "ws3": ("a-provider", "provider-credit-card-default"),
    }


def test_equally_specific_share_rules_are_chosen_by_id_not_by_order() -> None:
    first = ShareRule(id="a-rule", destination=Destination(name="a-{name}"))
    second = ShareRule(id="b-rule", destination=Destination(name="b-{name}"))

    for policy in (share(first, second), share(second, first)):
        assert decide_share(asset(), WS1, REGISTRY, policy).rule_id == "a-rule"


def test_share_decision_carries_the_audience() -> None:
    rule = ShareRule(id="to-fabrikam", audience=("fabrikam",))

    assert decide_share(asset(), WS1, REGISTRY, share(rule)).audience == ("fabrikam",)


# --- Push: subscription, owners, targets -----------------------------------------------------------


def test_shared_asset_without_push_rules_goes_nowhere() -> None:
    decision = decide_push(asset(), WS1, WS3, REGISTRY, share(SHARE_ALL))

    assert not decision.allowed
    assert decision.target == "ws3"
    assert decision.reason == "not subscribed: no push rule sends model credit-card-default:1 to ws3"


def test_provider_push_rule_reaches_every_tenants_workspaces_but_the_origin() -> None:
    decisions = decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, share(SHARE_ALL, push=(PUSH_ALL,)))

    assert [decision.target for decision in decisions] == ["ws1", "ws2", "ws3", "ws4", "ws5"]
    assert allowed_targets(decisions) == ["ws2", "ws3", "ws4"]
    assert decisions[2].reason == "pushed by rule `push-all` of the provider (register, automatic)"
    assert decisions[2].rule_id == "push-all"


def test_origin_never_receives_its_own_asset() -> None:
    decision = decide_push(asset(), WS1, WS1, REGISTRY, share(SHARE_ALL, push=(PUSH_ALL,)))

    assert not decision.allowed
    assert decision.reason == (
        "ws1 is where model credit-card-default:1 comes from; an origin never receives its own"
    )


def test_target_outside_the_registry_regions_is_refused_with_the_regions() -> None:
    decision = decide_push(asset(), WS1, WS5, REGISTRY, share(SHARE_ALL, push=(PUSH_ALL,)))

    assert not decision.allowed
    assert (
        decision.reason == "workspace ws5 is in westus, outside the registry's regions [eastus, westeurope]"
    )


def test_nothing_is_pushed_from_an_origin_outside_the_registry_regions() -> None:
    decision = decide_push(asset(), WS5, WS1, REGISTRY, share(SHARE_ALL, push=(PUSH_ALL,)))

    assert not decision.allowed
    assert decision.reason == f"not shared from ws5: {WS5_REFUSAL}"


def test_tenant_push_rule_reaches_only_its_own_workspaces() -> None:
    rule = PushRule(id="contoso-subscribes", tenant="contoso")

    decisions = decide_targets(asset(), WS3, ALL_WORKSPACES, REGISTRY, share(SHARE_ALL, push=(rule,)))

    assert allowed_targets(decisions) == ["ws1", "ws2"]
    assert (
        decisions[0].reason == "pushed by rule `contoso-subscribes` of tenant contoso (register, automatic)"
    )


def test_tenant_push_rule_targeting_another_tenant_never_pushes_there() -> None:
    rule = PushRule(
        id="contoso-pushes-fabrikam",
        tenant="contoso",
        targets=Targets(workspaces=("ws3", "ws4"), tenants=("fabrikam",)),
    )

    decisions = decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, share(SHARE_ALL, push=(rule,)))

    assert allowed_targets(decisions) == []
    assert decisions[2].reason.startswith("not subscribed:")


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (Targets(workspaces=("ws2", "ws4")), ["ws2", "ws4"]),
        (Targets(tenants=("fabrikam",)), ["ws3", "ws4"]),
        (Targets(stages=("prod",)), ["ws2", "ws4"]),
        (Targets(tenants=("fabrikam",), stages=("prod",)), ["ws4"]),
        (Targets(workspaces=("ws2", "ws3"), stages=("dev",)), ["ws3"]),
        (Targets(workspaces=("ws1", "ws5")), []),
        (Targets(), ["ws2", "ws3", "ws4"]),
    ],
)
def test_push_targets_by_workspace_tenant_and_stage_must_all_match(
    targets: Targets, expected: list[str]
) -> None:
    rule = PushRule(id="targeted", targets=targets)

    decisions = decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, share(SHARE_ALL, push=(rule,)))

    assert allowed_targets(decisions) == expected


def test_push_from_tenants_limits_the_origins_a_rule_accepts() -> None:
    rule = PushRule(id="from-contoso", from_tenants=("contoso",))
    policy = share(SHARE_ALL, push=(rule,))

    assert decide_push(asset(), WS1, WS3, REGISTRY, policy).allowed
    from_fabrikam = decide_push(asset(), WS4, WS3, REGISTRY, policy)
    assert not from_fabrikam.allowed
    assert from_fabrikam.reason.startswith("not subscribed:")


def test_from_tenants_rule_does_not_accept_assets_without_an_origin() -> None:
    policy = share(push=(PushRule(id="from-contoso", from_tenants=("contoso",)),))

    assert not decide_push(asset(), None, WS3, REGISTRY, policy).allowed


def test_registry_native_asset_is_pushed_without_a_share_check() -> None:
    decision = decide_push(asset(), None, WS3, REGISTRY, Policy(push=(PUSH_ALL,)))

    assert decision.allowed
    assert decision.rule_id == "push-all"


def test_push_rule_selects_assets_by_kind_glob_and_tags() -> None:
    selector = AssetSelector(kinds=(AssetKind.MODEL,), include=("bert-*",), tags={"approved": "true"})
    policy = share(SHARE_ALL, push=(PushRule(id="approved-bert", assets=selector),))

    assert decide_push(asset("bert-base", approved="true"), WS1, WS3, REGISTRY, policy).allowed
    assert not decide_push(asset("bert-base"), WS1, WS3, REGISTRY, policy).allowed
    assert not decide_push(asset("resnet", approved="true"), WS1, WS3, REGISTRY, policy).allowed
    env = asset("bert-base", kind=AssetKind.ENVIRONMENT, approved="true")
    assert not decide_push(env, WS1, WS3, REGISTRY, policy).allowed


# --- Push: deny, share re-check, audience ----------------------------------------------------------


@pytest.mark.parametrize(
    ("deny_tenant", "allow_tenant"),
    [(None, None), (None, "fabrikam"), ("fabrikam", None), ("fabrikam", "fabrikam")],
)
@pytest.mark.parametrize("deny_first", [True, False])
def test_push_deny_beats_allow_whoever_owns_them_and_in_any_order(
    deny_tenant: str | None, allow_tenant: str | None, deny_first: bool
) -> None:
    deny = PushRule(id="zz-deny", tenant=deny_tenant, effect=Effect.DENY)
    allow = PushRule(id="aa-allow", tenant=allow_tenant)
    rules = (deny, allow) if deny_first else (allow, deny)

    decision = decide_push(asset(), WS1, WS3, REGISTRY, share(SHARE_ALL, push=rules))

    assert not decision.allowed
    assert decision.rule_id == "zz-deny"
    owner = f"tenant {deny_tenant}" if deny_tenant else "the provider"
    assert decision.reason == f"denied by push rule `zz-deny` of {owner}"


def test_tenant_push_deny_protects_only_its_own_workspaces() -> None:
    deny = PushRule(id="fabrikam-refuses", tenant="fabrikam", effect=Effect.DENY)
    policy = share(SHARE_ALL, push=(PUSH_ALL, deny))

    decisions = decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, policy)

    assert allowed_targets(decisions) == ["ws2"]


def test_share_deny_stops_pushes_even_with_a_push_allow() -> None:
    deny = ShareRule(id="keep-secret", tenant="contoso", effect=Effect.DENY)

    decision = decide_push(asset(), WS1, WS3, REGISTRY, share(SHARE_ALL, deny, push=(PUSH_ALL,)))

    assert not decision.allowed
    assert decision.rule_id == "keep-secret"
    assert decision.reason == "not shared from ws1: denied by share rule `keep-secret` of tenant contoso"


def test_revoking_the_share_rule_stops_further_pushes() -> None:
    rule = ShareRule(id="contoso-shares", tenant="contoso")
    before = Policy(share=(rule,), push=(PUSH_ALL,))
    after = Policy(push=(PUSH_ALL,))

    assert decide_push(asset(), WS1, WS3, REGISTRY, before).allowed
    revoked = decide_push(asset(), WS1, WS3, REGISTRY, after)
    assert not revoked.allowed
    assert revoked.reason == (
        "not shared from ws1: private: no share rule allows model credit-card-default:1 from ws1"
    )


def test_asset_shared_under_a_new_name_is_still_pushed() -> None:
    rule = ShareRule(
        id="contoso-credit",
        tenant="contoso",
        assets=AssetSelector(include=("credit-*",)),
        destination=Destination(name="{tenant}-{name}"),
    )
    policy = share(rule, push=(PUSH_ALL,))
    shared = decide_share(asset(), WS1, REGISTRY, policy)
    assert shared.destination is not None

    decision = decide_push(Asset(ref=shared.destination), WS1, WS3, REGISTRY, policy, source=asset())

    assert decision.allowed, decision.reason


def test_share_deny_on_the_source_name_stops_pushes_of_a_renamed_asset() -> None:
    renaming = ShareRule(id="contoso-all", tenant="contoso", destination=Destination(name="{tenant}-{name}"))
    deny = ShareRule(
        id="no-credit", tenant="contoso", effect=Effect.DENY, assets=AssetSelector(include=("credit-*",))
    )
    registry_asset = Asset(ref=AssetRef(kind="model", name="contoso-credit-card-default", version="1"))

    decision = decide_push(
        registry_asset, WS1, WS3, REGISTRY, share(renaming, deny, push=(PUSH_ALL,)), source=asset()
    )

    assert not decision.allowed
    assert decision.reason == "not shared from ws1: denied by share rule `no-credit` of tenant contoso"


def test_audience_limits_which_tenants_receive() -> None:
    rule = ShareRule(id="to-fabrikam", tenant="contoso", audience=("fabrikam",))
    policy = share(rule, push=(PUSH_ALL,))

    decisions = decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, policy)

    # The origin's own tenant always belongs to the audience (ws2 is contoso's, like the origin).
    assert allowed_targets(decisions) == ["ws2", "ws3", "ws4"]


def test_empty_audience_reaches_only_the_origins_own_tenant() -> None:
    policy = share(ShareRule(id="own-tenant-only", audience=()), push=(PUSH_ALL,))

    assert allowed_targets(decide_targets(asset(), WS1, ALL_WORKSPACES, REGISTRY, policy)) == ["ws2"]


def test_audience_refusal_names_the_rule_the_audience_and_the_target_tenant() -> None:
    outsider = workspace("ws6", "northwind")
    policy = share(ShareRule(id="to-fabrikam", audience=("fabrikam",)), push=(PUSH_ALL,))

    decision = decide_push(asset(), WS1, outsider, REGISTRY, policy)

    assert not decision.allowed
    assert decision.rule_id == "to-fabrikam"
    assert decision.reason == (
        "share rule `to-fabrikam` limits its audience to tenants [fabrikam]; ws6 belongs to northwind"
    )


# --- Push: action, gate, version policy -------------------------------------------------------------


def test_push_decision_carries_action_gate_and_version_policy() -> None:
    action = PushAction(
        mode=PushMode.DEPLOY_ONLINE,
        endpoint="credit-scoring",
        instance_type="Standard_F4s_v2",
        instance_count=3,
        traffic_percent=10,
    )
    rule = PushRule(
        id="prod-deploy",
        assets=AssetSelector(kinds=(AssetKind.MODEL,)),
        targets=Targets(stages=("prod",)),
        action=action,
        gate=Gate.APPROVAL,
        version_policy=VersionPolicy.PINNED,
        pinned_version="4",
    )

    decision = decide_push(asset(), WS1, WS4, REGISTRY, share(SHARE_ALL, push=(rule,)))

    assert decision.allowed
    assert decision.action == action
    assert decision.gate is Gate.APPROVAL
    assert decision.version_policy is VersionPolicy.PINNED
    assert decision.pinned_version == "4"
    assert decision.reason == "pushed by rule `prod-deploy` of the provider (deploy_online, approval)"


def test_refused_push_carries_no_action() -> None:
    decision = decide_push(asset(), WS1, WS3, REGISTRY, share(SHARE_ALL))

    assert decision.action is None
    assert decision.gate is Gate.AUTOMATIC


def test_equally_matching_push_allows_are_chosen_by_id_not_by_order() -> None:
    first = PushRule(id="a-register")
    second = PushRule(
        id="b-deploy",
        assets=AssetSelector(kinds=(AssetKind.MODEL,)),
        action=PushAction(mode=PushMode.DEPLOY_BATCH, endpoint="batch-scoring"),
    )

    for rules in ((first, second), (second, first)):
        assert decide_push(asset(), WS1, WS3, REGISTRY, share(SHARE_ALL, push=rules)).rule_id == "a-register"


def test_provider_approval_gate_is_not_bypassed_by_a_tenant_rule() -> None:
    gate = PushRule(id="prod-gate", targets=Targets(stages=("prod",)), gate=Gate.APPROVAL)
    tenant = PushRule(id="a-fabrikam-wants-all", tenant="fabrikam")

    decision = decide_push(asset(), WS1, WS4, REGISTRY, share(SHARE_ALL, push=(gate, tenant)))

    assert decision.gate is Gate.APPROVAL


@pytest.mark.parametrize("mode", [PushMode.DEPLOY_ONLINE, PushMode.DEPLOY_BATCH])
def test_deploy_modes_need_an_endpoint(mode: PushMode) -> None:
    with pytest.raises(ValidationError, match=f"action.mode {mode.value} needs action.endpoint"):
        PushAction(mode=mode)


@pytest.mark.parametrize("endpoint", ["ab", "1scoring", "scoring'", "a' or '1' eq '1", "x" * 33, "scoring/x"])
def test_malformed_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PushAction(mode=PushMode.DEPLOY_ONLINE, endpoint=endpoint)

    assert failing_fields(raised.value) == {"endpoint"}


@pytest.mark.parametrize(
    "code",
    [
        "azureml:score:1",
        "azureml://registries/regsync-registry/codes/score/versions/2",
    ],
)
def test_a_deployment_names_its_scoring_code_and_environment(code: str) -> None:
    action = PushAction(
        mode=PushMode.DEPLOY_ONLINE,
        endpoint="scoring",
        code_configuration={"code": code, "scoring_script": "src/score.py"},  # type: ignore[arg-type]
        environment="azureml:nlp-env:1",
    )

    assert action.code_configuration is not None and action.code_configuration.code == code
    assert action.code_configuration.scoring_script == "src/score.py"


SCRIPT = "code_configuration.scoring_script"


@pytest.mark.parametrize(
    ("config", "environment", "field"),
    [
        ({"code": "./src"}, None, "code_configuration.code"),  # a local path means nothing to a function
        ({"code": "azureml:score"}, None, "code_configuration.code"),  # no version
        ({"code": "azureml:score:1", "scoring_script": "../score.py"}, None, SCRIPT),
        ({"code": "azureml:score:1", "scoring_script": "score.sh"}, None, SCRIPT),
        (None, "mcr.microsoft.com/azureml/minimal:latest", "environment"),
    ],
)
def test_malformed_scoring_code_or_environment_is_refused(
    config: dict[str, str] | None, environment: str | None, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        PushAction(
            mode=PushMode.DEPLOY_ONLINE,
            endpoint="scoring",
            code_configuration=config,  # type: ignore[arg-type]
            environment=environment,
        )

    assert failing_fields(raised.value) == {field}


def test_a_register_push_takes_no_scoring_code() -> None:
    with pytest.raises(ValidationError, match="are for the deploy modes"):
        PushAction(environment="azureml:nlp-env:1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instance_count", 0),
        ("instance_count", 101),
        ("traffic_percent", -1),
        ("traffic_percent", 101),
        ("instance_type", "Standard DS3"),
    ],
)
def test_push_action_bounds(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        PushAction(**{field: value})

    assert failing_fields(raised.value) == {field}


@pytest.mark.parametrize("mode", [PushMode.DEPLOY_ONLINE, PushMode.DEPLOY_BATCH])
def test_deploying_rule_must_select_models(mode: PushMode) -> None:
    action = PushAction(mode=mode, endpoint="scoring")

    with pytest.raises(ValidationError, match=f"action.mode {mode.value} deploys models"):
        PushRule(id="deploy-envs", assets=AssetSelector(kinds=(AssetKind.ENVIRONMENT,)), action=action)
    assert PushRule(id="deploy-models", action=action).action.mode is mode


@pytest.mark.parametrize(
    ("policy", "pinned"),
    [(VersionPolicy.PINNED, None), (VersionPolicy.LATEST, "3"), (VersionPolicy.ALL, "3")],
)
def test_pinned_version_goes_with_the_pinned_policy_only(policy: VersionPolicy, pinned: str | None) -> None:
    with pytest.raises(ValidationError, match="version_policy pinned and pinned_version go together"):
        PushRule(id="versions", version_policy=policy, pinned_version=pinned)


@pytest.mark.parametrize("pinned", ["a' or '1' eq '1", "1\n", "v/1", "x" * 260])
def test_hostile_pinned_version_is_refused(pinned: str) -> None:
    with pytest.raises(ValidationError):
        PushRule(id="pinned", version_policy=VersionPolicy.PINNED, pinned_version=pinned)


def decision_with(version_policy: VersionPolicy, pinned: str | None = None) -> PushDecision:
    return PushDecision(True, "", "ws3", version_policy=version_policy, pinned_version=pinned)


def test_latest_policy_wants_only_the_latest_version() -> None:
    decision = decision_with(VersionPolicy.LATEST)

    assert version_wanted(decision, "5", latest="5")
    assert not version_wanted(decision, "4", latest="5")


def test_pinned_policy_wants_only_the_pinned_version() -> None:
    decision = decision_with(VersionPolicy.PINNED, "3")

    assert version_wanted(decision, "3", latest="5")
    assert not version_wanted(decision, "5", latest="5")


def test_all_policy_wants_every_version() -> None:
    decision = decision_with(VersionPolicy.ALL)

    assert version_wanted(decision, "1", latest="5")
    assert version_wanted(decision, "5", latest="5")


# --- Policy validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share_ids", "push_ids"),
    [(("r1", "r1"), ()), ((), ("r1", "r1")), (("r1",), ("r1",))],
)
def test_duplicate_rule_ids_are_refused_across_both_lists(
    share_ids: tuple[str, ...], push_ids: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError, match="rule id `r1` is used twice"):
        Policy(
            share=tuple(ShareRule(id=rule_id) for rule_id in share_ids),
            push=tuple(PushRule(id=rule_id) for rule_id in push_ids),
        )


HOSTILE = [
    pytest.param("a' or '1' eq '1", id="odata-injection"),
    pytest.param("x' and RowKey ne '", id="odata-keyword"),
    pytest.param('a"b', id="double-quote"),
    pytest.param("é", id="unicode"),
    pytest.param("a\x00", id="nul"),
    pytest.param("a\n", id="trailing-newline"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a" * 260, id="260-chars"),
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        (ShareRule, {}, "id"),
        (ShareRule, {"id": "r"}, "tenant"),
        (ShareRule, {"id": "r"}, "workspaces"),
        (ShareRule, {"id": "r"}, "audience"),
        (PushRule, {}, "id"),
        (PushRule, {"id": "r"}, "tenant"),
        (PushRule, {"id": "r"}, "from_tenants"),
    ],
)
def test_hostile_rule_field_is_refused_naming_it(
    model: type[ShareRule | PushRule], fields: dict[str, Any], field: str, value: str
) -> None:
    as_list = field in {"workspaces", "audience", "from_tenants"}
    with pytest.raises(ValidationError) as raised:
        model(**fields, **{field: (value,) if as_list else value})

    assert {name.split(".")[0] for name in failing_fields(raised.value)} == {field}


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["workspaces", "tenants", "stages"])
def test_hostile_target_is_refused_naming_it(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Targets(**{field: (value,)})

    assert failing_fields(raised.value) == {f"{field}.0"}


@pytest.mark.parametrize("glob", ["a' or '1' eq '1", "*'", "a b", "é*", "a/*", "a\n", "", "x" * 256])
@pytest.mark.parametrize("field", ["include", "exclude"])
def test_hostile_glob_is_refused_naming_it(field: str, glob: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AssetSelector(**{field: (glob,)})

    assert failing_fields(raised.value) == {f"{field}.0"}


@pytest.mark.parametrize("key", ["a' or '1' eq '1", "a b", "é", "", "x" * 129])
def test_hostile_tag_key_is_refused(key: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AssetSelector(tags={key: "v"})

    assert failing_fields(raised.value) == {f"tags.{key}.[key]"}


def test_unknown_rule_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        ShareRule(id="r", taget="oops")  # type: ignore[call-arg]

    assert failing_fields(raised.value) == {"taget"}


def test_rule_defaults_select_every_asset_kind_and_name() -> None:
    rule = ShareRule(id="r")

    assert rule.effect is Effect.ALLOW
    assert rule.owner == "the provider"
    assert set(rule.assets.kinds) == set(AssetKind)
    assert ShareRule(id="r", tenant="contoso").owner == "tenant contoso"


def test_pinned_versions_are_the_versions_allow_rules_pin_for_a_name() -> None:
    pin = PushRule(
        id="pin",
        assets=AssetSelector(include=("m*",), tags={"stage": "prod"}),
        version_policy=VersionPolicy.PINNED,
        pinned_version="3",
    )
    other = PushRule(
        id="other",
        assets=AssetSelector(include=("x*",)),
        version_policy=VersionPolicy.PINNED,
        pinned_version="4",
    )
    deny = PushRule(id="deny", effect=Effect.DENY, version_policy=VersionPolicy.PINNED, pinned_version="5")
    policy = Policy(push=(pin, other, deny))
    ref = AssetRef(kind=AssetKind.MODEL, name="model", version="7")

    assert pinned_versions(policy, ref) == {"3"}  # tags are judged later, per version
    assert pinned_versions(policy, AssetRef(kind=AssetKind.MODEL, name="model", version="3")) == set()
