"""Properties of the policy that must hold for every world: random workspaces, rules and assets.

The checks below use a small, independent reading of the rules (`oracle_*`) rather than the rules' own
`applies_to`/`matches`, so a bug in those methods cannot hide itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain import Asset, AssetKind, AssetRef, Registry, Workspace
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
    region_refusal,
)

# --- Strategies -------------------------------------------------------------------------------------

SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"
REGISTRY = Registry(
    name="shared-reg", subscription_id=SUBSCRIPTION, resource_group="rg", regions=("eastus", "westeurope")
)
TENANTS = ("contoso", "fabrikam", "northwind")
COVERED_REGIONS = ("eastus", "westeurope")
OTHER_REGIONS = ("westus", "japaneast")
STAGES = ("dev", "test", "prod")
WORKSPACE_NAMES = tuple(f"ws{index}" for index in range(8))
ASSET_NAMES = ("credit-card", "credit-draft", "bert-base", "bert-ft", "resnet")
GLOBS = ("*", "credit-*", "bert-*", "*-draft", "*-ft", "res?et", "[bc]*")
TAG_KEYS = ("share", "team")
TAG_VALUES = ("yes", "no")

# Narrow choices (one tenant, a glob, a tag) are mixed with wide ones ("any") so that a fair share of
# the generated worlds actually shares and pushes something; otherwise most properties would be vacuous.
tenants = st.sampled_from(TENANTS)
owners = st.one_of(st.none(), tenants)
effects = st.sampled_from((Effect.ALLOW, Effect.ALLOW, Effect.DENY))
regions = st.one_of(st.sampled_from(COVERED_REGIONS), st.sampled_from(COVERED_REGIONS + OTHER_REGIONS))


def subsets(values: tuple[str, ...], max_size: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), max_size=max_size, unique=True).map(tuple)


def any_or_some(values: tuple[str, ...], max_size: int) -> st.SearchStrategy[tuple[str, ...]]:
    """Empty (meaning 'any') half of the time, otherwise a few of `values`."""
    return st.one_of(st.just(()), subsets(values, max_size))


def workspaces_strategy() -> st.SearchStrategy[list[Workspace]]:
    one = st.builds(
        Workspace,
        name=st.sampled_from(WORKSPACE_NAMES),
        tenant=tenants,
        subscription_id=st.just(SUBSCRIPTION),
        resource_group=st.just("rg"),
        region=regions,
        stage=st.sampled_from(STAGES),
    )
    return st.lists(one, min_size=2, max_size=6, unique_by=lambda workspace: workspace.name)


assets = st.builds(
    Asset,
    ref=st.builds(
        AssetRef,
        kind=st.sampled_from(AssetKind),
        name=st.sampled_from(ASSET_NAMES),
        version=st.sampled_from(("1", "2")),
    ),
    tags=st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=2),
)

selectors = st.builds(
    AssetSelector,
    kinds=st.one_of(
        st.just(tuple(AssetKind)),
        st.lists(st.sampled_from(AssetKind), min_size=1, max_size=3, unique=True).map(tuple),
    ),
    include=st.one_of(st.just(("*",)), st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2).map(tuple)),
    exclude=any_or_some(GLOBS, max_size=1),
    tags=st.one_of(
        st.just({}),
        st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from((*TAG_VALUES, "*")), max_size=1),
    ),
)
any_assets_or_some = st.one_of(st.just(AssetSelector()), selectors)
tenant_limits = st.one_of(st.none(), st.none(), subsets(TENANTS))  # None: no limit
any_target_or_some = st.one_of(
    st.just(Targets()),
    st.builds(
        Targets,
        workspaces=any_or_some(WORKSPACE_NAMES, max_size=4),
        tenants=any_or_some(TENANTS, max_size=2),
        stages=any_or_some(STAGES, max_size=2),
    ),
)
destinations = st.sampled_from((Destination(), Destination(name="{tenant}-{workspace}-{name}")))


@st.composite
def share_rules(draw: st.DrawFn, rule_id: str) -> ShareRule:
    return ShareRule(
        id=rule_id,
        tenant=draw(owners),
        effect=draw(effects),
        assets=draw(any_assets_or_some),
        workspaces=draw(any_or_some(WORKSPACE_NAMES, max_size=3)),
        destination=draw(destinations),
        audience=draw(tenant_limits),
    )


@st.composite
def push_rules(draw: st.DrawFn, rule_id: str) -> PushRule:
    selector = draw(any_assets_or_some)
    modes = [PushMode.REGISTER]
    if AssetKind.MODEL in selector.kinds:
        modes += [PushMode.DEPLOY_ONLINE, PushMode.DEPLOY_BATCH]
    mode = draw(st.sampled_from(modes))
    version_policy = draw(st.sampled_from(VersionPolicy))
    return PushRule(
        id=rule_id,
        tenant=draw(owners),
        effect=draw(effects),
        assets=selector,
        from_tenants=draw(tenant_limits),
        targets=draw(any_target_or_some),
        action=PushAction(mode=mode, endpoint=None if mode is PushMode.REGISTER else "scoring"),
        version_policy=version_policy,
        pinned_version="1" if version_policy is VersionPolicy.PINNED else None,
        gate=draw(st.sampled_from(Gate)),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    # Ids are drawn, not numbered in list order, so that id order and list order are unrelated.
    ids = draw(st.lists(st.integers(0, 999), min_size=3, max_size=9, unique=True))
    split = draw(st.integers(1, len(ids) - 1))
    return Policy(
        share=tuple(draw(share_rules(f"r{number}")) for number in ids[:split]),
        push=tuple(draw(push_rules(f"r{number}")) for number in ids[split:]),
    )


@dataclass(frozen=True)
class World:
    workspaces: list[Workspace]
    origin: Workspace | None
    asset: Asset
    policy: Policy


@st.composite
def worlds(draw: st.DrawFn, with_origin: bool = False) -> World:
    workspaces = draw(workspaces_strategy())
    origin_choice = st.sampled_from(workspaces)
    origin = draw(origin_choice if with_origin else st.one_of(st.none(), origin_choice))
    return World(workspaces, origin, draw(assets), draw(policies()))


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- An independent reading of the rules -----------------------------------------------------------


def oracle_selects(selector: AssetSelector, asset: Asset) -> bool:
    if asset.ref.kind not in selector.kinds:
        return False
    if not any(fnmatchcase(asset.ref.name, glob) for glob in selector.include):
        return False
    if any(fnmatchcase(asset.ref.name, glob) for glob in selector.exclude):
        return False
    for key, wanted in selector.tags.items():
        if key not in asset.tags or wanted not in ("*", asset.tags[key]):
            return False
    return True


def oracle_share_applies(rule: ShareRule, origin: Workspace, asset: Asset) -> bool:
    owner_ok = rule.tenant in (None, origin.tenant)
    workspace_ok = not rule.workspaces or origin.name in rule.workspaces
    return owner_ok and workspace_ok and oracle_selects(rule.assets, asset)


def oracle_push_applies(rule: PushRule, target: Workspace, origin: Workspace | None, asset: Asset) -> bool:
    origin_tenant = origin.tenant if origin else None
    targets = rule.targets
    return (
        rule.tenant in (None, target.tenant)
        and (rule.from_tenants is None or origin_tenant in rule.from_tenants)
        and (not targets.workspaces or target.name in targets.workspaces)
        and (not targets.tenants or target.tenant in targets.tenants)
        and (not targets.stages or target.stage in targets.stages)
        and oracle_selects(rule.assets, asset)
    )


def share_rules_applying(world: World, effect: Effect) -> list[ShareRule]:
    origin = world.origin
    assert origin is not None
    return [
        rule
        for rule in world.policy.share
        if rule.effect is effect and oracle_share_applies(rule, origin, world.asset)
    ]


def push_rules_applying(world: World, target: Workspace, effect: Effect) -> list[PushRule]:
    return [
        rule
        for rule in world.policy.push
        if rule.effect is effect and oracle_push_applies(rule, target, world.origin, world.asset)
    ]


def covered(workspace: Workspace) -> bool:
    return workspace.region in REGISTRY.regions


def fan_out(world: World) -> list[PushDecision]:
    return decide_targets(world.asset, world.origin, world.workspaces, REGISTRY, world.policy)


# --- Properties ---------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(worlds(with_origin=True))
def test_private_stays_private(world: World) -> None:
    if share_rules_applying(world, Effect.ALLOW):
        return
    assert world.origin is not None

    shared = decide_share(world.asset, world.origin, REGISTRY, world.policy)

    assert not shared.allowed
    assert shared.destination is None
    assert not any(decision.allowed for decision in fan_out(world))


@PROPERTY_SETTINGS
@given(worlds(with_origin=True))
def test_removing_every_share_allow_stops_every_push(world: World) -> None:
    only_denies = tuple(rule for rule in world.policy.share if rule.effect is Effect.DENY)
    locked = World(
        world.workspaces, world.origin, world.asset, Policy(share=only_denies, push=world.policy.push)
    )

    assert not any(decision.allowed for decision in fan_out(locked))


@PROPERTY_SETTINGS
@given(worlds(with_origin=True))
def test_a_matching_share_deny_wins(world: World) -> None:
    denies = share_rules_applying(world, Effect.DENY)
    if not denies:
        return
    assert world.origin is not None

    shared = decide_share(world.asset, world.origin, REGISTRY, world.policy)

    assert not shared.allowed
    if covered(world.origin):
        assert shared.rule_id in {rule.id for rule in denies}
        assert shared.reason.startswith(f"denied by share rule `{shared.rule_id}`")
    assert not any(decision.allowed for decision in fan_out(world))


@PROPERTY_SETTINGS
@given(worlds())
def test_a_matching_push_deny_wins(world: World) -> None:
    for decision, target in zip(fan_out(world), sorted(world.workspaces, key=lambda w: w.name), strict=True):
        if push_rules_applying(world, target, Effect.DENY):
            assert not decision.allowed, decision.reason


@PROPERTY_SETTINGS
@given(worlds())
def test_every_allowed_target_is_justified(world: World) -> None:
    targets = {workspace.name: workspace for workspace in world.workspaces}
    for decision in fan_out(world):
        if not decision.allowed:
            continue
        target = targets[decision.target]
        allows = push_rules_applying(world, target, Effect.ALLOW)

        assert decision.rule_id in {rule.id for rule in allows}
        assert f"`{decision.rule_id}`" in decision.reason
        assert not push_rules_applying(world, target, Effect.DENY)
        assert covered(target)
        if world.origin is not None:
            assert target.name != world.origin.name
            shared = decide_share(world.asset, world.origin, REGISTRY, world.policy)
            assert shared.allowed
            own = target.tenant == world.origin.tenant  # the origin's tenant is always in the audience
            assert own or shared.audience is None or target.tenant in shared.audience
            audiences = [rule.audience for rule in share_rules_applying(world, Effect.ALLOW)]
            assert own or any(audience is None or target.tenant in audience for audience in audiences)


@PROPERTY_SETTINGS
@given(worlds())
def test_no_workspace_outside_the_registry_regions_is_ever_involved(world: World) -> None:
    decisions = fan_out(world)
    targets = {workspace.name: workspace for workspace in world.workspaces}

    for decision in decisions:
        if world.origin is not None and decision.target == world.origin.name:
            continue  # the origin is refused as such first; see test_the_origin_is_never_a_target
        if not covered(targets[decision.target]):
            assert not decision.allowed
            assert decision.reason.endswith("outside the registry's regions [eastus, westeurope]")
    if world.origin is not None and not covered(world.origin):
        assert not any(decision.allowed for decision in decisions)
        shared = decide_share(world.asset, world.origin, REGISTRY, world.policy)
        assert not shared.allowed
        assert shared.reason == region_refusal(world.origin, REGISTRY)


@PROPERTY_SETTINGS
@given(worlds(with_origin=True))
def test_the_origin_is_never_a_target(world: World) -> None:
    assert world.origin is not None
    by_target = {decision.target: decision for decision in fan_out(world)}

    assert not by_target[world.origin.name].allowed
    assert "an origin never receives its own" in by_target[world.origin.name].reason


@PROPERTY_SETTINGS
@given(worlds(), st.data())
def test_tenant_push_rules_never_reach_another_tenants_workspace(world: World, data: st.DataObject) -> None:
    # No provider push rules: each is either dropped or handed to a tenant (to keep many pushes allowed).
    tenant_rules = tuple(
        rule if rule.tenant else rule.model_copy(update={"tenant": data.draw(tenants)})
        for rule in world.policy.push
        if rule.tenant or data.draw(st.booleans())
    )
    tenant_only = World(
        world.workspaces, world.origin, world.asset, Policy(share=world.policy.share, push=tenant_rules)
    )
    targets = {workspace.name: workspace for workspace in world.workspaces}
    rules = {rule.id: rule for rule in tenant_rules}

    for decision in fan_out(tenant_only):
        if decision.allowed:
            assert decision.rule_id is not None
            target_tenant = targets[decision.target].tenant
            assert rules[decision.rule_id].tenant == target_tenant
            assert "of tenant " + target_tenant in decision.reason


@PROPERTY_SETTINGS
@given(worlds())
def test_an_applying_allow_pushes_when_nothing_denies_or_limits(world: World) -> None:
    """The converse of the safety properties: without denies and audiences, the allows do push."""
    policy = Policy(
        share=tuple(
            rule.model_copy(update={"audience": None})
            for rule in world.policy.share
            if rule.effect is Effect.ALLOW
        ),
        push=tuple(rule for rule in world.policy.push if rule.effect is Effect.ALLOW),
    )
    world = World(world.workspaces, world.origin, world.asset, policy)
    origin_shares = world.origin is None or (
        covered(world.origin) and bool(share_rules_applying(world, Effect.ALLOW))
    )
    for decision, target in zip(fan_out(world), sorted(world.workspaces, key=lambda w: w.name), strict=True):
        expected = (
            origin_shares
            and covered(target)
            and (world.origin is None or target.name != world.origin.name)
            and bool(push_rules_applying(world, target, Effect.ALLOW))
        )
        assert decision.allowed is expected, decision.reason


@PROPERTY_SETTINGS
@given(worlds(with_origin=True), subsets(TENANTS, max_size=2))
def test_only_the_audience_receives(world: World, audience: tuple[str, ...]) -> None:
    limited = Policy(
        share=tuple(rule.model_copy(update={"audience": audience}) for rule in world.policy.share),
        push=world.policy.push,
    )
    targets = {workspace.name: workspace for workspace in world.workspaces}

    for decision in fan_out(World(world.workspaces, world.origin, world.asset, limited)):
        if decision.allowed:
            own = world.origin is not None and targets[decision.target].tenant == world.origin.tenant
            assert own or targets[decision.target].tenant in audience


@PROPERTY_SETTINGS
@given(worlds(), st.randoms(use_true_random=False))
def test_decisions_do_not_depend_on_rule_or_workspace_order(world: World, random: Random) -> None:
    share = list(world.policy.share)
    push = list(world.policy.push)
    workspaces = list(world.workspaces)
    random.shuffle(share)
    random.shuffle(push)
    random.shuffle(workspaces)
    shuffled = World(workspaces, world.origin, world.asset, Policy(share=tuple(share), push=tuple(push)))

    assert fan_out(shuffled) == fan_out(world)
    assert fan_out(world) == fan_out(world)
    if world.origin is not None:
        assert decide_share(world.asset, world.origin, REGISTRY, shuffled.policy) == decide_share(
            world.asset, world.origin, REGISTRY, world.policy
        )


@PROPERTY_SETTINGS
@given(worlds(with_origin=True))
def test_decide_targets_is_decide_push_for_each_workspace_in_name_order(world: World) -> None:
    expected = [
        decide_push(world.asset, world.origin, target, REGISTRY, world.policy)
        for target in sorted(world.workspaces, key=lambda workspace: workspace.name)
    ]

    assert fan_out(world) == expected
    assert all(decision.reason for decision in expected)
