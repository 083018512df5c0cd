"""WebRTC media benchmark: browser-style calls (DTLS-SRTP after ICE) through callyard's
relay, beside plain RTP calls in the same run, on loopback (see bench/README.md).
bench/webrtc/run runs this inside a network namespace of its own.

  the relay under test: callyard's `MediaRelay` (rtp.io's RTPProxy, with its dtls_gw and
      ice_lite modules), embedded in this driver process, pinned to BENCH_RELAY_CPU
  the browsers: rtpengine (Debian's rtpengine-daemon, userspace), a full ICE agent and a
      DTLS peer, one call of its own per browser, pinned to BENCH_LOAD_CPU
  the load generator (`rtp_load`, a process pinned to BENCH_LOAD_CPU): two parties per
      call, each sending its tone as 20 ms PCMU RTP: the customer (440 Hz) to the relay's
      plain side, the browser's microphone (1000 Hz) to rtpengine's plain side, which
      encrypts it to the relay

A browser call is set up as the switch sets up an agent's: the relay's session opened
from the customer's address with the relay's end for a browser (`open_from(...,
for_browser=True)`: its fingerprint and ICE credentials), its SDP offered to rtpengine,
rtpengine's answer (its fingerprint, ICE credentials and candidates) given to the relay
with the browser's side (`side_b_at`). A plain call is the same without the browser: the
second party sends straight to the relay. Each step adds calls to those already up, lets
them settle (ICE and DTLS done) for BENCH_WEBRTC_SETTLE seconds and measures
BENCH_WEBRTC_SECONDS; plain calls are measured first, then torn down, then browser calls.

Calls send their packets in BENCH_WEBRTC_SLOTS slots of each 20 ms, as calls whose packet
clocks started at different moments do, not all at once.

Per step: the relay's CPU (this process, whose only work meanwhile is the relay's threads)
as a share of one core and per call; frames lost and late at the parties read (every
BENCH_WEBRTC_READ_EVERY-th call, both directions); the packets the relay itself counted
in from each side and dropped, over every call; datagrams the kernel dropped at the
relay's and rtpengine's sockets; whether the first call's parties each hear the other's
tone; rtpengine's and the generator's CPU. A step is clean with no lost and no late
frame, the right tones, and nothing dropped by the relay or at a socket. The largest
clean step of each kind is the result.

Settings (environment): BENCH_WEBRTC_STEPS (10,25,50,100,150,200,300,400,500),
BENCH_WEBRTC_SETTLE (3), BENCH_WEBRTC_SECONDS (6), BENCH_WEBRTC_READ_EVERY (4),
BENCH_WEBRTC_SLOTS (10),
BENCH_RELAY_CPU (0), BENCH_LOAD_CPU (1), BENCH_RESULTS (bench/results/webrtc.json).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rtp_load import (
    HOST,
    env_float,
    env_int,
    env_steps,
    generator_running,
    machine_busy_seconds,
    pin,
)

from callyard.switch import sdp
from callyard.switch.relay import SIDE_B, MediaRelay, media_at
from callyard.testing.audio import HEARD_FLOOR

ROOT = Path(__file__).resolve().parents[2]
RELAY_PORTS = (20000, 29999)
RTPENGINE_PORTS = (40000, 49999)
NG_PORT = 22222
CUSTOMER_HZ, BROWSER_HZ = 440.0, 1000.0
TONES = (CUSTOMER_HZ, BROWSER_HZ)
CODECS = (sdp.PCMU, sdp.TELEPHONE_EVENT)
ANSWER_SECONDS = 10.0

# rtpengine's flags for each direction: towards the relay it is a browser (ICE, DTLS,
# one port for RTP and RTCP); towards the generator's party, plain RTP.
TO_RELAY = {
    "ICE": "force",
    "transport-protocol": "UDP/TLS/RTP/SAVPF",
    "rtcp-mux": ["require"],
    "SDES": ["off"],
    "replace": ["origin", "session-connection"],
}
TO_PARTY = {
    "ICE": "remove",
    "transport-protocol": "RTP/AVP",
    "rtcp-mux": ["demux"],
    "DTLS": "off",
    "replace": ["origin", "session-connection"],
}


# -- rtpengine's ng protocol (bencoded dictionaries over UDP) -------------------------------


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        items = sorted(value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes, at: int = 0) -> tuple[Any, int]:
    kind = data[at : at + 1]
    if kind == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if kind in (b"l", b"d"):
        at += 1
        items: list[Any] = []
        while data[at : at + 1] != b"e":
            item, at = bdecode(data, at)
            items.append(item)
        if kind == b"l":
            return items, at + 1
        return {items[i].decode(): items[i + 1] for i in range(0, len(items), 2)}, at + 1
    colon = data.index(b":", at)
    length = int(data[at:colon])
    return data[colon + 1 : colon + 1 + length], colon + 1 + length


class Rtpengine:
    """rtpengine in userspace, its ng control on loopback."""

    def __init__(self, workdir: Path, cpu: int) -> None:
        self.log = (workdir / "rtpengine.log").open("w")
        self.process = subprocess.Popen(
            ["rtpengine", "--config-file=none", "--table=-1", f"--interface={HOST}",
             f"--listen-ng={HOST}:{NG_PORT}", f"--port-min={RTPENGINE_PORTS[0]}",
             f"--port-max={RTPENGINE_PORTS[1]}", "--foreground", "--log-stderr",
             "--log-level=4", "--delete-delay=0", "--num-threads=1"],
            stdout=self.log, stderr=self.log,
        )  # fmt: skip
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.settimeout(0.5)  # until it answers a ping
        deadline = time.monotonic() + 20
        while True:
            try:
                self.ask("ping")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("rtpengine did not start (see rtpengine.log)") from None
        self.socket.settimeout(ANSWER_SECONDS)
        pin(self.process.pid, cpu)

    def ask(self, command: str, **fields: Any) -> dict[str, Any]:
        cookie = b"%08x" % random.getrandbits(32)
        self.socket.sendto(cookie + b" " + bencode({"command": command, **fields}),
                           (HOST, NG_PORT))  # fmt: skip
        while True:
            data, _ = self.socket.recvfrom(65535)
            if data.startswith(cookie + b" "):
                answer: dict[str, Any] = bdecode(data[len(cookie) + 1 :])[0]
                if answer.get("result") not in (b"ok", b"pong"):
                    raise RuntimeError(f"rtpengine {command}: {answer}")
                return answer

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        if self.process.poll() is None:
            self.process.kill()
        self.log.close()


def socket_inodes(pid: int) -> set[int]:
    """The inodes of a process's sockets."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def socket_drops(rtpengine: int) -> dict[str, int]:
    """Datagrams the kernel dropped so far at full receive queues (/proc/net/udp's
    `drops`) of the relay's sockets (its ports) and of rtpengine's (process `rtpengine`).
    The generator's parties that are not read drop everything: not counted."""
    drops = {"relay": 0, "rtpengine": 0}
    engine = socket_inodes(rtpengine)
    with open("/proc/net/udp") as table:
        next(table)
        for line in table:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if RELAY_PORTS[0] <= port <= RELAY_PORTS[1]:
                drops["relay"] += int(fields[-1])
            elif int(fields[9]) in engine:
                drops["rtpengine"] += int(fields[-1])
    return drops


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, every thread's."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the driver ------------------------------------------------------------------------------


