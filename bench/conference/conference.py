"""Conference mixer benchmark: three-party rooms through callyard's mixer, on loopback (see
bench/README.md). bench/conference/run runs this inside a network namespace of its own.

  load generator (one process, pinned to BENCH_LOAD_CPU): three parties per room, each a
      UDP socket sending its own tone (440, 1000 or 600 Hz) as 20 ms PCMU RTP on an
      absolute schedule, and reading what the mixer sends back to the parties of one
      room in BENCH_CONFERENCE_READ_EVERY (the others' sockets are never read: the kernel
      drops what they cannot hold, which costs the mixer no less than a reader would)
  -> callyard.mixer (its own process, pinned to BENCH_MIXER_CPU): each party hears the
      other two of its room

The number of simultaneous rooms goes up in steps (BENCH_CONFERENCE_STEPS); rooms are
added to those already there, each step is held BENCH_CONFERENCE_SETTLE seconds before
it is measured for BENCH_CONFERENCE_SECONDS. Per step:

- the mixer's CPU (its own user + system time, from its statistics) as a share of one
  core, and per conference per second (ms);
- frames the mixer counted late (a tick run more than 20 ms after its deadline, or
  skipped because the loop fell more than three frames behind);
- at the receivers (the parties read), over their streams in the window (arrival times are the
  kernel's receive timestamps, SO_TIMESTAMPNS, so the generator's own scheduling does not
  shift them):
  - lost: frames a party did not get: the frames the mixer's RTP timestamps span between
    the first and the last packet of the window, less those received, plus stretches of
    more than one frame with no packet at either end of the window;
  - gaps: of those, the ones that show as sequence gaps (sent by the mixer, never read);
  - late: packets that arrived more than 40 ms after their due time, the due time being
    the stream's RTP timestamp plus its smallest transit in the window (its best-case
    delay: a packet sent on time arrives within a millisecond);
- tones: the parties of the first room and of the newest room read of every step so far
  each hear exactly the other two tones of their room (`callyard.testing.audio`: a
  level of at least 0.02 of full scale; each tone is sent at 0.25);
- the generator's own CPU and its late ticks (a saturated generator makes the figures
  of the step meaningless: the run stops there);
- the CPU the rest of the machine used meanwhile (both CPUs' busy time from /proc/stat,
  less the mixer, the generator and this driver): a failed step during which it was over
  10 % of a core is measured again, up to three tries in all.

The run stops after the last step, after two failed steps in a row, or after a failed
step with the mixer over 90 % of its core. The largest step with no late and no lost
frame anywhere (and the right tones) is the result.

Settings (environment): BENCH_CONFERENCE_STEPS (10,25,50,100,150,200,300,400,500,600,700,
800,1000), BENCH_CONFERENCE_SETTLE (2), BENCH_CONFERENCE_SECONDS (8),
BENCH_CONFERENCE_READ_EVERY (4), BENCH_MIXER_CPU (0), BENCH_LOAD_CPU (1), BENCH_RESULTS
(bench/results/conference.json).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import platform
import select
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from callyard.mixer import g711
from callyard.mixer.client import Mixer, MixerStats
from callyard.testing.audio import HEARD_FLOOR, tone, tone_power

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
MIXER_PORTS = (20000, 29999)
TONES = (440.0, 1000.0, 600.0)  # the first, second and third party of every room
FRAME = 160
FRAME_SECONDS = 0.020
PACKET_SIZE = 12 + FRAME
LATE_SECONDS = 0.040
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value
TIMESPEC = struct.Struct("qq")
RTP_NUMBERS = struct.Struct("!HI")  # sequence number, timestamp (at offset 2)
READ_ROUNDS = 8
DISTURBED_PERCENT = 10.0  # other work on the machine beyond which a failed step is redone
TRIES = 3


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def pin(pid: int, cpu: int) -> None:
    """Pin a process, every thread of it, to one CPU."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), {cpu})


