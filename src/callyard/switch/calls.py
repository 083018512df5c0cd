"""Calls placed by the switch (third-party call control), one state machine each.

Two-leg calls (Bridge; a phone's own call):

    new -> first_ringing -> first_answered -> second_ringing -> bridged -> ended(cause)

Dialed calls (Dial: the customer first, held until services decide):

    new -> first_ringing -> held -> second_ringing -> bridged -> ended(cause)
                             ^ |         | agent leg failed (LegFailed)
                             | '---------'
                             '-> playing -> ended(server hangup)

Runs in the SIP thread; every transition is reported as an event with a monotonic time.
The relay anchors media: the first party is offered a relay port before anybody else is
called, so no re-INVITE is ever needed. The relay's answers (the ports it allocates)
come back as callbacks on the SIP thread: a call waits for them in its current state,
and a callback finding the call in another state (hung up meanwhile) does nothing.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any

from callyard.codes import HangupCode
from callyard.switch import sdp
from callyard.switch.causes import cause_of_failure
from callyard.switch.commands import Attach, Bridge, Dial, Play, Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegCalling,
    LegFailed,
    LegRinging,
    SwitchEvent,
)
from callyard.switch.registrar import Account
from callyard.switch.relay import (
    AGENT,
    CUSTOMER,
    PCMU,
    PROMPT_CODECS,
    MediaRelay,
    PortThen,
    RelayError,
)
from callyard.switch.routing import Refusal, Route, Router

log = logging.getLogger("callyard.switch.calls")

FIRST, SECOND = AGENT_LEG, CUSTOMER_LEG
PROMPT = "prompt"  # the timer of a prompt after which the call hangs up
# A prompt's last packets still cross the network and the phone's jitter buffer when
# the relay has sent them: the BYE waits this long after.
PROMPT_TAIL_SECONDS = 0.5
# A leg that has answered nothing at all (not even 100 Trying) after the INVITE's
# retransmissions at 0.5, 1, 2 and 4 s: the line is down, not a party that does not pick
# up. Ended as a line failure rather than after its whole ring timeout.
NO_RESPONSE_SECONDS = 8.0


_sessions = itertools.count(1)  # o= session ids of the SDP the switch writes


def _other(leg: str) -> str:
    """The other leg of a two-leg call."""
    return SECOND if leg == FIRST else FIRST


def _silence(leg: str) -> str:
    """The key of a leg's no-response timer."""
    return f"{leg}:silence"


def _other_side(side: str) -> str:
    """The other side (tag) of a relay session."""
    return CUSTOMER if side == AGENT else AGENT


class State(Enum):
    NEW = "new"
    FIRST_RINGING = "first_ringing"
    FIRST_ANSWERED = "first_answered"
    SECOND_RINGING = "second_ringing"
    HELD = "held"  # a dialed customer answered; nobody else is on the call
    PLAYING = "playing"  # a prompt plays to a dialed customer, then the call ends
    BRIDGED = "bridged"
    TRANSFERRING = "transferring"  # a leg's phone referred the call elsewhere: it rings
    ENDED = "ended"


