"""Click-to-call and two-way calls: the switch calls one party, then the other."""

from __future__ import annotations

from typing import Any

from callyard.switch import sdp
from callyard.switch.calls.base import FIRST, SECOND, RelayedCall, State
from callyard.switch.commands import Bridge
from callyard.switch.events import (
    LegAnswered,
)


class BridgedCall(RelayedCall):
    """Click-to-call and two-way calls: the switch calls `first`, then `second`."""

    def __init__(self, order: Bridge, *args: Any) -> None:
        super().__init__(order.call_id, order.record, *args)
        self.order = order

    def start(self) -> None:
        self._open_and_call(FIRST, self.order.first)

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        self._emit(LegAnswered(now, self.call_id, leg))
        if leg == FIRST:
            self._enter(State.FIRST_ANSWERED)

            def call_second(port: int) -> None:
                # The first party's codecs, numbered as it numbers them (whatever it
                # settles on meanwhile is its media when the second one answers).
                first = self._media(FIRST)
                codecs = first.codecs if first is not None else media.codecs
                self._call(SECOND, self.order.second, port, codecs)
                self._enter(State.SECOND_RINGING)

            self._join(FIRST, media, self._then(State.FIRST_ANSWERED, call_second))
            return
        self._join(SECOND, media)
        self._bridged(now)
