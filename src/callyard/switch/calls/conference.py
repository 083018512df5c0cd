"""A call's conference: its parties mixed in a room of the mixer, each hearing whom the
call says.

The customer stays where it is, on the call's relay session: the relay's side that
faced the agent is pointed at the customer's port in the room, so the relay still
records what the customer says and hears. Every other party (the agent, moved by a
re-INVITE; a party consulted; a supervisor) sends to and receives from the room.
Every party hears every other party that it may: a party is heard by everyone, or only
by the parties services name (nobody, for a supervisor listening; the agent alone, for
one whispering); less what a hold or a mute takes away (`effective`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from functools import partial

from callyard.mixer.client import Mixer, MixerError

log = logging.getLogger("callyard.switch.calls")

EVERYONE = None  # a party that hears everyone else in the room


class Conference:
    """One call's room in the mixer: its parties (by leg name) and what each hears."""

    def __init__(self, mixer: Mixer, room: str, customer: str) -> None:
        self.mixer = mixer
        self.room = room
        self.customer = customer
        self.ports: dict[str, int] = {}  # leg -> the room's port it sends to
        self.heard_by: dict[str, frozenset[str] | None] = {}  # services' choice
        self.muted: set[str] = set()
        self.customer_held = False
        self._applied: dict[str, frozenset[str]] = {}

    @property
    def address(self) -> str:
        """The address parties send to (as SDP names it)."""
        return self.mixer.address

    def join(self, leg: str, payload_type: int, remote: tuple[str, int] | None) -> int:
        """Add leg `leg` (voice in `payload_type`, received at `remote` if known); the
        port it is to send to."""
        port = self.mixer.join(self.room, leg, payload_type, remote)
        self.ports[leg] = port
        self.apply()
        return port

    def send_to(self, leg: str, address: str, port: int) -> None:
        """Leg `leg` now receives at address:port."""
        if leg in self.ports:
            self._quietly(lambda: self.mixer.send_to(self.room, leg, address, port))

    def leave(self, leg: str) -> None:
        """Leg `leg` is no longer in the room."""
        if self.ports.pop(leg, None) is not None:
            self._quietly(lambda: self.mixer.leave(self.room, leg))
        self._applied.pop(leg, None)
        self.heard_by.pop(leg, None)
        self.muted.discard(leg)
        self.apply()

    def heard(self, leg: str, by: frozenset[str] | None) -> None:
        """Leg `leg` is heard by the legs `by` names (None: by everyone)."""
        self.heard_by[leg] = by
        self.apply()

    def effective(self, leg: str) -> frozenset[str]:
        """Whom leg `leg` hears now: every other party that lets it, less the muted ones
        and a customer on hold (who hears nobody: its music plays instead)."""
        if leg == self.customer and self.customer_held:
            return frozenset()
        speakers = set()
        for speaker in self.ports:
            heard_by = self.heard_by.get(speaker, EVERYONE)
            if speaker != leg and (heard_by is EVERYONE or leg in heard_by):
                speakers.add(speaker)
        speakers -= self.muted
        if self.customer_held:
            speakers.discard(self.customer)
        return frozenset(speakers)

    def apply(self) -> None:
        """Tell the mixer what changed in whom each party hears."""
        for leg in self.ports:
            hears = self.effective(leg)
            if self._applied.get(leg) != hears:
                self._applied[leg] = hears
                self._quietly(partial(self._set, leg, hears))

    def _set(self, leg: str, hears: Iterable[str]) -> None:
        self.mixer.hearing(self.room, leg, sorted(hears))

    def others(self) -> list[str]:
        """The parties in the room but the customer."""
        return [leg for leg in self.ports if leg != self.customer]

    def close(self) -> None:
        """Remove the room."""
        self.ports.clear()
        self._quietly(lambda: self.mixer.close(self.room))

    def _quietly(self, step: Callable[[], None]) -> None:
        try:
            step()
        except MixerError:
            log.exception("mixer command failed", extra={"room": self.room})


def split_ports(ports: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The media port range shared out: the relay's, and the mixer's (the top tenth,
    at least two ports)."""
    low, high = ports
    share = max(2, (high - low + 1) // 10)
    return (low, high - share), (high - share + 1, high)


class MixerStarter:
    """The mixer, started when a call first needs it (most servers never conference);
    thread-safe, stopped with the switch."""

    def __init__(self, address: str, ports: tuple[int, int], advertise: str | None) -> None:
        self._args = (address, ports, advertise)
        self._lock = threading.Lock()
        self._mixer: Mixer | None = None

    def __call__(self) -> Mixer:
        with self._lock:
            if self._mixer is None:
                address, ports, advertise = self._args
                self._mixer = Mixer(address, ports, advertise)
            return self._mixer

    def stop(self) -> None:
        with self._lock:
            mixer, self._mixer = self._mixer, None
        if mixer is not None:
            mixer.stop()
