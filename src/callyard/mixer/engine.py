"""The mixer process's loop: the parties' sockets, their jitter buffers, and the 20 ms
schedule on which every room is mixed and every party sent its frame.

Each party has a non-blocking UDP socket of its own, bound on the mixer's address at an
even port of its range. What a party sends waits in the socket until the next tick;
the tick reads every socket that has packets, queues the voice payloads of each party
(at most 60 ms: beyond that the oldest samples go, so that a sender whose clock runs
fast, or a burst after a stall, adds no lasting delay), takes 20 ms from each queue
(silence from a queue holding less), mixes every room in one pass (`room.Layout`),
and sends each party that has a remote address one RTP packet. Payloads stay G.711 in
the queues; they are decoded all together at the tick, one table lookup for every
party of every room.

Ticks follow an absolute schedule on the monotonic clock: each deadline is the last
one plus 20 ms, whatever the tick took. A tick run more than a frame after its
deadline is counted late; a loop more than three frames behind skips the frames it
missed (counted late too) instead of sending them in a burst.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import select
import selectors
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callyard.mixer import g711, rtp
from callyard.mixer.link import MixerStats
from callyard.mixer.room import FRAME_SAMPLES, FRAME_SECONDS, Layout, RoomError, Rooms

log = logging.getLogger("callyard.mixer.engine")

MAX_QUEUED = 3 * FRAME_SAMPLES  # 60 ms of a party's samples waiting to be mixed
CATCH_UP_FRAMES = 3  # further behind than this, the loop skips to the present
READ_ROUNDS = 8  # packets read from one socket per tick, at most
RECEIVE_SIZE = 2048
PACKET_SIZE = rtp.HEADER_SIZE + FRAME_SAMPLES
_DECODING = g711.DECODING.astype(np.float32)  # what the mixing multiplies

Address = tuple[Any, ...]  # what sendto takes and recvfrom gives for the family


class RequestError(Exception):
    """A request the mixer cannot carry out (unknown room or party, no free port...)."""


@dataclass(eq=False)
class Party:
    """One party's media: its socket, where it receives, its stream and its queue."""

    room: str
    name: str
    payload_type: int
    socket: socket.socket
    port: int
    remote: Address | None
    silence: bytes  # a frame of the codec's zero sample
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    sequence: int = field(default_factory=lambda: secrets.randbits(16))
    timestamp: int = field(default_factory=lambda: secrets.randbits(32))
    fresh: bool = True  # nothing sent yet: the first packet carries the marker
    queued: bytearray = field(default_factory=bytearray)
    row: int | None = None  # in the layout being mixed


