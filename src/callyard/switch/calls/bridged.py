"""Click-to-call and two-way calls: the switch calls one party, then the other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from callyard.switch import sdp
from callyard.switch.calls.base import FIRST, SECOND, RelayedCall, State, transitions
from callyard.switch.calls.held import HOLDING, HeldCall
from callyard.switch.commands import Bridge
from callyard.switch.events import LegAnswered


class BridgedCall(HeldCall):
    """Click-to-call and two-way calls: the switch calls `first` (the agent), then
    `second` (the customer). Once bridged it is a held call's like any other: the agent
    may hold, hand over or conference the customer."""

    SIDES: ClassVar[Mapping[str, str]] = RelayedCall.SIDES
    TRANSITIONS = transitions(
        (State.NEW, State.FIRST_RINGING),
        (State.FIRST_RINGING, State.FIRST_ANSWERED),
        (State.FIRST_ANSWERED, State.SECOND_RINGING),
        *HOLDING,
    )

    def __init__(self, order: Bridge, *args: Any) -> None:
        super().__init__(order.call_id, order.record, *args)
        self.order = order

    def start(self) -> None:
        self._open_and_call(FIRST, self.order.first)

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        if self.state is State.FIRST_RINGING and leg == FIRST:
            self._emit(LegAnswered(now, self.call_id, leg))
            self._enter(State.FIRST_ANSWERED)

            def call_second(port: int) -> None:
                # The first party's codecs, numbered as it numbers them (whatever it
                # settles on meanwhile is its media when the second one answers).
                first = self._media(FIRST)
                codecs = first.codecs if first is not None else media.codecs
                self._call(SECOND, self.order.second, port, codecs)
                self._enter(State.SECOND_RINGING)

            self._join(FIRST, media, self._then(State.FIRST_ANSWERED, call_second))
        elif self.state is State.SECOND_RINGING and leg == SECOND:
            self._emit(LegAnswered(now, self.call_id, leg))
            self._join(SECOND, media)
            self._bridged(now)
        else:
            super()._answered(leg, media, now)  # an agent attached, a party invited

    def _failed(self, leg: str, status: int) -> None:
        if self._setting_up(leg):
            RelayedCall._failed(self, leg, status)  # the call never was: it ends
        else:
            super()._failed(leg, status)

    def _ring_timeout(self, leg: str) -> None:
        if self._setting_up(leg):
            RelayedCall._ring_timeout(self, leg)
        else:
            super()._ring_timeout(leg)

    def _setting_up(self, leg: str) -> bool:
        """Whether `leg` is one of the two first parties, before they were bridged."""
        return not self._was_bridged and leg in (FIRST, SECOND)
