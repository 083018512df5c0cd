"""Calls that start with a caller's INVITE to the switch (a registered phone's, a company
PBX's, a carrier's): the caller's leg is taken by a user agent of its own, the call is
reported (IncomingCall) and routed when the INVITE's offer arrives, and a caller not
answered yet can only be refused, with a final response."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

from callyard.domain.hangups import EndReason, Party, reason_of_failure
from callyard.switch import sdp
from callyard.switch.calls.base import RelayedCall
from callyard.switch.calls.leg import Leg, LegState
from callyard.switch.calls.user_agent import user_agent_class
from callyard.switch.events import IncomingCall
from callyard.switch.routing import Queue, Refusal, Route

# SIP answers to a caller whose call could not be put through, by hangup cause.
_REFUSAL = {
    EndReason.BUSY: (486, "Busy Here"),
    EndReason.DECLINED: (603, "Decline"),
    EndReason.NOT_FOUND: (404, "Not Found"),
    EndReason.NO_ANSWER: (480, "Temporarily Unavailable"),
    EndReason.LINE_FAILURE: (503, "Service Unavailable"),
}
UNAVAILABLE = 480  # the refusal of a caller the call ends for without a status of its own
NOT_ACCEPTABLE = Refusal(488, "Not Acceptable Here", EndReason.INVALID)
NO_RELAY = Refusal(503, "Service Unavailable", EndReason.SERVER_HANGUP)


def refusal_of(cause: EndReason, status: int | None) -> tuple[int, str]:
    """The final response (status, reason) refusing a caller whose call ends for `cause`,
    after the failure `status` if one ended it."""
    if status is not None and status >= 400:
        return status, "Call Failed"
    return _REFUSAL.get(cause, (status or UNAVAILABLE, "Temporarily Unavailable"))


def refusal_with(status: int) -> Refusal:
    """Refusing a caller with the final response `status`: its reason, and the cause the
    call ends with."""
    for cause, (code, reason) in _REFUSAL.items():
        if code == status:
            return Refusal(code, reason, cause)
    return Refusal(status, "Call Failed", reason_of_failure(status))


@dataclass(frozen=True)
class Caller:
    """Who calls: the company (called, or whose phone or PBX calls), the calling number
    (an extension, or the number a carrier's call comes from), whether a carrier's trunk
    brought the call, and what a company's PBX sent to be echoed back."""

    company_id: int
    number: str
    from_carrier: bool = False
    user_data: str = ""


class TakenCall(RelayedCall):
    """A call that reaches the switch: the caller (leg `CALLER`) is taken from its INVITE
    and routed by `route` (the dialed number to where the call goes)."""

    CALLER: ClassVar[str]  # the caller's leg

    def __init__(
        self, call_id: str, caller: Caller, route: Callable[[str], Route], *args: Any
    ) -> None:
        super().__init__(call_id, True, *args)
        self.caller = caller
        self._route = route
        self.numbers.add(caller.number)

    def take(self, request: Any, transaction: Any) -> Any:
        """Hand the caller's INVITE to a UA of its own; answers what sippy should send."""
        ua = user_agent_class()(self._config, self._leg_event)
        ua.update_handler = partial(self._answer_update, self.CALLER)
        ua.refer_handler = partial(self._referred, self.CALLER)
        side = self.SIDES[self.CALLER]
        self._legs[self.CALLER] = Leg(self.CALLER, self.caller.number, ua, side)
        return ua.recvRequest(request, transaction)

    def fail(self) -> None:
        """End the call after an internal error: the caller is refused (500) if its UA
        can still answer, and CallEnded is reported."""
        self._end(EndReason.SERVER_HANGUP, Party.CALLEE, 500)

    def _party(self, leg: str) -> Party:
        return Party.CALLER if leg == self.CALLER else Party.CALLEE

    def _leg_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventTry

        if isinstance(event, CCEventTry) and self._leg_of(ua) == self.CALLER:
            self._offered(event)
            return
        super()._leg_event(event, ua)

    def _offered(self, event: Any) -> None:
        """The caller's INVITE: the call is reported, its offer limited to what the relay
        carries (nothing: 488), and it goes where its route says."""
        _call_id, _cli, dialed, body, _auth, _name = event.getData()
        dialed = str(dialed)
        route = self._route(dialed)
        # Services learn of the call (to record it) before any of its other events.
        self._emit(
            IncomingCall(
                time.monotonic(),
                self.call_id,
                self.caller.company_id,
                self.caller.number,
                dialed,
                route.kind,
                route.caller_id,
                self.caller.from_carrier,
                self.caller.user_data,
                queued=isinstance(route.destination, Queue),
            )
        )
        offer = sdp.parse(str(body)) if body is not None else None
        codecs = sdp.relayed(offer.codecs) if offer is not None else ()
        if offer is None or not sdp.has_audio(codecs):
            # Nothing the relay carries (it cannot transcode): refused, not silence.
            self._refuse(NOT_ACCEPTABLE)
            return
        media = replace(offer, codecs=codecs)
        self._legs[self.CALLER].media = media
        self._legs[self.CALLER].browser = offer.secure is not None
        if isinstance(route.destination, Refusal):
            self._refuse(route.destination)
            return
        self._put_through(route, media)

    def _put_through(self, route: Route, offer: sdp.MediaOffer) -> None:
        """Take the call where `route` goes (no refusal); `offer` is the caller's."""
        raise NotImplementedError

    def _ring_caller(self) -> None:
        """Tell the caller its call rings (180): it hears ringback."""
        from sippy.CCEvents import CCEventRing

        caller = self._legs.get(self.CALLER)
        if caller is not None:
            caller.ua.recvEvent(CCEventRing((180, "Ringing", None)))

    def _answer_caller(self, codecs: tuple[sdp.Codec, ...], now: float) -> None:
        """Answer the caller (200 OK) with its relay port and `codecs`."""
        from sippy.CCEvents import CCEventConnect

        caller = self._legs[self.CALLER]
        caller.ua.recvEvent(CCEventConnect((200, "OK", self._sdp(self.CALLER, codecs))))
        caller.move(LegState.ANSWERED, now)

    def _relay_refused(self) -> None:
        """The relay could not take the call (no free port): the caller is refused."""
        self._refuse(NO_RELAY)

    def _refuse(self, refusal: Refusal) -> None:
        """Refuse the caller, not answered yet, and end the call."""
        from sippy.CCEvents import CCEventFail

        party = self._legs.pop(self.CALLER, None)
        if party is not None:
            party.ua.event_cb = None
            party.ua.recvEvent(CCEventFail((refusal.status, refusal.reason)))
            party.move(LegState.ENDED, time.monotonic())
        self._end(refusal.cause, Party.CALLEE, refusal.status)

    def _release(self, party: Leg, cause: EndReason, status: int | None) -> None:
        from sippy.CCEvents import CCEventFail

        if party.name == self.CALLER and party.state is not LegState.ANSWERED:
            party.ua.recvEvent(CCEventFail(refusal_of(cause, status)))
            return
        super()._release(party, cause, status)
