"""Call benchmark of a B2BUA target with SIPp, on loopback (see bench/README.md).

bench/calls/run runs this inside a network namespace of its own. For each target:

  SIPp UAC (uac_g711a.xml, G.711 A-law via play_pcap_audio)
      -> target on 127.0.0.1 (B2BUA + media relay)
      -> SIPp UAS (uas_answer_echo.xml, answers, echoes media with -rtp_echo)

and measures (a) the highest call setup rate with no failed call, (b) concurrent calls
held with media, with packets lost, (c) the target's CPU time per call and (d) the
post-dial delay it adds (INVITE->180 and INVITE->200 through it, minus the same
directly UAC->UAS).

Settings (environment): BENCH_TARGETS ("sippy callyard"), BENCH_RATES
("50,100,150,200,250" calls/s), BENCH_RATE_SECONDS (10), BENCH_RATE_HOLD_MS (1000),
BENCH_CONCURRENT ("300,500,700"), BENCH_HOLD_SECONDS (20), BENCH_RAMP_RATE (100),
BENCH_PDD_CALLS (100), BENCH_PDD_RATE (20), BENCH_TARGET_CPU (0) and BENCH_SIPP_CPU (1):
CPU lists for taskset, "" for no pinning, BENCH_RESULTS (bench/results/calls.json).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.sip.harness import (
    LOOPBACK,
    HarnessError,
    Sipp,
    SippResult,
    free_media_port,
    free_udp_port,
    isolated_network,
    pcap_packet_count,
    prepare_pcap_dir,
    udp_bound,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
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
            hold_seconds=int(env("BENCH_HOLD_SECONDS", "20")),
            ramp_rate=int(env("BENCH_RAMP_RATE", "100")),
            pdd_calls=int(env("BENCH_PDD_CALLS", "100")),
            pdd_rate=int(env("BENCH_PDD_RATE", "20")),
            target_cpu=env("BENCH_TARGET_CPU", "0" if two_cores else ""),
            sipp_cpu=env("BENCH_SIPP_CPU", "1" if two_cores else ""),
            results=Path(env("BENCH_RESULTS", str(ROOT / "bench/results/calls.json"))),
            max_answer_p99_ms=float(env("BENCH_MAX_ANSWER_P99_MS", "1000")),
        )

    def pin(self, cpus: str) -> list[str]:
        return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


# -- measurements of the target and the namespace ----------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Drops:
    carrier: int  # on the SIPp UAS's sockets
    target_sip: int  # on the target's SIP socket (requests lost there are retransmitted)
    target_media: int  # on every other socket: the relay's


class DropSampler:
    """Datagrams the kernel dropped on full receive buffers (the last column of
    /proc/net/udp) during a phase, by owner. The caller's sockets are left out: SIPp
    never reads the media echoed back to it, so its media socket overflows by design.

    A socket's count goes when it closes (the relay's sockets close with each call),
    so a thread samples every `interval` s and keeps each socket's (inode's) highest
    count: drops in a socket's last moments can be missed."""

    def __init__(
        self, carrier_ports: Sequence[int], caller_ports: Sequence[int], sip_ports: Sequence[int]
    ) -> None:
        self.owners = {port: "carrier" for port in carrier_ports} | {
            port: "target_sip" for port in sip_ports
        }
        self.caller_ports = set(caller_ports)
        self.baseline: dict[str, int] = {}
        self.seen: dict[str, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> dict[str, tuple[str, int]]:
        sockets: dict[str, tuple[str, int]] = {}
        with open("/proc/net/udp") as lines:
            next(lines)
            for line in lines:
                parts = line.split()
                port = int(parts[1].rsplit(":", 1)[1], 16)
                if port not in self.caller_ports:
                    owner = self.owners.get(port, "target_media")
                    sockets[parts[9]] = (owner, int(parts[-1]))
        return sockets

    def _record(self) -> None:
        for inode, (owner, drops) in self._sample().items():
            previous = self.seen.get(inode, (owner, 0))[1]
            self.seen[inode] = (owner, max(previous, drops))

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._record()

    def start(self, interval: float = 0.5) -> DropSampler:
        self.baseline = {inode: drops for inode, (_, drops) in self._sample().items()}
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Drops:
        """The drops since start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._record()
        totals = {"carrier": 0, "target_sip": 0, "target_media": 0}
        for inode, (owner, drops) in self.seen.items():
            totals[owner] += drops - self.baseline.get(inode, 0)
        return Drops(**totals)


class RelayControl:
    """An rtpproxy control socket (rtp.io accepts an extra `-s udp:HOST:PORT`)."""

    def __init__(self, port: int) -> None:
        self.address = (LOOPBACK, port)
        self.cookie = 0

    def command(self, command: str, timeout: float = 10.0) -> str | None:
        """The reply, or None when the relay does not answer within `timeout` (when it
        is overloaded). Retries resend the same cookie: rtpproxy answers a repeated
        cookie from its reply cache instead of running the command again."""
        self.cookie += 1
        cookie = f"b{self.cookie}"
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while time.monotonic() < deadline:
                sock.sendto(f"{cookie} {command}".encode(), self.address)
                sock.settimeout(min(1.0, max(0.01, deadline - time.monotonic())))
                try:
                    while True:
                        reply = sock.recv(65536).decode()
                        if reply.startswith(cookie + " "):
                            return reply[len(cookie) + 1 :].strip()
                except TimeoutError:
                    continue
        return None

    def counters(self) -> dict[str, int]:
        reply = self.command("G " + " ".join(RELAY_COUNTERS))
        if reply is None:
            return {}
        return {name: int(value) for name, value in zip(RELAY_COUNTERS, reply.split(), strict=True)}

    def active_sessions(self) -> int | None:
        reply = self.command("Ib", timeout=5.0)
        match = re.search(r"active sessions: (\d+)", reply or "")
        return int(match.group(1)) if match else None


@dataclass
class Target:
    """A running B2BUA under test: where to send INVITEs, its process, its relay."""

    name: str
    description: str
    address: str
    process: subprocess.Popen[bytes]
    relay: RelayControl | None
    log: Path

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def relay_counters(self) -> dict[str, int]:
        return self.relay.counters() if self.relay else {}

    def wait_idle(self, timeout: float = 20.0) -> int | None:
        """Wait until the relay holds no session, or until the count stops falling for
        3 s (sessions of failed calls stay until the relay's own timeout). Returns the
        sessions left."""
        if self.relay is None:
            time.sleep(2)
            return None
        deadline = time.monotonic() + timeout
        last, last_change = self.relay.active_sessions(), time.monotonic()
        while last != 0 and time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.relay.active_sessions()
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change > 3:
                break
        if last:
            print(f"  note: {last} relay sessions left over", file=sys.stderr, flush=True)
        return last

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sippy(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """The reference: sippy's stock B2BUA (python -m sippy.b2bua) with an embedded rtp.io
    relay, routing every call to the carrier, no authentication or accounting."""
    work.mkdir(parents=True, exist_ok=True)
    sip_port = 5060
    control = free_udp_port()
    relay_args = [
        "-F",  # rtp.io refuses to run as root without it
        "-d", "WARN",
        "-l", LOOPBACK,
        "-m", "20000",
        "-M", "29999",
        "-s", f"udp:{LOOPBACK}:{control}",  # a second control socket, for statistics
    ]  # fmt: skip
    command = [
        *settings.pin(settings.target_cpu),
        str(PYTHON),
        "-m",
        "sippy.b2bua",
        "-f",  # foreground
        "-u",  # no RADIUS authentication
        "-A", "0",  # no accounting
        "-l", LOOPBACK,
        "-p", str(sip_port),
        "-s", carrier.address,  # static route: every call to the carrier
        f"--b2bua_socket={work / 'b2bua.sock'}",
        f"--logfile={work / 'b2bua.log'}",
        "--rtp_proxy_clients=rtp.io:" + ";".join(relay_args),
    ]  # fmt: skip
    log = work / "b2bua.out"
    env = {**os.environ, "SIPLOG_BEND": "none"}
    with log.open("wb") as out:
        # cwd: rtp.io writes rtpproxy_acct.csv in the working directory.
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=work, env=env)
    relay = RelayControl(control)

    def ready() -> bool:
        if process.poll() is not None:
            raise HarnessError(f"sippy b2bua exited:\n{log.read_text()[-2000:]}")
        if not udp_bound(sip_port):
            return False
        try:
            relay.command("V", timeout=0.2)
        except OSError:
            return False
        return True

    wait_until(ready, 20, "the sippy B2BUA to listen")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("sippy", "rtp.io"))
    return Target(
        name="sippy-b2bua",
        description=f"stock sippy B2BUA + embedded rtp.io relay ({versions})",
        address=f"{LOOPBACK}:{sip_port}",
        process=process,
        relay=relay,
        log=log,
    )


def start_callyard(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """callyard's own switch.

    TODO(callyard target): not measured yet; this prints so and returns None. To measure
    it: start `.venv/bin/callyard serve --sip 127.0.0.1:PORT --rtp-ports 20000-29999
    --data-dir WORK/data` pinned with settings.pin(settings.target_cpu), give it what the
    UAC needs to place a call (an extension the UAC authenticates as, which needs
    digest handling in uac_g711a.xml, or an IP-authorised inbound trunk) and a trunk to
    `carrier.address` that the dialled numbers route to; wait for the SIP port and
    return a Target (relay=None unless the switch exposes its relay's counters; then
    read them in Target.relay_counters). If the switch only places calls started from
    its API (click-to-call: agent leg, then trunk leg), the UAC side becomes a SIPp UAS
    registered as the agent and the calls are started over HTTP: a different load
    generator, with the same carrier and the same measurements.
    """
    print("callyard: not measured yet")
    return None


TARGETS: dict[str, Callable[[Path, Sipp, Settings], Target | None]] = {
    "sippy": start_sippy,
    "callyard": start_callyard,
}


# -- phases ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "mean": round(statistics.fmean(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


@dataclass
class Caller:
    """One SIPp UAC run and what it left."""

    sipp: Sipp
    result: SippResult
    clip_packets: int
    seconds: float

    @property
    def peak_calls(self) -> int:
        match = re.search(r"Peak was (\d+) calls", self.result.screen)
        return int(match.group(1)) if match else 0


def run_caller(
    work: Path,
    name: str,
    remote: str,
    settings: Settings,
    *,
    calls: int,
    rate: float,
    hold_ms: int,
    short_messages: bool = False,
    during: Callable[[], None] | None = None,
    during_at: float = 0.0,
) -> Caller:
    """Place `calls` calls at `rate`/s, each with media until ~300 ms before its BYE at
    `hold_ms` after the answer. `during` runs once, `during_at` s after the start."""
    caller_dir = work / name
    clip = prepare_pcap_dir(caller_dir, seconds=max(0.2, hold_ms / 1000 - 0.3))
    limit = calls
    guard = calls / rate + hold_ms / 1000 + 40
    sipp = Sipp(
        "uac_g711a.xml",
        caller_dir,
        remote=remote,
        port=settings.uac_port,
        media_port=settings.uac_media_port,
        calls=calls,
        rate=rate,
        call_limit=limit,
        duration_ms=hold_ms,
        trace_messages=False,
        trace_short_messages=short_messages,
        trace_rtt=True,
        timeout_s=guard,
        prefix=settings.pin(settings.sipp_cpu),
        recv_timeout_ms=10_000,
        extra_args=["-fd", "1", "-max_recv_loops", "10000"],
        name="uac",
    )
    started = time.monotonic()
    sipp.start()
    try:
        if during is not None:
            time.sleep(max(0.0, during_at - (time.monotonic() - started)))
            if sipp.running:
                during()
        result = sipp.wait(guard + 10)
    finally:
        if sipp.running:
            sipp.stop(grace=2)
    return Caller(sipp, result, pcap_packet_count(clip), time.monotonic() - started)


def post_dial_delays(caller: Caller) -> dict[str, list[float]]:
    """INVITE->180 and INVITE->200 per call, in ms, from the caller's short trace."""
    invite: dict[str, float] = {}
    ringing: dict[str, float] = {}
    answer: dict[str, float] = {}
    for message in caller.sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            invite.setdefault(message.call_id, message.at)
        elif message.direction == "R" and message.cseq.endswith(" INVITE"):
            if message.first_line.startswith("SIP/2.0 180"):
                ringing.setdefault(message.call_id, message.at)
            elif message.first_line.startswith("SIP/2.0 200"):
                answer.setdefault(message.call_id, message.at)
    return {
        "ringing": [1000 * (ringing[c] - invite[c]) for c in ringing if c in invite],
        "answer": [1000 * (answer[c] - invite[c]) for c in answer if c in invite],
    }


def measure_pdd(work: Path, name: str, remote: str, settings: Settings) -> dict[str, Any]:
    caller = run_caller(
        work,
        name,
        remote,
        settings,
        calls=settings.pdd_calls,
        rate=settings.pdd_rate,
        hold_ms=500,
        short_messages=True,
    )
    delays = post_dial_delays(caller)
    return {
        "calls": settings.pdd_calls,
        "rate": settings.pdd_rate,
        "successful": caller.result.successful,
        "failed": caller.result.failed,
        "ringing_ms": summary(delays["ringing"]),
        "answer_ms": summary(delays["answer"]),
    }


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Counter differences; empty when the relay did not answer either time."""
    if not after or not before:
        return {}
    return {key: after[key] - before[key] for key in after}


def media_report(relay: dict[str, int], caller: Caller, drops: Drops) -> dict[str, int]:
    """Packets through the relay: each call's clip goes caller -> relay -> carrier, and
    its echo carrier -> relay -> caller, so the relay should receive (and relay) twice
    the clip per call. `lost` = expected - received + dropped by the relay; of those,
    `lost_at_target` were dropped by the relay or on its sockets, `lost_at_carrier` on
    the carrier's socket (SIPp's echo falling behind); the rest were most likely never
    sent in time by the caller (SIPp's pcap players falling behind)."""
    expected = 2 * caller.clip_packets * caller.result.successful
    report = {
        "expected_at_relay": expected,
        "kernel_drops_relay": drops.target_media,
        "kernel_drops_carrier": drops.carrier,
    }
    if relay:
        lost = max(0, expected - relay["npkts_rcvd"]) + relay["npkts_discard"]
        report |= {
            "relay_received": relay["npkts_rcvd"],
            "relayed": relay["npkts_relayed"],
            "relay_dropped": relay["npkts_discard"],
            "rtp_seq_lost": relay["rtpa_nlost"],
            "lost": lost,
            "lost_at_target": relay["npkts_discard"] + drops.target_media,
            "lost_at_carrier": min(lost, drops.carrier),
        }
    return report


@dataclass(frozen=True)
class Ports:
    carrier: list[int]
    caller: list[int]
    target_sip: list[int]

    def sampler(self) -> DropSampler:
        return DropSampler(self.carrier, self.caller, self.target_sip)


def measure_rate(
    work: Path, target: Target, rate: int, settings: Settings, ports: Ports
) -> dict[str, Any]:
    calls = rate * settings.rate_seconds
    target.wait_idle()
    cpu0, relay0 = target.cpu(), target.relay_counters()
    sampler = ports.sampler().start()
    caller = run_caller(
        work, f"rate-{rate}", target.address, settings, calls=calls, rate=rate,
        hold_ms=settings.rate_hold_ms,
    )  # fmt: skip
    left = target.wait_idle()
    drops = sampler.stop()
    cpu = target.cpu() - cpu0
    relay = delta(target.relay_counters(), relay0)
    result = caller.result
    answer = caller.sipp.response_times().get("answer", [])
    done = result.successful + result.failed
    return {
        "rate": rate,
        "calls": calls,
        "successful": result.successful,
        "failed": result.failed,
        "retransmissions": result.counter("Retransmissions"),
        "sipp_exit": result.returncode,
        "seconds": round(caller.seconds, 1),
        "peak_calls": caller.peak_calls,
        "answer_ms": summary(answer),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / done, 2) if done else None,
        "relay_sessions_left": left,
        "sip_drops_at_target": drops.target_sip,
        "media": media_report(relay, caller, drops),
    }


def measure_concurrent(
    work: Path, target: Target, calls: int, settings: Settings, ports: Ports
) -> dict[str, Any]:
    ramp = calls / settings.ramp_rate
    hold_ms = round(1000 * (ramp + settings.hold_seconds))
    target.wait_idle()
    cpu0, relay0 = target.cpu(), target.relay_counters()
    sampler = ports.sampler().start()
    plateau: dict[str, float] = {}

    def plateau_sample() -> None:
        # All calls are up from ramp + 1 s on; sample just before the first ends.
        plateau["cpu0"] = target.cpu()
        plateau["at0"] = time.monotonic()
        time.sleep(max(0.0, settings.hold_seconds - 2))
        plateau["cpu"] = target.cpu()
        plateau["at"] = time.monotonic()
        sessions = target.relay.active_sessions() if target.relay else None
        plateau["sessions"] = -1 if sessions is None else sessions

    caller = run_caller(
        work, f"hold-{calls}", target.address, settings, calls=calls,
        rate=settings.ramp_rate, hold_ms=hold_ms, during=plateau_sample, during_at=ramp + 1,
    )  # fmt: skip
    left = target.wait_idle()
    drops = sampler.stop()
    cpu = target.cpu() - cpu0
    relay = delta(target.relay_counters(), relay0)
    result = caller.result
    done = result.successful + result.failed
    held_cpu = plateau.get("cpu", 0.0) - plateau.get("cpu0", 0.0)
    held_wall = plateau.get("at", 0.0) - plateau.get("at0", 0.0)
    return {
        "calls": calls,
        "hold_s": settings.hold_seconds,
        "successful": result.successful,
        "failed": result.failed,
        "retransmissions": result.counter("Retransmissions"),
        "sipp_exit": result.returncode,
        "peak_calls": caller.peak_calls,
        "relay_sessions_held": int(plateau.get("sessions", -1)),
        "relay_sessions_left": left,
        "held_cpu_cores": round(held_cpu / held_wall, 2) if held_wall > 0 else None,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / done, 2) if done else None,
        "sip_drops_at_target": drops.target_sip,
        "media": media_report(relay, caller, drops),
    }


