"""Who owns a registry name: the provider's claims, the first publisher, names adopted from before;
shares and deliveries refused for anyone else; the policy file's errors and warnings about it. Pure.

The property at the end plays random tenants, rules, claims, registry contents from before ownership
existed and registration orders (in batches planned together and applied in random order, as
concurrent workers would) through the planner, and checks against an independent reading of the
rules (`oracle_*`) that no tenant publishes under a name another owns and no push delivers such a copy.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain import Asset, AssetKind, AssetRef, Registry, Workspace
from shared.planner import (
    FanoutSnapshot,
    Retry,
    ShareSnapshot,
    World,
    decide_fanout,
    lost_claim,
    oldest_version,
    plan_fanout,
    plan_share,
)
from shared.policy import (
    AssetSelector,
    Destination,
    NameClaim,
    NameOwners,
    Policy,
    PushRule,
    ShareRule,
    decide_share,
    declared_claim,
    name_owners,
    provenance_tenant,
)
from shared.policy_file import PolicyFileError, check_policy
from shared.provenance import TAG_NAME, TAG_TENANT, TAG_VERSION, TAG_WORKSPACE
from shared.records import Memo
from shared.steps import Claim, Record, Share, Step, WriteRow

M = AssetKind.MODEL
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"
REGISTRY = Registry(name="reg", subscription_id=SUBSCRIPTION, resource_group="rg", regions=("eastus",))


def workspace(name: str, tenant: str) -> Workspace:
    return Workspace(
        name=name, tenant=tenant, subscription_id=SUBSCRIPTION, resource_group="rg", region="eastus"
    )


WORKSPACES = {
    ws.name: ws
    for ws in (
        workspace("ws-contoso1", "contoso"),
        workspace("ws-contoso2", "contoso"),
        workspace("ws-northwind", "northwind"),
        workspace("ws-woodgrove", "woodgrove"),
    )
}
BERT = "bert-base-uncased_fine-tuned"
PUSH_ALL = PushRule(id="provider-pushes-all")


def copy(name: str, version: str, tenant: str | None, workspace_name: str = "ws-northwind") -> Asset:
    tags = {TAG_WORKSPACE: workspace_name, TAG_NAME: name, TAG_VERSION: version}
    if tenant:
        tags[TAG_TENANT] = tenant
    return Asset(ref=AssetRef(kind=M, name=name, version=version), tags=tags)


def squat_world(*claims: NameClaim) -> World:
    """The seen case: contoso's rule publishes its models as BERT; the provider pushes everything."""
    share = (
        ShareRule(id="northwind-shares-bert", tenant="northwind", assets=AssetSelector(include=("bert-*",))),
        ShareRule(
            id="contoso-squats",
            tenant="contoso",
            assets=AssetSelector(include=("contoso-*",)),
            destination=Destination(name=BERT),
        ),
    )
    policy = Policy(share=share, push=(PUSH_ALL,), ownership=claims)
    return World(registry=REGISTRY, policy=policy, workspaces=WORKSPACES)


def share_plan(
    world: World, origin: str, name: str, version: str, owners: NameOwners, memo: Memo | None = None
) -> Step:
    ref = AssetRef(kind=M, name=name, version=version)
    snapshot = ShareSnapshot(WORKSPACES[origin], ref, Asset(ref=ref), memo=memo, owners=owners)
    return plan_share(snapshot, world, now=NOW, correlation_id="c", event_id="e")


# --- who owns a name ---------------------------------------------------------------------------------


def test_an_explicit_name_beats_a_prefix_and_the_longest_prefix_beats_shorter_ones() -> None:
    claims = (
        NameClaim(id="b", tenants=("northwind",), prefixes=("bert-",)),
        NameClaim(id="a", tenants=("woodgrove",), prefixes=("bert-base-",)),
        NameClaim(id="c", tenants=("contoso",), names=("bert-base-x",)),
        NameClaim(id="d", tenants=("litware",), kinds=(AssetKind.DATA,), names=("bert-base-y",)),
    )
    owner = {name: declared_claim(claims, M, name) for name in ("bert-1", "bert-base-1", "bert-base-x")}
    assert {name: claim.id if claim else None for name, claim in owner.items()} == {
        "bert-1": "b",
        "bert-base-1": "a",
        "bert-base-x": "c",
    }
    assert declared_claim(claims, M, "bert-base-y") is not None and declared_claim(claims, M, "gpt") is None
    assert declared_claim(claims, AssetKind.DATA, "bert-base-y").id == "d"  # type: ignore[union-attr]


