"""One live state per extension (an agent's seat), the same for every reader: the status
services, the predictive dialer and, to come, the CTI.

The switch stays the authority for what it decides synchronously (whether a phone is
registered, whether a call involves an extension); the board keeps what follows from the
switch's events and from what services decide: the phase of the extension's call and
since when, when its last call ended, its wrap-up, and a time it is kept away from
offered calls (after missing one). Monotonic seconds throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callyard.switch.events import (
    AGENT_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegCalling,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort


class Phase(StrEnum):
    """What an extension is doing now."""

    IDLE = "idle"  # in no call, not wrapping up, not kept away
    IN_CALL = "in_call"  # a call involves it, not answered yet (ringing, or dialing out)
    TALKING = "talking"  # its call is answered: both parties talk
    WRAP_UP = "wrap_up"  # after a call, given time before it is offered another
    AWAY = "away"  # kept from offered calls for a while (it missed one)


@dataclass
class Seat:
    """The live state of one extension."""

    number: str
    talking_since: float | None = None
    ended_at: float | None = None  # its last call's end (None before its first)
    wrapup_since: float | None = None
    wrapup_until: float | None = None
    away_until: float = 0.0
    available_since: float = 0.0  # when it last became free to be offered a call


class AgentBoard:
    """Every extension's live state, fed by the switch's events."""

    def __init__(self, switch: SwitchPort | None) -> None:
        self._switch = switch
        self._seats: dict[str, Seat] = {}
        # call id -> leg -> the registered extension that leg reaches (customers' numbers
        # are not seats and are not kept)
        self._calls: dict[str, dict[str, str]] = {}
        if switch is not None:
            switch.subscribe(self.on_event)

    def seat(self, number: str) -> Seat:
        return self._seats.setdefault(number, Seat(number))

    # what the switch decides

    def registered(self, number: str) -> bool:
        return self._switch is not None and self._switch.binding(number) is not None

    def in_call(self, number: str) -> bool:
        return self._switch is not None and self._switch.in_call(number)

    # what follows

    def phase(self, number: str, now: float) -> Phase:
        seat = self.seat(number)
        if self.in_call(number):
            return Phase.TALKING if seat.talking_since is not None else Phase.IN_CALL
        if seat.wrapup_until is not None and now < seat.wrapup_until:
            return Phase.WRAP_UP
        if now < seat.away_until:
            return Phase.AWAY
        return Phase.IDLE

    def talking_seconds(self, number: str, now: float) -> int | None:
        """Whole seconds since the extension's call was answered; None when it is in no
        answered call."""
        since = self.seat(number).talking_since
        if since is None or not self.in_call(number):
            return None
        return max(0, int(now - since))

    def idle_seconds(self, number: str, now: float) -> int | None:
        """Whole seconds since the extension's last call ended (None before its first)."""
        ended = self.seat(number).ended_at
        return None if ended is None else int(now - ended)

    # what services decide

    def wrap_up(self, number: str, now: float, seconds: float) -> None:
        """The extension's call ended: it is given `seconds` before it is offered another."""
        seat = self.seat(number)
        seat.wrapup_since, seat.wrapup_until = now, now + seconds
        seat.available_since = now + seconds

    def keep_away(self, number: str, now: float, seconds: float) -> None:
        """The extension did not take an offered call: none is offered for `seconds`."""
        seat = self.seat(number)
        seat.away_until = now + seconds
        seat.available_since = seat.away_until

    def on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, IncomingCall) and not event.from_carrier:
            self._reaches(event.call_id, AGENT_LEG, event.caller)
        elif isinstance(event, LegCalling):
            # A leg that calls another party (a group's next member, a transfer's
            # target) no longer reaches the one before.
            self._calls.get(event.call_id, {}).pop(event.leg, None)
            self._reaches(event.call_id, event.leg, event.number)
        elif isinstance(event, CallBridged):
            for number in self._calls.get(event.call_id, {}).values():
                seat = self.seat(number)
                seat.talking_since = event.at
                seat.wrapup_since = seat.wrapup_until = None
        elif isinstance(event, CallEnded):
            for number in self._calls.pop(event.call_id, {}).values():
                seat = self.seat(number)
                seat.talking_since = None
                seat.ended_at = event.at

    def _reaches(self, call_id: str, leg: str, number: str) -> None:
        if self.registered(number):
            self._calls.setdefault(call_id, {})[leg] = number