def waiting(work: Callable[[Callable[[Any], None]], None]) -> Any:
    """Run a relay command and wait for what its callback gets."""
    done = threading.Event()
    got: list[Any] = []

    def take(value: Any) -> None:
        got.append(value)
        done.set()

    work(take)
    if not done.wait(ANSWER_SECONDS):
        raise RuntimeError("the relay did not answer")
    return got[0]


@dataclass
class Step:
    kind: str  # "webrtc" or "plain"
    calls: int
    seconds: float
    relay_cpu_percent: float
    relay_cpu_ms_per_call_second: float
    received: int
    expected: int
    lost: int
    lost_to_customer: int  # frames the customers did not get (what the browsers said)
    lost_to_browser: int  # frames the browsers' side did not get (what customers said)
    late: int
    tones_right: bool
    tone_levels: dict[str, dict[float, float]]
    relay_in_from_customers: int  # the relay's own counts over the step, all calls
    relay_in_from_browsers: int
    relay_dropped: int
    socket_drops: dict[str, int]  # the kernel's, by the socket's owner
    rtpengine_cpu_percent: float
    generator_cpu_percent: float
    generator_ticks_late: int
    others_cpu_percent: float

    @property
    def clean(self) -> bool:
        return (
            self.lost == 0
            and self.late == 0
            and self.tones_right
            and self.relay_dropped == 0
            and not any(self.socket_drops.values())
        )


