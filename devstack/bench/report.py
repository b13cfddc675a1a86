"""The goals of issue 12 as one table (scenario | naive | RegSync | critical path | ratio | goal | met?),
then the detail: AzureML requests by route per share and per push, the reconcile sizes, decide + plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

MAX_SHARE_REQUESTS, MAX_PUSH_REQUESTS = 8, 3
NAIVE_SPEEDUP, CRITICAL_SLACK, COLD_SLACK, FAULT_SLACK, FLAT_SLACK = 10.0, 1.5, 2.0, 2.0, 1.1
RECONCILE_S, RECOVERY_S, IMPORT_S = 60.0, 120.0, 0.5


@dataclass(frozen=True)
class Goal:
    scenario: str
    naive: str
    regsync: str
    critical: str
    ratio: str
    goal: str
    met: str  # "yes", or by how much it misses


def verdict(ok: bool, miss: str) -> str:
    return "yes" if ok else f"no: {miss}"


def over(value: float, limit: float) -> str:
    """By how much `value` exceeds `limit`, as a percentage of it."""
    return f"{value / limit - 1:.0%} over"


def per(calls: dict[str, Any], count: int) -> float:
    return round(calls["azureml_calls"] / max(1, count), 1)


def round_cause(warm: dict[str, Any], latency_ms: int, push_calls: float) -> str:
    """The measured reason a warm run misses: the push round against its share of the critical path, and
    the CPU this one process spent in it (near the round's wall time: CPU-bound, not waiting on AzureML)."""
    if "round_s" not in warm:
        return ""
    at_latency = push_calls * latency_ms / 1000
    return (
        f" (push round {warm['round_s']} s vs {at_latency:.1f} s at L; "
        f"{warm['round_cpu_s']} s of this process's CPU in it)"
    )


def fanout_goals(b: dict[str, Any]) -> list[Goal]:
    n, naive, warm, cold, critical = b["targets"], b["naive"], b["warm"], b["cold"], b["critical_s"]
    at = f"{n} targets, L={b['latency_ms']} ms"
    speedup = naive["total_s"] / warm["total_s"]
    slack = warm["total_s"] / critical if critical else float("inf")
    coldness = cold["total_s"] / warm["total_s"]
    share_calls, push_calls = per(warm["share"], 1), per(warm["push"], warm["pushes"])
    return [
        Goal(
            f"{at}, warm: vs naive",
            f"{naive['total_s']} s",
            f"{warm['total_s']} s",
            f"{critical} s",
            f"{speedup:.1f}x faster",
            f">= {NAIVE_SPEEDUP:.0f}x faster",
            verdict(
                speedup >= NAIVE_SPEEDUP,
                f"{NAIVE_SPEEDUP / speedup:.1f}x short" + round_cause(warm, b["latency_ms"], push_calls),
            ),
        ),
        Goal(
            f"{at}, warm: vs critical path",
            "",
            f"{warm['total_s']} s",
            f"{critical} s",
            f"{slack:.2f}x",
            f"<= {CRITICAL_SLACK}x",
            verdict(
                slack <= CRITICAL_SLACK,
                over(slack, CRITICAL_SLACK) + round_cause(warm, b["latency_ms"], push_calls),
            ),
        ),
        Goal(
            f"{at}, cold (fresh engine): vs warm",
            "",
            f"{cold['total_s']} s",
            "",
            f"{coldness:.2f}x",
            f"<= {COLD_SLACK}x",
            verdict(coldness <= COLD_SLACK, over(coldness, COLD_SLACK)),
        ),
        Goal(
            "AzureML requests per share",
            f"{per(naive['share'], 1)}",
            f"{share_calls}",
            "",
            "",
            f"<= {MAX_SHARE_REQUESTS}",
            verdict(share_calls <= MAX_SHARE_REQUESTS, f"{share_calls - MAX_SHARE_REQUESTS:g} over"),
        ),
        Goal(
            "AzureML requests per push (register)",
            f"{per(naive['push'], naive['pushes'])}",
            f"{push_calls}",
            "",
            "",
            f"<= {MAX_PUSH_REQUESTS}",
            verdict(push_calls <= MAX_PUSH_REQUESTS, f"{push_calls - MAX_PUSH_REQUESTS:g} over"),
        ),
    ]


def reconcile_goals(rows: list[dict[str, Any]]) -> list[Goal]:
    if not rows:
        return []
    first, last = rows[0], rows[-1]
    sizes = " / ".join(str(row["assets_per_workspace"]) for row in rows)
    ticks = " / ".join(f"{row['tick_calls_per_workspace']:g}" for row in rows)
    tick_growth = last["tick_calls_per_workspace"] / max(first["tick_calls_per_workspace"], 1e-9)
    tick_writes = sum(row["tick_writes"] for row in rows)
    calls = " / ".join(f"{row['calls_per_workspace']:g}" for row in rows)
    growth = last["calls_per_workspace"] / max(first["calls_per_workspace"], 1e-9)
    writes = sum(row["azureml_writes"] + row["acted"] for row in rows)
    at = f"{last['workspaces']} workspaces x {last['assets_per_workspace']} models"
    return [
        Goal(
            f"idle reconcile (timer tick): calls/workspace at {sizes} models",
            "",
            ticks,
            "",
            f"{tick_growth:.1f}x",
            f"flat (<= {FLAT_SLACK}x), 0 writes",
            verdict(
                tick_growth <= FLAT_SLACK and tick_writes == 0, f"{tick_growth:.1f}x, {tick_writes} writes"
            ),
        ),
        Goal(
            f"daily full pass: calls/workspace at {sizes} models",
            "",
            calls,
            "",
            f"{growth:.1f}x",
            "0 writes (lists every asset: grows)",
            verdict(writes == 0, f"{writes} writes"),
        ),
        Goal(
            f"daily full pass, {at}",
            "",
            f"{last['seconds']} s",
            "",
            "",
            f"< {RECONCILE_S:.0f} s",
            verdict(last["seconds"] < RECONCILE_S, over(last["seconds"], RECONCILE_S)),
        ),
    ]


def crash_goals(e: dict[str, Any]) -> list[Goal]:
    lost = e["targets"] - e["recovered"]
    ok = e["recovery_s"] <= RECOVERY_S and lost == 0
    return [
        Goal(
            f"crash with {e['claimed']} pushes claimed: all retried",
            "",
            f"{e['recovery_s']} s",
            "",
            "",
            f"<= {RECOVERY_S:.0f} s, 0 lost",
            verdict(ok, f"{e['recovery_s']} s, {lost} lost"),
        ),
    ]


def fault_goals(d: dict[str, Any]) -> list[Goal]:
    free, faulted = d["fault_free"], d["faulted"]
    ratio = faulted["total_s"] / free["total_s"]
    bad = faulted["duplicates"] + faulted["lost"]
    ok = ratio <= FAULT_SLACK and bad == 0
    return [
        Goal(
            f"{d['fault_rate']:.0%} of calls 429/503, {d['targets']} targets",
            f"{free['total_s']} s fault-free",
            f"{faulted['total_s']} s",
            "",
            f"{ratio:.2f}x",
            f"<= {FAULT_SLACK}x, 0 dup, 0 lost",
            verdict(
                ok,
                f"{over(ratio, FAULT_SLACK)}, {faulted['duplicates']} dup, {faulted['lost']} lost "
                f"({faulted['faulted']} faults answered, each asking Retry-After: 1 s, which RegSync obeys)",
            ),
        ),
    ]


def deploy_goals(g: dict[str, Any]) -> list[Goal]:
    return [
        Goal(
            f"AzureML requests per deploy push (online, new endpoint), {g['targets']} targets",
            "",
            f"{g['per_push']}",
            "",
            "",
            "count and print",
            f"counted ({g['succeeded']}/{g['targets']} ready)",
        ),
    ]


def import_goals(seconds: float) -> list[Goal]:
    return [
        Goal(
            "import function_app (-X importtime)",
            "",
            f"{seconds} s",
            "",
            "",
            f"< {IMPORT_S} s",
            verdict(seconds < IMPORT_S, over(seconds, IMPORT_S)),
        ),
    ]


def goals(results: dict[str, Any]) -> list[Goal]:
    found: list[Goal] = []
    if "fanout" in results:
        found += fanout_goals(results["fanout"])
    if "reconcile" in results:
        found += reconcile_goals(results["reconcile"])
    if "crash" in results:
        found += crash_goals(results["crash"])
    if "faults" in results:
        found += fault_goals(results["faults"])
    if "deploy" in results:
        found += deploy_goals(results["deploy"])
    if "import_s" in results:
        found += import_goals(results["import_s"])
    return found


def as_markdown(found: list[Goal]) -> str:
    """The goals table as docs/benchmarks.md records it."""
    lines = [
        "| scenario | naive | RegSync | critical path | ratio | goal | met? |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    lines += [
        f"| {g.scenario} | {g.naive} | {g.regsync} | {g.critical} | {g.ratio} | {g.goal} | {g.met} |"
        for g in found
    ]
    return "\n".join(lines)


def as_json(found: list[Goal]) -> list[dict[str, str]]:
    return [asdict(goal) for goal in found]


def table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, justify="right")
    for row in rows:
        result.add_row(*(str(row[column]) for column in columns))
    return result


