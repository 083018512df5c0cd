"""A carrier's call to a queued number: the caller is held for services to distribute."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from callyard.domain.hangups import EndReason, Party
from callyard.switch import sdp
from callyard.switch.calls.base import State, transitions
from callyard.switch.calls.held import HOLDING, HeldCall
from callyard.switch.calls.taken import UNAVAILABLE, Caller, TakenCall, refusal_with
from callyard.switch.events import CUSTOMER_LEG, LegAnswered
from callyard.switch.routing import Route


class QueuedCall(TakenCall, HeldCall):
    """A caller to a queued number, taken from its INVITE as the customer's leg and held,
    ringing (180), until services answer it, play it prompts, offer it to agents in turn
    (Attach; a caller not answered yet is answered when an agent does) or refuse it
    (Hangup with a status). The relay session opens before the caller is held: commands
    that come meanwhile wait for it."""

    # TakenCall comes first for its constructor (the caller); HeldCall gives the relay
    # sides and what holding the customer takes.
    CALLER = CUSTOMER_LEG
    TRANSITIONS = transitions(
        (State.NEW, State.HELD),
        *HOLDING,
    )

    def __init__(
        self, call_id: str, caller: Caller, route: Callable[[str], Route], *args: Any
    ) -> None:
        super().__init__(call_id, caller, route, *args)
        self._until_held: list[Callable[[], None]] = []

    def answer(self) -> None:
        """Answer the held caller (200 OK with the relay's port); reported LegAnswered."""
        if self._waits(self.answer):
            return
        caller = self._media(CUSTOMER_LEG)
        if self.state is State.ENDED or caller is None or self._has_answered(CUSTOMER_LEG):
            return
        # One voice codec: the caller sends only that, and an agent is offered only that.
        self._answer(sdp.first_voice(caller.codecs), time.monotonic())

    def hangup(self, status: int | None = None) -> None:
        """End the call: a caller never answered is refused with `status` (480 when
        None) and the call ends with its cause; an answered one gets a BYE."""
        if self.state is State.ENDED:
            return
        if self._has_answered(CUSTOMER_LEG):
            self._end(EndReason.NORMAL, self._services_side())
        else:
            self._refuse(refusal_with(status or UNAVAILABLE))

    def _put_through(self, route: Route, offer: sdp.MediaOffer) -> None:
        """Hold the caller: it hears ringback while the relay session opens (the caller
        receives on side b, as a held customer does), and services take it from there."""
        self._ring_caller()

        def held() -> None:
            waiting, self._until_held = self._until_held, []
            for command in waiting:
                command()

        def hold(port: int) -> None:
            self._ports[CUSTOMER_LEG] = port  # what the caller is answered with
            self._hold(offer, State.NEW, held, self._relay_refused)

        self._relay.open(
            self.call_id,
            self._then(State.NEW, hold, self._relay_refused),
            for_browser=offer.secure is not None,
        )

    def _waits(self, command: Callable[[], None]) -> bool:
        if self.state is not State.NEW:
            return False
        self._until_held.append(command)
        return True

    def _put_customer_through(self, agent: sdp.MediaOffer, now: float) -> None:
        if not self._has_answered(CUSTOMER_LEG):
            self._answer(agent.codecs, now)

    def _answer(self, codecs: tuple[sdp.Codec, ...], now: float) -> None:
        """Answer the caller with `codecs` (numbered as its offer numbers them)."""
        caller = self._legs[CUSTOMER_LEG]
        if caller.media is not None:
            caller.media = replace(caller.media, codecs=codecs)
        self._answer_caller(codecs, now)
        self._emit(LegAnswered(now, self.call_id, CUSTOMER_LEG))

    def _hung_up(self, leg: str) -> None:
        if leg == CUSTOMER_LEG and not self._has_answered(leg):
            self._end(EndReason.CANCELLED, Party.CALLER)  # gave up waiting
            return
        super()._hung_up(leg)