class RelayedCall:
    """What every call through the relay shares: its legs, ring timers and ending."""

    def __init__(
        self,
        call_id: str,
        record: bool,
        sip_config: dict[str, Any],
        relay: MediaRelay,
        emit: Callable[[SwitchEvent], None],
        done: Callable[[str], None],
    ) -> None:
        self.call_id = call_id
        self.record = record
        self.state = State.NEW
        self._config = sip_config
        self._relay = relay
        self._emit = emit
        self._done = done
        self._legs: dict[str, Any] = {}
        self._heard_from: set[str] = set()
        self._timers: dict[str, Any] = {}
        self._captures: tuple[str, str] | None = None
        self.numbers: set[str] = set()  # extensions (or numbers) the call involves
        # Per leg: the relay port it was given, the codecs it was offered, and where and
        # how it receives (its SDP, codecs limited to what both sides have).
        self._ports: dict[str, int] = {}
        self._offers: dict[str, tuple[sdp.Codec, ...]] = {}
        self._media: dict[str, sdp.MediaOffer] = {}
        self._origins: dict[str, tuple[int, int]] = {}  # our SDP's o= session and version
        self._leg_numbers: dict[str, str] = {}  # the extension or number each leg reaches
        # How a leg's REFER is routed: (the referring extension, the target dialed) to
        # the route it would take as a call of that phone's (set by the call table).
        self.route_transfer: Callable[[str, str], Route | None] | None = None

    def hangup(self) -> None:
        """End the call from the API's side (or on shutdown)."""
        if self.state is State.ENDED:
            return
        cause = HangupCode.NORMAL if self.state is State.BRIDGED else HangupCode.CANCEL
        self._end(cause, HangupCode.CALLER_HANGUP)

    def _then(
        self,
        waiting: State,
        then: Callable[[int], None],
        refused: Callable[[], None] | None = None,
    ) -> PortThen:
        """A relay callback that goes on with the call if it is still `waiting`; if the
        relay refused, `refused` (by default: end the call)."""

        def go_on(port: int | None) -> None:
            if self.state is not waiting:
                return  # hung up meanwhile
            if port is not None:
                then(port)
            elif refused is not None:
                refused()
            else:
                self._end(HangupCode.SERVER_HANGUP, HangupCode.CALLER_HANGUP)

        return go_on

    def _open_and_call(self, leg: str, target: Target) -> None:
        """Open the call's relay session and call its first party, offering a relay port."""

        def call(port: int) -> None:
            self._call(leg, target, port, sdp.DEFAULT_CODECS)
            self.state = State.FIRST_RINGING

        self._relay.open(self.call_id, self._then(State.NEW, call))

    def _sdp(self, leg: str, codecs: tuple[sdp.Codec, ...], direction: str = sdp.SENDRECV) -> Any:
        """The SDP body for leg `leg`: its relay port, `codecs`, the next version of the
        leg's session description."""
        from sippy.MsgBody import MsgBody

        session, version = self._origins.get(leg, (next(_sessions), 0))
        self._origins[leg] = (session, version + 1)
        text = sdp.build(
            self._relay.address, self._ports[leg], codecs, direction, (session, version + 1)
        )
        body = MsgBody(text)
        body.needs_update = False
        return body

    def _call(self, leg: str, target: Target, port: int, codecs: tuple[sdp.Codec, ...]) -> None:
        """INVITE `target` as leg `leg`, offering relay port `port` and `codecs`."""
        from sippy.CCEvents import CCEventTry
        from sippy.SipCallId import SipCallId
        from sippy.Time.Timeout import Timeout

        ua = _user_agent_class()(
            self._config,
            self._leg_event,
            target.username,
            target.password,
            target.address,
        )
        # A new dialog of the leg (another agent for a held customer): a new session.
        self._origins.pop(leg, None)
        self._media.pop(leg, None)
        self._ports[leg] = port
        self._offers[leg] = codecs
        body = self._sdp(leg, codecs)
        ua.update_handler = partial(self._answer_update, leg)
        ua.refer_handler = partial(self._referred, leg)
        self._legs[leg] = ua
        self.numbers.add(target.user)
        self._leg_numbers[leg] = target.user
        self._emit(LegCalling(time.monotonic(), self.call_id, leg, target.user))
        ua.recvEvent(CCEventTry((SipCallId(), target.caller_id, target.user, body, None, "")))
        self._timers[leg] = Timeout(self._timed_out, target.ring_timeout, 1, leg)
        if target.ring_timeout > NO_RESPONSE_SECONDS:
            self._timers[_silence(leg)] = Timeout(self._no_response, NO_RESPONSE_SECONDS, 1, leg)

    def _leg_of(self, ua: Any) -> str:
        for leg, candidate in self._legs.items():
            if candidate is ua:
                return leg
        return ""

    def _leg_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import (
            CCEventConnect,
            CCEventDisconnect,
            CCEventFail,
            CCEventRing,
            CCEventUpdate,
        )

        leg = self._leg_of(ua)
        if not leg or self.state is State.ENDED:
            return
        now = time.monotonic()
        if isinstance(event, CCEventUpdate):
            self._reoffered(leg, ua, event.getData())
        elif isinstance(event, CCEventConnect) and leg in self._media:
            # The ACK of our answer to the leg's INVITE or re-INVITE: it carries the
            # leg's answer only when the re-INVITE had no offer.
            body = event.getData()[2]
            answer = sdp.parse(str(body)) if body is not None else None
            if answer is not None:
                self._moved(leg, answer, sdp.shared(answer.codecs, self._media[leg].codecs))
        elif isinstance(event, CCEventRing):
            self._heard_from.add(leg)
            self._cancel_timer(_silence(leg))
            code = event.getData()[0] if event.getData() else 180
            if code in (180, 183):
                self._ringing(leg, now)
        elif isinstance(event, CCEventConnect):
            self._heard_from.add(leg)
            self._cancel_timer(leg)
            self._cancel_timer(_silence(leg))
            body = event.getData()[2]
            media = self._accepted(leg, sdp.parse(str(body)) if body is not None else None)
            if media is None:
                from sippy.Core.EventDispatcher import ED2

                # Hung up on the next turn of the loop: the leg's ACK goes out first.
                ED2.callFromThread(
                    self._end, HangupCode.CALL_INVALID, HangupCode.CALLER_HANGUP, 488
                )
                return
            self._media[leg] = media
            if self.state is State.TRANSFERRING:
                self._transferred(leg, media, now)
            else:
                self._answered(leg, media, now)
        elif isinstance(event, CCEventFail) and self.state is State.TRANSFERRING:
            RelayedCall._failed(self, leg, int(event.getData()[0]))  # the call ends
        elif isinstance(event, CCEventFail):
            self._failed(leg, int(event.getData()[0]))
        elif isinstance(event, CCEventDisconnect):
            self._end(
                HangupCode.NORMAL,
                HangupCode.CALLER_HANGUP if leg == FIRST else HangupCode.CALLEE_HANGUP,
            )

    def _ringing(self, leg: str, now: float) -> None:
        self._emit(LegRinging(now, self.call_id, leg))

    def _accepted(self, leg: str, answer: sdp.MediaOffer | None) -> sdp.MediaOffer | None:
        """A leg's answer limited to the codecs it was offered; None when it names no
        voice codec that was offered, or none the other leg can receive (the relay
        cannot transcode: such a call would be bridged into silence)."""
        if answer is None:
            problem = "answer without audio"
        else:
            codecs = sdp.shared(answer.codecs, self._offers.get(leg, ()))
            other = self._media.get(_other(leg))
            if other is not None:
                codecs = sdp.shared(codecs, other.codecs)
            if sdp.has_audio(codecs):
                return replace(answer, codecs=codecs)
            problem = "answer without a codec both sides have"
        log.warning(problem, extra={"call_id": self.call_id, "leg": leg})
        return None

    def _reoffered(self, leg: str, ua: Any, body: Any) -> None:
        """A leg's re-INVITE (a codec it settles on, a hold, a resume, a session refresh):
        answered here, the relay following where it now receives."""
        from sippy.CCEvents import CCEventConnect, CCEventFail

        code, reason, answer = self._answer_update(leg, body)
        if answer is None:
            ua.recvEvent(CCEventFail((code, reason)))
        else:
            ua.recvEvent(CCEventConnect((code, reason, answer)))

    def _answer_update(self, leg: str, body: Any) -> tuple[int, str, Any]:
        """The answer to a new offer of leg `leg` (re-INVITE or UPDATE): (status, reason,
        SDP body or None). An offer without a codec the other leg has is refused (488)
        and the call goes on as it was."""
        if body is None:  # a refresh without an offer: nothing changes
            current = self._media.get(leg)
            codecs = current.codecs if current is not None else self._offers.get(leg, ())
            return 200, "OK", self._sdp(leg, codecs) if leg in self._ports else None
        offer = sdp.parse(str(body))
        if offer is None or leg not in self._ports:
            return 488, "Not Acceptable Here", None
        # What the other leg receives (its answer; while it rings, what it was offered),
        # numbered as it numbers them; with nobody else, what the offer has.
        other = self._media.get(_other(leg))
        reference = other.codecs if other is not None else self._offers.get(_other(leg))
        codecs = sdp.shared(reference, offer.codecs) if reference else sdp.relayed(offer.codecs)
        if not sdp.has_audio(codecs):
            log.info("re-offer refused: no codec in common", extra={"call_id": self.call_id})
            return 488, "Not Acceptable Here", None
        self._moved(leg, offer, sdp.shared(offer.codecs, codecs))
        return 200, "OK", self._sdp(leg, codecs, sdp.answer_direction(offer.direction))

    def _moved(self, leg: str, media: sdp.MediaOffer, codecs: tuple[sdp.Codec, ...]) -> None:
        """Leg `leg` now receives as `media` says, with `codecs`: the relay sends there
        (unless it is a hold's address)."""
        current = self._media.get(leg)
        moved = current is None or (current.address, current.port) != (media.address, media.port)
        if moved and not media.on_hold and media.port:
            self._relay.update(self.call_id, self._relay_side(leg), media.address, media.port)
        self._media[leg] = replace(media, codecs=codecs)

    # The relay side (tag) where leg FIRST receives; SECOND is on the other one.
    _first_side = AGENT

    def _relay_side(self, leg: str) -> str:
        """The relay side (tag) where leg `leg` receives."""
        return self._first_side if leg == FIRST else _other_side(self._first_side)

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        """Leg `leg` answered (at `now`) with `media`; reports LegAnswered."""
        raise NotImplementedError

    def _bridged(self, now: float) -> None:
        """Media flows; the relay records both directions when the call is recorded."""
        self.state = State.BRIDGED
        if self.record:
            # Kept as (from leg FIRST: the agent or calling phone, from the customer).
            by_side = tuple(str(path) for path in self._relay.record(self.call_id))
            first, second = by_side if self._first_side == CUSTOMER else by_side[::-1]
            self._captures = (first, second)
        self._emit(CallBridged(now, self.call_id))

    def _failure_cause(self, leg: str, status: int) -> HangupCode:
        if status in (408, 503) and leg not in self._heard_from:
            # Nothing ever answered the INVITE: the line itself is down.
            return HangupCode.OUTBOUND_LINE_FAILURE
        return cause_of_failure(status)

    def _failed(self, leg: str, status: int) -> None:
        cause = self._failure_cause(leg, status)
        direction = HangupCode.CALLER_HANGUP if leg == FIRST else HangupCode.CALLEE_HANGUP
        self._legs.pop(leg, None)
        self._end(cause, direction, status)

    def _ring_timeout(self, leg: str) -> None:
        self._timers.pop(leg, None)
        if self.state is State.ENDED:
            return
        first = leg == FIRST
        self._end(
            self._unanswered_cause(leg),
            HangupCode.CALLER_HANGUP if first else HangupCode.CALLEE_HANGUP,
            None if leg in self._heard_from else 408,
        )

    def _unanswered_cause(self, leg: str) -> HangupCode:
        """Why a leg that was given up on did not answer: it rang out (the agent's phone
        10005, anyone else 10016), or it never answered anything (a line failure)."""
        if leg not in self._heard_from:
            return HangupCode.OUTBOUND_LINE_FAILURE
        return HangupCode.USER_TIMED_OUT if leg == FIRST else HangupCode.NO_ANSWER

    def _timed_out(self, leg: str) -> None:
        """A leg's ring timer: during a transfer the call ends (nobody took it)."""
        if self.state is State.TRANSFERRING:
            RelayedCall._ring_timeout(self, leg)
        else:
            self._ring_timeout(leg)

    def _referred(self, leg: str, dialed: str) -> tuple[int, str, Callable[[], None] | None]:
        """A leg's REFER (blind transfer) to `dialed`: the answer to give it, and what to
        do once it is given (the referring phone is hung up, the target called in its
        place). Refused while the call is not up, or where the phone could not call."""
        referrer = self._leg_numbers.get(leg, "")
        if self.state is not State.BRIDGED or _other(leg) not in self._legs:
            return 403, "Forbidden (the call is not up)", None
        route = self.route_transfer(referrer, dialed) if self.route_transfer else None
        if route is None:
            return 403, "Forbidden", None
        if isinstance(route.destination, Refusal):
            return route.destination.status, route.destination.reason, None
        target = route.destination
        return 202, "Accepted", partial(self._transfer, leg, target)

    def _transfer(self, leg: str, target: Target) -> None:
        """Hang up leg `leg` and call `target` in its place, on the same relay port; the
        other party stays where it is and is bridged to the target when it answers."""
        from sippy.CCEvents import CCEventDisconnect

        if self.state is not State.BRIDGED:
            return
        log.info(
            "blind transfer",
            extra={"call_id": self.call_id, "leg": leg, "to": target.user},
        )
        ua = self._legs.pop(leg, None)
        if ua is not None:
            ua.event_cb = None
            ua.recvEvent(CCEventDisconnect())
        self.numbers.discard(self._leg_numbers.get(leg, ""))
        self._heard_from.discard(leg)
        self.state = State.TRANSFERRING
        self._call(leg, target, self._ports[leg], self._media[_other(leg)].codecs)

    def _transferred(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        """A transfer's target answered: the relay sends it what the other party says."""
        self._relay.update(self.call_id, self._relay_side(leg), media.address, media.port)
        self.state = State.BRIDGED
        self._emit(LegAnswered(now, self.call_id, leg))

    def _no_response(self, leg: str) -> None:
        self._timers.pop(_silence(leg), None)
        if leg in self._legs and leg not in self._heard_from:
            log.warning("no response to the INVITE", extra={"call_id": self.call_id, "leg": leg})
            self._cancel_timer(leg)
            self._timed_out(leg)

    def _cancel_timer(self, leg: str) -> None:
        timer = self._timers.pop(leg, None)
        if timer is not None:
            timer.cancel()

    def _release(self, leg: str, ua: Any, cause: HangupCode, status: int | None) -> None:
        """Hang up (or cancel) one leg as the call ends."""
        from sippy.CCEvents import CCEventDisconnect

        ua.recvEvent(CCEventDisconnect())
        if leg not in self._heard_from:
            _stop_retransmitting(ua)

    def _end(self, cause: HangupCode, direction: HangupCode, status: int | None = None) -> None:
        if self.state is State.ENDED:
            return
        for leg in list(self._timers):
            self._cancel_timer(leg)
        for leg, ua in self._legs.items():
            ua.event_cb = None
            try:
                self._release(leg, ua, cause, status)
            except Exception:
                # The call ends all the same: its other legs, its session, its event.
                log.exception("call leg not released", extra={"call_id": self.call_id, "leg": leg})
        self.state = State.ENDED
        self._legs.clear()
        ended = CallEnded(
            time.monotonic(), self.call_id, cause.value, direction.value, status, self._captures
        )
        try:
            # Reported once the relay has closed the session: its captures are complete.
            self._relay.close(self.call_id, lambda: self._emit(ended))
        except Exception:
            log.exception("relay session not closed", extra={"call_id": self.call_id})
            self._emit(ended)
        finally:
            self._done(self.call_id)


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
            self.state = State.FIRST_ANSWERED

            def call_second(port: int) -> None:
                # The first party's codecs, numbered as it numbers them (whatever it
                # settles on meanwhile is in `_media` when the second one answers).
                self._call(SECOND, self.order.second, port, self._media[FIRST].codecs)
                self.state = State.SECOND_RINGING

            self._relay.agent_answered(
                self.call_id,
                media.address,
                media.port,
                self._then(State.FIRST_ANSWERED, call_second),
            )
            return
        self._relay.customer_answered(self.call_id, media.address, media.port)
        self._bridged(now)


class DialedCall(RelayedCall):
    """A predictive call: the switch calls the customer; once answered the call is held
    until services attach an agent, play a prompt, or hang up.

    The customer is offered the relay port first, so in the relay the customer takes the
    answering side (tag `agent`) and an attached agent the originating side (tag
    `customer`), as the first and second parties of a BridgedCall do.
    """

    _first_side = CUSTOMER  # an attached agent; the customer (called first) is on AGENT

    def __init__(self, order: Dial, *args: Any) -> None:
        super().__init__(order.call_id, order.record, *args)
        self.order = order
        self._agent: str | None = None  # the attached agent's number

    def start(self) -> None:
        self._open_and_call(CUSTOMER_LEG, self.order.target)

    def hangup(self) -> None:
        if self.state is State.ENDED:
            return
        answered = self.state is not State.NEW and self.state is not State.FIRST_RINGING
        cause = HangupCode.NORMAL if answered else HangupCode.CANCEL
        self._end(cause, HangupCode.CALLER_HANGUP)

    def attach(self, target: Target) -> None:
        """Call an agent for the held customer; bridged when the agent answers."""
        customer = self._media.get(CUSTOMER_LEG)
        if self.state is not State.HELD or customer is None:
            if self.state is not State.ENDED:
                log.warning("attach to a call that is not held", extra={"call_id": self.call_id})
                invalid = HangupCode.CALL_INVALID.value
                self._emit(LegFailed(time.monotonic(), self.call_id, AGENT_LEG, invalid, None))
            return
        self._heard_from.discard(AGENT_LEG)
        self._agent = target.user
        self._call(AGENT_LEG, target, self._ports[AGENT_LEG], customer.codecs)
        self.state = State.SECOND_RINGING

    def play(self, prompt: Path, hangup_after: bool) -> None:
        """Play a prompt to the held customer; hang up when it has played if asked to."""
        customer = self._media.get(CUSTOMER_LEG)
        if self.state is not State.HELD or customer is None:
            log.warning("play to a call that is not held", extra={"call_id": self.call_id})
            return
        codec = next(
            (c.payload_type for c in customer.codecs if c.payload_type in PROMPT_CODECS), PCMU
        )
        try:
            seconds = self._relay.play(self.call_id, prompt, codec, to=AGENT)
        except RelayError:
            log.exception("prompt not played", extra={"call_id": self.call_id})
            if hangup_after:
                self._end(HangupCode.SERVER_HANGUP, HangupCode.CALLER_HANGUP)
            return
        if hangup_after:
            from sippy.Time.Timeout import Timeout

            self.state = State.PLAYING
            self._timers[PROMPT] = Timeout(self._played, seconds + PROMPT_TAIL_SECONDS, 1)

    def _played(self) -> None:
        self._timers.pop(PROMPT, None)
        if self.state is State.PLAYING:
            self._end(HangupCode.SERVER_HANGUP, HangupCode.CALLER_HANGUP)

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        if leg == CUSTOMER_LEG:

            def hold(port: int) -> None:
                # Held (and reported answered, so services may attach) once the relay
                # has the port an agent will be offered.
                self._ports[AGENT_LEG] = port
                self.state = State.HELD
                self._emit(LegAnswered(now, self.call_id, leg))

            self._relay.agent_answered(
                self.call_id, media.address, media.port, self._then(State.FIRST_RINGING, hold)
            )
            return
        self._emit(LegAnswered(now, self.call_id, leg))
        # A prompt still playing to the customer would drown the agent out.
        self._relay.stop_playing(self.call_id, to=AGENT)
        self._relay.customer_answered(self.call_id, media.address, media.port)
        self._bridged(now)

    def _failed(self, leg: str, status: int) -> None:
        if leg != AGENT_LEG:
            super()._failed(leg, status)
            return
        self._agent_failed(self._failure_cause(leg, status), status, cancel=False)

    def _ring_timeout(self, leg: str) -> None:
        if leg != AGENT_LEG:
            super()._ring_timeout(leg)
            return
        self._timers.pop(leg, None)
        if self.state is State.SECOND_RINGING:
            unheard = leg not in self._heard_from
            cause = HangupCode.OUTBOUND_LINE_FAILURE if unheard else HangupCode.NO_ANSWER
            self._agent_failed(cause, 408 if unheard else None, cancel=True)

    def _agent_failed(self, cause: HangupCode, status: int | None, cancel: bool) -> None:
        """The agent's leg is over but the customer is still there: hold again."""
        from sippy.CCEvents import CCEventDisconnect

        self._cancel_timer(AGENT_LEG)
        self._cancel_timer(_silence(AGENT_LEG))
        if self._agent is not None and self._agent != self.order.target.user:
            self.numbers.discard(self._agent)
        self._agent = None
        ua = self._legs.pop(AGENT_LEG, None)
        if ua is not None:
            ua.event_cb = None
            if cancel:
                ua.recvEvent(CCEventDisconnect())
                if AGENT_LEG not in self._heard_from:
                    _stop_retransmitting(ua)
        self.state = State.HELD
        self._emit(LegFailed(time.monotonic(), self.call_id, AGENT_LEG, cause.value, status))


# SIP answers to a phone whose call could not be put through, by hangup cause.
_REFUSAL = {
    HangupCode.USER_BUSY: (486, "Busy Here"),
    HangupCode.REFUSED: (603, "Decline"),
    HangupCode.NOT_FOUND: (404, "Not Found"),
    HangupCode.NO_ANSWER: (480, "Temporarily Unavailable"),
    HangupCode.OUTBOUND_LINE_FAILURE: (503, "Service Unavailable"),
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
    ) -> None:
        super().__init__(call_id, True, *args)
        self.company_id = company_id
        self.caller = caller
        self._route = route
        self._from_carrier = from_carrier
        self._next: list[Target] = []  # parties still to try, in turn
        self.numbers.add(caller)
        self._leg_numbers[FIRST] = caller

    _first_side = CUSTOMER  # the phone opened the relay session

    def take(self, request: Any, transaction: Any) -> Any:
        """Hand the phone's INVITE to a UA of its own; answers what sippy should send."""
        ua = _user_agent_class()(self._config, self._leg_event)
        ua.update_handler = partial(self._answer_update, FIRST)
        ua.refer_handler = partial(self._referred, FIRST)
        self._legs[FIRST] = ua
        return ua.recvRequest(request, transaction)

    def fail(self) -> None:
        """End the call after an internal error: the phone is refused (500) if its UA
        can still answer, and CallEnded is reported."""
        self._end(HangupCode.SERVER_HANGUP, HangupCode.CALLEE_HANGUP, 500)

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
                route.method.value,
                route.caller_id,
                self._from_carrier,
            )
        )
        offer = sdp.parse(str(body)) if body is not None else None
        codecs = sdp.relayed(offer.codecs) if offer is not None else ()
        if offer is None or not sdp.has_audio(codecs):
            # Nothing the relay carries (it cannot transcode): refused, not silence.
            self._refuse(488, "Not Acceptable Here", HangupCode.CALL_INVALID)
            return
        self._media[FIRST] = replace(offer, codecs=codecs)
        if isinstance(route.destination, Refusal):
            refusal = route.destination
            self._refuse(refusal.status, refusal.reason, refusal.cause)
            return
        target = route.destination
        self._next = list(route.then)

        def call(port: int) -> None:
            self._call(SECOND, target, port, codecs)
            self.state = State.SECOND_RINGING

        def refuse() -> None:
            self._refuse(503, "Service Unavailable", HangupCode.SERVER_HANGUP)

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
        from sippy.CCEvents import CCEventDisconnect

        if not self._next or self.state is not State.SECOND_RINGING:
            return False
        self._cancel_timer(SECOND)
        self._cancel_timer(_silence(SECOND))
        ua = self._legs.pop(SECOND, None)
        if ua is not None:
            ua.event_cb = None
            if cancel:
                ua.recvEvent(CCEventDisconnect())
                if SECOND not in self._heard_from:
                    _stop_retransmitting(ua)
        self.numbers.discard(self._leg_numbers.pop(SECOND, ""))
        self._heard_from.discard(SECOND)
        target = self._next.pop(0)
        self._call(SECOND, target, self._ports[SECOND], self._offers[SECOND])
        return True

    def _refuse(self, status: int, reason: str, cause: HangupCode) -> None:
        from sippy.CCEvents import CCEventFail

        ua = self._legs.pop(FIRST, None)
        if ua is not None:
            ua.event_cb = None
            ua.recvEvent(CCEventFail((status, reason)))
        self._end(cause, HangupCode.CALLEE_HANGUP, status)

    def _ringing(self, leg: str, now: float) -> None:
        from sippy.CCEvents import CCEventRing

        super()._ringing(leg, now)
        phone = self._legs.get(FIRST)
        if leg == SECOND and phone is not None:
            phone.recvEvent(CCEventRing((180, "Ringing", None)))

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        from sippy.CCEvents import CCEventConnect

        self._emit(LegAnswered(now, self.call_id, leg))

        def answer_phone(port: int) -> None:
            # What the far end took, numbered as it numbers it: the phone sends as the
            # far end expects to receive.
            self._ports[FIRST] = port
            body = self._sdp(FIRST, media.codecs)
            self._legs[FIRST].recvEvent(CCEventConnect((200, "OK", body)))
            self._bridged(now)

        self._relay.agent_answered(
            self.call_id,
            media.address,
            media.port,
            self._then(State.SECOND_RINGING, answer_phone),
        )

    def _release(self, leg: str, ua: Any, cause: HangupCode, status: int | None) -> None:
        from sippy.CCEvents import CCEventFail

        if leg == FIRST and self.state is not State.BRIDGED:
            code, reason = _REFUSAL.get(cause, (status or 480, "Temporarily Unavailable"))
            if status is not None and status >= 400:
                code, reason = status, "Call Failed"
            ua.recvEvent(CCEventFail((code, reason)))
            return
        super()._release(leg, ua, cause, status)