def machine_busy_seconds() -> float:
    """CPU time all CPUs of the machine spent busy so far (/proc/stat), in seconds."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


# -- the load generator (a process of its own) -----------------------------------------------


@dataclass
class Stream:
    """What one party receives, counted over the measured window."""

    read: bool = True  # False: never read (the kernel drops what its socket cannot hold)
    sampled: bool = False
    base_ts: int | None = None  # the first timestamp ever received: unwraps the others
    last_seq: int | None = None
    received: int = 0
    gaps: int = 0
    first_ts: int = 0
    last_ts: int = 0
    first_arrival: float = 0.0
    last_arrival: float = 0.0
    transits: list[float] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)

    def reset(self) -> None:
        self.received = self.gaps = 0
        self.transits = []
        self.payloads = []


class Generator:
    """Every party's socket; every 20 ms one packet from each, then what came back."""

    def __init__(self, control: Connection, read_every: int) -> None:
        self.control = control
        self.read_every = read_every
        self.sockets: list[socket.socket] = []
        self.tones: list[int] = []  # index into TONES per party
        self.streams: list[Stream] = []
        self.mixer_ports: list[tuple[str, int] | None] = []
        self.by_fd: dict[int, int] = {}
        self.poller = select.epoll()
        one_second = [tone(f, 8000) for f in TONES]  # a whole number of periods each
        self.frames = np.stack(
            [
                np.frombuffer(g711.encode(samples, g711.PCMU), dtype=np.uint8).reshape(50, FRAME)
                for samples in one_second
            ]
        )
        self.sequences = np.zeros(0, dtype=np.uint16)
        self.timestamps = np.zeros(0, dtype=np.uint32)
        self.headers = np.zeros((0, 12), dtype=np.uint8)
        self.tick_number = 0
        self.ticks_late = 0
        self.measuring_since: float | None = None
        self.cpu_since = 0.0
        self.send_errors = 0
        self.tone_rows = np.zeros(0, dtype=np.intp)

    def run(self) -> None:
        deadline = time.monotonic() + FRAME_SECONDS
        while True:
            wait = max(deadline - time.monotonic(), 0.0)
            if self.control.poll(wait):
                if not self.command(self.control.recv()):
                    return
                continue
            behind = time.monotonic() - deadline
            if behind < 0:
                continue
            if behind > 3 * FRAME_SECONDS:
                skipped = int(behind / FRAME_SECONDS)
                self.ticks_late += skipped
                self.timestamps += np.uint32(FRAME * skipped)
                self.tick_number += skipped
                deadline += skipped * FRAME_SECONDS
            elif behind > FRAME_SECONDS:
                self.ticks_late += 1
            self.send()
            self.read()
            deadline += FRAME_SECONDS

    def command(self, message: tuple[str, Any]) -> bool:
        kind, value = message
        if kind == "add":  # value: rooms; answer: the new parties' addresses
            self.control.send(self.add(int(value)))
        elif kind == "ports":  # value: the mixer's port of each new party, in order
            first = len(self.mixer_ports) - len(value)
            for index, port in enumerate(value):
                self.mixer_ports[first + index] = (HOST, port)
            self.control.send(None)
        elif kind == "measure":
            self.read()
            for stream in self.streams:
                stream.reset()
            self.ticks_late = self.send_errors = 0
            self.measuring_since = time.time()
            self.cpu_since = time.process_time()
            self.control.send(None)
        elif kind == "report":
            self.control.send(self.report())
        elif kind == "stop":
            return False
        return True

    def add(self, rooms: int) -> list[tuple[str, int]]:
        """New rooms' parties; the first room and the newest room read are sampled (their
        audio kept for the tone check)."""
        addresses = []
        newest_read: list[Stream] = []
        for _ in range(rooms):
            room = len(self.sockets) // len(TONES)
            read = room % self.read_every == 0
            streams = []
            for tone_index in range(len(TONES)):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((HOST, 0))
                sock.setblocking(False)
                stream = Stream(read=read, sampled=room == 0)
                if read:
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                    self.by_fd[sock.fileno()] = len(self.sockets)
                    self.poller.register(sock.fileno(), select.EPOLLIN)
                self.sockets.append(sock)
                self.tones.append(tone_index)
                self.streams.append(stream)
                self.mixer_ports.append(None)
                addresses.append(sock.getsockname())
                streams.append(stream)
            if read:
                newest_read = streams
        for stream in newest_read:
            stream.sampled = True
        count = len(self.sockets)
        added = count - len(self.sequences)
        random = np.random.default_rng(count)
        self.sequences = np.concatenate(
            [self.sequences, random.integers(0, 2**16, added).astype(np.uint16)]
        )
        self.timestamps = np.concatenate(
            [self.timestamps, random.integers(0, 2**32, added).astype(np.uint32)]
        )
        self.headers = np.zeros((count, 12), dtype=np.uint8)
        self.headers[:, 0] = 0x80
        ssrcs = np.arange(1, count + 1, dtype=np.uint32) * np.uint32(2654435761)
        self.headers[:, 8:12] = ssrcs.astype(">u4").view(np.uint8).reshape(count, 4)
        self.tone_rows = np.array(self.tones, dtype=np.intp)
        return addresses

    def send(self) -> None:
        count = len(self.sockets)
        if not count:
            return
        packets = np.empty((count, PACKET_SIZE), dtype=np.uint8)
        packets[:, :12] = self.headers
        packets[:, 2:4] = self.sequences.astype(">u2").view(np.uint8).reshape(count, 2)
        packets[:, 4:8] = self.timestamps.astype(">u4").view(np.uint8).reshape(count, 4)
        packets[:, 12:] = self.frames[self.tone_rows, self.tick_number % 50]
        data = memoryview(packets.tobytes())
        for index, (sock, where) in enumerate(zip(self.sockets, self.mixer_ports, strict=True)):
            if where is not None:
                start = index * PACKET_SIZE
                try:
                    sock.sendto(data[start : start + PACKET_SIZE], where)
                except OSError:
                    self.send_errors += 1
        self.sequences += np.uint16(1)
        self.timestamps += np.uint32(FRAME)
        self.tick_number += 1

    def read(self) -> None:
        ancillary = socket.CMSG_SPACE(TIMESPEC.size)
        since = self.measuring_since
        for _ in range(READ_ROUNDS):
            ready = self.poller.poll(0)
            if not ready:
                return
            for fd, _events in ready:
                index = self.by_fd[fd]
                try:
                    datagram, extra, _flags, _source = self.sockets[index].recvmsg(2048, ancillary)
                except OSError:
                    continue
                if len(datagram) < 12:
                    continue
                arrival = 0.0
                for level, kind, value in extra:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
                        arrival = seconds + nanoseconds * 1e-9
                self.received(self.streams[index], datagram, arrival, since)

    @staticmethod
    def received(stream: Stream, datagram: bytes, arrival: float, since: float | None) -> None:
        sequence, timestamp = RTP_NUMBERS.unpack_from(datagram, 2)
        if stream.base_ts is None:
            stream.base_ts = timestamp
        ts = (timestamp - stream.base_ts) & 0xFFFFFFFF
        last_seq = stream.last_seq
        stream.last_seq = sequence
        if since is None or arrival < since:
            return
        if stream.received:
            step = (sequence - (last_seq or 0)) & 0xFFFF
            if 1 < step < 0x8000:
                stream.gaps += step - 1
        else:
            stream.first_ts = ts
            stream.first_arrival = arrival
        stream.received += 1
        stream.last_ts = ts
        stream.last_arrival = arrival
        stream.transits.append(arrival - ts / 8000)
        if stream.sampled:
            stream.payloads.append(datagram[12:])

    def report(self) -> dict[str, Any]:
        until = time.time()
        self.read()
        since = self.measuring_since or until
        window = until - since
        frames = round(window / FRAME_SECONDS)
        lost = gaps = late = received = expected = 0
        heard: dict[int, dict[float, float]] = {}
        for index, stream in enumerate(self.streams):
            if self.mixer_ports[index] is None or not stream.read:
                continue
            if not stream.received:
                lost += frames
                expected += frames
                continue
            span = (stream.last_ts - stream.first_ts) // FRAME + 1
            # More than one frame without a packet at either end of the window.
            head = max(0, int((stream.first_arrival - since) / FRAME_SECONDS) - 1)
            tail = max(0, int((until - stream.last_arrival) / FRAME_SECONDS) - 1)
            expected += span + head + tail
            lost += max(0, span - stream.received) + head + tail
            gaps += stream.gaps
            received += stream.received
            best = min(stream.transits)
            late += sum(1 for transit in stream.transits if transit - best > LATE_SECONDS)
            if stream.sampled:
                samples = g711.decode(b"".join(stream.payloads), g711.PCMU)
                heard[index] = {f: round(tone_power(samples, f), 3) for f in TONES}
        self.measuring_since = None
        return {
            "window_seconds": window,
            "parties_read": sum(
                1
                for port, stream in zip(self.mixer_ports, self.streams, strict=True)
                if port is not None and stream.read
            ),
            "expected": expected,
            "received": received,
            "lost": lost,
            "gaps": gaps,
            "late": late,
            "heard": heard,
            "cpu_seconds": time.process_time() - self.cpu_since,
            "ticks_late": self.ticks_late,
            "send_errors": self.send_errors,
        }