class Engine:
    """Rooms, their parties' sockets, and the loop that mixes and sends."""

    def __init__(
        self,
        address: str,
        ports: tuple[int, int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
        low, high = ports
        if not 0 < low <= high < 65536:
            raise ValueError(f"port range {low}-{high} is not within 1-65535")
        self._even_ports = list(range(low + low % 2, high + 1, 2))
        if not self._even_ports:
            raise ValueError(f"port range {low}-{high} has no even port")
        self._ip_version = ip.version
        self._family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        self._address = ip.compressed
        with socket.socket(self._family, socket.SOCK_DGRAM) as probe:
            probe.bind((self._address, 0))  # an address this machine does not have fails here
        self._clock = clock
        self._next_port = 0
        self._rooms = Rooms()
        self._parties: dict[tuple[str, str], Party] = {}
        self._by_fd: dict[int, Party] = {}
        self._poller = select.epoll()
        self._layout: Layout | None = None
        self._order: list[Party] = []
        self._sending = np.zeros(0, dtype=bool)
        self._sequences = np.zeros(0, dtype=np.uint16)
        self._timestamps = np.zeros(0, dtype=np.uint32)
        self._markers = np.zeros(0, dtype=bool)
        self._payload_types = np.zeros(0, dtype=np.uint8)
        self._decode_offsets = np.zeros((0, 1), dtype=np.uint16)
        self._encode_offsets = np.zeros((0, 1), dtype=np.uint32)
        self._packets = np.zeros((0, PACKET_SIZE), dtype=np.uint8)
        self.ticks = 0
        self.frames_sent = 0
        self.frames_late = 0
        self.packets_received = 0
        self.packets_ignored = 0  # not RTP, or not the party's voice codec
        self.send_errors = 0

    # -- requests -------------------------------------------------------------------------

    def join(self, room: str, party: str, payload_type: int, remote: tuple[str, int] | None) -> int:
        """Add a party (and its room if new); the local port it sends to."""
        if (room, party) in self._parties:
            raise RequestError(f"{party!r} is already in room {room!r}")
        if payload_type not in g711.PAYLOAD_TYPES:
            raise RequestError(f"payload type {payload_type} is not G.711 (0 or 8)")
        where = self._remote(*remote) if remote is not None else None
        sock, port = self._bind()
        try:
            self._rooms.join(room, party, payload_type)
        except RoomError as exc:
            sock.close()
            raise RequestError(str(exc)) from None
        silence = bytes([g711.silence(payload_type)]) * FRAME_SAMPLES
        media = Party(room, party, payload_type, sock, port, where, silence)
        self._parties[room, party] = media
        self._by_fd[sock.fileno()] = media
        self._poller.register(sock.fileno(), select.EPOLLIN)
        return port

    def send_to(self, room: str, party: str, address: str, port: int) -> None:
        """Where a party receives from now on."""
        self._set_remote(self._party(room, party), self._remote(address, port))

    def hearing(self, room: str, listener: str, speakers: Iterable[str] | None) -> None:
        """Whom a listener hears: the named parties, or everyone else (None)."""
        self._party(room, listener)
        try:
            self._rooms.room(room).hear(listener, speakers)
        except RoomError as exc:
            raise RequestError(str(exc)) from None

    def leave(self, room: str, party: str) -> None:
        """Remove a party and close its socket; a room left empty goes too."""
        media = self._party(room, party)
        self._rooms.leave(room, party)
        self._drop(media)

    def close(self, room: str) -> None:
        """Remove a room and all its parties (an unknown room: nothing)."""
        for party in self._rooms.close(room):
            self._drop(self._parties[room, party])

    def stats(self) -> MixerStats:
        return MixerStats(
            rooms=len(self._rooms),
            parties=len(self._parties),
            ticks=self.ticks,
            frames_sent=self.frames_sent,
            frames_late=self.frames_late,
            packets_received=self.packets_received,
            cpu_seconds=time.process_time(),
        )

    def shutdown(self) -> None:
        """Close every party's socket."""
        for media in list(self._parties.values()):
            self._drop(media)
        self._poller.close()

    # -- the loop -------------------------------------------------------------------------

    def run(self, control: int, on_control: Callable[[], bool]) -> None:
        """Tick every 20 ms until `on_control` (called whenever the file descriptor
        `control` is readable) returns False."""
        with selectors.DefaultSelector() as selector:
            selector.register(control, selectors.EVENT_READ)
            deadline = self._clock() + FRAME_SECONDS
            while True:
                # Even when behind, look at the control link (without waiting) every tick.
                wait = max(deadline - self._clock(), 0.0)
                if selector.select(wait) and not on_control():
                    return
                behind = self._clock() - deadline
                if behind < 0:
                    continue
                if behind > CATCH_UP_FRAMES * FRAME_SECONDS:
                    skipped = int(behind / FRAME_SECONDS)
                    self.skip(skipped)
                    deadline += skipped * FRAME_SECONDS
                elif behind > FRAME_SECONDS:
                    self.frames_late += 1
                self.tick()
                deadline += FRAME_SECONDS

    def skip(self, frames: int) -> None:
        """Let `frames` ticks go by unsent (the loop fell behind), counted late."""
        self.frames_late += frames
        self._timestamps += np.uint32(FRAME_SAMPLES * frames % 2**32)

    def tick(self) -> None:
        """Read what came, mix one frame of every room, send it to every party."""
        self.ticks += 1
        self._read()
        if self._layout is not self._rooms.layout():
            self._arrange()
        layout, order = self._layout, self._order
        if layout is None or not order:
            return
        chunks: list[bytes | bytearray] = []
        for media in order:
            queued = media.queued
            if len(queued) >= FRAME_SAMPLES:
                chunks.append(queued[:FRAME_SAMPLES])
                del queued[:FRAME_SAMPLES]
            else:
                chunks.append(media.silence)
        count = len(order)
        codes = np.frombuffer(b"".join(chunks), dtype=np.uint8).reshape(count, FRAME_SAMPLES)
        mixed = layout.mix(np.take(_DECODING, codes + self._decode_offsets))
        packets = self._packets
        packets[:, 12:] = np.take(g711.ENCODING, mixed.view(np.uint16) + self._encode_offsets)
        packets[:, 1] = self._payload_types | (self._markers.astype(np.uint8) << 7)
        packets[:, 2:4] = self._sequences.astype(">u2").view(np.uint8).reshape(count, 2)
        packets[:, 4:8] = self._timestamps.astype(">u4").view(np.uint8).reshape(count, 4)
        data = memoryview(packets.tobytes())
        for row in np.flatnonzero(self._sending).tolist():
            media = order[row]
            remote = media.remote
            if remote is None:
                continue
            start = row * PACKET_SIZE
            try:
                media.socket.sendto(data[start : start + PACKET_SIZE], remote)
            except OSError:
                self.send_errors += 1
            else:
                self.frames_sent += 1
        self._sequences += self._sending
        self._markers &= ~self._sending
        self._timestamps += np.uint32(FRAME_SAMPLES)

    # -- inside ---------------------------------------------------------------------------

    def _read(self) -> None:
        # One packet per ready socket per round: a socket left unread is left for the
        # next round, so a socket costs no failed read to learn that it is empty.
        every = max(len(self._by_fd), 1)  # not epoll's default cap of 1023 events a call
        for _ in range(READ_ROUNDS):
            ready = self._poller.poll(0, every)
            if not ready:
                return
            for fd, _events in ready:
                media = self._by_fd.get(fd)
                if media is None:
                    continue
                try:
                    datagram, source = media.socket.recvfrom(RECEIVE_SIZE)
                except OSError:
                    continue
                self._received(media, datagram, source)

    def _received(self, media: Party, datagram: bytes, source: Address) -> None:
        packet = rtp.payload_of(datagram)
        if packet is None:
            self.packets_ignored += 1
            return
        self.packets_received += 1
        if source != media.remote:
            self._set_remote(media, source)  # symmetric RTP: answer where it sends from
        payload_type, payload = packet
        if payload_type != media.payload_type:
            self.packets_ignored += 1  # telephone-event, comfort noise, another codec
            return
        queued = media.queued
        queued += payload
        excess = len(queued) - MAX_QUEUED
        if excess > 0:
            del queued[:excess]

    def _arrange(self) -> None:
        """Lay the rows out anew after rooms or parties changed, streams carried over."""
        for row, media in enumerate(self._order):
            media.sequence = int(self._sequences[row])
            media.timestamp = int(self._timestamps[row])
            media.fresh = bool(self._markers[row])
            media.row = None
        layout = self._rooms.layout()
        order = [self._parties[member.room, member.party] for member in layout.members]
        for row, media in enumerate(order):
            media.row = row
        count = len(order)
        self._layout, self._order = layout, order
        self._sending = np.array([m.remote is not None for m in order], dtype=bool)
        self._sequences = np.array([m.sequence for m in order], dtype=np.uint16)
        self._timestamps = np.array([m.timestamp for m in order], dtype=np.uint32)
        self._markers = np.array([m.fresh for m in order], dtype=bool)
        self._payload_types = np.array([m.payload_type for m in order], dtype=np.uint8)
        codecs = np.array([g711.codec_index(m.payload_type) for m in order], dtype=np.intp)
        # Small index types: a lookup with uint16/uint32 indexes is faster than with intp.
        self._decode_offsets = (256 * codecs).astype(np.uint16).reshape(count, 1)
        self._encode_offsets = (65536 * codecs).astype(np.uint32).reshape(count, 1)
        self._packets = np.zeros((count, PACKET_SIZE), dtype=np.uint8)
        self._packets[:, 0] = rtp.VERSION << 6
        ssrcs = np.array([m.ssrc for m in order], dtype=np.uint32)
        self._packets[:, 8:12] = ssrcs.astype(">u4").view(np.uint8).reshape(count, 4)

    def _party(self, room: str, party: str) -> Party:
        media = self._parties.get((room, party))
        if media is None:
            if room not in self._rooms:
                raise RequestError(f"no room {room!r}")
            raise RequestError(f"no party {party!r} in room {room!r}")
        return media

    def _set_remote(self, media: Party, remote: Address) -> None:
        media.remote = remote
        if media.row is not None:
            self._sending[media.row] = True

    def _remote(self, address: str, port: int) -> Address:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise RequestError(f"{address!r} is not an IP address") from None
        if ip.version != self._ip_version:
            raise RequestError(f"{address} is not an IPv{self._ip_version} address")
        if not 0 < port < 65536:
            raise RequestError(f"port {port} is not within 1-65535")
        return (ip.compressed, port) if ip.version == 4 else (ip.compressed, port, 0, 0)

    def _bind(self) -> tuple[socket.socket, int]:
        """A non-blocking socket on the next even port of the range that is free.

        Ports are handed out in turn rather than lowest first, so that a port just freed
        is not reused at once for another party (late packets of the old one)."""
        count = len(self._even_ports)
        for attempt in range(count):
            port = self._even_ports[(self._next_port + attempt) % count]
            sock = socket.socket(self._family, socket.SOCK_DGRAM)
            try:
                sock.bind((self._address, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._next_port = (self._next_port + attempt + 1) % count
            return sock, port
        low, high = self._even_ports[0], self._even_ports[-1]
        raise RequestError(f"no free port in {low}-{high}")

    def _drop(self, media: Party) -> None:
        del self._parties[media.room, media.name]
        fd = media.socket.fileno()
        self._by_fd.pop(fd, None)
        self._poller.unregister(fd)
        media.socket.close()
        if media.row is not None:
            self._sending[media.row] = False
