"""`callyard bench ...`: benchmarks that need nothing but callyard itself."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer

from callyard.cli.common import fail
from callyard.dialer.simulation import METHODS, RunResult, Scenario, grid, simulate

bench = typer.Typer(help="Benchmarks.")

ABANDON_TARGET = 0.03


def run_header(hours: float, seeds: list[int]) -> str:
    """When and where the benchmark ran, and what it simulated."""
    return (
        f"callyard bench dialer: {datetime.now(UTC).isoformat(timespec='seconds')}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, callyard {metadata.version('callyard')}; "
        f"{hours:g} h of virtual time per run, seed {', '.join(map(str, seeds))}, "
        f"abandon target {ABANDON_TARGET:.0%} of answered calls, max wait 2 s"
    )


MEASURES = ("talk min/agent-h", "abandon % life", "worst hour %", "dials/hour")
SHORT = {"predictive": "pred", "progressive": "prog", "adaptive": "adapt"}


def _plain(groups: list[tuple[str, list[str]]], rows: list[list[str]]) -> str:
    """Columns in groups: a line of group names over a line of column names."""
    names = [name for _, columns in groups for name in columns]
    widths = [max(len(row[i]) for row in [names, *rows]) for i in range(len(names))]
    top: list[str] = []
    i = 0
    for group, columns in groups:
        span = sum(widths[i : i + len(columns)]) + 2 * (len(columns) - 1)
        width = max(span, len(group))
        for j in range(len(columns)):  # a long group name widens its last column
            widths[i + j] += width - span if j == len(columns) - 1 else 0
        top.append(group.ljust(width) if i == 0 else group.rjust(width))
        i += len(columns)
    lines = ["  ".join(top)]
    for row in [names, *rows]:
        lines.append(
            "  ".join(
                cell.ljust(widths[k]) if k == 0 else cell.rjust(widths[k])
                for k, cell in enumerate(row)
            ).rstrip()
        )
    return "\n".join(line.rstrip() for line in lines)


def _markdown(groups: list[tuple[str, list[str]]], rows: list[list[str]]) -> str:
    """One column per group, its values joined by slashes."""
    header: list[str] = []
    cells: list[list[str]] = [[] for _ in rows]
    i = 0
    for group, columns in groups:
        if group:
            header.append(f"{group} ({' / '.join(columns)})")
            for out, row in zip(cells, rows, strict=True):
                out.append(" / ".join(row[i : i + len(columns)]))
        else:
            header += columns
            for out, row in zip(cells, rows, strict=True):
                out += row[i : i + len(columns)]
        i += len(columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def report(runs: list[dict[str, RunResult]], seeds: list[int], hours: float, markdown: bool) -> str:
    """The table (one row per scenario and seed, the methods side by side) and the
    verdict on each aim."""
    several = len(seeds) > 1
    methods = [SHORT[m] for m in METHODS]
    groups = [("", ["scenario", *(["seed"] if several else [])])]
    groups += [(measure, methods) for measure in MEASURES]
    rows = []
    for by_method in runs:
        first = by_method["predictive"]
        results = list(by_method.values())
        row = [first.scenario, *([str(first.seed)] if several else [])]
        row += [f"{r.talk_minutes_per_agent_hour:.1f}" for r in results]
        row += [f"{100 * r.abandon_rate:.2f}" for r in results]
        row += [f"{100 * r.worst_hour_abandon_rate:.2f}" for r in results]
        row += [f"{r.dials_per_hour:.0f}" for r in results]
        rows.append(row)
    table = _markdown(groups, rows) if markdown else _plain(groups, rows)
    return "\n".join([table, "", *verdict(runs, hours)])


def verdict(runs: list[dict[str, RunResult]], hours: float) -> list[str]:
    """One line per aim: met or not, with the closest call."""
    predictive = [r["predictive"] for r in runs]
    over = [
        r for r in predictive
        if r.abandon_rate > ABANDON_TARGET or r.worst_hour_abandon_rate > ABANDON_TARGET
    ]  # fmt: skip
    worst = max(predictive, key=lambda r: r.worst_hour_abandon_rate)
    window = "every rolling hour" if hours > 1 else "the whole run (shorter than an hour)"
    lines = [
        f"aim 1, predictive abandonment <= {ABANDON_TARGET:.0%} in every scenario, over the "
        f"task's life and {window}: {'not met' if over else 'met'}; highest rolling hour "
        f"{100 * worst.worst_hour_abandon_rate:.2f}% ({_name(worst)}), highest life "
        f"{100 * max(r.abandon_rate for r in predictive):.2f}%"
        + (f"; over in {', '.join(_name(r) for r in over)}" if over else "")
    ]
    leads = [
        (
            r["predictive"].talk_minutes_per_agent_hour
            - max(r[m].talk_minutes_per_agent_hour for m in r if m != "predictive"),
            r["predictive"],
        )
        for r in runs
    ]
    behind = [run for lead, run in leads if lead <= 0]
    smallest, closest = min(leads, key=lambda pair: pair[0])
    lines.append(
        f"aim 2, predictive talk minutes per agent-hour above both baselines in every "
        f"scenario: {'not met' if behind else 'met'}; smallest lead {smallest:+.1f} min "
        f"({_name(closest)})"
        + (f"; behind in {', '.join(_name(r) for r in behind)}" if behind else "")
    )
    return lines


def _name(result: RunResult) -> str:
    return f"{result.scenario} seed {result.seed}"


def select(filters: str | None) -> list[Scenario]:
    """The grid's scenarios whose name contains any of the comma-separated filters."""
    scenarios = grid()
    if filters is None:
        return scenarios
    wanted = [f.strip() for f in filters.split(",") if f.strip()]
    chosen = [s for s in scenarios if any(f in s.name for f in wanted)]
    if not chosen:
        names = ", ".join(s.name for s in scenarios)
        fail(f"invalid --scenarios: {filters!r} matches none of {names}", 2)
    return chosen