def short_route(route: str) -> str:
    """`workspaces/{ws}/...` or `registries/{reg}/...`: the ARM prefix says nothing in a table."""
    return route.rpartition("Microsoft.MachineLearningServices/")[2]


def routes_table(title: str, calls: dict[str, Any], per_count: int = 1) -> Table:
    rows = [
        {"method": r["method"], "route": short_route(r["route"]), "count": round(r["count"] / per_count, 2)}
        for r in calls["routes"]
    ]
    return table(title, rows, ("method", "route", "count"))


def print_report(results: dict[str, Any]) -> None:
    out = Console(width=200)
    info = results["machine"]
    out.print(
        f"RegSync benchmarks: {info['cpus']} CPUs, Python {info['python']}, {info['platform']}, {info['at']}"
    )
    columns = ("scenario", "naive", "regsync", "critical", "ratio", "goal", "met")
    goal_rows = [asdict(goal) for goal in goals(results)]
    out.print(table("issue 12 goals (one run)", goal_rows, columns))
    if "fanout" in results:
        b = results["fanout"]
        out.print(routes_table("RegSync: requests per share (share + fan-out), by route", b["warm"]["share"]))
        out.print(
            routes_table("RegSync: requests per push, by route", b["warm"]["push"], b["warm"]["pushes"])
        )
        out.print(routes_table("naive: requests per share, by route", b["naive"]["share"]))
        out.print(
            routes_table("naive: requests per push, by route", b["naive"]["push"], b["naive"]["pushes"])
        )
    if "deploy" in results:
        out.print(
            routes_table(
                "RegSync: requests per deploy push, by route", results["deploy"], results["deploy"]["targets"]
            )
        )
    if "reconcile" in results:
        out.print(
            table(
                "idle reconcile: the daily full pass, then the timer's incremental tick",
                results["reconcile"],
                (
                    "workspaces",
                    "assets_per_workspace",
                    "seed_s",
                    "converge_s",
                    "seconds",
                    "azureml_calls",
                    "calls_per_workspace",
                    "azureml_writes",
                    "acted",
                    "tick_seconds",
                    "tick_named",
                    "tick_calls",
                    "tick_calls_per_workspace",
                    "tick_writes",
                ),
            )
        )
        largest = results["reconcile"][-1]
        out.print(routes_table("idle full pass: calls by route, largest size", largest))
        out.print(routes_table("idle tick: calls by route, largest size", {"routes": largest["tick_routes"]}))
    if "decide" in results:
        out.print(
            table(
                "decide + plan, one asset (pure, median)",
                results["decide"],
                ("workspaces", "rules", "allowed", "decide_ms", "decisions_per_s", "plan_ms", "plans_per_s"),
            )
        )
