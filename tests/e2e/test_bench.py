"""Smoke test of the benchmarks: `python -m devstack.bench --quick --json` runs every section to the end
on small sizes and reports the goals table with numbers that could only come from real runs. No timing
thresholds: whether a goal is met is the bench's printed verdict, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_quick_bench_reports_every_goal() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "devstack.bench", "--quick", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=420,  # the crash section waits one ledger lease (60 s) for the watches
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)

    assert report["machine"]["cpus"] > 0
    fanout = report["fanout"]
    for run_name in ("cold", "warm"):
        assert fanout[run_name]["succeeded"] == fanout[run_name]["pushes"] == fanout["targets"]
        assert (
            fanout[run_name]["share"]["azureml_calls"] > 0 and fanout[run_name]["push"]["azureml_calls"] > 0
        )
    assert fanout["naive"]["push"]["azureml_writes"] >= fanout["targets"]  # one registration per target
    assert fanout["critical_s"] > 0
    for row in report["reconcile"]:
        assert row["azureml_calls"] > 0 and row["azureml_writes"] == 0 and row["acted"] == 0, row
    assert report["deploy"]["succeeded"] == report["deploy"]["targets"] and report["deploy"]["per_push"] > 0
    assert report["crash"]["claimed"] == report["crash"]["targets"] == report["crash"]["recovered"]
    faults = report["faults"]
    assert faults["faulted"]["faulted"] > 0, "no fault was injected"
    assert faults["faulted"]["lost"] == faults["faulted"]["duplicates"] == 0
    assert report["import_s"] > 0
    assert all(row["decisions_per_s"] > 0 for row in report["decide"])
    scenarios = " ".join(goal["scenario"] for goal in report["goals"])
    for goal in (
        "vs naive",
        "critical path",
        "cold",
        "per share",
        "per push",
        "deploy push",
        "idle reconcile",
        "crash",
        "429",
        "import",
    ):
        assert goal in scenarios, goal
    assert all(
        goal["met"] == "yes" or goal["met"].startswith(("no: ", "counted")) for goal in report["goals"]
    )
