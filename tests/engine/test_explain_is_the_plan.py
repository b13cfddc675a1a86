"""Issue 8 (3): `regsync explain` IS the engine's plan. For random policies and assets, the workspaces
explain says receive the asset, and its reasons, equal the steps and reasons of the engine's own dry run
of the same asset registered in its workspace (on the in-memory ports)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.cli.explain import explained_targets
from shared.domain import Asset, AssetKind, AssetRef
from shared.engine import Engine
from shared.policy import (
    AssetSelector,
    Destination,
    Gate,
    Policy,
    PushRule,
    ShareRule,
    Targets,
    VersionPolicy,
)
from shared.records import Status
from tests.engine.conftest import PLACES, REGISTRY, Clock, workspace
from tests.memory import MemoryCatalog, MemoryQueue, MemoryState

WORKSPACES = sorted(PLACES)
TENANTS = sorted({tenant for tenant, _, _ in PLACES.values()})
NAMES = ["churn", "churn-v2", "bert-base", "forecast"]
GLOBS = ["*", "churn*", "bert*", "contoso-*", "*-v2"]
TEMPLATES = ["{name}", "{tenant}-{name}", "{workspace}-{name}", "shared-{name}"]

selectors = st.builds(
    AssetSelector,
    include=st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2, unique=True).map(tuple),
    exclude=st.lists(st.sampled_from(GLOBS[1:]), max_size=1).map(tuple),
    tags=st.dictionaries(st.sampled_from(["stage", "team"]), st.sampled_from(["approved", "*"]), max_size=1),
)


@st.composite
def share_rules(draw: st.DrawFn, index: int) -> ShareRule:
    tenant = draw(st.none() | st.sampled_from(TENANTS))
    own = [name for name in WORKSPACES if tenant in (None, PLACES[name][0])]
    return ShareRule(
        id=f"share-{index}",
        tenant=tenant,
        effect=draw(st.sampled_from(["allow", "allow", "deny"])),
        workspaces=tuple(draw(st.lists(st.sampled_from(own), max_size=2, unique=True))),
        assets=draw(selectors),
        destination=Destination(name=draw(st.sampled_from(TEMPLATES))),
        audience=draw(
            st.none() | st.lists(st.sampled_from(TENANTS), min_size=1, max_size=2, unique=True).map(tuple)
        ),
    )


@st.composite
def push_rules(draw: st.DrawFn, index: int) -> PushRule:
    tenant = draw(st.none() | st.sampled_from(TENANTS))
    return PushRule(
        id=f"push-{index}",
        tenant=tenant,
        effect=draw(st.sampled_from(["allow", "allow", "deny"])),
        targets=Targets(
            workspaces=tuple(draw(st.lists(st.sampled_from(WORKSPACES), max_size=3, unique=True)))
        ),
        assets=draw(selectors),
        gate=draw(st.sampled_from(list(Gate))),
        version_policy=draw(st.sampled_from([VersionPolicy.LATEST, VersionPolicy.ALL])),
        from_tenants=draw(
            st.none() | st.lists(st.sampled_from(TENANTS), min_size=1, max_size=2, unique=True).map(tuple)
        ),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    shares = [draw(share_rules(i)) for i in range(draw(st.integers(0, 3)))]
    pushes = [draw(push_rules(i)) for i in range(draw(st.integers(0, 4)))]
    return Policy(share=tuple(shares), push=tuple(pushes))


assets = st.builds(
    lambda name, tags: Asset(ref=AssetRef(kind=AssetKind.MODEL, name=name, version="1"), tags=tags),
    st.sampled_from(NAMES),
    st.dictionaries(st.sampled_from(["stage", "team"]), st.sampled_from(["approved", "x"]), max_size=2),
)


def engine_for(policy: Policy) -> tuple[Engine[MemoryState], MemoryCatalog]:
    state = MemoryState(registry=REGISTRY, policy=policy)
    state.workspaces = {name: workspace(name) for name in WORKSPACES}
    catalog = MemoryCatalog()
    engine = Engine(store=state, gateway=catalog, pushes=MemoryQueue(), clock=Clock())
    return engine, catalog


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), asset=assets, origin=st.sampled_from(WORKSPACES))
def test_explain_receivers_and_reasons_are_the_plans(policy: Policy, asset: Asset, origin: str) -> None:
    engine, catalog = engine_for(policy)
    world = engine.world()
    explained = explained_targets(
        engine.plan_propagation(
            world.workspaces[origin], asset.ref, world=world, correlation_id="x", source=asset
        ),
        WORKSPACES,
    )

    catalog.register(origin, asset)
    planned = engine.propagate(world.workspaces[origin], asset.ref, correlation_id="x", dry_run=True)
    pushes = {o.target: o for o in planned if o.action == "push"}

    receivers = {name for name, (_, receives, _, _) in explained.items() if receives == "yes"}
    assert receivers == {name for name, o in pushes.items() if o.status is Status.PLANNED}
    for name, outcome in pushes.items():  # a push step's reason or a refusal's, word for word
        assert explained[name][3] == outcome.reason
