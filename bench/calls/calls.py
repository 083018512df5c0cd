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

import contextlib
import ctypes
import dataclasses
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from callyard.testing.server import callyard
from callyard.testing.sip import (
    LOOPBACK,
    HarnessError,
    Sipp,
    SippResult,
    digest_response,
    free_media_port,
    free_tcp_port,
    free_udp_port,
    isolated_network,
    parse_digest,
    pcap_packet_count,
    prepare_pcap_dir,
    udp_bound,
    wait_until,
)

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


# -- measurements of the target and the namespace ----------------------------------------------


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (callyard's SIP switch is a child of the server)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return found


def _own_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # it just ended
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children, all their threads, from
    /proc/PID/stat."""
    return sum(_own_cpu_seconds(each) for each in process_tree(pid))


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds of a process and its children by thread name (/proc/PID/task/*/stat;
    Python threads carry their process's name, e.g. "callyard" and "callyard-sip", the
    relay's threads their own, e.g. "rtpp_proc: RTP"). "(threads gone)" is what threads
    that have exited used."""
    clock = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    total = 0.0
    for each in process_tree(pid):
        total += _own_cpu_seconds(each)
        try:
            tasks = os.listdir(f"/proc/{each}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{each}/task/{task}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue  # the thread just ended
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / clock
    gone = total - sum(used.values())
    if gone > 0.05:
        used["(threads gone)"] = gone
    ordered = sorted(used.items(), key=lambda item: -item[1])
    return {name: round(seconds, 1) for name, seconds in ordered}


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


# -- packets counted on the SIPp side ------------------------------------------------------------

_ETH_P_IP = 0x0800
_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_SO_ATTACH_FILTER = 26


def _udp_port_filter(port: int, offset: int) -> bytes:
    """A classic BPF program over an IPv4 packet (an AF_PACKET SOCK_DGRAM socket sees
    it from the IP header): accept a UDP datagram, not a later fragment, whose source
    (`offset` 0) or destination (`offset` 2) port is `port`."""
    program = [
        (0x30, 0, 0, 9),  # ldb [9]: the IP protocol
        (0x15, 0, 5, 17),  # jeq #17 (UDP), else drop
        (0x28, 0, 0, 6),  # ldh [6]: flags and fragment offset
        (0x45, 3, 0, 0x1FFF),  # jset #0x1fff: a later fragment, drop
        (0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf): the IP header's length
        (0x48, 0, 0, offset),  # ldh [x + offset]: the port
        (0x15, 0, 1, port),  # jeq #port, else drop
        (0x06, 0, 0, 1),  # ret #1: accept (one byte of it)
        (0x06, 0, 0, 0),  # ret #0: drop
    ]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


class PacketCounter:
    """How many UDP datagrams from or to a port arrived on `lo`, counted by the kernel.

    An AF_PACKET socket with a BPF filter that is never read: the kernel counts every
    packet the filter accepts in PACKET_STATISTICS (queued, or dropped once the tiny
    receive buffer is full), at no cost to the processes measured. Each loopback packet
    is counted once: an ETH_P_IP socket sees the receive side only. Needs CAP_NET_RAW
    in the namespace (root, or `unshare -rn`)."""

    def __init__(self, port: int, *, source: bool) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_IP))
        code = _udp_port_filter(port, 0 if source else 2)
        buffer = ctypes.create_string_buffer(code)  # struct sock_fprog {len; *filter}
        fprog = struct.pack("HP", len(code) // 8, ctypes.addressof(buffer))
        self.sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        self.sock.bind(("lo", 0))
        self.total = 0
        self.read()  # what came before the filter was attached
        self.total = 0

    def read(self) -> int:
        """The packets counted since this counter was made (the kernel's count resets
        at every read: they are added up here)."""
        packets, _drops = struct.unpack(
            "II", self.sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
        )
        self.total += packets
        return self.total

    def close(self) -> None:
        self.sock.close()


def udp_counters() -> dict[str, int]:
    """The namespace's UDP counters (/proc/net/snmp): `udp_no_ports`, datagrams that
    arrived at a port no socket was bound to; `udp_rcvbuf_errors`, datagrams dropped on
    full receive buffers."""
    with open("/proc/net/snmp") as snmp:
        rows = [line.split()[1:] for line in snmp if line.startswith("Udp:")]
    values = dict(zip(rows[0], (int(v) for v in rows[1]), strict=True))
    return {"udp_no_ports": values["NoPorts"], "udp_rcvbuf_errors": values["RcvbufErrors"]}


class MediaCounters:
    """The media packets of one target's run, counted at the SIPp processes' media ports:
    `caller_sent` (the UAC's players, towards the target), `carrier_received` (what the
    target relayed to the UAS), `carrier_sent` (the UAS's echo, towards the target) and
    `caller_received` (what the target relayed back to the UAC); and the namespace's
    UDP counters (udp_counters)."""

    def __init__(self, caller_media_port: int, carrier_media_port: int) -> None:
        self.counters = {
            "caller_sent": PacketCounter(caller_media_port, source=True),
            "carrier_received": PacketCounter(carrier_media_port, source=False),
            "carrier_sent": PacketCounter(carrier_media_port, source=True),
            "caller_received": PacketCounter(caller_media_port, source=False),
        }

    def read(self) -> dict[str, int]:
        return {name: counter.read() for name, counter in self.counters.items()} | udp_counters()

    def close(self) -> None:
        for counter in self.counters.values():
            counter.close()


# -- what else the targets show ------------------------------------------------------------------


class LogWatch:
    """What a target wrote to its log since a mark: warnings and errors of callyard's
    JSON lines by message, and any other line (tracebacks, the relay's own output) by
    its text with the numbers blanked."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def since(self, offset: int, top: int = 8) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return []
        kinds: Counter[str] = Counter()
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and "level" in entry:
                if entry["level"] in ("debug", "info"):
                    continue
                what = f"{entry['level']} {entry.get('logger', '')}: {entry.get('msg', '')}"
                if entry.get("exc"):
                    what += " | " + str(entry["exc"]).strip().splitlines()[-1]
            else:
                what = "log: " + re.sub(r"\d+", "#", line)
            kinds[what[:240]] += 1
        return [{"count": count, "what": what} for what, count in kinds.most_common(top)]


def _first_line(message: str) -> str:
    """ "200 OK" for a response, the method for a request."""
    if message.startswith("SIP/2.0 "):
        return message.removeprefix("SIP/2.0 ").strip()
    return message.split(" ", 1)[0]


def sipp_failures(result: SippResult) -> dict[str, int]:
    """Why the UAC's calls failed, and what came too late, from SIPp: its non-zero Failed*
    counters (FailedTimeoutOnRecv: no answer within -recv_timeout, 10 s), the messages it
    aborted calls on ("unexpected 503 Service Unavailable"), and the messages that came
    for calls it had already ended or given up ("late 200 OK")."""
    failures = {
        name.removesuffix("(C)"): result.counter(name)
        for name in result.stats
        if name.startswith("Failed") and name.endswith("(C)") and name != "FailedCall(C)"
    }
    failures = {name: count for name, count in failures.items() if count}
    for kind, pattern in (
        ("unexpected", r"Aborting call on unexpected message[^\n]*?received '([^'\r\n]*)"),
        ("late", r"Dead call \S+ \([^)]*\), received '([^'\r\n]*)"),
    ):
        found = Counter(_first_line(m.group(1)) for m in re.finditer(pattern, result.errors))
        for what, count in found.most_common(4):
            failures[f"{kind} {what}"] = count
    return failures


# -- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerProfile:
    """How the SIPp UAC places calls through a target: its scenario, the number it dials
    (the R-URI user), digest credentials (-au/-ap) and scenario variables."""

    scenario: str = "uac_g711a.xml"
    service: str = "1234"
    auth: tuple[str, str] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settled:
    """How a target came back to rest after a phase's calls."""

    sessions_left: int | None  # relay sessions still open
    records: dict[str, int]  # records of the phase's calls, capture files (callyard)
    seconds: float  # from the end of the SIPp run to rest


@dataclass
class Target:
    """A running B2BUA under test: where to send INVITEs, its process, how to watch it."""

    name: str
    description: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path
    caller: CallerProfile = CallerProfile()
    relay: RelayControl | None = None  # rtpproxy control socket, for its counters
    sessions: Callable[[], int | None] | None = None  # relay sessions open now
    # Call records of the calls started since a time, and the capture files on disk now.
    records: Callable[[datetime], dict[str, int]] | None = None
    recorded_seconds: Callable[[], float] | None = None  # audio in its recordings so far
    notes: list[str] = field(default_factory=list)

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def relay_counters(self) -> dict[str, int]:
        return self.relay.counters() if self.relay else {}

    def record_counts(self, since: datetime) -> dict[str, int]:
        return self.records(since) if self.records else {}

    def wait_idle(
        self,
        expected_records: int | None = None,
        since: datetime | None = None,
        timeout: float = 60.0,
    ) -> Settled:
        """Wait until the target is at rest: its relay holds no session; for a target that
        writes call records, `expected_records` records of calls started at or after
        `since` are written; and its CPU has been under QUIET_CORES for a second (an
        overloaded target works through a backlog long after SIPp is done). Gives up
        on sessions and records once they have not moved for 3 s (5 s while records
        are awaited: a relay session of a failed call stays until the relay's own
        timeout, a record of a call that never reached the switch never comes), and on
        everything after `timeout`."""
        started = time.monotonic()
        if self.sessions is None and self.records is None:
            time.sleep(2)
            return Settled(None, {}, 2.0)
        start_of = since or datetime(2000, 1, 1, tzinfo=UTC)
        awaiting = self.records is not None and expected_records is not None
        still = 5.0 if awaiting else 3.0
        history = [(started, self.cpu())]

        def quiet() -> bool:
            at, cpu = time.monotonic(), self.cpu()
            history.append((at, cpu))
            while len(history) > 2 and at - history[1][0] >= 1.0:
                history.pop(0)
            first_at, first_cpu = history[0]
            return at - first_at >= 1.0 and (cpu - first_cpu) / (at - first_at) < QUIET_CORES

        def state() -> tuple[int | None, dict[str, int]]:
            return (self.sessions() if self.sessions else None, self.record_counts(start_of))

        def done(now: tuple[int | None, dict[str, int]]) -> bool:
            sessions, records = now
            written = records.get("records", 0)
            return not sessions and (not awaiting or written >= (expected_records or 0))

        deadline = started + timeout
        last, last_change = state(), time.monotonic()
        while time.monotonic() < deadline:
            at_rest = quiet()
            if at_rest and (done(last) or time.monotonic() - last_change > still):
                break
            time.sleep(0.25)
            now = state()
            if now != last:
                last, last_change = now, time.monotonic()
        sessions, records = last
        if sessions:
            print(f"  note: {sessions} relay sessions left over", file=sys.stderr, flush=True)
        return Settled(sessions, records, round(time.monotonic() - started, 1))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sippy(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """The reference: sippy's stock B2BUA (python -m sippy.b2bua) with an embedded rtp.io
    relay, routing every call to the carrier, no authentication or accounting."""
    work.mkdir(parents=True, exist_ok=True)
    wait_until(lambda: not udp_bound(SIP_PORT), 15, f"UDP port {SIP_PORT} to be free")
    control = free_udp_port()
    relay_args = [
        "-F",  # rtp.io refuses to run as root without it
        "-d", "WARN",
        "-l", LOOPBACK,
        "-m", str(RTP_PORTS[0]),
        "-M", str(RTP_PORTS[1]),
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
        "-p", str(SIP_PORT),
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
        if not udp_bound(SIP_PORT):
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
        address=f"{LOOPBACK}:{SIP_PORT}",
        process=process,
        log=log,
        relay=relay,
        sessions=relay.active_sessions,
        notes=["relay counters: rtpproxy `G` over an extra control socket"],
    )


# callyard's side of the bench: a company with one extension (the UAC), a trunk to the
# carrier and a caller-ID number for the calls it carries.
EXTENSION = "10010001"
EXTENSION_PASSWORD = "benchpass1"
CALLER_ID = "622150001"
DIALLED = "628123456789"


def register(
    server: tuple[str, int], local_port: int, user: str, password: str, expires: int = 3600
) -> None:
    """REGISTER `user` from 127.0.0.1:`local_port` (where the UAC will place its calls
    from) with digest authentication (401, then the answer with qop=auth)."""
    host, port = server
    call_id = f"{secrets.token_hex(8)}@bench"
    tag = secrets.token_hex(4)

    def request(cseq: int, authorization: str | None) -> bytes:
        lines = [
            f"REGISTER sip:{host}:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{host}:{port}>;tag={tag}",
            f"To: <sip:{user}@{host}:{port}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{user}@{LOOPBACK}:{local_port}>",
            f"Expires: {expires}",
            "User-Agent: bench-calls",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode()

    def exchange(sock: socket.socket, message: bytes) -> str:
        for _ in range(4):
            sock.sendto(message, server)
            try:
                while True:
                    reply = sock.recv(65536).decode(errors="replace")
                    if not reply.startswith("SIP/2.0 1"):
                        return reply
            except TimeoutError:
                continue
        raise HarnessError(f"no answer to REGISTER from {host}:{port}")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, local_port))
        sock.settimeout(1.0)
        challenge = exchange(sock, request(1, None))
        header = re.search(r"^WWW-Authenticate:\s*(.+?)\r?$", challenge, re.I | re.M)
        if not challenge.startswith("SIP/2.0 401") or header is None:
            raise HarnessError(f"REGISTER: expected a 401 challenge, got {challenge[:200]!r}")
        params = parse_digest(header.group(1))
        uri, cnonce, nc = f"sip:{host}:{port}", secrets.token_hex(8), "00000001"
        qop = "auth" if "auth" in params.get("qop", "").split(",") else None
        response = digest_response(
            username=user, realm=params["realm"], password=password, method="REGISTER",
            uri=uri, nonce=params["nonce"], qop=qop, nc=nc, cnonce=cnonce,
        )  # fmt: skip
        answer = (
            f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5'
        )
        if qop:
            answer += f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
        reply = exchange(sock, request(2, answer))
        if not reply.startswith("SIP/2.0 200"):
            raise HarnessError(f"REGISTER refused: {reply.splitlines()[0]!r}")


def start_callyard(work: Path, carrier: Sipp, settings: Settings) -> Target | None:
    """callyard's own switch (`callyard serve`), as a phone uses it: the UAC registers as
    an extension and authenticates each INVITE (407, then the answer); it dials a phone
    number, which the switch routes out through the company's trunk to the carrier
    ("method 2", with the pool's caller ID), relaying the media through its embedded
    rtp.io and recording every answered call (recording is not optional in callyard)
    into a WAV and a call record in SQLite. All of that is what is measured."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"

    def cli(*args: str) -> Any:
        return callyard(*args, "--data-dir", str(data))

    # Provisioned before the server starts (the server also picks up changes made while
    # it runs, within 0.5 s).
    company = str(cli("company", "create", "--name", "bench")["companycode"])
    cli("extension", "create", "--company", company, "--number", EXTENSION,
        "--password", EXTENSION_PASSWORD)  # fmt: skip
    cli("trunk", "add", "--company", company, "--name", "carrier", "--host", LOOPBACK,
        "--port", str(carrier.port))  # fmt: skip
    cli("number", "add", "--company", company, "--number", CALLER_ID)

    wait_until(lambda: not udp_bound(SIP_PORT), 15, f"UDP port {SIP_PORT} to be free")
    http = f"{LOOPBACK}:{free_tcp_port()}"
    command = [
        *settings.pin(settings.target_cpu),
        str(CALLYARD), "serve",
        "--data-dir", str(data),
        "--http", http,
        "--sip", f"{LOOPBACK}:{SIP_PORT}",
        "--rtp-ports", f"{RTP_PORTS[0]}-{RTP_PORTS[1]}",
    ]  # fmt: skip
    log = work / "callyard.log"
    env = {**os.environ, "CALLYARD_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=work, env=env)

    def ready() -> bool:
        if process.poll() is not None:
            raise HarnessError(f"callyard serve exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{http}/healthz", timeout=1) as reply:
                if reply.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return udp_bound(SIP_PORT)

    wait_until(ready, 30, "callyard to answer /healthz and listen for SIP", interval=0.1)
    register((LOOPBACK, SIP_PORT), settings.uac_port, EXTENSION, EXTENSION_PASSWORD)
    database = data / "callyard.db"

    def records(since: datetime) -> dict[str, int]:
        # Times are stored as naive UTC text, "2026-01-31 12:00:00.123456".
        start = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        with contextlib.closing(
            sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        ) as db:
            total, recorded, answered = db.execute(
                "SELECT count(*), coalesce(sum(recordfilename != ''), 0),"
                " coalesce(sum(answertime IS NOT NULL), 0) FROM call_records"
                " WHERE starttime >= ?",
                (start,),
            ).fetchone()
        captures = data / "captures"
        return {
            "records": total,
            "recorded": recorded,
            "answered": answered,
            # The relay's per-direction captures still on disk (the switch converts them
            # into the call's WAV, then deletes them).
            "capture_files": len(os.listdir(captures)) if captures.is_dir() else 0,
        }

    def recorded_seconds() -> float:
        # 8 kHz 16-bit stereo WAVs: 32,000 bytes a second, after a 44-byte header.
        wavs = (data / "recordings").rglob("*.wav")
        return sum(max(0, wav.stat().st_size - 44) for wav in wavs) / 32_000

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("sippy", "rtp.io"))
    return Target(
        name="callyard",
        description=(
            f"callyard {metadata.version('callyard')} switch: registered extension with "
            f"digest auth -> trunk, embedded rtp.io relay, every call recorded "
            f"(on {versions})"
        ),
        address=f"{LOOPBACK}:{SIP_PORT}",
        process=process,
        log=log,
        caller=CallerProfile(
            scenario="uac_g711a_auth.xml",
            service=DIALLED,
            auth=(EXTENSION, EXTENSION_PASSWORD),
            variables={"caller": EXTENSION},
        ),
        records=records,
        recorded_seconds=recorded_seconds,
        notes=[
            "no relay counters or session count (callyard's embedded rtp.io has no "
            "statistics socket): idle = every call's record written",
        ],
    )


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
    clip_seconds: float
    seconds: float

    @property
    def peak_calls(self) -> int:
        match = re.search(r"Peak was (\d+) calls", self.result.screen)
        return int(match.group(1)) if match else 0


def digest_uri(profile: CallerProfile, remote: str) -> tuple[str, ...]:
    """SIPp computes its digest over sip:REMOTE_IP:PORT unless told the Request-URI,
    which callyard checks it against."""
    return ("-auth_uri", f"{profile.service}@{remote}") if profile.auth else ()


def run_caller(
    work: Path,
    name: str,
    remote: str,
    settings: Settings,
    profile: CallerProfile,
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
    clip_seconds = max(0.2, hold_ms / 1000 - 0.3)
    clip = prepare_pcap_dir(caller_dir, seconds=clip_seconds)
    limit = calls
    guard = calls / rate + hold_ms / 1000 + 40
    sipp = Sipp(
        profile.scenario,
        caller_dir,
        remote=remote,
        port=settings.uac_port,
        media_port=settings.uac_media_port,
        service=profile.service,
        auth=profile.auth,
        variables=profile.variables,
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
        extra_args=["-fd", "1", "-max_recv_loops", "10000", *digest_uri(profile, remote)],
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
    return Caller(sipp, result, pcap_packet_count(clip), clip_seconds, time.monotonic() - started)


def post_dial_delays(caller: Caller) -> dict[str, list[float]]:
    """INVITE->180 and INVITE->200 per call, in ms, from the caller's short trace:
    `ringing`/`answer` from the call's first INVITE (with a challenge, its round trip
    included, as the phone sees it), `ringing_tx`/`answer_tx` from the INVITE the
    response answers (the authenticated one). With a challenge, `reaction` is the
    caller's own time from the 407 to its authenticated INVITE, and `ringing_switch`
    the phone's INVITE->180 less that: the time the target itself took."""
    first: dict[str, float] = {}
    sent: dict[tuple[str, str], float] = {}
    challenged: dict[str, float] = {}
    reaction: dict[str, float] = {}
    ringing: dict[str, tuple[float, str]] = {}
    answer: dict[str, tuple[float, str]] = {}
    for message in caller.sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            first.setdefault(message.call_id, message.at)
            sent.setdefault((message.call_id, message.cseq), message.at)
            if message.call_id in challenged:
                reaction.setdefault(
                    message.call_id, 1000 * (message.at - challenged[message.call_id])
                )
        elif message.direction == "R" and message.cseq.endswith(" INVITE"):
            if message.first_line.startswith("SIP/2.0 407"):
                challenged.setdefault(message.call_id, message.at)
            elif message.first_line.startswith("SIP/2.0 180"):
                ringing.setdefault(message.call_id, (message.at, message.cseq))
            elif message.first_line.startswith("SIP/2.0 200"):
                answer.setdefault(message.call_id, (message.at, message.cseq))

    def delays(got: dict[str, tuple[float, str]], per_transaction: bool) -> list[float]:
        out = []
        for call_id, (at, cseq) in got.items():
            start = sent.get((call_id, cseq)) if per_transaction else first.get(call_id)
            if start is not None:
                out.append(1000 * (at - start))
        return out

    switch_own = [
        1000 * (at - first[call_id]) - reaction.get(call_id, 0.0)
        for call_id, (at, _) in ringing.items()
        if call_id in first
    ]
    return {
        "ringing": delays(ringing, False),
        "answer": delays(answer, False),
        "ringing_tx": delays(ringing, True),
        "answer_tx": delays(answer, True),
        "ringing_switch": switch_own,
        "reaction": list(reaction.values()),
    }


