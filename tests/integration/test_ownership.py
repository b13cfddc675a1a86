"""Registry names have owners (issue 9 §1), on Azurite and the emulator through the SDK.

The seen case: contoso put a share rule whose `destination.name` was Northwind's published BERT model,
registered a model of its own, and RegSync published it as the next BERT version and pushed it into
Woodgrove's workspace under the provider's rule; Northwind could no longer publish that version.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import Engine
from shared.events import parse_event
from shared.policy import AssetSelector, Destination, Policy, PushRule, ShareRule, Targets
from shared.provenance import provenance_tags
from shared.storage import StateStore
from tests.integration.conftest import drain_pushes, register_model
from tests.support import model_registered

BERT = "bert-base-uncased_fine-tuned"  # the seed declares `bert-` names Northwind's and Woodgrove's


def squatting_rule(destination: str) -> ShareRule:
    """Contoso's rule publishing its `contoso-*` models under `destination`, as stored before
    validation knew about ownership (the file check now refuses it when the name is declared)."""
    return ShareRule(
        id="contoso-squats",
        tenant="contoso",
        workspaces=("workspace1",),
        assets=AssetSelector(kinds=(AssetKind.MODEL,), include=("contoso-*",)),
        destination=Destination(name=destination),
    )


def event(engine: Engine[StateStore], workspace: str, name: str, version: str) -> list[Any]:
    return engine.handle_event(parse_event(model_registered(workspace, name, version)), correlation_id=name)


def in_registry(ml: Callable[[str], Any], name: str) -> dict[str, str]:
    """Version -> provenance tenant of every registry version of `name`."""
    return {
        str(m.version): (m.tags or {}).get("regsync.origin.tenant", "")
        for m in ml("registry").models.list(name=name)
    }


def pushed_to(engine: Engine[StateStore], name: str, version: str) -> dict[str, LedgerStatus]:
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=version)
    return {e.workspace: e.status for e in engine.store.entries_for_asset(ref.key) if e.workspace}


def test_a_tenant_cannot_squat_a_declared_name_and_the_owner_still_publishes_the_next_version(
    seeded: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path
) -> None:
    seeded.store.put_policy(Policy(share=(squatting_rule(BERT),)))
    first, second = (str(v) for v in _versions())
    register_model(ml, "workspace3", BERT, model_folder, version=first)
    assert event(seeded, "workspace3", BERT, first)[0].status == "succeeded"

    squat = f"contoso-{uuid.uuid4().hex[:8]}"
    register_model(ml, "workspace1", squat, model_folder, version=second)
    outcomes = event(seeded, "workspace1", squat, second)

    reason = (
        f"registry model name `{BERT}` belongs to northwind, woodgrove (declared by the provider's "
        "ownership entry `bert-is-northwind-and-woodgrove`), not to tenant contoso: "
        f"workspace1's model {squat}:{second} is not published under it"
    )
    assert [(o.status, o.reason) for o in outcomes] == [("refused", reason)]
    assert second not in in_registry(ml, BERT)  # nothing written to the registry
    assert event(seeded, "workspace1", squat, second)[0].status == "refused"  # a redelivery
    assert [r.reason for r in seeded.store.recent_audit()].count(reason) == 1  # audited once

    register_model(ml, "workspace3", BERT, model_folder, version=second)  # the owner's own next version
    assert event(seeded, "workspace3", BERT, second)[0].status == "succeeded"
    assert in_registry(ml, BERT)[second] == "northwind"
    drain_pushes(seeded)
    assert pushed_to(seeded, BERT, second) == dict.fromkeys(
        ("workspace1", "workspace2", "workspace4"), LedgerStatus.SUCCEEDED
    )


def test_the_first_publisher_owns_an_undeclared_name_and_a_squatter_is_refused(
    seeded: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = f"nlp-{uuid.uuid4().hex[:8]}"  # Northwind shares `nlp-*`; nobody declared it
    push = PushRule(id="provider-pushes-nlp", assets=AssetSelector(include=("nlp-*",)))
    seeded.store.put_policy(Policy(share=(squatting_rule(name),), push=(push,)))
    register_model(ml, "workspace3", name, model_folder, version="1")
    assert event(seeded, "workspace3", name, "1")[0].status == "succeeded"
    assert seeded.store.owner_of(AssetKind.MODEL, name) == "northwind"

    register_model(ml, "workspace1", "contoso-nlp", model_folder, version="2")
    outcomes = event(seeded, "workspace1", "contoso-nlp", "2")

    assert outcomes[0].status == "refused"
    assert "belongs to northwind (first published by northwind), not to tenant contoso" in outcomes[0].reason
    assert in_registry(ml, name) == {"1": "northwind"}
    register_model(ml, "workspace3", name, model_folder, version="2")
    assert event(seeded, "workspace3", name, "2")[0].status == "succeeded"


def test_a_squatters_copy_from_before_ownership_is_never_pushed_and_the_name_is_adopted(
    seeded: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = f"nlp-{uuid.uuid4().hex[:8]}"
    targets = Targets(workspaces=("workspace2", "workspace4"))  # Contoso's and Woodgrove's
    push = PushRule(id="provider-pushes-nlp", assets=AssetSelector(include=("nlp-*",)), targets=targets)
    seeded.store.put_policy(Policy(push=(push,)))
    world = seeded.world()
    # What RegSync did before ownership existed: Northwind's version 1, then Contoso's copy as version 2.
    for version, origin, source in (("1", "workspace3", name), ("2", "workspace1", "contoso-model")):
        register_model(ml, origin, source, model_folder, version=version)
        asset = seeded.gateway.get_asset(world.workspaces[origin], _ref(source, version))
        assert asset is not None
        tags = provenance_tags(asset, world.workspaces[origin], rule_id="old", correlation_id="old")
        seeded.gateway.share(world.workspaces[origin], asset.ref, world.registry, _ref(name, version), tags)
    assert in_registry(ml, name) == {"1": "northwind", "2": "contoso"}

    outcomes = seeded.reconcile_registry(correlation_id="adopt")

    mine = [o for o in outcomes if o.subject == str(_ref(name, "2"))]
    assert [(o.status, o.target) for o in mine] == [("refused", "")]
    assert "belongs to northwind (northwind published its oldest version)" in mine[0].reason
    assert seeded.store.owner_of(AssetKind.MODEL, name) == "northwind"
    drain_pushes(seeded)
    assert pushed_to(seeded, name, "2") == {}  # Woodgrove never receives the squatter's copy
    assert pushed_to(seeded, name, "1") == {}  # `latest` is version 2, which is not delivered
    assert any(r.outcome == "adopted" and name in r.reason for r in seeded.store.recent_audit())
    assert not list(ml("workspace4").models.list(name=name))


def _ref(name: str, version: str) -> AssetRef:
    return AssetRef(kind=AssetKind.MODEL, name=name, version=version)


def _versions() -> tuple[int, int]:
    """Two consecutive integer versions no other test of the session uses for BERT."""
    base = random.randint(10_000, 10_000_000)
    return base, base + 1


def test_policy_validate_prints_warnings_and_keeps_the_file_valid(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shared.cli import app

    seed = Path(__file__).resolve().parents[2] / "examples" / "seed-policy.yaml"
    squat = tmp_path / "squat.yaml"
    env = {"AzureWebJobsStorage": ""}
    valid = CliRunner().invoke(app, ["policy", "validate", str(seed)], env=env)
    assert valid.exit_code == 0
    assert valid.stderr.splitlines() == [
        f"{seed}:46: share[3].destination.name: warning: this tenant rule could publish model names "
        "starting `bert-` (tenants northwind, woodgrove, ownership entry `bert-is-northwind-and-woodgrove`); "
        "such a share is refused when it happens"
    ]
    rule = (  # the seen case's rule: every model it shares is named as Northwind's BERT
        "  - {id: contoso-squats, tenant: contoso, assets: {kinds: [model]},"
        " destination: {name: bert-base-uncased_fine-tuned}}\n"
    )
    text = seed.read_text().replace("share:\n", "share:\n" + rule)
    squat.write_text(text)
    refused = CliRunner().invoke(app, ["--json", "policy", "validate", str(squat)], env=env)
    assert refused.exit_code == 1
    assert [p["where"] for p in json.loads(refused.stdout)["problems"]] == ["share[0].destination.name"]
