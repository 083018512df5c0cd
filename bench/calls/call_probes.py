"""What the call benchmark measures besides SIPp: CPU time of process trees, kernel
packet counters on the media ports, relay counters, log lines."""

from __future__ import annotations

import ctypes
import json
import os
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from call_settings import (
    RELAY_COUNTERS,
)

from callyard.testing.sip import (
    LOOPBACK,
    SippResult,
)


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