def legs_inside(caller: Caller, carrier: Sipp) -> dict[str, list[float]]:
    """Where a target's post-dial delay goes, per call, in ms: `invite`, from the UAC
    sending the INVITE that gets the 180 (the authenticated one) to the UAS receiving
    the target's INVITE; `ringing` and `answer`, from the UAS sending its 180 or 200 to
    the UAC receiving the target's. Both SIPp log with the same clock; the calls of the
    post-dial delay phase do not overlap, so the two sides' calls are paired in order.
    Empty if they cannot be (different counts)."""
    sent: dict[tuple[str, str], float] = {}
    uac: dict[str, dict[str, float]] = {}
    for message in caller.sipp.short_messages():
        if message.direction == "S" and message.first_line.startswith("INVITE "):
            sent.setdefault((message.call_id, message.cseq), message.at)
        elif message.direction == "R" and message.first_line.startswith(
            ("SIP/2.0 180", "SIP/2.0 200")
        ):
            invite = sent.get((message.call_id, message.cseq))
            if invite is not None:
                times = uac.setdefault(message.call_id, {"invite": invite})
                times.setdefault(message.first_line[8:11], message.at)
    calls = sorted(
        (times["invite"], times["180"], times["200"])
        for times in uac.values()
        if "180" in times and "200" in times
    )
    if not calls:
        return {}
    first, last = calls[0][0], calls[-1][0]
    uas: dict[str, dict[str, float]] = {}
    answers = ("SIP/2.0 180", "SIP/2.0 200")
    for message in carrier.short_messages():
        if message.direction == "R" and message.first_line.startswith("INVITE "):
            if first <= message.at <= last + 1:
                uas.setdefault(message.call_id, {}).setdefault("invite", message.at)
        elif (
            message.direction == "S"
            and message.first_line.startswith(answers)
            and message.cseq.endswith(" INVITE")
            and message.call_id in uas
        ):
            uas[message.call_id].setdefault(message.first_line[8:11], message.at)
    carried = sorted(
        (times["invite"], times["180"], times["200"])
        for times in uas.values()
        if "180" in times and "200" in times
    )
    if len(carried) != len(calls):
        return {}
    pairs = list(zip(calls, carried, strict=True))
    return {
        "invite": [1000 * (down[0] - up[0]) for up, down in pairs],
        "ringing": [1000 * (up[1] - down[1]) for up, down in pairs],
        "answer": [1000 * (up[2] - down[2]) for up, down in pairs],
    }