def test_a_claim_overrides_the_first_publisher_and_the_first_publisher_overrides_adoption() -> None:
    policy = Policy(ownership=(NameClaim(id="shared", tenants=("northwind", "woodgrove"), names=(BERT,)),))
    declared = name_owners(policy, M, BERT, recorded="contoso")
    assert declared.tenants == {"northwind", "woodgrove"} and declared.declared
    assert declared.refusal("contoso", "x") == (
        f"registry model name `{BERT}` belongs to northwind, woodgrove "
        "(declared by the provider's ownership entry `shared`), not to tenant contoso: x"
    )
    recorded = name_owners(Policy(), M, BERT, recorded="northwind", first_publisher="contoso")
    assert (recorded.tenants, recorded.recorded, recorded.basis) == (
        {"northwind"},
        True,
        "first published by northwind",
    )
    adopted = name_owners(Policy(), M, BERT, recorded=None, first_publisher="northwind")
    assert (adopted.tenants, adopted.recorded) == ({"northwind"}, False)
    free = name_owners(Policy(), M, BERT, recorded=None)
    assert free.admits("anyone") and free.refusal(None, "x") is None


def test_the_oldest_version_is_the_smallest_integer_else_the_last_listed() -> None:
    assert oldest_version(["10", "9", "2"]) == "2"
    assert oldest_version(["v3", "2", "v1"]) == "v1"  # AzureML lists newest first
    assert oldest_version([]) is None


# --- shares ----------------------------------------------------------------------------------------


def test_a_share_under_a_name_another_tenant_published_first_is_refused_and_audited_once() -> None:
    world = squat_world()
    owners = name_owners(world.policy, M, BERT, recorded="northwind")
    step = share_plan(world, "ws-contoso1", "contoso-bert", "2", owners)
    assert isinstance(step, Record) and step.audit is not None and step.memo is not None
    assert step.outcome is not None and step.outcome.status == "refused"
    assert step.outcome.reason == (
        f"registry model name `{BERT}` belongs to northwind (first published by northwind), not to tenant "
        "contoso: ws-contoso1's model contoso-bert:2 is not published under it"
    )
    again = share_plan(world, "ws-contoso1", "contoso-bert", "2", owners, step.memo[1])
    assert again.outcome == step.outcome and not isinstance(again, Record)  # reported, not audited again
    mine = share_plan(world, "ws-northwind", BERT, "2", owners)
    assert isinstance(mine, Share) and mine.owners == owners


def test_a_free_name_is_shared_and_a_lost_claim_refuses_the_loser() -> None:
    world = squat_world()
    free = name_owners(world.policy, M, BERT, recorded=None)
    squatter = share_plan(world, "ws-contoso1", "contoso-bert", "1", free)
    owner = share_plan(world, "ws-northwind", BERT, "1", free)
    assert isinstance(squatter, Share) and isinstance(owner, Share)
    assert lost_claim(owner, "northwind") is None  # won the claim
    assert "belongs to northwind (first published by northwind)" in (lost_claim(squatter, "northwind") or "")
    declared = name_owners(
        Policy(ownership=(NameClaim(id="c", tenants=("contoso",), names=(BERT,)),)), M, BERT, recorded=None
    )
    claimed = share_plan(squat_world(*_claims(declared)), "ws-contoso1", "contoso-bert", "1", declared)
    assert isinstance(claimed, Share) and lost_claim(claimed, "northwind") is None  # the provider's word


def _claims(owners: NameOwners) -> tuple[NameClaim, ...]:
    return (NameClaim(id="c", tenants=tuple(owners.tenants), names=(owners.name,)),)


# --- deliveries ------------------------------------------------------------------------------------


def test_a_copy_whose_provenance_tenant_does_not_own_the_name_is_never_delivered() -> None:
    world = squat_world()
    owners = name_owners(world.policy, M, BERT, recorded="northwind")
    squatted = copy(BERT, "2", "contoso", "ws-contoso1")
    decisions = decide_fanout(squatted, world, world.workspaces.values(), owners=owners)
    assert [d.allowed for d in decisions] == [False] * 4
    assert decisions[0].reason.endswith(f"not to tenant contoso: model {BERT}:2 is never delivered")
    steps = plan_fanout(
        FanoutSnapshot(squatted, owners), decisions, retry=Retry.NEVER, now=NOW, correlation_id="c"
    )
    assert [type(step) for step in steps] == [Record]  # one audited line, nothing queued
    assert steps[0].outcome is not None and steps[0].outcome.status == "refused"
    rightful = decide_fanout(copy(BERT, "1", "northwind"), world, world.workspaces.values(), owners=owners)
    assert [d.target for d in rightful if d.allowed] == ["ws-contoso1", "ws-contoso2", "ws-woodgrove"]