def _stop_retransmitting(ua: Any) -> None:
    """Drop a leg's INVITE that nothing has answered (not even 100 Trying) once the call
    gave up on it. A CANCEL may only follow a response, so sippy would go on sending the
    INVITE for 32 s: a line that comes back meanwhile would ring a customer for a call
    that is over."""
    from sippy.SipTransactionManager import TERMINATED, TRYING
    from sippy.Time.Timeout import Timeout

    transaction = getattr(ua, "tr", None)
    if transaction is None or transaction.state is not TRYING:
        return
    for name in ("teA", "teB"):
        timer = getattr(transaction, name)
        if timer is not None:
            timer.cancel()
            setattr(transaction, name, None)
    transaction.state = TERMINATED  # a late answer is ignored
    # Forgotten as sippy forgets any ended client transaction (its timer C).
    transaction.teC = Timeout(ua.global_config["_sip_tm"].timerC, 32.0, 1, transaction)


def _unanswered(transaction: Any) -> bool:
    """Whether a server transaction has sent no final response yet."""
    from sippy.SipTransactionManager import RINGING, TRYING

    return transaction.state in (TRYING, RINGING)


_UA_CLASS: Any = None


def answer_updates() -> None:
    """Make an established dialog answer UPDATE (RFC 3311; session refreshes, RFC 4028)
    with its UA's `update_handler`; sippy leaves it unanswered."""
    from sippy.MsgBody import MsgBody
    from sippy.SipGenericHF import SipGenericHF
    from sippy.SipHeader import SipHeader
    from sippy.UaStateConnected import UaStateConnected

    def update(state: Any, request: Any) -> None:
        ua = state.ua
        handler = getattr(ua, "update_handler", None)
        code, reason, body = handler(request.getBody()) if handler else (200, "OK", None)
        if isinstance(body, str):
            body = MsgBody(body)
        response = request.genResponse(code, reason, body, server=ua.local_ua)
        if code < 300 and ua.lContact is not None:
            response.appendHeader(SipHeader(name="contact", body=ua.lContact))
        ua.global_config["_sip_tm"].sendResponse(response)

    def refer(state: Any, request: Any) -> None:
        ua = state.ua
        if request.countHFs("refer-to") == 0:
            request.sendResponse(400, "Bad Request (no Refer-To)")
            return
        dialed = str(request.getHFBody("refer-to").getUrl().username or "")
        handler = getattr(ua, "refer_handler", None)
        code, reason, then = handler(dialed) if handler else (501, "Not Implemented", None)
        request.sendResponse(code, reason)
        if then is None:
            return
        # RFC 3515: the referrer learns how the REFER went, then this dialog ends.
        notify = ua.genRequest(
            "NOTIFY",
            body=MsgBody("SIP/2.0 200 OK\r\n", mtype="message/sipfrag"),
            extra_headers=(
                SipHeader(name="event", body=SipGenericHF("refer")),
                SipHeader(
                    name="subscription-state", body=SipGenericHF("terminated;reason=noresource")
                ),
            ),
        )
        ua.newTransaction(notify)
        then()

    UaStateConnected.recv_request_handlers = {
        **UaStateConnected.recv_request_handlers,
        "UPDATE": update,
        "REFER": refer,
    }


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
            # Answers an UPDATE's offer: (status, reason, SDP body or None).
            update_handler: Callable[[Any], tuple[int, str, Any]] | None = None
            # Answers a REFER to a user: (status, reason, what to do once answered).
            refer_handler: Callable[[str], tuple[int, str, Any]] | None = None

            def recvResponse(self, resp: Any, tr: Any) -> None:
                if resp.getSCode()[0] >= 300:
                    ED2.callFromThread(super().recvResponse, resp, tr)
                    return
                super().recvResponse(resp, tr)

        answer_updates()

        _UA_CLASS = OrderedUA
    return _UA_CLASS


