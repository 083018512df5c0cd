"""Two-leg calls placed by the switch (third-party call control), one state machine each.

    new -> first_ringing -> first_answered -> second_ringing -> bridged -> ended(cause)

Runs in the SIP thread; every transition is reported as an event with a monotonic time.
The relay anchors media: the first party is offered a relay port before anybody else is
called, so no re-INVITE is ever needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from callyard.codes import HangupCode
from callyard.switch import sdp
from callyard.switch.causes import cause_of_failure
from callyard.switch.commands import Bridge, Target
from callyard.switch.events import CallBridged, CallEnded, LegAnswered, LegRinging, SwitchEvent
from callyard.switch.relay import MediaRelay, RelayError

log = logging.getLogger("callyard.switch.calls")

FIRST, SECOND = "agent", "customer"


class State(Enum):
    NEW = "new"
    FIRST_RINGING = "first_ringing"
    FIRST_ANSWERED = "first_answered"
    SECOND_RINGING = "second_ringing"
    BRIDGED = "bridged"
    ENDED = "ended"


class BridgedCall:
    """One click-to-call or two-way call."""

    def __init__(
        self,
        order: Bridge,
        sip_config: dict[str, Any],
        relay: MediaRelay,
        emit: Callable[[SwitchEvent], None],
        done: Callable[[str], None],
    ) -> None:
        self.order = order
        self.state = State.NEW
        self._config = sip_config
        self._relay = relay
        self._emit = emit
        self._done = done
        self._legs: dict[str, Any] = {}
        self._heard_from: set[str] = set()
        self._timers: dict[str, Any] = {}
        self._captures: tuple[str, str] | None = None

    @property
    def call_id(self) -> str:
        return self.order.call_id

    def start(self) -> None:
        try:
            port = self._relay.open(self.call_id)
        except RelayError:
            log.exception("no relay session", extra={"call_id": self.call_id})
            self._end(HangupCode.SERVER_HANGUP, HangupCode.CALLER_HANGUP)
            return
        self._call(FIRST, self.order.first, sdp.build(self._relay.address, port))
        self.state = State.FIRST_RINGING

    def hangup(self) -> None:
        """End the call from the API's side (or on shutdown)."""
        if self.state is State.ENDED:
            return
        cause = HangupCode.NORMAL if self.state is State.BRIDGED else HangupCode.CANCEL
        self._end(cause, HangupCode.CALLER_HANGUP)

    # legs

    def _call(self, leg: str, target: Target, offer: str) -> None:
        from sippy.CCEvents import CCEventTry
        from sippy.MsgBody import MsgBody
        from sippy.SipCallId import SipCallId
        from sippy.Time.Timeout import Timeout

        ua = _user_agent_class()(
            self._config,
            self._leg_event,
            target.username,
            target.password,
            target.address,
        )
        body = MsgBody(offer)
        body.needs_update = False
        self._legs[leg] = ua
        ua.recvEvent(CCEventTry((SipCallId(), target.caller_id, target.user, body, None, "")))
        self._timers[leg] = Timeout(self._ring_timeout, target.ring_timeout, 1, leg)

    def _leg_of(self, ua: Any) -> str:
        for leg, candidate in self._legs.items():
            if candidate is ua:
                return leg
        return ""

    def _leg_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventRing

        leg = self._leg_of(ua)
        if not leg or self.state is State.ENDED:
            return
        now = time.monotonic()
        if isinstance(event, CCEventRing):
            self._heard_from.add(leg)
            code = event.getData()[0] if event.getData() else 180
            if code in (180, 183):
                self._emit(LegRinging(now, self.call_id, leg))
        elif isinstance(event, CCEventConnect):
            self._heard_from.add(leg)
            self._cancel_timer(leg)
            body = event.getData()[2]
            self._answered(leg, sdp.parse(str(body)) if body is not None else None, now)
        elif isinstance(event, CCEventFail):
            status = int(event.getData()[0])
            self._failed(leg, status)
        elif isinstance(event, CCEventDisconnect):
            self._end(
                HangupCode.NORMAL,
                HangupCode.CALLER_HANGUP if leg == FIRST else HangupCode.CALLEE_HANGUP,
            )

    def _answered(self, leg: str, media: sdp.MediaOffer | None, now: float) -> None:
        if media is None:
            log.warning("answer without audio", extra={"call_id": self.call_id, "leg": leg})
            self._end(HangupCode.CALL_INVALID, HangupCode.CALLER_HANGUP)
            return
        self._emit(LegAnswered(now, self.call_id, leg))
        if leg == FIRST:
            self.state = State.FIRST_ANSWERED
            port = self._relay.agent_answered(self.call_id, media.address, media.port)
            codecs = sdp.common_codecs(media.payload_types) or (0, 8, 101)
            self._call(SECOND, self.order.second, sdp.build(self._relay.address, port, codecs))
            self.state = State.SECOND_RINGING
            return
        self._relay.customer_answered(self.call_id, media.address, media.port)
        if self.order.record:
            from_customer, from_agent = self._relay.record(self.call_id)
            self._captures = (str(from_agent), str(from_customer))
        self.state = State.BRIDGED
        self._emit(CallBridged(now, self.call_id))

    def _failed(self, leg: str, status: int) -> None:
        cause = cause_of_failure(status)
        if status in (408, 503) and leg not in self._heard_from:
            # Nothing ever answered the INVITE: the line itself is down.
            cause = HangupCode.OUTBOUND_LINE_FAILURE
        direction = HangupCode.CALLER_HANGUP if leg == FIRST else HangupCode.CALLEE_HANGUP
        self._legs.pop(leg, None)
        self._end(cause, direction, status)

    def _ring_timeout(self, leg: str) -> None:
        self._timers.pop(leg, None)
        if self.state is State.ENDED:
            return
        first = leg == FIRST
        self._end(
            HangupCode.USER_TIMED_OUT if first else HangupCode.NO_ANSWER,
            HangupCode.CALLER_HANGUP if first else HangupCode.CALLEE_HANGUP,
        )

    def _cancel_timer(self, leg: str) -> None:
        timer = self._timers.pop(leg, None)
        if timer is not None:
            timer.cancel()

    def _end(self, cause: HangupCode, direction: HangupCode, status: int | None = None) -> None:
        if self.state is State.ENDED:
            return
        self.state = State.ENDED
        from sippy.CCEvents import CCEventDisconnect

        for leg in list(self._timers):
            self._cancel_timer(leg)
        for ua in self._legs.values():
            ua.event_cb = None
            ua.recvEvent(CCEventDisconnect())
        self._legs.clear()
        self._relay.close(self.call_id)
        self._emit(
            CallEnded(
                time.monotonic(), self.call_id, cause.value, direction.value, status, self._captures
            )
        )
        self._done(self.call_id)