@bench.command("dialer")
def bench_dialer(
    hours: Annotated[
        float, typer.Option("--hours", min=0.01, max=100.0, help="Virtual hours per run")
    ] = 4.0,
    seed: Annotated[
        list[int] | None,
        typer.Option("--seed", min=0, help="Random seed; repeat for several [1]"),
    ] = None,
    scenarios: Annotated[
        str | None,
        typer.Option(
            "--scenarios",
            help="Comma-separated parts of scenario names, e.g. '10a,60%-long' "
            "[all 18: 10a/50a/200a x 15%/30%/60% x short/long]",
        ),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="A markdown table")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write every run's figures here")
    ] = None,
) -> None:
    """Simulate the predictive dialer and the progressive and VICIdial-style adaptive
    pacers on a grid of campaigns (agents x answer rate x talk time) in virtual time,
    and print talk minutes per agent-hour, abandon rates and dials per hour."""
    seeds = seed or [1]
    chosen = select(scenarios)
    started = time.process_time()
    runs = [
        {method: simulate(method, scenario, hours, s) for method in METHODS}
        for scenario in chosen
        for s in seeds
    ]
    cpu = time.process_time() - started
    print(run_header(hours, seeds))
    print()
    print(report(runs, seeds, hours, markdown))
    print(f"({len(runs) * len(METHODS)} runs, {cpu:.1f} s of CPU)")
    if json_path is not None:
        document: dict[str, Any] = {
            "header": run_header(hours, seeds),
            "runs": [
                {**asdict(r), "talk_minutes_per_agent_hour": r.talk_minutes_per_agent_hour,
                 "abandon_rate": r.abandon_rate}
                for by_method in runs
                for r in by_method.values()
            ],
        }  # fmt: skip
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(document, indent=2) + "\n")
