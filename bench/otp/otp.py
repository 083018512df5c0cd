"""Voice code requests to a running `callyard serve --demo`: how many `POST /api/voiceCode`
a second are accepted, and how long from each request to its INVITE at the carrier (a
SIPp UAS that answers 486 Busy, so no call holds media), with the speech cache cold
(a distinct code per request) and warm (one code). See bench/README.md."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from callyard.testing.server import Server, callyard
from callyard.testing.sip import Sipp

RATES = [int(r) for r in os.environ.get("BENCH_OTP_RATES", "5,10,20,40").split(",")]
SECONDS = float(os.environ.get("BENCH_OTP_SECONDS", "4"))
TARGET_CPU = os.environ.get("BENCH_TARGET_CPU", "0")
RESULTS = Path(os.environ.get("BENCH_RESULTS", "bench/results/otp.json"))
WORK = Path(os.environ.get("BENCH_OTP_WORK", "/tmp/callyard-bench-otp"))
COMPANY = "1001"


@dataclass
class Sent:
    phone: str
    at: float  # wall clock, seconds
    accepted: bool
    reply_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cli(data: Path, *args: str) -> Any:
    return callyard(*args, "--data-dir", str(data))


async def phase(
    url: str, appid: str, accesskey: str, rate: int, cold: bool, first: int
) -> list[Sent]:
    """`rate` requests a second for SECONDS, each to its own phone number."""
    count = int(rate * SECONDS)
    sent: list[Sent] = []
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(n: int) -> None:
            phone = f"62812{first + n:07d}"
            code = f"{(first + n) % 10000:04d}" if cold else "4815"
            start = time.time()
            reply = await http.post(
                f"{url}/api/voiceCode",
                data={"appid": appid, "accesskey": accesskey, "code": code,
                      "phone": phone, "nationCode": "en"},
            )  # fmt: skip
            accepted = reply.status_code == 200 and reply.json().get("code") == 1
            sent.append(Sent(phone, start, accepted, 1000 * (time.time() - start)))

        began = time.monotonic()
        tasks = []
        for n in range(count):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return sent


def invite_times(carrier: Sipp) -> dict[str, float]:
    """The first INVITE each phone number got, as a wall-clock time."""
    first: dict[str, float] = {}
    for message in carrier.received("INVITE"):
        user = message.first_line.split("sip:", 1)[1].split("@", 1)[0]
        at = datetime.strptime(message.at, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        first.setdefault(user, at)
    return first


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    run = WORK / f"run-{int(time.time())}"
    data = run / "data"
    data.mkdir(parents=True)
    carrier = Sipp("uas_busy.xml", run, name="carrier")
    carrier.start()
    env = {
        "CALLYARD_LOG_LEVEL": "warning",
        "CALLYARD_OTP_MAX_PER_NUMBER": "1000",
        "CALLYARD_OTP_MAX_PER_COMPANY_PER_MINUTE": "1000000",
    }
    server = Server(data, "--demo", "--rtp-ports", "30000-31999", env=env)
    try:
        pid = server.process.pid
        subprocess.run(["taskset", "-a", "-pc", TARGET_CPU, str(pid)], check=True,
                       capture_output=True)  # fmt: skip
        appid = server.stdout.split("appid:")[1].split()[0]
        accesskey = server.stdout.split("accesskey:")[1].split()[0]
        cli(data, "trunk", "add", "--company", COMPANY, "--name", "carrier",
            "--host", "127.0.0.1", "--port", str(carrier.port))  # fmt: skip
        cli(data, "number", "add", "--company", COMPANY, "--number", "622150001")
        time.sleep(1.5)  # the server reads changed trunks within 0.5 s
        phases: list[tuple[str, int, list[Sent]]] = []
        first = 0
        for cache in ("cold", "warm"):
            for rate in RATES:
                sent = asyncio.run(
                    phase(server.url, appid, accesskey, rate, cache == "cold", first)
                )
                first += len(sent)
                phases.append((cache, rate, sent))
                time.sleep(2)
        time.sleep(3)
    finally:
        server.stop()
        carrier.stop()
    invites = invite_times(carrier)
    rows = []
    for cache, rate, sent in phases:
        span = max(s.at for s in sent) - min(s.at for s in sent) or 1.0
        accepted = [s for s in sent if s.accepted]
        delays = [1000 * (invites[s.phone] - s.at) for s in accepted if s.phone in invites]
        rows.append({
            "cache": cache, "offered_per_s": rate, "requests": len(sent),
            "accepted": len(accepted), "accepted_per_s": round(len(accepted) / span, 1),
            "invites": len(delays),
            "reply_p50_ms": round(percentile([s.reply_ms for s in sent], 0.5), 1),
            "invite_p50_ms": round(percentile(delays, 0.5), 1),
            "invite_p99_ms": round(percentile(delays, 0.99), 1),
        })  # fmt: skip
    header = ("cache", "offered/s", "accepted", "accepted/s", "INVITEs", "reply p50 ms",
              "request->INVITE p50 ms", "p99 ms")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print(
            f"| {row['cache']} | {row['offered_per_s']} | {row['accepted']}/{row['requests']} "
            f"| {row['accepted_per_s']} | {row['invites']} | {row['reply_p50_ms']} "
            f"| {row['invite_p50_ms']} | {row['invite_p99_ms']} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"seconds_per_rate": SECONDS, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