class Bench:
    def __init__(
        self, relay: MediaRelay, rtpengine: Rtpengine, generator: Connection, kind: str
    ) -> None:
        self.relay = relay
        self.rtpengine = rtpengine
        self.generator = generator
        self.kind = kind
        self.calls: list[str] = []

    def ask(self, kind: str, value: Any = None) -> Any:
        self.generator.send((kind, value))
        if not self.generator.poll(120):
            raise RuntimeError(f"the load generator did not answer {kind!r}")
        return self.generator.recv()

    def grow(self, calls: int) -> None:
        added = calls - len(self.calls)
        if added <= 0:
            return
        addresses = self.ask("add", added)
        ports: list[int] = []
        for number in range(added):
            customer, browser = addresses[2 * number], addresses[2 * number + 1]
            call_id = f"{self.kind}-{len(self.calls)}"
            ports += self.connect(call_id, customer, browser)
            self.calls.append(call_id)
        self.ask("ports", ports)

    def connect(
        self, call_id: str, customer: tuple[str, int], browser: tuple[str, int]
    ) -> list[int]:
        """Open a call; where its customer and its browser's microphone send."""
        webrtc = self.kind == "webrtc"
        to_browser = waiting(
            lambda then: self.relay.open_from(
                call_id, (customer[0], customer[1], None), then, for_browser=webrtc
            )
        )
        if not webrtc:
            to_customer = waiting(
                lambda then: self.relay.side_b_at(call_id, (browser[0], browser[1], None), then)
            )
            return [to_customer, to_browser]
        offer = sdp.build(
            self.relay.address, to_browser, CODECS, secure=self.relay.secure(call_id, SIDE_B)
        )
        plain = self.rtpengine.ask(
            "offer", **{"call-id": call_id, "from-tag": "relay", "sdp": offer}, **TO_PARTY
        )
        party = sdp.parse(plain["sdp"].decode())
        assert party is not None, plain
        answer_sdp = sdp.build(browser[0], browser[1], CODECS)
        answered = self.rtpengine.ask(
            "answer",
            **{"call-id": call_id, "from-tag": "relay", "to-tag": "browser", "sdp": answer_sdp},
            **TO_RELAY,
        )
        answer = sdp.parse(answered["sdp"].decode())
        assert answer is not None, answered
        assert answer.secure is not None, answered
        to_customer = waiting(lambda then: self.relay.side_b_at(call_id, media_at(answer), then))
        return [to_customer, party.port]

    def relay_counts(self) -> tuple[int, int, int]:
        """Packets the relay received from each side and dropped, over every call."""
        counts = [0, 0, 0]
        for call_id in self.calls:
            stats = self.relay.stats(call_id)
            if stats is not None:
                counts[0] += stats.packets_from_customer
                counts[1] += stats.packets_from_agent
                counts[2] += stats.dropped
        return counts[0], counts[1], counts[2]

    def measure(self, calls: int, settle: float, seconds: float) -> Step:
        self.grow(calls)
        time.sleep(settle)
        counts_before = self.relay_counts()
        drops_before = socket_drops(self.rtpengine.process.pid)
        self.ask("measure")
        started = time.monotonic()
        busy_before = machine_busy_seconds()
        relay_before = process_cpu_seconds(os.getpid())
        engine_before = self.rtpengine.cpu_seconds()
        time.sleep(seconds)
        load = self.ask("report")
        wall = time.monotonic() - started
        counts = [b - a for a, b in zip(counts_before, self.relay_counts(), strict=True)]
        drops = {
            k: v - drops_before[k] for k, v in socket_drops(self.rtpengine.process.pid).items()
        }
        relay = process_cpu_seconds(os.getpid()) - relay_before
        engine = self.rtpengine.cpu_seconds() - engine_before
        busy = machine_busy_seconds() - busy_before
        others = max(0.0, busy - relay - engine - load["cpu_seconds"])
        levels = {str(index): tones for index, tones in load["heard"].items()}
        tones_right = bool(levels) and all(
            {f for f, level in tones.items() if level >= HEARD_FLOOR} == {TONES[1 - int(index) % 2]}
            for index, tones in levels.items()
        )
        return Step(
            kind=self.kind,
            calls=calls,
            seconds=round(wall, 2),
            relay_cpu_percent=round(100 * relay / wall, 1),
            relay_cpu_ms_per_call_second=round(1000 * relay / calls / wall, 3),
            received=load["received"],
            expected=load["expected"],
            lost=load["lost"],
            lost_to_customer=load["lost_by_place"][0],
            lost_to_browser=load["lost_by_place"][1],
            late=load["late"],
            tones_right=tones_right,
            tone_levels=levels,
            relay_in_from_customers=counts[0],
            relay_in_from_browsers=counts[1],
            relay_dropped=counts[2],
            socket_drops=drops,
            rtpengine_cpu_percent=round(100 * engine / wall, 1),
            generator_cpu_percent=round(100 * load["cpu_seconds"] / load["window_seconds"], 1),
            generator_ticks_late=load["ticks_late"],
            others_cpu_percent=round(100 * others / wall, 1),
        )

    def end(self) -> None:
        """Tear the calls down (the generator's parties stay, sending nowhere new)."""
        for call_id in self.calls:
            self.close(call_id)
            if self.kind == "webrtc":
                with contextlib.suppress(RuntimeError):
                    self.rtpengine.ask("delete", **{"call-id": call_id})
        self.calls = []

    def close(self, call_id: str) -> None:
        def close(then: Callable[[Any], None]) -> None:
            self.relay.close(call_id, lambda: then(None))

        waiting(close)


