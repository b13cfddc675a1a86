"""The inference story (acts 7-8): workspace3's sentiment model is served from an online endpoint in
workspace4 that RegSync deploys, invoked through the SDK; then a new version's deployment fails
(injected through the emulator's admin API) and the old version keeps serving.

The model is a stand-in for the seed's fine-tuned BERT: a bag-of-words logistic regression in a JSON
file, scored by a real score.py (examples/demo/sentiment/). Woodgrove's deploy rule
(examples/demo/policy.yaml) names the scoring code and environment it registers in workspace4.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError

from devstack.demo.harness import Demo
from devstack.stack import REPO_ROOT
from shared.azureml import deployment_name
from shared.domain import AssetKind, AssetRef, LedgerStatus

SENTIMENT = REPO_ROOT / "examples" / "demo" / "sentiment"
REQUEST = SENTIMENT / "request.json"
MODEL = "sentiment-tiny"
ENDPOINT = "sentiment"  # as woodgrove-serves-sentiment names it
IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"
SETTLED = {LedgerStatus.SUCCEEDED, LedgerStatus.FAILED}


def serve_sentiment(demo: Demo) -> str:
    """Act 7; returns the served version."""
    demo.step("7. workspace3's sentiment model, deployed by RegSync to an online endpoint in workspace4")
    prepare_scoring(demo)
    version = demo.register_model("workspace3", MODEL, SENTIMENT / "model")
    ref = AssetRef(kind=AssetKind.MODEL, name=MODEL, version=version)
    entry = demo.follow(ref, "workspace4", SETTLED)
    states = demo.states(ref, "workspace4")
    ready = LedgerStatus.DEPLOYING in states and states[-1] is LedgerStatus.SUCCEEDED
    demo.check("the push went deploying -> ready (the deployment takes the traffic)", ready)
    if entry is not None:
        demo.say(f"  ledger: {entry.message}")
    answer = predictions(demo)
    demo.check(
        f"`online_endpoints.invoke` answers with {MODEL}:{version}'s predictions",
        labels(answer) == ["positive", "negative"] and releases(answer) == {"1"},
    )
    return version


def prepare_scoring(demo: Demo) -> None:
    """Woodgrove registers, in workspace4, the scoring code and environment its deploy rule names."""
    from azure.ai.ml.entities import Environment
    from azure.ai.ml.entities._assets import Code  # the SDK has no public API for named code assets

    consumer = demo.ml("workspace4")
    consumer._code.create_or_update(Code(name="sentiment-score", version="1", path=str(SENTIMENT / "score")))
    consumer.environments.create_or_update(Environment(name="sentiment-env", version="1", image=IMAGE))
    demo.say(
        "workspace4 registered its scoring code sentiment-score:1 (score.py) and environment sentiment-env:1"
    )


def fail_next_version(demo: Demo, served: str, folder: Path) -> None:
    """Act 8: version served+1 fails to deploy (injected); `served` keeps serving; the matrix shows why."""
    demo.step("8. the next version's deployment fails (injected); the served version keeps serving")
    version = str(int(served) + 1)
    ref = AssetRef(kind=AssetKind.MODEL, name=MODEL, version=version)
    failing = deployment_name(ref)
    demo.admin.set_provisioning("workspace4", ENDPOINT, failing, failure="image_build")
    demo.say(f"injected: the emulator fails deployment {ENDPOINT}/{failing} with an image build failure")
    demo.register_model("workspace3", MODEL, retrained(folder, version))
    entry = demo.follow(ref, "workspace4", SETTLED)
    reason = entry.message if entry is not None and entry.status is LedgerStatus.FAILED else ""
    demo.check(f"the push of {MODEL}:{version} failed with Azure's reason", "ImageBuildFailure" in reason)
    demo.say(f"  reason: {reason}")
    answer = predictions(demo)
    demo.check(f"the endpoint still answers, from {MODEL}:{served}", releases(answer) == {"1"})
    traffic = demo.ml("workspace4").online_endpoints.get(ENDPOINT).traffic
    old = deployment_name(AssetRef(kind=AssetKind.MODEL, name=MODEL, version=served))
    demo.check(
        f"all traffic stays on {old} (SDK): {traffic}", {d: t for d, t in traffic.items() if t} == {old: 100}
    )
    rows = demo.cli_json("status", "--workspace", "workspace4") or []
    row = next((r for r in rows if r["asset"]["name"] == MODEL and r["asset"]["version"] == version), None)
    demo.check(
        "`regsync status` shows the failure and its reason",
        row is not None and row["status"] == "failed" and "ImageBuildFailure" in row["message"],
    )


def retrained(folder: Path, version: str) -> Path:
    """The model's next release: the same files with other weights (never served: its deployment fails)."""
    model = json.loads((SENTIMENT / "model" / "weights.json").read_text(encoding="utf-8"))
    model["release"] = version
    model["weights"] = {word: weight * 1.5 for word, weight in model["weights"].items()}
    target = folder / f"sentiment-{version}"
    target.mkdir(parents=True, exist_ok=True)
    (target / "weights.json").write_text(json.dumps(model, indent=2), encoding="utf-8")
    return target


def predictions(demo: Demo) -> list[dict[str, Any]]:
    """The endpoint's answer to examples/demo/sentiment/request.json, once it answers (the traffic moves
    to a ready deployment in an endpoint update that RegSync starts and does not wait for)."""

    def answer() -> list[dict[str, Any]] | None:
        try:
            found: list[dict[str, Any]] = demo.invoke("workspace4", ENDPOINT, REQUEST)
        except HttpResponseError:
            return None
        return found

    found = demo.poll(answer, f"online endpoint {ENDPOINT} to answer") or []
    for prediction in found:
        demo.say(
            f"  {prediction['text']!r}: {prediction['label']} ({prediction['probability']}, "
            f"model release {prediction['model_release']})"
        )
    return found


def labels(answer: list[dict[str, Any]]) -> list[str]:
    return [prediction["label"] for prediction in answer]


def releases(answer: list[dict[str, Any]]) -> set[str]:
    return {prediction["model_release"] for prediction in answer}
