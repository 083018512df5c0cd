"""Who hears whom, and the mixing itself: no sockets, no clock.

A room holds parties, each talking one G.711 codec and hearing either everyone else in
the room (whoever joins later included) or a named set of its parties. Every 20 ms each
party gives one frame of 160 samples (silence when it sent nothing) and gets back the
clipped sum of the frames of the parties it hears, never its own.

`Rooms` mixes every room in one pass: the frames of all parties of all rooms are stacked
in one array, each room in consecutive rows and rooms of the same size together
(`Layout`), so that a whole group of rooms is one batched matrix product of hearing
matrices and frames, whoever hears whom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from callyard.mixer import g711

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE

Frames = NDArray[np.int16]


class RoomError(ValueError):
    """A request that does not fit the room: an unknown or duplicate party."""


class Room:
    """The parties of one conference and whom each hears."""

    def __init__(self, name: str, changed: Callable[[], None] | None = None) -> None:
        self.name = name
        self._payload_types: dict[str, int] = {}
        self._hearing: dict[str, frozenset[str] | None] = {}  # None: everyone else
        self._changed = changed

    @property
    def parties(self) -> tuple[str, ...]:
        """The parties, in the order they joined."""
        return tuple(self._payload_types)

    def __len__(self) -> int:
        return len(self._payload_types)

    def __contains__(self, party: object) -> bool:
        return party in self._payload_types

    def payload_type(self, party: str) -> int:
        self._check(party)
        return self._payload_types[party]

    def join(self, party: str, payload_type: int) -> None:
        """Add a party hearing everyone else (and heard by every such listener)."""
        if party in self._payload_types:
            raise RoomError(f"{party!r} is already in room {self.name!r}")
        g711.codec_index(payload_type)  # raises for a payload type that is not G.711
        self._payload_types[party] = payload_type
        self._hearing[party] = None
        self._change()

    def leave(self, party: str) -> None:
        """Remove a party; listeners who named it no longer do."""
        self._check(party)
        del self._payload_types[party]
        del self._hearing[party]
        for listener, speakers in self._hearing.items():
            if speakers is not None and party in speakers:
                self._hearing[listener] = speakers - {party}
        self._change()

    def hear(self, listener: str, speakers: Iterable[str] | None) -> None:
        """Whom `listener` hears: these parties of the room, or everyone else (None).

        A listener named among its own speakers is left out: nobody hears itself.
        """
        self._check(listener)
        if speakers is None:
            self._hearing[listener] = None
        else:
            named = frozenset(speakers)
            for speaker in named:
                self._check(speaker)
            self._hearing[listener] = named - {listener}
        self._change()

    def hears(self, listener: str) -> frozenset[str]:
        """The parties `listener` hears now."""
        self._check(listener)
        speakers = self._hearing[listener]
        if speakers is None:
            return frozenset(self._payload_types) - {listener}
        return speakers

    def hearing(self, listener: str) -> frozenset[str] | None:
        """`listener`'s setting: the named parties, or None for everyone else."""
        self._check(listener)
        return self._hearing[listener]

    def mix(self, frames: Mapping[str, Frames]) -> dict[str, Frames]:
        """Each party's output frame from the parties' input frames (missing: silence)."""
        if not self._payload_types:
            return {}
        layout = Layout([self])
        stacked = np.zeros((len(layout.members), FRAME_SAMPLES), dtype=np.int16)
        for row, member in enumerate(layout.members):
            frame = frames.get(member.party)
            if frame is not None:
                stacked[row] = frame
        mixed = layout.mix(stacked)
        return {member.party: mixed[row] for row, member in enumerate(layout.members)}

    def _check(self, party: str) -> None:
        if party not in self._payload_types:
            raise RoomError(f"no party {party!r} in room {self.name!r}")

    def _change(self) -> None:
        if self._changed is not None:
            self._changed()


@dataclass(frozen=True)
class Member:
    room: str
    party: str
    payload_type: int


