"""Calls that reach the switch: a phone's own call, a carrier's call to a number."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar

from callyard.domain.hangups import EndReason, Party
from callyard.switch import sdp
from callyard.switch.calls.base import (
    FIRST,
    SECOND,
    RelayedCall,
    State,
    transitions,
)
from callyard.switch.calls.leg import Leg, LegState
from callyard.switch.calls.user_agent import user_agent_class
from callyard.switch.commands import Target
from callyard.switch.events import (
    IncomingCall,
    LegAnswered,
)
from callyard.switch.relay import SIDE_A, SIDE_B
from callyard.switch.routing import Refusal, Route

# SIP answers to a phone whose call could not be put through, by hangup cause.
_REFUSAL = {
    EndReason.BUSY: (486, "Busy Here"),
    EndReason.DECLINED: (603, "Decline"),
    EndReason.NOT_FOUND: (404, "Not Found"),
    EndReason.NO_ANSWER: (480, "Temporarily Unavailable"),
    EndReason.LINE_FAILURE: (503, "Service Unavailable"),
}


class InboundCall(RelayedCall):
    """A call that reaches the switch: a registered phone's own call, or a carrier's call
    to a company's number. The caller is the first leg (its INVITE); the switch routes
    it, calls the destination as the second leg (and, if that fails or does not answer,
    the route's next parties in turn), and answers the caller when one answers."""

    def __init__(
        self,
        call_id: str,
        company_id: int,
        caller: str,
        route: Callable[[str], Route],
        from_carrier: bool,
        *args: Any,
        user_data: str = "",
    ) -> None:
        super().__init__(call_id, True, *args)
        self.company_id = company_id
        self.caller = caller
        self._route = route
        self._from_carrier = from_carrier
        self._user_data = user_data
        self._next: list[Target] = []  # parties still to try, in turn
        self.numbers.add(caller)

    # The caller opened the relay session with its offer: side a; who answers, side b.
    SIDES: ClassVar[Mapping[str, str]] = {FIRST: SIDE_A, SECOND: SIDE_B}
    TRANSITIONS = transitions(
        (State.NEW, State.SECOND_RINGING),
        (State.SECOND_RINGING, State.BRIDGED),
        (State.BRIDGED, State.TRANSFERRING),
        (State.TRANSFERRING, State.BRIDGED),
    )

    def take(self, request: Any, transaction: Any) -> Any:
        """Hand the phone's INVITE to a UA of its own; answers what sippy should send."""
        ua = user_agent_class()(self._config, self._leg_event)
        ua.update_handler = partial(self._answer_update, FIRST)
        ua.refer_handler = partial(self._referred, FIRST)
        self._legs[FIRST] = Leg(FIRST, self.caller, ua, self.SIDES[FIRST])
        return ua.recvRequest(request, transaction)

    def fail(self) -> None:
        """End the call after an internal error: the phone is refused (500) if its UA
        can still answer, and CallEnded is reported."""
        self._end(EndReason.SERVER_HANGUP, Party.CALLEE, 500)

    def _leg_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventTry

        if isinstance(event, CCEventTry) and self._leg_of(ua) == FIRST:
            self._offered(event)
            return
        super()._leg_event(event, ua)

    def _offered(self, event: Any) -> None:
        _call_id, _cli, dialed, body, _auth, _name = event.getData()
        dialed = str(dialed)
        route = self._route(dialed)
        # Services learn of the call (to record it) before any of its other events.
        self._emit(
            IncomingCall(
                time.monotonic(),
                self.call_id,
                self.company_id,
                self.caller,
                dialed,
                route.kind,
                route.caller_id,
                self._from_carrier,
                self._user_data,
            )
        )
        offer = sdp.parse(str(body)) if body is not None else None
        codecs = sdp.relayed(offer.codecs) if offer is not None else ()
        if offer is None or not sdp.has_audio(codecs):
            # Nothing the relay carries (it cannot transcode): refused, not silence.
            self._refuse(488, "Not Acceptable Here", EndReason.INVALID)
            return
        self._legs[FIRST].media = replace(offer, codecs=codecs)
        if isinstance(route.destination, Refusal):
            refusal = route.destination
            self._refuse(refusal.status, refusal.reason, refusal.cause)
            return
        target = route.destination
        self._next = list(route.then)

        def call(port: int) -> None:
            self._call(SECOND, target, port, codecs)
            self._enter(State.SECOND_RINGING)

        def refuse() -> None:
            self._refuse(503, "Service Unavailable", EndReason.SERVER_HANGUP)

        self._relay.open_from(
            self.call_id, offer.address, offer.port, self._then(State.NEW, call, refuse)
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

    def _refuse(self, status: int, reason: str, cause: EndReason) -> None:
        from sippy.CCEvents import CCEventFail

        party = self._legs.pop(FIRST, None)
        if party is not None:
            party.ua.event_cb = None
            party.ua.recvEvent(CCEventFail((status, reason)))
            party.move(LegState.ENDED, time.monotonic())
        self._end(cause, Party.CALLEE, status)

    def _ringing(self, leg: str, now: float) -> None:
        from sippy.CCEvents import CCEventRing

        super()._ringing(leg, now)
        phone = self._legs.get(FIRST)
        if leg == SECOND and phone is not None:
            phone.ua.recvEvent(CCEventRing((180, "Ringing", None)))

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        from sippy.CCEvents import CCEventConnect

        self._emit(LegAnswered(now, self.call_id, leg))

        def answer_phone(port: int) -> None:
            # What the far end took, numbered as it numbers it: the phone sends as the
            # far end expects to receive.
            self._ports[FIRST] = port
            body = self._sdp(FIRST, media.codecs)
            phone = self._legs[FIRST]
            phone.ua.recvEvent(CCEventConnect((200, "OK", body)))
            phone.move(LegState.ANSWERED, now)
            self._bridged(now)

        self._join(SECOND, media, self._then(State.SECOND_RINGING, answer_phone))

    def _release(self, party: Leg, cause: EndReason, status: int | None) -> None:
        from sippy.CCEvents import CCEventFail

        if party.name == FIRST and self.state is not State.BRIDGED:
            code, reason = _REFUSAL.get(cause, (status or 480, "Temporarily Unavailable"))
            if status is not None and status >= 400:
                code, reason = status, "Call Failed"
            party.ua.recvEvent(CCEventFail((code, reason)))
            return
        super()._release(party, cause, status)
