"""f. `import function_app` in a fresh interpreter: the cumulative time `python -X importtime` reports
for the module (median of `repeats` runs), what a host pays before the first invocation."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def import_seconds(module: str = "function_app", repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        # Lines: "import time: self [us] | cumulative | imported package"; the module's own line is last.
        mine = [line for line in done.stderr.splitlines() if line.rstrip().endswith(f"| {module}")]
        runs.append(int(mine[-1].split("|")[1]) / 1e6)
    return round(statistics.median(runs), 3)
