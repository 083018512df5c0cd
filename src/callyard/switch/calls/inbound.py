"""A registered phone's own call, a company PBX's, or a carrier's call to a number that
rings extensions: the switch calls the destination and answers the caller when it does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from callyard.switch import sdp
from callyard.switch.calls.base import (
    FIRST,
    SECOND,
    State,
    transitions,
)
from callyard.switch.calls.taken import Caller, TakenCall
from callyard.switch.commands import Target
from callyard.switch.events import LegAnswered
from callyard.switch.relay import SIDE_A, SIDE_B, media_at
from callyard.switch.routing import Route


class InboundCall(TakenCall):
    """A call that reaches the switch: a registered phone's own call, or a carrier's call
    to a company's number. The caller is the first leg (its INVITE); the switch routes
    it, calls the destination as the second leg (and, if that fails or does not answer,
    the route's next parties in turn), and answers the caller when one answers."""

    CALLER = FIRST
    # The caller opened the relay session with its offer: side a; who answers, side b.
    SIDES: ClassVar[Mapping[str, str]] = {FIRST: SIDE_A, SECOND: SIDE_B}
    TRANSITIONS = transitions(
        (State.NEW, State.SECOND_RINGING),
        (State.SECOND_RINGING, State.BRIDGED),
        (State.BRIDGED, State.TRANSFERRING),
        (State.TRANSFERRING, State.BRIDGED),
    )

    def __init__(
        self, call_id: str, caller: Caller, route: Callable[[str], Route], *args: Any
    ) -> None:
        super().__init__(call_id, caller, route, *args)
        self._next: list[Target] = []  # parties still to try, in turn

    def _put_through(self, route: Route, offer: sdp.MediaOffer) -> None:
        target = route.destination
        assert isinstance(target, Target), "a queued number's calls are QueuedCalls"
        self._next = list(route.then)

        def call(port: int) -> None:
            self._call(SECOND, target, port, offer.codecs)
            self._enter(State.SECOND_RINGING)

        self._relay.open_from(
            self.call_id,
            media_at(offer),
            self._then(State.NEW, call, self._relay_refused),
        )

    def _failed(self, leg: str, status: int) -> None:
        if leg == SECOND and self._call_next(cancel=False):
            return
        super()._failed(leg, status)

    def _ring_timeout(self, leg: str) -> None:
        if leg == SECOND and self._next and self.state is State.SECOND_RINGING:
            self._timers.pop(leg, None)  # the timer that fired
            self._call_next(cancel=True)
            return
        super()._ring_timeout(leg)

    def _call_next(self, cancel: bool) -> bool:
        """The party ringing failed or did not answer: call the route's next one, with
        the same offer and relay port. False when nobody is left to try."""
        if not self._next or self.state is not State.SECOND_RINGING:
            return False
        party = self._drop(SECOND, hang_up=cancel)
        if party is None:
            return False
        self.numbers.discard(party.number)
        target = self._next.pop(0)
        self._call(SECOND, target, self._ports[SECOND], party.offered)
        return True

    def _ringing(self, leg: str, now: float) -> None:
        super()._ringing(leg, now)
        if leg == SECOND:
            self._ring_caller()

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        self._emit(LegAnswered(now, self.call_id, leg))

        def answer_caller(port: int) -> None:
            # What the far end took, numbered as it numbers it: the caller sends as the
            # far end expects to receive.
            self._ports[FIRST] = port
            self._answer_caller(media.codecs, now)
            self._bridged(now)

        self._join(SECOND, media, self._then(State.SECOND_RINGING, answer_caller))
