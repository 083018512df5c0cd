"""Summary of a bench/api/run: a plain-text table on stdout and a JSON file.

Usage: report.py RESULTS_FILE JSON_OUT
RESULTS_FILE holds one JSON object per line, as printed by scenario.lua's done().
Run settings come from the environment (BENCH_SECONDS, BENCH_CONNECTIONS, ...).
"""

import json
import os
import sys
from datetime import UTC, datetime


def main() -> None:
    results_file, json_out = sys.argv[1], sys.argv[2]
    with open(results_file) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:
        row["errors"] = (
            row["non2xx"] + row["bad_ret"] + row["bad_status"] + sum(row["socket_errors"].values())
        )

    header = ("scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors")
    lines = [
        (
            r["scenario"],
            f"{r['rps']:.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p90_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            str(r["errors"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for r in rows:
        if r["errors"]:
            sockets = ", ".join(f"{kind} {n}" for kind, n in r["socket_errors"].items() if n)
            print(
                f"  {r['scenario']}: non-2xx {r['non2xx']}, ret!=200 {r['bad_ret']}, "
                f"status!=0 {r['bad_status']}, socket errors: {sockets or 'none'}"
            )

    by_name = {r["scenario"]: r for r in rows}
    quiet, flooded = by_name.get("sipnum-urlencoded"), by_name.get("sipnum-urlencoded-under-flood")
    flood_ratio = None
    if quiet and flooded and quiet["p99_ms"] > 0:
        flood_ratio = round(flooded["p99_ms"] / quiet["p99_ms"], 2)
        flood = by_name.get("login-wrong-key-flood")
        answered = f", {flood['requests']} wrong-key logins answered" if flood else ""
        print(
            f"  GetSipnumberInfo p99 under the wrong-key Login flood: {flooded['p99_ms']:.2f} ms,"
            f" {flood_ratio:.2f} x the quiet {quiet['p99_ms']:.2f} ms (aim: at most 2 x){answered}"
        )

    report = {
        "benchmark": "api",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": os.environ.get("BENCH_VERSION", ""),
        "seconds": int(os.environ["BENCH_SECONDS"]),
        "connections": int(os.environ["BENCH_CONNECTIONS"]),
        "server_cpu": os.environ["BENCH_SERVER_CPU"],
        "wrk_cpu": os.environ["BENCH_WRK_CPU"],
        "scenarios": rows,
        "flood_p99_ratio": flood_ratio,
    }
    os.makedirs(os.path.dirname(json_out), exist_ok=True)
    with open(json_out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