# -- the run -----------------------------------------------------------------------------------


def start_carrier(work: Path, settings: Settings) -> Sipp:
    carrier = Sipp(
        "uas_answer_echo.xml",
        work / "carrier",
        trace_messages=False,
        call_limit=100_000,
        prefix=settings.pin(settings.sipp_cpu),
        extra_args=["-max_recv_loops", "10000"],
        name="uas",
    )
    return carrier.start()


def completed(step: dict[str, Any]) -> bool:
    """Every call of the step succeeded."""
    return not step["failed"] and step["successful"] == step["calls"]


def sustainable(step: dict[str, Any], settings: Settings) -> bool:
    """Completed, no packet lost, and answered without queueing: the 99th percentile of
    INVITE->200 under BENCH_MAX_ANSWER_P99_MS (1000; an INVITE unanswered after 500 ms
    is retransmitted, so beyond that the target is falling behind)."""
    p99 = step["answer_ms"].get("p99", float("inf"))
    return completed(step) and not step["media"].get("lost") and p99 < settings.max_answer_p99_ms


def bench_target(
    work: Path, name: str, settings: Settings, direct_pdd: dict[str, Any]
) -> dict[str, Any]:
    carrier = start_carrier(work / name, settings)
    target = None
    try:
        target = TARGETS[name](work / name / "target", carrier, settings)
        if target is None:
            return {"measured": False, "note": "not measured yet"}
        print(f"== {target.name}: {target.description}, on {target.address}", flush=True)
        ports = Ports(
            carrier=[carrier.port, carrier.media_port, carrier.media_port + 2],
            caller=[settings.uac_port, settings.uac_media_port, settings.uac_media_port + 2],
            target_sip=[int(target.address.rsplit(":", 1)[1])],
        )
        report: dict[str, Any] = {"measured": True, "description": target.description}

        print("  post-dial delay ...", flush=True)
        pdd = measure_pdd(work / name, "pdd", target.address, settings)
        added = {
            kind: round(pdd[f"{kind}_ms"]["p50"] - direct_pdd[f"{kind}_ms"]["p50"], 3)
            for kind in ("ringing", "answer")
            if pdd[f"{kind}_ms"] and direct_pdd[f"{kind}_ms"]
        }
        report["pdd"] = {"through_target": pdd, "added_p50_ms": added}

        report["rates"] = []
        for rate in settings.rates:
            print(f"  {rate} calls/s for {settings.rate_seconds} s ...", flush=True)
            step = measure_rate(work / name, target, rate, settings, ports)
            report["rates"].append(step)
            if not target.alive():
                report["error"] = "target died"
                return report
            if step["failed"] or step["successful"] < step["calls"]:
                break
        no_failed = [s for s in report["rates"] if completed(s)]
        sustained = [s for s in no_failed if sustainable(s, settings)]
        report["max_rate_no_failed"] = max((s["rate"] for s in no_failed), default=0)
        report["max_rate_sustained"] = max((s["rate"] for s in sustained), default=0)
        best = max(sustained, key=lambda s: s["rate"], default=None)
        report["cpu_ms_per_call"] = best["cpu_ms_per_call"] if best else None

        report["concurrent"] = []
        for calls in settings.concurrent:
            print(f"  {calls} concurrent calls held {settings.hold_seconds} s ...", flush=True)
            step = measure_concurrent(work / name, target, calls, settings, ports)
            report["concurrent"].append(step)
            if not target.alive():
                report["error"] = "target died"
                return report
        return report
    finally:
        if target is not None:
            target.stop()
        if carrier.running:
            carrier.stop(grace=3)


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
        )
        for row in [header, *rows]
    )


