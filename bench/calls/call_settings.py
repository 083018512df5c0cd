"""The call benchmark's settings (environment) and goals."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


PYTHON = ROOT / ".venv" / "bin" / "python"


CALLYARD = ROOT / ".venv" / "bin" / "callyard"


SIP_PORT = 5060


RTP_PORTS = (20000, 29999)


RELAY_COUNTERS = (
    "nsess_created",
    "nsess_destroyed",
    "npkts_rcvd",
    "npkts_relayed",
    "npkts_discard",
    "rtpa_nsent",
    "rtpa_nrcvd",
    "rtpa_nlost",
    "rtpa_ndups",
)


# The targets, printed next to the figures.
GOAL_SETUP_RATE = 150  # call setups/s, sustained


GOAL_CONCURRENT = 500  # relayed calls held at once, all completed, 0 packets lost


GOAL_PDD_ADDED_MS = 5.0  # median post-dial delay (INVITE->180) added by the target


QUIET_CORES = 0.1  # a target using less CPU than this is at rest


def env_list(name: str, default: str) -> list[int]:
    return [int(x) for x in re.split(r"[,\s]+", os.environ.get(name, default).strip()) if x]


@dataclass(frozen=True)
class Settings:
    targets: list[str]
    rates: list[int]
    rate_seconds: int
    rate_hold_ms: int
    concurrent: list[int]
    hold_seconds: int
    ramp_rate: int
    pdd_calls: int
    pdd_rate: int
    target_cpu: str
    sipp_cpu: str
    results: Path
    max_answer_p99_ms: float
    uac_port: int = 0
    uac_media_port: int = 0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        two_cores = (os.cpu_count() or 1) > 1
        return cls(
            targets=env("BENCH_TARGETS", "sippy callyard").split(),
            rates=env_list("BENCH_RATES", "50,100,150,200,250"),
            rate_seconds=int(env("BENCH_RATE_SECONDS", "10")),
            rate_hold_ms=int(env("BENCH_RATE_HOLD_MS", "1000")),
            concurrent=env_list("BENCH_CONCURRENT", "300,500,700"),
            hold_seconds=int(env("BENCH_HOLD_SECONDS", "15")),
            ramp_rate=int(env("BENCH_RAMP_RATE", "100")),
            pdd_calls=int(env("BENCH_PDD_CALLS", "100")),
            pdd_rate=int(env("BENCH_PDD_RATE", "20")),
            # The target may use both cores (callyard's SIP process and its server run
            # side by side); SIPp is kept on one of them.
            target_cpu=env("BENCH_TARGET_CPU", "0,1" if two_cores else ""),
            sipp_cpu=env("BENCH_SIPP_CPU", "1" if two_cores else ""),
            results=Path(env("BENCH_RESULTS", str(ROOT / "bench/results/calls.json"))),
            max_answer_p99_ms=float(env("BENCH_MAX_ANSWER_P99_MS", "1000")),
        )

    def pin(self, cpus: str) -> list[str]:
        return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