HEADER = (
    f"{'kind':>6} {'calls':>6} {'relay CPU %':>11} {'ms/call/s':>9} {'lost':>11} {'late':>6} "
    f"{'tones':>5} {'relay in':>13} {'dropped':>7} {'socket drops':>12} "
    f"{'rtpengine %':>11} {'load CPU %':>10} {'load late':>9} {'other CPU %':>11}"
)


def row(step: Step) -> str:
    return (
        f"{step.kind:>6} {step.calls:>6} {step.relay_cpu_percent:>11.1f} "
        f"{step.relay_cpu_ms_per_call_second:>9.3f} "
        f"{f'{step.lost_to_customer}+{step.lost_to_browser}':>11} {step.late:>6} "
        f"{'ok' if step.tones_right else 'WRONG':>5} "
        f"{f'{step.relay_in_from_customers}+{step.relay_in_from_browsers}':>13} "
        f"{step.relay_dropped:>7} {'/'.join(str(n) for n in step.socket_drops.values()):>12} "
        f"{step.rtpengine_cpu_percent:>11.1f} "
        f"{step.generator_cpu_percent:>10.1f} {step.generator_ticks_late:>9} "
        f"{step.others_cpu_percent:>11.1f}"
    )


def run_kind(
    kind: str, steps: list[int], relay: MediaRelay, rtpengine: Rtpengine, load_cpu: int,
    settle: float, seconds: float, read_every: int, slots: int,
) -> list[Step]:  # fmt: skip
    """Every step of one kind of call, with a generator of its own; stops after two
    failed steps in a row or when the generator falls behind."""
    measured: list[Step] = []
    with generator_running(load_cpu, read_every, TONES, slots) as generator:
        bench = Bench(relay, rtpengine, generator, kind)
        try:
            measure_steps(bench, steps, settle, seconds, measured)
        finally:
            with contextlib.suppress(Exception):
                bench.end()
    return measured