def measure_pdd(
    work: Path,
    name: str,
    remote: str,
    settings: Settings,
    profile: CallerProfile,
    carrier: Sipp | None = None,
) -> dict[str, Any]:
    """Post-dial delays; with `carrier`, also the time the INVITE and the 180 spend
    inside the target (legs_inside)."""
    caller = run_caller(
        work,
        name,
        remote,
        settings,
        profile,
        calls=settings.pdd_calls,
        rate=settings.pdd_rate,
        hold_ms=500,
        short_messages=True,
    )
    delays = post_dial_delays(caller)
    report = {
        "calls": settings.pdd_calls,
        "rate": settings.pdd_rate,
        "successful": caller.result.successful,
        "failed": caller.result.failed,
        "authenticated": profile.auth is not None,
        **{f"{kind}_ms": summary(values) for kind, values in delays.items()},
    }
    if carrier is not None:
        time.sleep(1.5)  # SIPp writes its trace lines out every second or so
        legs = legs_inside(caller, carrier)
        report["inside_target_ms"] = {kind: summary(values) for kind, values in legs.items()}
    return report


def delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """Counter differences; empty when one of the readings is (the relay did not answer)."""
    if not after or not before:
        return {}
    return {key: after[key] - before.get(key, 0) for key in after}


def media_report(
    caller: Caller, packets: dict[str, int], relay: dict[str, int], drops: Drops
) -> dict[str, Any]:
    """Media of a phase. Each call's clip goes UAC -> target -> UAS and, echoed, UAS ->
    target -> UAC: `expected` is twice the clip per completed call.

    Counted on the SIPp side (MediaCounters), for every target alike: what SIPp sent
    into the target (UAC's clip + UAS's echo) minus what the target delivered to the
    other SIPp (at the UAS + back at the UAC) is either `after_close`, packets that
    reached a port with no socket (UDP NoPorts: sent to the relay after the call's BYE
    had closed its ports, by SIPp's players or echo running late), or `lost_in_target`
    (dropped on the relay's sockets, by the relay, or never forwarded).
    `sipp_behind` = what SIPp itself did not send in time (the UAC's players falling
    behind, or the UAS not echoing what it received).

    `relay` (sippy only): the relay's own counters, `lost` = expected - received + the
    relay's discards, as earlier versions of this benchmark reported it."""
    clip = caller.clip_packets * caller.result.successful
    sent = packets["caller_sent"] + packets["carrier_sent"]
    delivered = packets["carrier_received"] + packets["caller_received"]
    report: dict[str, Any] = {
        "clip_packets": caller.clip_packets,
        "expected": 2 * clip,
        **packets,
        "sent_into_target": sent,
        "delivered_by_target": delivered,
        "after_close": min(max(0, sent - delivered), packets["udp_no_ports"]),
        "lost_in_target": max(0, sent - delivered - packets["udp_no_ports"]),
        "lost_caller_to_carrier": packets["caller_sent"] - packets["carrier_received"],
        "lost_carrier_to_caller": packets["carrier_sent"] - packets["caller_received"],
        "sipp_behind": max(0, clip - packets["caller_sent"])
        + max(0, packets["carrier_received"] - packets["carrier_sent"]),
        "kernel_drops_relay": drops.target_media,
        "kernel_drops_carrier": drops.carrier,
    }
    if relay:
        report["relay"] = {
            "received": relay["npkts_rcvd"],
            "relayed": relay["npkts_relayed"],
            "dropped": relay["npkts_discard"],
            "rtp_seq_lost": relay["rtpa_nlost"],
            "lost": max(0, 2 * clip - relay["npkts_rcvd"]) + relay["npkts_discard"],
        }
    return report