def print_report(report: dict[str, Any]) -> None:
    direct = report["direct_pdd"]
    for name, result in report["targets"].items():
        print()
        if not result.get("measured"):
            print(f"{name}: {result.get('note', 'not measured')}")
            continue
        print(f"{name}: {result['description']}")
        rows = []
        for step in result["rates"]:
            media = step["media"]
            rows.append([
                f"{step['rate']}/s x {step['calls'] // step['rate']} s", str(step["calls"]),
                str(step["successful"]), str(step["failed"]), str(step["retransmissions"]),
                fmt(step["answer_ms"].get("p50")), fmt(step["answer_ms"].get("p99")),
                fmt(step["cpu_ms_per_call"], 2), str(media.get("relayed", "-")),
                str(media.get("lost", "-")), str(media.get("lost_at_target", "-")),
                str(step["sip_drops_at_target"]), fmt(step["relay_sessions_left"]),
            ])  # fmt: skip
        header = ["(a) setup rate", "calls", "ok", "failed", "retrans", "200 p50 ms",
                  "200 p99 ms", "cpu ms/call", "pkts relayed", "lost", "at target",
                  "sip drops", "sessions left"]  # fmt: skip
        print(table(rows, header))
        print(
            f"    highest rate with 0 failed calls: {result['max_rate_no_failed']} calls/s; "
            f"sustained (0 failed, 0 lost, 200 p99 < "
            f"{report['settings']['max_answer_p99_ms']:g} ms): "
            f"{result['max_rate_sustained']} calls/s"
        )
        rows = []
        for step in result["concurrent"]:
            media = step["media"]
            rows.append([
                f"{step['calls']} held {step['hold_s']} s", str(step["peak_calls"]),
                str(step["successful"]), str(step["failed"]), str(media["expected_at_relay"]),
                str(media.get("relayed", "-")), str(media.get("lost", "-")),
                str(media.get("lost_at_target", "-")), str(media.get("lost_at_carrier", "-")),
                fmt(step["held_cpu_cores"], 2), fmt(step["cpu_ms_per_call"], 2),
            ])  # fmt: skip
        header = ["(b) concurrent", "peak", "ok", "failed", "pkts expected", "relayed",
                  "lost", "at target", "at uas", "cores held", "cpu ms/call"]  # fmt: skip
        print(table(rows, header))
        print(
            f"    (c) target CPU per call at {result['max_rate_sustained']} calls/s: "
            f"{fmt(result['cpu_ms_per_call'], 2)} ms"
        )
        pdd = result["pdd"]["through_target"]
        rows = [
            [label, fmt(d["ringing_ms"].get("p50"), 2), fmt(d["ringing_ms"].get("p90"), 2),
             fmt(d["answer_ms"].get("p50"), 2), fmt(d["answer_ms"].get("p90"), 2)]
            for label, d in (("direct UAC->UAS", direct), ("through target", pdd))
        ]  # fmt: skip
        added = result["pdd"]["added_p50_ms"]
        rows.append(
            ["added by target (p50)", fmt(added.get("ringing"), 2), "",
             fmt(added.get("answer"), 2), ""]
        )  # fmt: skip
        header = [f"(d) post-dial delay, {pdd['calls']} calls at {pdd['rate']}/s",
                  "180 p50 ms", "180 p90", "200 p50 ms", "200 p90"]  # fmt: skip
        print(table(rows, header))


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
            direct = measure_pdd(work / "direct", "pdd", carrier.address, settings)
        finally:
            carrier.stop(grace=3)
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
            "tools": {
                "sipp": subprocess.run(["sipp", "-v"], capture_output=True, text=True)
                .stdout.strip()
                .splitlines()[0]
                .strip(),
            },
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in settings.__dict__.items()
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
