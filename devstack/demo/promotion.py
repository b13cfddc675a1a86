"""The promotion story (act 9): a model trained in fabrikam-dev goes to fabrikam-test at once and to
fabrikam-prod only after `regsync approve`; the prod copy's lineage is read back from the provenance
tags RegSync stamps (shared/provenance.py) to the dev workspace and the training job.

Rules: examples/demo/policy.yaml (fabrikam-publishes-dev-models, fabrikam-tests-dev-models,
fabrikam-gates-prod: a stage-targeted push rule with `gate: approval`).
"""

from __future__ import annotations

from devstack.demo.harness import REGISTRY, Demo
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.provenance import TAG_JOB, TAG_NAME, TAG_REGISTRY_ID, TAG_TENANT, TAG_VERSION, TAG_WORKSPACE

MODEL = "fraud-detector"
JOB = "train-fraud-detector-20261130"  # the training job the model came out of
# Registering a job's output links the model to the job (AzureML sets its jobName; the emulator too).
TRAINED = f"azureml://jobs/{JOB}/outputs/artifacts/paths/model/"


def promote(demo: Demo) -> None:
    demo.step(f"9. fabrikam-dev registers fraud-detector from job {JOB}: test at once, prod after approval")
    version = demo.register_model("fabrikam-dev", MODEL, TRAINED)
    ref = AssetRef(kind=AssetKind.MODEL, name=MODEL, version=version)
    demo.wait_pushed(ref, ["fabrikam-test"])
    waiting = demo.follow(ref, "fabrikam-prod", {LedgerStatus.AWAITING_APPROVAL})
    demo.check("the prod push waits for approval", waiting is not None)
    demo.cli("status", "--tenant", "fabrikam")
    demo.check(
        "fabrikam-prod does not have it yet (SDK)", not demo.has("fabrikam-prod", ref.kind, MODEL, version)
    )
    demo.say(f"$ regsync approve --workspace fabrikam-prod --name {MODEL} --version {version}")
    code = demo.cli("approve", "--workspace", "fabrikam-prod", "--name", MODEL, "--version", version)
    demo.check("`regsync approve` succeeded", code == 0)
    demo.wait_pushed(ref, ["fabrikam-prod"])
    demo.check("fabrikam-prod has it (SDK)", demo.has("fabrikam-prod", ref.kind, MODEL, version))
    lineage(demo, ref)


def lineage(demo: Demo, ref: AssetRef) -> None:
    """The prod copy -> its registry version -> the dev model and its training job, by tags alone."""
    prod = demo.ml("fabrikam-prod").models.get(name=ref.name, version=ref.version)
    tags = prod.tags or {}
    source = tags.get(TAG_REGISTRY_ID, "")
    demo.say("lineage of the prod copy, from its provenance tags:")
    demo.say(f"  fabrikam-prod  model {ref.name}:{ref.version}")
    demo.say(f"  <- registry    {source}")
    demo.say(
        f"  <- {tags.get(TAG_WORKSPACE)} model {tags.get(TAG_NAME)}:{tags.get(TAG_VERSION)}"
        f" (tenant {tags.get(TAG_TENANT)})"
    )
    demo.say(f"  <- training job {tags.get(TAG_JOB)}")
    dev = demo.ml("fabrikam-dev").models.get(name=ref.name, version=ref.version)
    demo.check(
        "the prod copy names its registry source, the dev workspace and the training job",
        source == ref.registry_id(REGISTRY)
        and tags.get(TAG_WORKSPACE) == "fabrikam-dev"
        and tags.get(TAG_JOB) == JOB == dev.job_name,
    )