def generator_main(control: Connection, cpu: int, read_every: int) -> None:
    os.sched_setaffinity(0, {cpu})
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        Generator(control, read_every).run()


# -- the driver ------------------------------------------------------------------------------


@dataclass
class Step:
    rooms: int
    seconds: float
    mixer_cpu_percent: float
    mixer_cpu_ms_per_conference_second: float
    mixer_ticks: int
    mixer_frames_late: int
    frames_sent: int
    receivers_read: int  # parties whose streams were read and counted
    receivers_expected: int
    receivers_received: int
    receivers_lost: int
    receivers_gaps: int
    receivers_late: int
    tones_right: bool
    tone_levels: dict[str, dict[float, float]]  # sampled party -> tone -> level
    generator_cpu_percent: float
    generator_ticks_late: int
    generator_send_errors: int
    others_cpu_percent: float  # the rest of the machine (both CPUs), kernel included
    tries: int = 1

    @property
    def clean(self) -> bool:
        return (
            self.mixer_frames_late == 0
            and self.receivers_lost == 0
            and self.receivers_late == 0
            and self.tones_right
        )

    @property
    def disturbed(self) -> bool:
        """Other work on the machine took more than a tenth of a core meanwhile."""
        return self.others_cpu_percent > DISTURBED_PERCENT

    @property
    def generator_saturated(self) -> bool:
        late = self.generator_ticks_late > 0 and not self.disturbed
        return late or self.generator_cpu_percent > 90


