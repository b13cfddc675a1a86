"""`python -m devstack.demo --keep` end to end: the whole local stack, the seed's stories (sharing,
inference on a deployed endpoint with a failed deployment, promotion with approval), every check, the
stack kept up with its URLs printed until Ctrl-C (SIGINT), then a clean exit.

Runs the demo as `make demo` does (a subprocess), marked by an environment variable that every process
it starts inherits, so the test can tell afterwards that none of them outlived it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
MARKER = "REGSYNC_DEMO_TEST_RUN"


def processes_marked(value: str) -> list[int]:
    """Pids of live processes whose environment holds MARKER=value."""
    needle = f"{MARKER}={value}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def read_until_kept(demo: subprocess.Popen[str], deadline_s: float) -> str:
    """The demo's output up to the line that says the stack stays up (or all of it, if it ended first)."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert demo.stdout is not None
    stdout = demo.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.strip().startswith("CLI "):  # the last of the URLs --keep prints
            break
    return "".join(seen)


def matrix_row(output: str, asset: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(asset + " "))
    return re.split(r"\s{2,}", line.strip())


# The checks of the inference and promotion acts, each of which must have printed PASS.
STORY_CHECKS = [
    "the push went deploying -> ready (the deployment takes the traffic)",
    "`online_endpoints.invoke` answers with sentiment-tiny:1's predictions",
    "the push of sentiment-tiny:2 failed with Azure's reason",
    "the endpoint still answers, from sentiment-tiny:1",
    "all traffic stays on sentiment-tiny-v1 (SDK)",
    "`regsync status` shows the failure and its reason",
    "model fraud-detector:1 reached fabrikam-test",
    "the prod push waits for approval",
    "fabrikam-prod does not have it yet (SDK)",
    "`regsync approve` succeeded",
    "model fraud-detector:1 reached fabrikam-prod",
    "the prod copy names its registry source, the dev workspace and the training job",
    "sentiment-tiny:3 deployed and ready",
    "`regsync recall sentiment-tiny:3` took it back",
    "all traffic is back on sentiment-tiny-v1 (SDK)",
    "`invoke` answers from the previous version again",
    "a pull of sentiment-tiny:3 is refused: recalled",
]


def test_the_demo_plays_the_seed_story_and_stops_everything(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex
    env = {**os.environ, MARKER: run_id, "NO_COLOR": "1", "COLUMNS": "200"}

    demo = subprocess.Popen(
        [sys.executable, "-m", "devstack.demo", "--state-dir", str(tmp_path / "demo"), "--keep"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        out = read_until_kept(demo, deadline_s=600)
        kept = re.search(r"RegSync API base +(http://127\.0\.0\.1:\d+)", out)
        assert kept, out[-4000:]
        assert re.search(rf"dashboard +{kept.group(1)}/api/ui", out)
        # still up after the acts: the API answers (401 without a key: up, and guarded)
        assert httpx.get(f"{kept.group(1)}/api/status", timeout=10).status_code == 401
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        demo.wait(timeout=120)
    finally:
        demo.kill()
    assert demo.returncode == 0, out[-4000:]
    assert "FAIL" not in out
    assert re.search(r"(\d+) of \1 checks passed", out)
    passed = {
        line.strip().removeprefix("PASS ") for line in out.splitlines() if line.strip().startswith("PASS ")
    }
    assert [check for check in STORY_CHECKS if not any(p.startswith(check) for p in passed)] == []
    # ASSET, ORIGIN, REGISTRY, fabrikam-dev, fabrikam-prod, fabrikam-test, workspace1..workspace5
    matrix = {
        "model credit-card-default:1": ["workspace1", "✓", "·", "·", "·", "·", "·", "✓", "·", "·"],
        "model bert-base-uncased_fine-tuned:1": ["workspace3", "✓", "·", "·", "·", "✓", "✓", "·", "✓", "·"],
        "model bert-base-uncased_fine-tuned:2": ["workspace4", "✓", "·", "·", "·", "✓", "✓", "✓", "·", "·"],
        "environment nlp-env:1": ["workspace3", "✓", "·", "·", "·", "·", "·", "·", "✓", "·"],
        # inference: version 1 serves from workspace4's endpoint; version 2's deployment failed
        "model sentiment-tiny:1": ["workspace3", "✓", "·", "·", "·", "·", "·", "·", "✓", "·"],
        "model sentiment-tiny:2": ["workspace3", "✓", "·", "·", "·", "·", "·", "·", "✗", "·"],
        # recall: version 3 served, then was recalled: workspace4's endpoint is back on version 1
        "model sentiment-tiny:3": ["workspace3", "✓", "·", "·", "·", "·", "·", "·", "⤺", "·"],
        # promotion: dev -> test and (approved) prod, nowhere else
        "model fraud-detector:1": ["fabrikam-dev", "✓", "·", "✓", "✓", "·", "·", "·", "·", "·"],
    }
    final = out.split("regsync status")[-1]
    for asset, cells in matrix.items():
        assert matrix_row(final, asset) == [asset, *cells], asset
    assert "contoso-churn" not in out.split("regsync status")[-1].split("regsync audit")[0]
    assert "outside the registry's regions" in out
    # inference: the SDK's invoke printed the model's predictions, before and after the failed deployment
    served = re.findall(r"'Terrible app, slow and broken': (\w+) \([\d.]+, model release (\d+)\)", out)
    assert served == [("negative", "1"), ("negative", "1")]
    listed = (
        r"model sentiment-tiny:2 +workspace4 +failed +\d+ +deployment sentiment/sentiment-tiny-v2 failed: "
    )
    failure = re.search(listed + "ImageBuildFailure", final)
    assert failure, "the failure and Azure's reason are listed under the matrix"
    # promotion: prod waited for the approval, then the lineage reached the dev workspace and the job
    assert out.index("fabrikam-prod: awaiting_approval") < out.index(
        "regsync approve --workspace fabrikam-prod"
    )
    assert "<- fabrikam-dev model fraud-detector:1 (tenant fabrikam)" in out
    assert "<- training job train-fraud-detector-20261130" in out
    assert processes_marked(run_id) == []