def test_a_name_published_before_ownership_is_adopted_by_its_oldest_versions_tenant() -> None:
    world = squat_world()
    owners = name_owners(world.policy, M, BERT, recorded=None, first_publisher="northwind")
    rightful = copy(BERT, "1", "northwind")
    decisions = decide_fanout(rightful, world, world.workspaces.values(), owners=owners)
    steps = plan_fanout(
        FanoutSnapshot(rightful, owners), decisions, retry=Retry.NEVER, now=NOW, correlation_id="c"
    )
    claim = steps[0]
    assert isinstance(claim, Claim) and claim.tenant == "northwind"
    assert (
        claim.audit.reason
        == f"model name `{BERT}` adopted by northwind: northwind published its oldest version"
    )
    assert sum(isinstance(step, WriteRow) for step in steps) == 3
    recorded = name_owners(world.policy, M, BERT, recorded="northwind")
    again = plan_fanout(
        FanoutSnapshot(rightful, recorded), decisions, retry=Retry.NEVER, now=NOW, correlation_id="c"
    )
    assert not any(isinstance(step, Claim) for step in again)


# --- the policy file ---------------------------------------------------------------------------------

FILE = """
tenants: [{id: contoso}, {id: northwind}, {id: woodgrove}]
workspaces:
  - {name: ws-contoso1, tenant: contoso, subscription_id: 0000aaaa-1111-2222-3333-444455556666,
     resource_group: rg, region: eastus}
ownership:
  - {id: bert-shared, tenants: [northwind, woodgrove], kinds: [model], names: [bert-base-uncased_fine-tuned]}
  - {id: nlp-is-northwind, tenants: [northwind], prefixes: [nlp-]}
share:
"""


def problems(rules: str, extra: str = "") -> list[str]:
    text = FILE + rules + extra
    try:
        _, warnings = check_policy(text, source="p.yaml")
    except PolicyFileError as error:
        return [problem.render("p.yaml") for problem in error.problems]
    return [problem.render("p.yaml") for problem in warnings]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (  # the seen case: one name, another's
            "  - {id: squat, tenant: contoso, assets: {kinds: [model]}, "
            "destination: {name: bert-base-uncased_fine-tuned}}\n",
            "p.yaml:10: share[0].destination.name: every name this tenant rule can publish belongs to "
            "another tenant, e.g. model `bert-base-uncased_fine-tuned` (tenants northwind, woodgrove, "
            "ownership entry `bert-shared`)",
        ),
        (  # every name it can make starts with another's prefix
            "  - {id: squat, tenant: contoso, destination: {name: 'nlp-{name}'}}\n",
            "p.yaml:10: share[0].destination.name: every name this tenant rule can publish belongs to "
            "another tenant, e.g. model names starting `nlp-` (tenant northwind, "
            "ownership entry `nlp-is-northwind`)",
        ),
        (  # a template that could
            "  - {id: wide, tenant: contoso, assets: {include: ['*']}}\n",
            "p.yaml:10: share[0].destination.name: warning: this tenant rule could publish model "
            "`bert-base-uncased_fine-tuned` (tenants northwind, woodgrove, ownership entry `bert-shared`); "
            "such a share is refused when it happens",
        ),
    ],
)
def test_a_tenant_share_rule_reaching_only_others_names_is_refused_and_one_that_could_is_warned(
    rule: str, expected: str
) -> None:
    assert problems(rule) == [expected]


def test_rules_that_reach_only_their_own_or_free_names_raise_nothing() -> None:
    assert problems("  - {id: own, tenant: northwind, destination: {name: 'nlp-{name}'}}\n") == []
    assert problems("  - {id: kept-apart, tenant: contoso, destination: {name: '{tenant}-{name}'}}\n") == []
    assert (
        problems(
            "  - {id: environments, tenant: contoso, assets: {kinds: [environment], include: [bert-x]}}\n"
        )
        == []
    )
    # the provider's rules publish for every tenant: the run time judges each share
    assert problems("  - {id: provider, destination: {name: bert-base-uncased_fine-tuned}}\n") == []


