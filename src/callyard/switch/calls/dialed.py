"""The dialer's calls: a customer called alone and held, agents attached to it."""

from __future__ import annotations

from typing import Any

from callyard.domain.hangups import EndReason
from callyard.switch import sdp
from callyard.switch.calls.base import State, transitions
from callyard.switch.calls.held import HOLDING, HeldCall
from callyard.switch.commands import Dial
from callyard.switch.events import CUSTOMER_LEG, LegAnswered


class DialedCall(HeldCall):
    """A predictive call: the switch calls the customer; once answered the call is held
    until services attach an agent, play a prompt, or hang up."""

    TRANSITIONS = transitions(
        (State.NEW, State.FIRST_RINGING),
        (State.FIRST_RINGING, State.HELD),
        *HOLDING,
    )

    def __init__(self, order: Dial, *args: Any) -> None:
        super().__init__(order.call_id, order.record, *args)
        self.order = order

    def start(self) -> None:
        self._open_and_call(CUSTOMER_LEG, self.order.target)

    def hangup(self, status: int | None = None) -> None:
        """End the call; the switch called the customer, so no `status` applies."""
        if self.state is State.ENDED:
            return
        answered = self.state is not State.NEW and self.state is not State.FIRST_RINGING
        cause = EndReason.NORMAL if answered else EndReason.CANCELLED
        self._end(cause, self._services_side())

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        if leg != CUSTOMER_LEG:
            super()._answered(leg, media, now)
            return

        def held() -> None:
            # Reported answered (so services may attach) once the relay has the port an
            # agent will be offered.
            self._emit(LegAnswered(now, self.call_id, leg))

        self._hold(media, State.FIRST_RINGING, held)