_UA_CLASS: Any = None


def _user_agent_class() -> Any:
    """sippy's UA, except that a final error answer to an INVITE reaches the UA only after
    the transaction has sent its ACK.

    sippy hands the response to the UA first; on a 401/407 the UA then sends the
    authenticated INVITE before the ACK of the challenge, which strict carriers reject.
    Deferring to the next turn of the event loop puts the ACK first.
    """
    global _UA_CLASS
    if _UA_CLASS is None:
        from sippy.Core.EventDispatcher import ED2
        from sippy.UA import UA

        class OrderedUA(UA):  # type: ignore[misc]
            def recvResponse(self, resp: Any, tr: Any) -> None:
                if resp.getSCode()[0] >= 300:
                    ED2.callFromThread(super().recvResponse, resp, tr)
                    return
                super().recvResponse(resp, tr)

        _UA_CLASS = OrderedUA
    return _UA_CLASS


class CallTable:
    """The calls in progress, by call id (SIP thread only)."""

    def __init__(
        self, sip_config: dict[str, Any], relay: MediaRelay, emit: Callable[[SwitchEvent], None]
    ) -> None:
        self._config = sip_config
        self._relay = relay
        self._emit = emit
        self.calls: dict[str, BridgedCall] = {}

    def bridge(self, order: Bridge) -> None:
        call = BridgedCall(order, self._config, self._relay, self._emit, self._forget)
        self.calls[order.call_id] = call
        call.start()

    def hangup(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.hangup()

    def hangup_all(self) -> None:
        for call in list(self.calls.values()):
            call.hangup()

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