@dataclass(frozen=True)
class Ports:
    carrier: list[int]
    caller: list[int]
    target_sip: list[int]

    def sampler(self) -> DropSampler:
        return DropSampler(self.carrier, self.caller, self.target_sip)


@dataclass(frozen=True)
class Before:
    """Readings at the start of a phase."""

    wall: datetime
    cpu: float
    relay: dict[str, int]
    media: dict[str, int]
    records: dict[str, int]
    recorded_s: float
    log: int

    @classmethod
    def take(cls, target: Target, media: MediaCounters) -> Before:
        wall = datetime.now(UTC)
        return cls(
            wall=wall,
            cpu=target.cpu(),
            relay=target.relay_counters(),
            media=media.read(),
            records=target.record_counts(wall),
            recorded_s=target.recorded_seconds() if target.recorded_seconds else 0.0,
            log=LogWatch(target.log).mark(),
        )


def phase_outcome(
    target: Target, media: MediaCounters, before: Before, caller: Caller, sampler: DropSampler
) -> dict[str, Any]:
    """What a phase left, once the target is at rest again: calls, CPU, media, records."""
    result = caller.result
    settled = target.wait_idle(expected_records=result.created, since=before.wall)
    drops = sampler.stop()
    cpu = target.cpu() - before.cpu
    relay = delta(target.relay_counters(), before.relay)
    packets = delta(media.read(), before.media)
    done = result.successful + result.failed
    outcome: dict[str, Any] = {
        "successful": result.successful,
        "failed": result.failed,
        "created": result.created,
        "retransmissions": result.counter("Retransmissions"),
        "sipp_exit": result.returncode,
        "sipp_failures": sipp_failures(result),
        "peak_calls": caller.peak_calls,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / done, 2) if done else None,
        "relay_sessions_left": settled.sessions_left,
        "settle_s": settled.seconds,
        "sip_drops_at_target": drops.target_sip,
        "media": media_report(caller, packets, relay, drops),
        "server_log": LogWatch(target.log).since(before.log),
    }
    if target.records is not None:
        captures = settled.records.get("capture_files", 0) - before.records.get("capture_files", 0)
        outcome["records"] = {**settled.records, "capture_files": captures}
    if target.recorded_seconds is not None:
        # Each call's WAV should hold about its clip (both directions side by side).
        seconds = target.recorded_seconds() - before.recorded_s
        expected = result.successful * caller.clip_seconds
        outcome["recordings"] = {
            "seconds": round(seconds, 1),
            "expected_seconds": round(expected, 1),
            "percent": round(100 * seconds / expected, 1) if expected else None,
        }
    return outcome