def measure_steps(
    bench: Bench, steps: list[int], settle: float, seconds: float, measured: list[Step]
) -> None:
    """Measure each step in turn (into `measured`) until the generator falls behind, two
    steps in a row fail, or a failed step finds the relay's core full."""
    failed_in_a_row = 0
    for calls in steps:
        step = bench.measure(calls, settle, seconds)
        print(row(step), flush=True)
        measured.append(step)
        if step.generator_ticks_late > 0 or step.generator_cpu_percent > 90:
            print(f"{bench.kind}: the load generator could not keep up", flush=True)
            return
        failed_in_a_row = 0 if step.clean else failed_in_a_row + 1
        if failed_in_a_row >= 2 or (not step.clean and step.relay_cpu_percent > 90):
            return


def main() -> int:
    steps = env_steps("BENCH_WEBRTC_STEPS", "10,25,50,100,150,200,300,400,500")
    settle = env_float("BENCH_WEBRTC_SETTLE", 3)
    seconds = env_float("BENCH_WEBRTC_SECONDS", 6)
    read_every = env_int("BENCH_WEBRTC_READ_EVERY", 4)
    slots = env_int("BENCH_WEBRTC_SLOTS", 10)
    relay_cpu = env_int("BENCH_RELAY_CPU", 0)
    load_cpu = env_int("BENCH_LOAD_CPU", 1)
    results = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results" / "webrtc.json")
    workdir = Path(tempfile.mkdtemp(prefix="bench-webrtc-"))

    # This process is the relay's: its threads (started by MediaRelay) inherit the CPU.
    os.sched_setaffinity(0, {relay_cpu})
    relay = MediaRelay(HOST, RELAY_PORTS, workdir / "captures")
    rtpengine = Rtpengine(workdir, load_cpu)
    print(f"relay (pid {os.getpid()}) on CPU {relay_cpu}; rtpengine and the load generator on "
          f"CPU {load_cpu}; each step settles {settle:g} s, measured {seconds:g} s; calls "
          f"send in {slots} slots of each 20 ms", flush=True)  # fmt: skip
    print(HEADER, flush=True)
    report: dict[str, Any] = {}
    try:
        for kind in ("plain", "webrtc"):
            measured = run_kind(
                kind, steps, relay, rtpengine, load_cpu, settle, seconds, read_every, slots
            )
            clean = [step for step in measured if step.clean]
            report[kind] = {
                "best_calls_without_late_or_lost_frames": max(
                    (step.calls for step in clean), default=None
                ),
                "steps": [asdict(step) | {"clean": step.clean} for step in measured],
            }
    finally:
        rtpengine.stop()
        relay.shutdown()
    report |= {
        "send_slots": slots,
        "settle_seconds": settle,
        "measured_seconds": seconds,
        "relay_cpu": relay_cpu,
        "load_cpu": load_cpu,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print()
    for kind in ("plain", "webrtc"):
        best = report[kind]["best_calls_without_late_or_lost_frames"]
        steps_of_kind = [Step(**{k: v for k, v in s.items() if k != "clean"})
                         for s in report[kind]["steps"]]  # fmt: skip
        at_best = next((s for s in steps_of_kind if s.calls == best), None)
        if at_best is None:
            print(f"{kind}: no step without late or lost frames")
        else:
            cpu, per_call = at_best.relay_cpu_percent, at_best.relay_cpu_ms_per_call_second
            print(f"{kind}: {best} calls with no late and no lost frame ({cpu:.1f} % of the "
                  f"relay's core, {per_call:.3f} ms per call per second)")  # fmt: skip
    print(f"results: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
