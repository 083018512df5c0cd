"""Call benchmark of B2BUA targets with SIPp, on loopback (see bench/README.md).

bench/calls/run runs this inside a network namespace of its own. For each target:

  SIPp UAC (G.711 A-law via play_pcap_audio)
      -> target on 127.0.0.1 (B2BUA + media relay)
      -> SIPp UAS (uas_answer_echo.xml, answers, echoes media with -rtp_echo)

and measures (a) the highest call setup rate with no failed call, (b) concurrent calls
held with media, with packets lost, (c) the target's CPU time per call and (d) the
post-dial delay it adds (INVITE->180 and INVITE->200 through it, minus the same
directly UAC->UAS).

Targets: `sippy`, the stock sippy B2BUA (the reference; the UAC runs uac_g711a.xml),
and `callyard`, callyard's own switch (`callyard serve`): the UAC is a registered
extension that authenticates each INVITE (uac_g711a_auth.xml) and dials a phone
number, which the switch routes out through the company's trunk to the UAS, relaying
and recording the media.

Packet loss is counted on the SIPp side for both targets, by the kernel: packets sent
from and arriving at the UAC's and the UAS's media ports (MediaCounters). The sippy
target's relay counters (rtpproxy `G`) are reported next to them.

Settings (environment): BENCH_TARGETS ("sippy callyard"), BENCH_RATES
("50,100,150,200,250" calls/s), BENCH_RATE_SECONDS (10), BENCH_RATE_HOLD_MS (1000),
BENCH_CONCURRENT ("300,500,700"), BENCH_HOLD_SECONDS (15), BENCH_RAMP_RATE (100),
BENCH_PDD_CALLS (100), BENCH_PDD_RATE (20), BENCH_TARGET_CPU ("0,1") and BENCH_SIPP_CPU (1):
CPU lists for taskset, "" for no pinning, BENCH_RESULTS (bench/results/calls.json).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from call_load import (
    Ports,
    clean,
    completed,
    measure_concurrent,
    measure_pdd,
    measure_rate,
    pdd_added,
    start_carrier,
    sustainable,
)
from call_probes import (
    LogWatch,
    MediaCounters,
    cpu_by_thread,
)
from call_report import (
    print_report,
    run_header,
)
from call_settings import (
    GOAL_CONCURRENT,
    GOAL_PDD_ADDED_MS,
    GOAL_SETUP_RATE,
    Settings,
)
from call_targets import (
    CallerProfile,
    Target,
    start_callyard,
    start_sippy,
)

from callyard.testing.sip import (
    HarnessError,
    Sipp,
    free_media_port,
    free_udp_port,
    isolated_network,
)

TARGETS: dict[str, Callable[[Path, Sipp, Settings], Target | None]] = {
    "sippy": start_sippy,
    "callyard": start_callyard,
}


def bench_target(
    work: Path, name: str, settings: Settings, direct_pdd: dict[str, Any]
) -> dict[str, Any]:
    carrier = start_carrier(work / name, settings)
    try:
        media = MediaCounters(settings.uac_media_port, carrier.media_port)
    except PermissionError as exc:
        carrier.stop(grace=1)
        raise HarnessError(
            "counting packets needs CAP_NET_RAW in the namespace (bench/calls/run gives it)"
        ) from exc
    target = None
    try:
        target = TARGETS[name](work / name / "target", carrier, settings)
        if target is None:
            return {"measured": False, "note": "not measured yet"}
        print(f"== {name}: {target.description}, on {target.address}", flush=True)
        ports = Ports(
            carrier=[carrier.port, carrier.media_port, carrier.media_port + 2],
            caller=[settings.uac_port, settings.uac_media_port, settings.uac_media_port + 2],
            target_sip=[int(target.address.rsplit(":", 1)[1])],
        )
        report: dict[str, Any] = {
            "measured": True,
            "description": target.description,
            "caller_scenario": target.caller.scenario,
            "notes": target.notes,
        }

        print("  post-dial delay ...", flush=True)
        pdd = measure_pdd(work / name, "pdd", target.address, settings, target.caller, carrier)
        report["pdd"] = {"through_target": pdd, "added_p50_ms": pdd_added(pdd, direct_pdd)}

        report["rates"] = []
        for rate in settings.rates:
            print(f"  {rate} calls/s for {settings.rate_seconds} s ...", flush=True)
            step = measure_rate(work / name, target, rate, settings, ports, media)
            report["rates"].append(step)
            if not target.alive():
                report["error"] = "target died"
                break
            if not completed(step):
                break
        no_failed = [s for s in report["rates"] if completed(s)]
        sustained = [s for s in no_failed if sustainable(s, settings)]
        report["max_rate_no_failed"] = max((s["rate"] for s in no_failed), default=0)
        report["max_rate_sustained"] = max((s["rate"] for s in sustained), default=0)
        # CPU per call at the highest sustained rate, else at the lowest rate measured.
        best = max(sustained, key=lambda s: s["rate"], default=None) or next(
            iter(report["rates"]), None
        )
        report["cpu_ms_per_call"] = best["cpu_ms_per_call"] if best else None
        report["cpu_ms_per_call_at"] = best["rate"] if best else None

        report["concurrent"] = []
        for calls in settings.concurrent if target.alive() else []:
            print(f"  {calls} concurrent calls held {settings.hold_seconds} s ...", flush=True)
            step = measure_concurrent(work / name, target, calls, settings, ports, media)
            report["concurrent"].append(step)
            if not target.alive():
                report["error"] = "target died"
                break
        report["max_concurrent_clean"] = max(
            (s["calls"] for s in report["concurrent"] if clean(s)), default=0
        )
        report["server_log"] = LogWatch(target.log).since(0)
        report["cpu_by_thread_s"] = cpu_by_thread(target.process.pid)
        return report
    finally:
        if target is not None:
            target.stop()
        media.close()
        if carrier.running:
            carrier.stop(grace=3)


def main() -> int:
    if not isolated_network():
        print("bench/calls: not in an isolated network namespace (run bench/calls/run)")
        return 2
    settings = dataclasses.replace(
        Settings.from_env(), uac_port=free_udp_port(), uac_media_port=free_media_port()
    )
    unknown = [name for name in settings.targets if name not in TARGETS]
    if unknown:
        print(f"bench/calls: unknown targets {unknown}; known: {sorted(TARGETS)}")
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    keep = os.environ.get("BENCH_KEEP") == "1"
    started = time.monotonic()
    try:
        print(f"SIPp on CPU {settings.sipp_cpu or 'any'}, targets on CPU "
              f"{settings.target_cpu or 'any'}; work dir {work}", flush=True)  # fmt: skip
        print("== direct UAC->UAS (baseline for the post-dial delay) ...", flush=True)
        carrier = start_carrier(work / "direct", settings)
        try:
            direct = measure_pdd(work / "direct", "pdd", carrier.address, settings, CallerProfile())
        finally:
            carrier.stop(grace=3)
        report: dict[str, Any] = {
            **run_header(),
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in settings.__dict__.items()
            },
            "goals": {
                "setup_rate_sustained": GOAL_SETUP_RATE,
                "concurrent_clean": GOAL_CONCURRENT,
                "pdd_added_p50_ms": GOAL_PDD_ADDED_MS,
            },
            "direct_pdd": direct,
            "targets": {},
        }
        for name in settings.targets:
            report["targets"][name] = bench_target(work, name, settings, direct)
        report["seconds"] = round(time.monotonic() - started, 1)
        print_report(report)
        settings.results.parent.mkdir(parents=True, exist_ok=True)
        settings.results.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\n({report['seconds']} s; written to {settings.results})")
        return 0
    finally:
        if keep:
            print(f"(kept {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