def measure_rate(
    work: Path, target: Target, rate: int, settings: Settings, ports: Ports, media: MediaCounters
) -> dict[str, Any]:
    calls = rate * settings.rate_seconds
    target.wait_idle()
    before = Before.take(target, media)
    sampler = ports.sampler().start()
    caller = run_caller(
        work, f"rate-{rate}", target.address, settings, target.caller, calls=calls, rate=rate,
        hold_ms=settings.rate_hold_ms,
    )  # fmt: skip
    answer = caller.sipp.response_times().get("answer", [])
    return {
        "rate": rate,
        "calls": calls,
        "seconds": round(caller.seconds, 1),
        "answer_ms": summary(answer),
        **phase_outcome(target, media, before, caller, sampler),
    }


def measure_concurrent(
    work: Path, target: Target, calls: int, settings: Settings, ports: Ports, media: MediaCounters
) -> dict[str, Any]:
    ramp = calls / settings.ramp_rate
    hold_ms = round(1000 * (ramp + settings.hold_seconds))
    target.wait_idle()
    before = Before.take(target, media)
    sampler = ports.sampler().start()
    plateau: dict[str, float] = {}

    def plateau_sample() -> None:
        # All calls are up from ramp + 1 s on; sample just before the first ends.
        plateau["cpu0"] = target.cpu()
        plateau["at0"] = time.monotonic()
        time.sleep(max(0.0, settings.hold_seconds - 2))
        plateau["cpu"] = target.cpu()
        plateau["at"] = time.monotonic()
        sessions = target.sessions() if target.sessions else None
        if sessions is not None:
            plateau["sessions"] = sessions

    caller = run_caller(
        work, f"hold-{calls}", target.address, settings, target.caller, calls=calls,
        rate=settings.ramp_rate, hold_ms=hold_ms, during=plateau_sample, during_at=ramp + 1,
    )  # fmt: skip
    held_cpu = plateau.get("cpu", 0.0) - plateau.get("cpu0", 0.0)
    held_wall = plateau.get("at", 0.0) - plateau.get("at0", 0.0)
    answer = caller.sipp.response_times().get("answer", [])
    return {
        "calls": calls,
        "hold_s": settings.hold_seconds,
        "answer_ms": summary(answer),
        "relay_sessions_held": int(plateau["sessions"]) if "sessions" in plateau else None,
        "held_cpu_cores": round(held_cpu / held_wall, 2) if held_wall > 0 else None,
        **phase_outcome(target, media, before, caller, sampler),
    }


