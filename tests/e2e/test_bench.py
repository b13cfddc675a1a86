"""Smoke test of the benchmarks: `python -m devstack.bench --quick --json` runs to the end and reports
every section with positive numbers. No timing thresholds: timings belong in the printed tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_quick_bench_reports_every_section() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "devstack.bench", "--quick", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)

    assert report["machine"]["cpus"] > 0
    assert all(row["decisions_per_s"] > 0 and row["plans_per_s"] > 0 for row in report["decide"])
    assert report["propagation"], "no propagation measured"
    for row in report["propagation"]:
        assert row["succeeded"], row
        assert row["pushes"] == row["targets"]
        assert row["total_s"] > 0 and row["azureml_calls"] > 0
    for row in report["reconcile"]:
        assert row["seconds"] > 0 and row["azureml_calls"] > 0
        assert row["azureml_writes"] == 0 and row["acted"] == 0, row
    assert report["throttling"], "no throttling measured"
    assert all(row["succeeded"] and row["total_s"] > 0 for row in report["throttling"])
