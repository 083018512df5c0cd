"""What a process and its mixer process say to each other: the settings, the requests
on rooms and parties and their answers (the start and stop handshake is every child's:
`callyard.child`).

Messages travel pickled over a Unix socket pair (`multiprocessing.connection`'s framing),
in order. Every request carries an id that its answer repeats, so that an answer that
comes after its caller gave up waiting is told apart from the next one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MixerSettings:
    """Where the mixer binds its parties' ports; its first message."""

    address: str
    ports: tuple[int, int]  # inclusive; parties get even ports of it
    log_level: str = "warning"


@dataclass(frozen=True)
class MixerStats:
    rooms: int
    parties: int
    ticks: int
    frames_sent: int
    frames_late: int
    packets_received: int
    cpu_seconds: float  # the mixer process's own user + system CPU time


@dataclass(frozen=True)
class Join:
    """Add a party to a room (made on first use); answered with its local port."""

    request_id: int
    room: str
    party: str
    payload_type: int
    remote: tuple[str, int] | None


@dataclass(frozen=True)
class SendTo:
    """Where a party receives from now on."""

    request_id: int
    room: str
    party: str
    address: str
    port: int


@dataclass(frozen=True)
class Hearing:
    """Whom a listener hears: the named parties, or everyone else (None)."""

    request_id: int
    room: str
    listener: str
    speakers: frozenset[str] | None


@dataclass(frozen=True)
class Leave:
    request_id: int
    room: str
    party: str


@dataclass(frozen=True)
class Close:
    request_id: int
    room: str


@dataclass(frozen=True)
class StatsQuery:
    request_id: int


Request = Join | SendTo | Hearing | Leave | Close | StatsQuery


@dataclass(frozen=True)
class Answer:
    """A request's outcome: its result (a port, stats, or None), or why it failed."""

    request_id: int
    result: int | MixerStats | None = None
    error: str | None = None