# -- the run -----------------------------------------------------------------------------------


def start_carrier(work: Path, settings: Settings) -> Sipp:
    carrier = Sipp(
        "uas_answer_echo.xml",
        work / "carrier",
        trace_messages=False,
        trace_short_messages=True,  # for the time calls spend inside the target
        call_limit=100_000,
        prefix=settings.pin(settings.sipp_cpu),
        extra_args=["-max_recv_loops", "10000"],
        name="uas",
    )
    return carrier.start()


def completed(step: dict[str, Any]) -> bool:
    """Every call of the step succeeded."""
    return not step["failed"] and step["successful"] == step["calls"]


def clean(step: dict[str, Any]) -> bool:
    """Completed, and the target lost no packet (counted on the SIPp side)."""
    return completed(step) and step["media"]["lost_in_target"] <= 0


def sustainable(step: dict[str, Any], settings: Settings) -> bool:
    """Clean, and answered without queueing: the 99th percentile of INVITE->200 under
    BENCH_MAX_ANSWER_P99_MS (1000; an INVITE unanswered after 500 ms is retransmitted,
    so beyond that the target is falling behind)."""
    p99 = step["answer_ms"].get("p99", float("inf"))
    return clean(step) and p99 < settings.max_answer_p99_ms


def pdd_added(pdd: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    """Median delays through the target minus the same UAC->UAS directly, for each kind
    (ringing, answer, and the same from the authenticated INVITE)."""
    added = {}
    for kind in ("ringing", "answer", "ringing_tx", "answer_tx", "ringing_switch"):
        through = pdd.get(f"{kind}_ms", {})
        base = direct.get(f"{kind.removesuffix('_tx').removesuffix('_switch')}_ms", {})
        if through and base:
            added[kind] = round(through["p50"] - base["p50"], 3)
    return added


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


# -- the report --------------------------------------------------------------------------------


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