class Bench:
    def __init__(self, mixer: Mixer, generator: Connection) -> None:
        self.mixer = mixer
        self.generator = generator
        self.rooms = 0

    def ask(self, kind: str, value: Any = None) -> Any:
        self.generator.send((kind, value))
        if not self.generator.poll(60):
            raise RuntimeError(f"the load generator did not answer {kind!r}")
        return self.generator.recv()

    def grow(self, rooms: int) -> None:
        """Add rooms (three parties each) until there are `rooms`."""
        added = rooms - self.rooms
        if added <= 0:
            return
        addresses = self.ask("add", added)
        ports = []
        for number in range(added):
            room = f"room{self.rooms + number}"
            for index, name in enumerate(("a", "b", "c")):
                ports.append(self.mixer.join(room, name, g711.PCMU, addresses[3 * number + index]))
        self.ask("ports", ports)
        self.rooms = rooms

    def measure(self, rooms: int, settle: float, seconds: float) -> Step:
        self.grow(rooms)
        time.sleep(settle)
        before: MixerStats = self.mixer.stats()
        self.ask("measure")
        started = time.monotonic()
        busy_before, own_before = machine_busy_seconds(), time.process_time()
        time.sleep(seconds)
        load = self.ask("report")
        after: MixerStats = self.mixer.stats()
        busy = machine_busy_seconds() - busy_before
        own = time.process_time() - own_before
        wall = time.monotonic() - started
        cpu = after.cpu_seconds - before.cpu_seconds
        others = max(0.0, busy - cpu - load["cpu_seconds"] - own)
        levels: dict[str, dict[float, float]] = {
            str(index): tones for index, tones in load["heard"].items()
        }
        tones_right = bool(levels) and all(
            {f for f, level in tones.items() if level >= HEARD_FLOOR}
            == set(TONES) - {TONES[int(index) % 3]}
            for index, tones in levels.items()
        )
        return Step(
            rooms=rooms,
            seconds=round(wall, 2),
            mixer_cpu_percent=round(100 * cpu / wall, 1),
            mixer_cpu_ms_per_conference_second=round(1000 * cpu / rooms / wall, 3),
            mixer_ticks=after.ticks - before.ticks,
            mixer_frames_late=after.frames_late - before.frames_late,
            frames_sent=after.frames_sent - before.frames_sent,
            receivers_read=load["parties_read"],
            receivers_expected=load["expected"],
            receivers_received=load["received"],
            receivers_lost=load["lost"],
            receivers_gaps=load["gaps"],
            receivers_late=load["late"],
            tones_right=tones_right,
            tone_levels=levels,
            generator_cpu_percent=round(100 * load["cpu_seconds"] / load["window_seconds"], 1),
            generator_ticks_late=load["ticks_late"],
            generator_send_errors=load["send_errors"],
            others_cpu_percent=round(100 * others / wall, 1),
        )


