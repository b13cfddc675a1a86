"""shared.engine.requests.TenantView: the one filter between the engine's outcomes and a tenant caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.auth import Caller
from shared.engine import TenantView, World
from shared.engine.requests import answer_for, for_caller
from shared.policy import Policy
from shared.policy_file import parse_policy
from shared.records import Action, Outcome, Status

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed-policy.yaml"


@pytest.fixture(scope="module")
def world() -> World:
    document = parse_policy(SEED.read_text(), source=str(SEED))
    return World(
        registry=document.registries[0],
        policy=Policy(share=document.share, push=document.push),
        workspaces={workspace.name: workspace for workspace in document.workspaces},
    )


def outcome(target: str, reason: str, status: Status = Status.REFUSED, subject: str = "model m:1") -> Outcome:
    return Outcome(Action.PUSH, subject, target, status, reason)


CONTOSO = Caller(name="someone@contoso", provider=False, tenant="contoso")
PROVIDER = Caller(name="ops", provider=True)


def test_outcomes_about_other_tenants_workspaces_are_left_out(world: World) -> None:
    outcomes = [
        outcome("workspace1", "workspace1 is where model m:1 comes from"),
        outcome("workspace3", "pushed by rule `northwind-gets-credit-card`", Status.PENDING),
        outcome("regsync-registry", "shared by rule `contoso-shares-credit-card`", Status.SUCCEEDED),
    ]
    assert [o.target for o in for_caller(CONTOSO, outcomes, world)] == ["workspace1", "regsync-registry"]
    assert for_caller(PROVIDER, outcomes, world) == outcomes


@pytest.mark.parametrize(
    "reason",
    [
        "share rule `northwind-shares-bert` limits its audience to tenants [northwind]; "
        "workspace1 belongs to contoso",
        "not shared from workspace4: denied by share rule `x` of tenant woodgrove",
        "registry model m:1 already holds workspace3's m:1",
        "workspace workspace5 is in westus, outside the registry's regions [eastus, westeurope]",
    ],
)
def test_reasons_naming_another_tenants_things_are_replaced(world: World, reason: str) -> None:
    refused = answer_for(CONTOSO, outcome("workspace1", reason), world)
    assert refused.reason == "not shared with tenant contoso"
    other = answer_for(CONTOSO, outcome("workspace1", reason, Status.CONFLICT), world)
    assert other.reason == "conflict: the details concern other tenants and are shown to the provider only"
    assert answer_for(PROVIDER, outcome("workspace1", reason), world).reason == reason


@pytest.mark.parametrize(
    "reason",
    [
        "not subscribed: no push rule sends model m:1 to workspace2",
        "pushed by rule `provider-pushes-bert` of the provider (register, automatic)",
        # `northwind-model` is an asset name, not the tenant:
        "shared by rule `contoso-shares-credit-card` of tenant contoso as northwind-model:1",
        "the registry has no model named workspace3x",
    ],
)
def test_reasons_about_its_own_and_the_providers_things_are_kept(world: World, reason: str) -> None:
    assert answer_for(CONTOSO, outcome("workspace1", reason), world).reason == reason


def test_the_view_knows_which_workspaces_are_whose(world: World) -> None:
    view = TenantView.of("contoso", world)
    assert view.own == {"workspace1", "workspace2"}
    assert view.others == {"workspace3", "workspace4", "workspace5"}
