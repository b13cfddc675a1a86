"""`python -m devstack.bench`: run the sections asked for and print the goals table (or JSON)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.bench.crash import bench_crash
from devstack.bench.decide import bench_decide
from devstack.bench.deploy import bench_deploy
from devstack.bench.faults import bench_faults
from devstack.bench.imports import import_seconds
from devstack.bench.propagation import bench_fanout
from devstack.bench.reconcile import bench_reconcile
from devstack.bench.report import as_json, as_markdown, goals, print_report
from devstack.bench.stack import running_stack

SECTIONS = ("fanout", "deploy", "reconcile", "crash", "faults", "imports", "decide")


@dataclass(frozen=True)
class Options:
    sections: tuple[str, ...]
    targets: int
    latency_ms: int
    repeats: int
    concurrency: int
    reconcile_workspaces: int
    reconcile_assets: tuple[int, ...]
    deploy_targets: int
    crash_targets: int
    fault_targets: int
    fault_rate: float
    as_json: bool
    as_markdown: bool


def sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma separated, of {SECTIONS}")
    parser.add_argument("--targets", type=int, default=50, help="fan-out size (default 50)")
    parser.add_argument("--latency-ms", type=int, default=200, help="latency added to every AzureML call")
    parser.add_argument("--repeats", type=int, default=3, help="warm and naive runs; the median is shown")
    parser.add_argument("--concurrency", type=int, default=50, help="queue workers at once (default 50)")
    parser.add_argument("--reconcile-workspaces", type=int, default=100)
    parser.add_argument("--reconcile-assets", type=sizes, default=(10, 100, 1000), help="e.g. 10,100,1000")
    parser.add_argument("--deploy-targets", type=int, default=5)
    parser.add_argument("--crash-targets", type=int, default=20)
    parser.add_argument("--fault-targets", type=int, default=20)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--markdown", action="store_true", help="also print the goals table as Markdown")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        sections=tuple(part for part in args.sections.split(",") if part),
        targets=3 if quick else args.targets,
        latency_ms=20 if quick else args.latency_ms,
        repeats=1 if quick else args.repeats,
        concurrency=args.concurrency,
        reconcile_workspaces=3 if quick else args.reconcile_workspaces,
        reconcile_assets=(2, 5) if quick else args.reconcile_assets,
        deploy_targets=2 if quick else args.deploy_targets,
        crash_targets=2 if quick else args.crash_targets,
        fault_targets=3 if quick else args.fault_targets,
        fault_rate=args.fault_rate,
        as_json=bool(args.json),
        as_markdown=bool(args.markdown),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    unknown = set(options.sections) - set(SECTIONS)
    if unknown:
        print(f"unknown sections: {sorted(unknown)}; choose from {SECTIONS}", file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop Azurite and the emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.ERROR)  # the engine's retry and crash warnings are expected here
    results: dict[str, Any] = {"machine": machine(), "options": options.__dict__}
    if "imports" in options.sections:
        results["import_s"] = import_seconds()
    if "decide" in options.sections:
        results["decide"] = bench_decide((100, 1000, 5000), (10, 100), repeats=3)
    workspace_count = (
        max(options.targets, options.reconcile_workspaces, options.crash_targets, options.fault_targets) + 1
    )
    # The SDK prints progress ("Check: endpoint ... exists", dots) on stdout: keep stdout for the report.
    with contextlib.redirect_stdout(sys.stderr), running_stack(workspace_count) as stack:
        if "fanout" in options.sections:
            results["fanout"] = bench_fanout(
                stack, options.targets, options.latency_ms, options.repeats, options.concurrency
            )
        if "deploy" in options.sections:
            results["deploy"] = bench_deploy(stack, options.deploy_targets, options.concurrency)
        if "faults" in options.sections:
            results["faults"] = bench_faults(
                stack, options.fault_targets, options.latency_ms, options.fault_rate, options.concurrency
            )
        if "crash" in options.sections:
            results["crash"] = bench_crash(stack, options.crash_targets, options.concurrency)
        if "reconcile" in options.sections:
            results["reconcile"] = bench_reconcile(
                stack, options.reconcile_workspaces, options.reconcile_assets, options.concurrency
            )
    results["goals"] = as_json(goals(results))
    if options.as_json:
        print(json.dumps(results, separators=(",", ":"), default=str))
    else:
        print_report(results)
    if options.as_markdown:
        print(as_markdown(goals(results)))
    return 0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    sys.exit(main())
