"""RTP load for the media benchmarks (bench/conference, bench/webrtc): a generator process
whose parties, in groups of one per tone, each send a tone as 20 ms PCMU RTP on an
absolute schedule to where they are told, and count what comes back (loss, lateness by
the kernel's receive timestamps, the tones heard); and the driver's helpers (CPU pinning,
the machine's busy time)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from callyard.mixer import g711
from callyard.testing.audio import tone, tone_power

HOST = "127.0.0.1"
FRAME = 160
FRAME_SECONDS = 0.020
PACKET_SIZE = 12 + FRAME
LATE_SECONDS = 0.040
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value
TIMESPEC = struct.Struct("qq")
RTP_NUMBERS = struct.Struct("!HI")  # sequence number, timestamp (at offset 2)
READ_ROUNDS = 8


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_steps(name: str, default: str) -> list[int]:
    """A comma-separated list of counts (the steps of a run)."""
    return [int(step) for step in (os.environ.get(name) or default).split(",")]


@contextlib.contextmanager
def generator_running(
    cpu: int, read_every: int, tones: tuple[float, ...], slots: int = 1
) -> Iterator[Connection]:
    """A generator process (spawned, pinned to `cpu`) for the time of the block: the
    driver's end of its control pipe. `slots`: see `Generator`."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    generator = context.Process(
        target=generator_main, args=(theirs, cpu, read_every, tones, slots), daemon=True
    )
    generator.start()
    try:
        yield ours
    finally:
        with contextlib.suppress(OSError):
            ours.send(("stop", None))
        generator.join(5)
        if generator.is_alive():
            generator.kill()


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
    """Every party's socket, in groups (a room, a call) of one party per tone; every 20 ms
    one packet from each, then what came back.

    With `slots` above 1 the 20 ms are cut into that many slots and each group sends in a
    slot of its own (group number modulo `slots`), as calls do whose packet clocks started
    at different moments; with 1, every party sends at the same moment."""

    def __init__(
        self, control: Connection, read_every: int, tones: tuple[float, ...], slots: int = 1
    ) -> None:
        self.control = control
        self.slots = max(1, slots)
        self.slot = 0  # the slot that sends next
        self.slot_of = np.zeros(0, dtype=np.intp)  # per party
        self.read_every = read_every
        self.tones_hz = tones  # party i of every group sends tones[i]
        self.sockets: list[socket.socket] = []
        self.tones: list[int] = []  # index into the tones per party
        self.streams: list[Stream] = []
        self.mixer_ports: list[tuple[str, int] | None] = []
        self.by_fd: dict[int, int] = {}
        self.poller = select.epoll()
        one_second = [tone(f, 8000) for f in tones]  # a whole number of periods each
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
        period = FRAME_SECONDS / self.slots
        deadline = time.monotonic() + period
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
            deadline += period

    def command(self, message: tuple[str, Any]) -> bool:
        kind, value = message
        if kind == "add":  # value: groups; answer: the new parties' addresses
            self.control.send(self.add(int(value)))
        elif kind == "ports":  # value: where each new party sends (a port on HOST), in order
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

    def add(self, groups: int) -> list[tuple[str, int]]:
        """New groups' parties; the first group and the newest group read are sampled
        (their audio kept for the tone check)."""
        addresses = []
        newest_read: list[Stream] = []
        for _ in range(groups):
            group = len(self.sockets) // len(self.tones_hz)
            read = group % self.read_every == 0
            streams = []
            for tone_index in range(len(self.tones_hz)):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((HOST, 0))
                sock.setblocking(False)
                stream = Stream(read=read, sampled=group == 0)
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
        self.slot_of = np.arange(count, dtype=np.intp) // len(self.tones_hz) % self.slots
        return addresses

    def send(self) -> None:
        """One packet from each party of the slot whose turn it is."""
        parties = np.flatnonzero(self.slot_of == self.slot)
        self.slot = (self.slot + 1) % self.slots
        if len(parties):
            self._send(parties)
        if self.slot == 0:
            self.tick_number += 1

    def _send(self, parties: np.ndarray[Any, np.dtype[np.intp]]) -> None:
        count = len(parties)
        packets = np.empty((count, PACKET_SIZE), dtype=np.uint8)
        packets[:, :12] = self.headers[parties]
        packets[:, 2:4] = self.sequences[parties].astype(">u2").view(np.uint8).reshape(count, 2)
        packets[:, 4:8] = self.timestamps[parties].astype(">u4").view(np.uint8).reshape(count, 4)
        packets[:, 12:] = self.frames[self.tone_rows[parties], self.tick_number % 50]
        data = memoryview(packets.tobytes())
        for row, index in enumerate(parties.tolist()):
            where = self.mixer_ports[index]
            if where is not None:
                start = row * PACKET_SIZE
                try:
                    self.sockets[index].sendto(data[start : start + PACKET_SIZE], where)
                except OSError:
                    self.send_errors += 1
        self.sequences[parties] += np.uint16(1)
        self.timestamps[parties] += np.uint32(FRAME)

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
        # Frames lost by the party's place in its group (what it hears: the others').
        lost_by_place = [0] * len(self.tones_hz)
        heard: dict[int, dict[float, float]] = {}
        for index, stream in enumerate(self.streams):
            if self.mixer_ports[index] is None or not stream.read:
                continue
            place = index % len(self.tones_hz)
            if not stream.received:
                lost += frames
                lost_by_place[place] += frames
                expected += frames
                continue
            span = (stream.last_ts - stream.first_ts) // FRAME + 1
            # More than one frame without a packet at either end of the window.
            head = max(0, int((stream.first_arrival - since) / FRAME_SECONDS) - 1)
            tail = max(0, int((until - stream.last_arrival) / FRAME_SECONDS) - 1)
            expected += span + head + tail
            lost_here = max(0, span - stream.received) + head + tail
            lost += lost_here
            lost_by_place[place] += lost_here
            gaps += stream.gaps
            received += stream.received
            best = min(stream.transits)
            late += sum(1 for transit in stream.transits if transit - best > LATE_SECONDS)
            if stream.sampled:
                samples = g711.decode(b"".join(stream.payloads), g711.PCMU)
                heard[index] = {f: round(tone_power(samples, f), 3) for f in self.tones_hz}
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
            "lost_by_place": lost_by_place,
            "gaps": gaps,
            "late": late,
            "heard": heard,
            "cpu_seconds": time.process_time() - self.cpu_since,
            "ticks_late": self.ticks_late,
            "send_errors": self.send_errors,
        }


def generator_main(
    control: Connection, cpu: int, read_every: int, tones: tuple[float, ...], slots: int = 1
) -> None:
    """The generator process: pinned to `cpu`, run until told to stop."""
    os.sched_setaffinity(0, {cpu})
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        Generator(control, read_every, tones, slots).run()