class CallTable:
    """The calls in progress, by call id (SIP thread only)."""

    def __init__(
        self,
        sip_config: dict[str, Any],
        relay: MediaRelay,
        router: Router,
        emit: Callable[[SwitchEvent], None],
    ) -> None:
        self._config = sip_config
        self.relay = relay
        self._router = router
        self._emit = emit
        self.calls: dict[str, RelayedCall] = {}

    def bridge(self, order: Bridge) -> None:
        call = BridgedCall(order, self._config, self.relay, self._emit, self._forget)
        self.calls[order.call_id] = call
        call.route_transfer = self._transfer_route
        call.start()

    def dial(self, order: Dial) -> None:
        call = DialedCall(order, self._config, self.relay, self._emit, self._forget)
        self.calls[order.call_id] = call
        call.route_transfer = self._transfer_route
        call.start()

    def attach(self, command: Attach) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, DialedCall):
            call.attach(command.target)

    def play(self, command: Play) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, DialedCall):
            call.play(command.prompt, command.hangup_after)

    def incoming(self, request: Any, transaction: Any, caller: Account) -> Any:
        """A phone's INVITE: answered by a UA of its own, routed by the table."""

        def route(dialed: str) -> Route:
            return self._router.route(caller, dialed, self.in_call)

        return self._take(request, transaction, caller.company_id, caller.number, route, False)

    def from_carrier(self, request: Any, transaction: Any, company_id: int, route: Route) -> Any:
        """A carrier's INVITE to a company's number, already routed."""
        calling = route.caller_id
        return self._take(request, transaction, company_id, calling, lambda _: route, True)

    def carrier_route(
        self, source: tuple[str, int], dialed: str, calling: str
    ) -> tuple[int, Route] | None:
        """The company (0: none) and route of a carrier's call, or None if the call
        from `source` is no carrier's."""
        return self._router.from_carrier(source, dialed, calling, self.in_call)

    def _take(
        self,
        request: Any,
        transaction: Any,
        company_id: int,
        caller: str,
        route: Callable[[str], Route],
        from_carrier: bool,
    ) -> Any:
        call = InboundCall(
            str(uuid.uuid4()),
            company_id,
            caller,
            route,
            from_carrier,
            self._config,
            self.relay,
            self._emit,
            self._forget,
        )
        self.calls[call.call_id] = call
        call.route_transfer = self._transfer_route
        try:
            return call.take(request, transaction)
        except Exception:
            log.exception("phone's call failed", extra={"call_id": call.call_id})
            call.fail()
            if _unanswered(transaction):
                raise  # the stack answers 500
            return None

    def in_call(self, number: str) -> bool:
        """Whether a call in progress involves this extension (or number)."""
        return any(number in call.numbers for call in self.calls.values())

    def hangup(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.hangup()

    def hangup_all(self) -> None:
        """End every call; one that fails to end is logged and dropped, and the others
        still end."""
        for call in list(self.calls.values()):
            try:
                call.hangup()
            except Exception:
                log.exception("call not hung up", extra={"call_id": call.call_id})
                self.calls.pop(call.call_id, None)

    def _transfer_route(self, referrer: str, dialed: str) -> Route | None:
        """Where a phone's REFER goes: where its own call to `dialed` would (None when
        the referrer is no extension, e.g. a carrier)."""
        account = self._router.account(referrer)
        if account is None or not account.enabled:
            return None
        return self._router.route(account, dialed, self.in_call)

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
