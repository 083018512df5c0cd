"""The call benchmark's report: tables, notes and verdicts printed from the results."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from call_settings import (
    GOAL_CONCURRENT,
    GOAL_PDD_ADDED_MS,
    GOAL_SETUP_RATE,
)


def fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    )


def relay_lost(step: dict[str, Any]) -> str:
    relay = step["media"].get("relay")
    return str(relay["lost"]) if relay else "-"


def records_cell(step: dict[str, Any]) -> str:
    """Call records written / of them with a recording, and the audio in those recordings
    against the media the calls carried (callyard); "-" otherwise."""
    records = step.get("records")
    if records is None:
        return "-"
    cell = f"{records.get('records', 0)}/{records.get('recorded', 0)}"
    percent = step.get("recordings", {}).get("percent")
    return cell + (f" {percent:.0f}%" if percent is not None else "")


def step_notes(label: str, step: dict[str, Any]) -> list[str]:
    """Why calls failed (SIPp) and what the target logged, when there is anything."""
    parts = []
    if step["sipp_failures"]:
        parts.append(
            "SIPp " + ", ".join(f"{name} {count}" for name, count in step["sipp_failures"].items())
        )
    if step["settle_s"] >= 3:
        parts.append(f"at rest {step['settle_s']:g} s after the calls")
    left = step.get("records", {}).get("capture_files", 0)
    if left:
        parts.append(f"{left} relay capture files left on disk")
    if step["media"]["kernel_drops_relay"]:
        parts.append(f"{step['media']['kernel_drops_relay']} dropped on full relay sockets")
    for entry in step["server_log"][:3]:
        parts.append(f"log {entry['count']}x {entry['what'][:150]}")
    return [f"    {label}: " + " | ".join(parts)] if parts else []


def print_target(report: dict[str, Any], name: str, result: dict[str, Any]) -> None:
    direct = report["direct_pdd"]
    print(f"{name}: {result['description']}")
    print(f"    caller: {result['caller_scenario']}; " + "; ".join(result["notes"]))
    threads = result.get("cpu_by_thread_s") or {}
    total = sum(threads.values())
    if total:
        print(
            f"    its CPU over the run, {total:.0f} s, by thread: "
            + ", ".join(
                f"{name} {100 * sec / total:.0f}%"
                for name, sec in threads.items()
                if sec / total >= 0.005
            )
        )
    rows, notes = [], []
    for step in result["rates"]:
        media = step["media"]
        label = f"{step['rate']}/s x {step['calls'] // step['rate']} s"
        rows.append([
            label, str(step["calls"]), str(step["successful"]), str(step["failed"]),
            str(step["retransmissions"]), fmt(step["answer_ms"].get("p50")),
            fmt(step["answer_ms"].get("p99")), fmt(step["cpu_ms_per_call"], 2),
            str(media["lost_in_target"]), str(media["after_close"]), str(media["sipp_behind"]),
            relay_lost(step), str(step["sip_drops_at_target"]),
            fmt(step["relay_sessions_left"]), records_cell(step),
        ])  # fmt: skip
        notes += step_notes(label, step)
    header = ["(a) setup rate", "calls", "ok", "failed", "retrans", "200 p50 ms",
              "200 p99 ms", "cpu ms/call", "lost in target", "after close", "sipp behind",
              "relay lost", "sip drops", "sessions left", "records"]  # fmt: skip
    print(table(rows, header))
    for note in notes:
        print(note)
    print(
        f"    highest rate with 0 failed calls: {result['max_rate_no_failed']} calls/s; "
        f"sustained (0 failed, 0 lost in target, 200 p99 < "
        f"{report['settings']['max_answer_p99_ms']:g} ms): "
        f"{result['max_rate_sustained']} calls/s"
    )
    rows, notes = [], []
    for step in result["concurrent"]:
        media = step["media"]
        label = f"{step['calls']} held {step['hold_s']} s"
        rows.append([
            label, str(step["peak_calls"]), str(step["successful"]), str(step["failed"]),
            fmt(step["answer_ms"].get("p99")), str(media["expected"]),
            str(media["delivered_by_target"]), str(media["lost_in_target"]),
            str(media["after_close"]), str(media["sipp_behind"]), relay_lost(step),
            fmt(step["relay_sessions_held"]), fmt(step["held_cpu_cores"], 2),
            fmt(step["cpu_ms_per_call"], 2), records_cell(step),
        ])  # fmt: skip
        notes += step_notes(label, step)
    header = ["(b) concurrent", "peak", "ok", "failed", "200 p99 ms", "pkts expected",
              "delivered", "lost in target", "after close", "sipp behind", "relay lost",
              "sessions held", "cores held", "cpu ms/call", "records"]  # fmt: skip
    print(table(rows, header))
    for note in notes:
        print(note)
    print(
        f"    (c) target CPU per call at {fmt(result['cpu_ms_per_call_at'])} calls/s: "
        f"{fmt(result['cpu_ms_per_call'], 2)} ms"
    )
    pdd = result["pdd"]["through_target"]
    added = result["pdd"]["added_p50_ms"]

    def row(label: str, d: dict[str, Any], suffix: str = "") -> list[str]:
        kinds = ("ringing", "answer")
        return [
            label,
            *(fmt(d[f"{k}{suffix}_ms"].get(q), 2) for k in kinds for q in ("p50", "p90")),
        ]

    rows = [row("direct UAC->UAS", direct), row("through target", pdd)]
    rows.append(["added by target (p50)", fmt(added.get("ringing"), 2), "",
                 fmt(added.get("answer"), 2), ""])  # fmt: skip
    if pdd["authenticated"]:
        rows.append(row("through target, from the 2nd INVITE", pdd, "_tx"))
        rows.append(["added, from the 2nd INVITE (p50)", fmt(added.get("ringing_tx"), 2), "",
                     fmt(added.get("answer_tx"), 2), ""])  # fmt: skip
    header = [f"(d) post-dial delay, {pdd['calls']} calls at {pdd['rate']}/s",
              "180 p50 ms", "180 p90", "200 p50 ms", "200 p90"]  # fmt: skip
    print(table(rows, header))
    if pdd["authenticated"]:
        reaction = pdd.get("reaction_ms") or {}
        print(
            "    (from the first INVITE: the 407 challenge's round trip included, as a phone"
            " sees it; the 2nd INVITE is the authenticated one)\n"
            f"    the caller's own time from the 407 to its 2nd INVITE, p50: "
            f"{fmt(reaction.get('p50'), 2)} ms; the target's own added delay (the phone's"
            f" less that), p50: {fmt(added.get('ringing_switch'), 2)} ms"
        )
    inside = pdd.get("inside_target_ms") or {}
    if inside:
        legs = (("invite", "INVITE in -> out"), ("ringing", "180 back"), ("answer", "200 back"))
        print(
            "    inside the target, p50/p90 ms: "
            + ", ".join(
                f"{label} {fmt(inside[kind].get('p50'), 2)}/{fmt(inside[kind].get('p90'), 2)}"
                for kind, label in legs
                if inside.get(kind)
            )
        )


def verdict(value: float | None, goal: float, at_least: bool) -> str:
    if value is None:
        return "-"
    met = value >= goal if at_least else value < goal
    return "met" if met else "MISSED"


def print_summary(report: dict[str, Any]) -> None:
    """The targets side by side, with the issue's targets."""
    measured = {n: r for n, r in report["targets"].items() if r.get("measured")}
    if not measured:
        return

    def cell(
        value: object, goal: float | None = None, at_least: bool = True, digits: int = 1
    ) -> str:
        text = fmt(value, digits)
        if goal is not None and isinstance(value, int | float):
            text += f" ({verdict(float(value), goal, at_least)})"
        return text

    def own_delay(result: dict[str, Any]) -> Any:
        """The delay the target adds by itself: with a challenge, what the phone sees
        less the phone's own time answering the 407."""
        added = result["pdd"]["added_p50_ms"]
        if result["pdd"]["through_target"]["authenticated"]:
            return added.get("ringing_switch")
        return added.get("ringing")

    def largest(result: dict[str, Any], key: str) -> Any:
        steps = result["concurrent"]
        return steps[-1].get(key) if steps else None

    lines: list[tuple[str, Callable[[dict[str, Any]], str], str]] = [
        ("setup rate, sustained (calls/s)",
         lambda r: cell(r["max_rate_sustained"], GOAL_SETUP_RATE), f">= {GOAL_SETUP_RATE}"),
        ("setup rate with 0 failed calls (calls/s)",
         lambda r: cell(r["max_rate_no_failed"]), ""),
        ("concurrent calls, all ok, 0 lost in target",
         lambda r: cell(r["max_concurrent_clean"], GOAL_CONCURRENT), f">= {GOAL_CONCURRENT}"),
        ("post-dial delay added, INVITE->180 p50 (ms)",
         lambda r: cell(own_delay(r), GOAL_PDD_ADDED_MS, False, 2),
         f"< {GOAL_PDD_ADDED_MS:g}"),
        ("  as the phone sees it, its own 407->INVITE included",
         lambda r: cell(r["pdd"]["added_p50_ms"].get("ringing"), digits=2), ""),
        ("  the same from the authenticated INVITE",
         lambda r: cell(r["pdd"]["added_p50_ms"].get("ringing_tx")
                        if r["pdd"]["through_target"]["authenticated"] else None, digits=2), ""),
        ("INVITE->200 added p50 (ms)",
         lambda r: cell(r["pdd"]["added_p50_ms"].get("answer"), digits=2), ""),
        ("cpu ms per call, setup phase",
         lambda r: f"{fmt(r['cpu_ms_per_call'], 2)} at {fmt(r['cpu_ms_per_call_at'])}/s", ""),
        ("cores held, largest concurrent step",
         lambda r: f"{fmt(largest(r, 'held_cpu_cores'), 2)} at {fmt(largest(r, 'calls'))}", ""),
    ]  # fmt: skip
    names = list(measured)
    rows = [[label, *(show(measured[n]) for n in names), goal] for label, show, goal in lines]
    print(table(rows, ["summary", *names, "issue target"]))


def print_report(report: dict[str, Any]) -> None:
    for name, result in report["targets"].items():
        print()
        if not result.get("measured"):
            print(f"{name}: {result.get('note', 'not measured')}")
            continue
        print_target(report, name, result)
    print()
    print_summary(report)


def run_header(**tools: str) -> dict[str, Any]:
    """When and where a benchmark ran, and with which SIPp (and other `tools`)."""
    sipp = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "tools": {"sipp": sipp.strip().splitlines()[0].strip(), **tools},
    }
