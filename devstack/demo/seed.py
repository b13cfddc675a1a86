"""The seed's sharing story (acts 1-6): who shares what with whom, what stays private, what is refused,
and the reconcile converging. Played by devstack/demo/run.py on the harness (devstack/demo/harness.py).
"""

from __future__ import annotations

from pathlib import Path

from devstack.demo.harness import REGISTRY, Demo
from shared.domain import AssetKind, AssetRef

BERT = "bert-base-uncased_fine-tuned"


def share_credit_card(demo: Demo, folder: Path) -> None:
    demo.step("1. workspace1 registers credit-card-default: shared, pushed to workspace3 only")
    version = demo.register_model("workspace1", "credit-card-default", folder)
    ref = AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version=version)
    demo.wait_pushed(ref, ["workspace3"])
    demo.check("workspace3 has it (SDK)", demo.has("workspace3", ref.kind, ref.name, version))
    demo.check("workspace2 does not (SDK)", not demo.has("workspace2", ref.kind, ref.name, version))


def share_bert(demo: Demo, folder: Path) -> str:
    demo.step(f"2. workspace3 registers {BERT}: pushed to workspaces 1, 2 and 4 (another subscription)")
    version = demo.register_model("workspace3", BERT, folder)
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    demo.wait_pushed(ref, ["workspace1", "workspace2", "workspace4"])
    demo.check("workspace4 has it (SDK)", demo.has("workspace4", ref.kind, BERT, version))
    return version


def fine_tune_and_share_back(demo: Demo, folder: Path, parent_version: str) -> None:
    demo.step(f"3. workspace4 pulls {BERT}, fine-tunes it and shares the new version back")
    code = demo.cli("pull", "--workspace", "workspace4", "--name", BERT, "--version", parent_version)
    demo.check("`regsync pull` into workspace4 succeeded (already there)", code == 0)
    parent = AssetRef(kind=AssetKind.MODEL, name=BERT, version=parent_version).registry_id(REGISTRY)
    version = str(int(parent_version) + 1)
    lineage = {"lineage.parent": parent, "lineage.fine_tuned_in": "workspace4"}
    demo.register_model("workspace4", BERT, folder, version=version, tags=lineage)
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    demo.wait_pushed(ref, ["workspace1", "workspace2", "workspace3"])
    shared = demo.ml_registry().models.get(name=BERT, version=version)
    tags = shared.tags or {}
    demo.check(
        f"the registry's {BERT}:{version} names its parent and its origin",
        tags.get("lineage.parent") == parent and tags.get("regsync.origin.workspace") == "workspace4",
    )


def keep_private(demo: Demo, folder: Path) -> None:
    demo.step("4. workspace2 registers a model no rule shares: it stays private")
    version = demo.register_model("workspace2", "contoso-churn", folder)
    record = demo.wait_audit(f"model contoso-churn:{version}", "share")
    demo.check("RegSync judged it and did not share it", record is not None and record.outcome == "refused")
    if record is not None:
        demo.say(f"  audit: {record.outcome}: {record.reason}")
    demo.check("the registry does not have it (SDK)", not demo.registry_has("contoso-churn", version))


def refuse_outside_regions(demo: Demo, folder: Path) -> None:
    demo.step("5. workspace5 (westus, outside the registry's regions) registers a model: refused")
    version = demo.register_model("workspace5", "litware-forecast", folder)
    record = demo.wait_audit(f"model litware-forecast:{version}", "share")
    refused = record is not None and record.outcome == "refused" and "westus" in record.reason
    demo.check("refused, with the region as the reason", refused)
    if record is not None:
        demo.say(f"  audit: {record.outcome}: {record.reason}")
    demo.check("the registry does not have it (SDK)", not demo.registry_has("litware-forecast", version))


def environment_via_reconcile(demo: Demo) -> None:
    demo.step("6. workspace3 registers environment nlp-env (no ModelRegistered event exists for it)")
    from azure.ai.ml.entities import Environment

    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
    environment = demo.ml("workspace3").environments.create_or_update(
        Environment(name="nlp-env", version="1", image=image, description="tokenizers and torch")
    )
    demo.say(f"workspace3 registered environment nlp-env:{environment.version}; reconciling workspace3")
    ref = AssetRef(kind=AssetKind.ENVIRONMENT, name="nlp-env", version=str(environment.version))
    # The reconcile races the ARM event on purpose: both paths are idempotent and must agree.
    demo.check(
        "`regsync sync --workspace workspace3` (the reconcile, inline) succeeded",
        demo.reconcile("workspace3"),
    )
    demo.wait_pushed(ref, ["workspace4"])
    entry = demo.store.get_entry(ref.key, "push|workspace4")
    how = "the ARM ResourceWriteSuccess event" if entry and entry.event_ids else "the reconcile"
    demo.say(f"  delivered after {how}")
    demo.check("workspace4 has nlp-env (SDK)", demo.has("workspace4", ref.kind, ref.name, ref.version))
    before = demo.ledger()
    demo.check("a second reconcile succeeded", demo.reconcile("workspace3"))
    demo.check("and changed nothing: the state has converged", demo.ledger() == before)