def test_ownership_entries_name_known_tenants_and_claim_each_name_once() -> None:
    for entry, expected in [
        (
            "  - {id: again, tenants: [globex], names: [gpt]}\n",
            "p.yaml:7: ownership[0].tenants[0]: unknown tenant `globex`",
        ),
        (
            "  - {id: again, tenants: [contoso], prefixes: [nlp-]}\n",
            "p.yaml:9: ownership[2].prefixes[0]: "
            "model prefix `nlp-` is claimed by ownership entry `again` too",
        ),
    ]:
        with pytest.raises(PolicyFileError) as raised:
            text = FILE.replace("ownership:\n", "ownership:\n" + entry).replace("share:\n", "share: []\n")
            check_policy(text, source="p.yaml")
        assert [problem.render("p.yaml") for problem in raised.value.problems] == [expected]


# --- the property ------------------------------------------------------------------------------------

TENANTS = ("contoso", "northwind", "woodgrove")
NAMES = ("bert-base", "bert-ft", "nlp-tok", "credit")
GLOBS = ("*", "bert-*", "nlp-*", "credit", "bert-ft")
TEMPLATES = ("{name}", "{name}", "bert-ft", "{tenant}-{name}", "nlp-{name}", "credit")
PREFIXES = ("bert-", "nlp-", "contoso-", "b")
ALL_NAMES = (*NAMES, *(f"{t}-{n}" for t in TENANTS for n in NAMES), *(f"nlp-{n}" for n in NAMES))


@st.composite
def claims_strategy(draw: st.DrawFn) -> tuple[NameClaim, ...]:
    claims = []
    for index in range(draw(st.integers(0, 3))):
        names = tuple(draw(st.lists(st.sampled_from(ALL_NAMES), max_size=2, unique=True)))
        prefixes = tuple(draw(st.lists(st.sampled_from(PREFIXES), max_size=2, unique=True)))
        if not names and not prefixes:
            prefixes = ("bert-",)
        owners = tuple(draw(st.lists(st.sampled_from(TENANTS), min_size=1, max_size=2, unique=True)))
        claims.append(NameClaim(id=f"claim{index}", tenants=owners, names=names, prefixes=prefixes))
    return tuple(claims)


@st.composite
def share_rules(draw: st.DrawFn) -> tuple[ShareRule, ...]:
    rules = []
    for index in range(draw(st.integers(1, 5))):
        include = tuple(draw(st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2, unique=True)))
        rules.append(
            ShareRule(
                id=f"rule{index}",
                tenant=draw(st.one_of(st.none(), st.sampled_from(TENANTS))),
                assets=AssetSelector(include=include),
                destination=Destination(name=draw(st.sampled_from(TEMPLATES))),
            )
        )
    return tuple(rules)


legacy_strategy = st.lists(
    st.tuples(st.sampled_from(ALL_NAMES), st.integers(1, 6), st.one_of(st.none(), st.sampled_from(TENANTS))),
    max_size=5,
    unique_by=lambda item: (item[0], item[1]),
)
registrations = st.lists(
    st.tuples(st.sampled_from(sorted(WORKSPACES)), st.sampled_from(NAMES), st.integers(1, 6)),
    min_size=1,
    max_size=10,
)