HEADER = (
    f"{'rooms':>6} {'mixer CPU %':>11} {'ms/conf/s':>9} {'mixer late':>10} {'rx lost':>8} "
    f"{'rx gaps':>7} {'rx late':>7} {'tones':>5} {'load CPU %':>10} {'load late':>9} "
    f"{'other CPU %':>11}"
)


def row(step: Step) -> str:
    return (
        f"{step.rooms:>6} {step.mixer_cpu_percent:>11.1f} "
        f"{step.mixer_cpu_ms_per_conference_second:>9.3f} {step.mixer_frames_late:>10} "
        f"{step.receivers_lost:>8} {step.receivers_gaps:>7} {step.receivers_late:>7} "
        f"{'ok' if step.tones_right else 'WRONG':>5} {step.generator_cpu_percent:>10.1f} "
        f"{step.generator_ticks_late:>9} {step.others_cpu_percent:>11.1f}"
        f"{'' if step.tries == 1 else f'  (try {step.tries})'}"
    )


def main() -> int:
    steps = [int(s) for s in (os.environ.get("BENCH_CONFERENCE_STEPS") or
             "10,25,50,100,150,200,300,400,500,600,700,800,1000").split(",")]  # fmt: skip
    settle = float(os.environ.get("BENCH_CONFERENCE_SETTLE") or 2)
    seconds = float(os.environ.get("BENCH_CONFERENCE_SECONDS") or 8)
    mixer_cpu = env_int("BENCH_MIXER_CPU", 0)
    load_cpu = env_int("BENCH_LOAD_CPU", 1)
    read_every = env_int("BENCH_CONFERENCE_READ_EVERY", 4)
    results = Path(
        os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results" / "conference.json"
    )
    os.sched_setaffinity(0, {load_cpu})  # the driver mostly sleeps; it sits with the load

    mixer = Mixer(HOST, MIXER_PORTS)
    assert mixer.pid is not None
    pin(mixer.pid, mixer_cpu)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    generator = context.Process(
        target=generator_main, args=(theirs, load_cpu, read_every), daemon=True
    )
    generator.start()
    bench = Bench(mixer, ours)
    measured: list[Step] = []
    redone: list[Step] = []  # tries measured again because the machine was busy
    stopped_because = "the last step"
    print(f"mixer pid {mixer.pid} on CPU {mixer_cpu}, load generator on CPU {load_cpu}; "
          f"each step settles {settle:g} s, measured {seconds:g} s", flush=True)  # fmt: skip
    print(HEADER, flush=True)
    try:
        failed_in_a_row = 0
        for rooms in steps:
            for tries in range(1, TRIES + 1):
                step = bench.measure(rooms, settle, seconds)
                step.tries = tries
                print(row(step), flush=True)
                if step.clean or not step.disturbed or tries == TRIES:
                    break
                redone.append(step)
            measured.append(step)
            if step.generator_saturated:
                stopped_because = "the load generator could not keep up"
                break
            failed_in_a_row = 0 if step.clean else failed_in_a_row + 1
            if failed_in_a_row >= 2:
                stopped_because = "two failed steps in a row"
                break
            if not step.clean and step.mixer_cpu_percent > 90:
                stopped_because = "a failed step with the mixer's core saturated"
                break
    finally:
        with contextlib.suppress(OSError):
            ours.send(("stop", None))
        generator.join(5)
        if generator.is_alive():
            generator.kill()
        mixer.stop()

    clean = [step for step in measured if step.clean and not step.generator_saturated]
    best = max((step.rooms for step in clean), default=None)
    report = {
        "best_rooms_without_late_or_lost_frames": best,
        "stopped_after": stopped_because,
        "settle_seconds": settle,
        "measured_seconds": seconds,
        "mixer_cpu": mixer_cpu,
        "load_cpu": load_cpu,
        "read_every": read_every,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "steps": [asdict(step) | {"clean": step.clean} for step in measured],
        "redone": [asdict(step) | {"clean": step.clean} for step in redone],
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print()
    if best is None:
        print("no step without late or lost frames")
    else:
        cpu = next(step for step in clean if step.rooms == best)
        print(f"largest step with no late and no lost frame: {best} rooms of three "
              f"({cpu.mixer_cpu_percent:.1f} % of a core, "
              f"{cpu.mixer_cpu_ms_per_conference_second:.3f} ms per conference per second); "
              f"stopped after {stopped_because}")  # fmt: skip
    print(f"results: {results}")
    return 0 if best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
