"""`python -m devstack.demo` end to end: the whole local stack, the seed story, every check, a clean exit.

Runs the demo as `make demo` does (a subprocess), marked by an environment variable that every process
it starts inherits, so the test can tell afterwards that none of them outlived it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

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


def matrix_row(output: str, asset: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(asset + " "))
    return re.split(r"\s{2,}", line.strip())


def test_the_demo_plays_the_seed_story_and_stops_everything(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex
    env = {**os.environ, MARKER: run_id, "NO_COLOR": "1", "COLUMNS": "200"}

    done = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--state-dir", str(tmp_path / "demo")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    out = done.stdout
    assert "FAIL" not in out
    assert re.search(r"(\d+) of \1 checks passed", out)
    # ASSET, ORIGIN, REGISTRY, workspace1..workspace5
    assert matrix_row(out, "model credit-card-default:1") == [
        "model credit-card-default:1",
        "workspace1",
        "✓",
        "·",
        "·",
        "✓",
        "·",
        "·",
    ]
    assert matrix_row(out, "model bert-base-uncased_fine-tuned:1") == [
        "model bert-base-uncased_fine-tuned:1",
        "workspace3",
        "✓",
        "✓",
        "✓",
        "·",
        "✓",
        "·",
    ]
    assert matrix_row(out, "model bert-base-uncased_fine-tuned:2") == [
        "model bert-base-uncased_fine-tuned:2",
        "workspace4",
        "✓",
        "✓",
        "✓",
        "✓",
        "·",
        "·",
    ]
    assert matrix_row(out, "environment nlp-env:1") == [
        "environment nlp-env:1",
        "workspace3",
        "✓",
        "·",
        "·",
        "·",
        "✓",
        "·",
    ]
    assert "contoso-churn" not in out.split("regsync status")[-1].split("regsync audit")[0]
    assert "outside the registry's regions" in out
    assert processes_marked(run_id) == []