@dataclass(frozen=True)
class _SizeGroup:
    """Consecutive rooms of the same number of parties, and who hears whom in each."""

    first_row: int
    rooms: int
    size: int
    hearing: NDArray[np.floating[Any]]  # rooms × size × size: 1 where listener hears speaker


class Layout:
    """The rows of one stacked array of frames: every party of the given rooms, each
    room's parties in consecutive rows, rooms of the same size next to each other.

    Mixing a group of rooms of the same size is one batched matrix product: each room's
    hearing matrix (listener × speaker, 1 where heard) times its parties' frames. Sums of
    up to 256 16-bit samples are exact in float32 (24-bit mantissa); larger rooms are
    summed in float64.
    """

    def __init__(self, rooms: Iterable[Room]) -> None:
        by_size: dict[int, list[Room]] = {}
        for room in rooms:
            if len(room):
                by_size.setdefault(len(room), []).append(room)
        members: list[Member] = []
        groups: list[_SizeGroup] = []
        for size, same in sorted(by_size.items()):
            exact = np.float32 if size <= 256 else np.float64
            hearing = np.zeros((len(same), size, size), dtype=exact)
            first_row = len(members)
            for index, room in enumerate(same):
                column = {party: number for number, party in enumerate(room.parties)}
                for row, party in enumerate(room.parties):
                    members.append(Member(room.name, party, room.payload_type(party)))
                    for speaker in room.hears(party):
                        hearing[index, row, column[speaker]] = 1
            groups.append(_SizeGroup(first_row, len(same), size, hearing))
        self.members: tuple[Member, ...] = tuple(members)
        self._groups = tuple(groups)

    def __len__(self) -> int:
        return len(self.members)

    def mix(self, frames: NDArray[np.integer[Any]] | NDArray[np.floating[Any]]) -> Frames:
        """Rows of output frames for rows of input frames (parties × 160 samples)."""
        mixed = np.empty((len(self.members), FRAME_SAMPLES), dtype=np.int16)
        for group in self._groups:
            rows = slice(group.first_row, group.first_row + group.rooms * group.size)
            speakers = frames[rows].reshape(group.rooms, group.size, FRAME_SAMPLES)
            sums = np.matmul(group.hearing, speakers.astype(group.hearing.dtype, copy=False))
            np.clip(sums, -32768, 32767, out=sums)
            mixed[rows] = sums.reshape(group.rooms * group.size, FRAME_SAMPLES)
        return mixed


class Rooms:
    """Every room of a mixer, made on first join and removed once empty."""

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._layout: Layout | None = None

    def __len__(self) -> int:
        return len(self._rooms)

    def __contains__(self, name: object) -> bool:
        return name in self._rooms

    @property
    def parties(self) -> int:
        return sum(len(room) for room in self._rooms.values())

    def room(self, name: str) -> Room:
        room = self._rooms.get(name)
        if room is None:
            raise RoomError(f"no room {name!r}")
        return room

    def join(self, name: str, party: str, payload_type: int) -> Room:
        """Add a party to a room, making the room if it is new."""
        room = self._rooms.get(name)
        if room is None:
            room = Room(name, self._invalidate)
            room.join(party, payload_type)
            self._rooms[name] = room
            self._invalidate()
        else:
            room.join(party, payload_type)
        return room

    def leave(self, name: str, party: str) -> None:
        """Remove a party, and its room once empty."""
        room = self.room(name)
        room.leave(party)
        if not len(room):
            del self._rooms[name]

    def close(self, name: str) -> tuple[str, ...]:
        """Remove a room; the parties it had (none for an unknown room)."""
        room = self._rooms.pop(name, None)
        if room is None:
            return ()
        self._invalidate()
        return room.parties

    def layout(self) -> Layout:
        """The stacking of every party of every room, rebuilt after a change."""
        if self._layout is None:
            self._layout = Layout(self._rooms.values())
        return self._layout

    def _invalidate(self) -> None:
        self._layout = None