@dataclass
class Sim:
    """The registry and the owner table as the ports would hold them; observation as core.py does it."""

    world: World
    registry: dict[tuple[str, str], Asset] = field(default_factory=dict)  # (name, version) -> asset
    owners: dict[str, str] = field(default_factory=dict)  # name -> recorded owner
    published: dict[str, set[str]] = field(default_factory=dict)  # name -> tenants RegSync published for

    def observe(self, name: str) -> NameOwners:
        policy = self.world.policy
        if declared_claim(policy.ownership, M, name) is not None:
            return name_owners(policy, M, name, recorded=None)
        recorded = self.owners.get(name)
        first = None
        if recorded is None:
            oldest = oldest_version([version for held, version in self.registry if held == name])
            first = provenance_tenant(self.registry[(name, oldest)]) if oldest else None
        return name_owners(policy, M, name, recorded=recorded, first_publisher=first)

    def plan(self, origin: str, name: str, version: int) -> Step:
        ref = AssetRef(kind=M, name=name, version=str(version))
        source = Asset(ref=ref)
        destination = decide_share(source, WORKSPACES[origin], REGISTRY, self.world.policy).destination
        held = self.registry.get((destination.name, destination.version)) if destination else None
        owners = self.observe(destination.name) if destination else None
        snapshot = ShareSnapshot(WORKSPACES[origin], ref, source, in_registry=held, owners=owners)
        return plan_share(snapshot, self.world, now=NOW, correlation_id="c", event_id="e")

    def apply_share(self, step: Step) -> None:
        if not isinstance(step, Share):
            return
        tenant, destination = step.origin.tenant, step.destination
        holder = self.owners.setdefault(destination.name, tenant)  # insert-if-absent
        if lost_claim(step, holder) is not None:
            return
        key = (destination.name, destination.version)
        if key not in self.registry:  # else AzureML answers conflict
            self.registry[key] = Asset(ref=destination, tags=step.tags)
            self.published.setdefault(destination.name, set()).add(tenant)

    def fan_out(self) -> list[tuple[Asset, str]]:
        """Every registry version's fan-out: adoptions are written; what would be delivered is returned."""
        delivered = []
        for asset in list(self.registry.values()):
            owners = self.observe(asset.ref.name)
            decisions = decide_fanout(asset, self.world, self.world.workspaces.values(), owners=owners)
            steps = plan_fanout(
                FanoutSnapshot(asset, owners), decisions, retry=Retry.NEVER, now=NOW, correlation_id="c"
            )
            for step in steps:
                if isinstance(step, Claim):
                    self.owners.setdefault(step.owners.name, step.tenant)
                if isinstance(step, WriteRow):
                    delivered.append((asset, step.outcome.target))
            allowed = {decision.target for decision in decisions if decision.allowed}
            assert {target for a, target in delivered if a is asset} <= allowed
        return delivered


def oracle_declared(claims: tuple[NameClaim, ...], name: str) -> set[str] | None:
    exact = sorted((claim.id, claim.tenants) for claim in claims if name in claim.names)
    if exact:
        return set(exact[0][1])
    covering = [
        (-len(prefix), claim.id, claim.tenants)
        for claim in claims
        for prefix in claim.prefixes
        if name.startswith(prefix)
    ]
    return set(min(covering)[2]) if covering else None


def oracle_owners(sim: Sim, legacy: dict[str, list[tuple[int, str | None]]], name: str) -> set[str] | None:
    """Who may publish under `name` and whose copies may be delivered; None: nobody owns it."""
    declared = oracle_declared(sim.world.policy.ownership, name)
    if declared is not None:
        return declared
    before = sorted(legacy.get(name, []))
    if before and before[0][1] is not None:
        return {before[0][1]}
    published = sim.published.get(name, set())
    return published or None


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=claims_strategy(),
    rules=share_rules(),
    legacy=legacy_strategy,
    order=registrations,
    cuts=st.lists(st.integers(1, 10), max_size=3),
    seed=st.integers(0, 2**16),
)
def test_no_tenant_publishes_under_a_name_another_owns_and_no_push_delivers_such_a_copy(
    claims: tuple[NameClaim, ...],
    rules: tuple[ShareRule, ...],
    legacy: list[tuple[str, int, str | None]],
    order: list[tuple[str, str, int]],
    cuts: list[int],
    seed: int,
) -> None:
    world = World(
        registry=REGISTRY,
        policy=Policy(share=rules, push=(PUSH_ALL,), ownership=claims),
        workspaces=WORKSPACES,
    )
    sim = Sim(world)
    before: dict[str, list[tuple[int, str | None]]] = {}
    for name, version, tenant in legacy:  # copies made before ownership existed, squatters' included
        sim.registry[(name, str(version))] = copy(name, str(version), tenant)
        before.setdefault(name, []).append((version, tenant))
    shuffle = random.Random(seed)
    bounds = sorted({0, len(order), *(cut for cut in cuts if cut < len(order))})
    for start, end in itertools.pairwise(bounds):
        steps = [sim.plan(*registration) for registration in order[start:end]]  # planned together ...
        shuffle.shuffle(steps)
        for step in steps:  # ... applied in any order, as concurrent workers would
            sim.apply_share(step)
        sim.fan_out()

    for name, tenants in sim.published.items():
        owners = oracle_owners(sim, before, name)
        assert owners is not None and tenants <= owners, (name, tenants, owners)
        assert len(tenants) == 1 or oracle_declared(claims, name) is not None
    for asset, _target in sim.fan_out():
        owners = oracle_owners(sim, before, asset.ref.name)
        assert owners is None or asset.tags.get(TAG_TENANT) in owners, (asset, owners)
