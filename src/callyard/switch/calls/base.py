"""What every call shares: its states, legs, ring timers, transfers and ending."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from enum import Enum
from functools import partial
from typing import Any, ClassVar

from callyard.domain.hangups import EndReason, Party, reason_of_failure
from callyard.switch import sdp
from callyard.switch.calls.leg import Bridge, Leg, LegState
from callyard.switch.calls.user_agent import user_agent_class
from callyard.switch.commands import Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallBridged,
    CallEnded,
    LegAnswered,
    LegCalling,
    LegRinging,
    SwitchEvent,
)
from callyard.switch.relay import (
    SIDE_A,
    SIDE_B,
    MediaAt,
    MediaRelay,
    PortThen,
    media_at,
)
from callyard.switch.routing import Refusal, Route
from callyard.switch.websocket import is_websocket, transport_of

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


SDP_SESSIONS = itertools.count(1)  # o= session ids of the SDP the switch writes
BRIDGE_SESSIONS = itertools.count(1)  # numbers browser legs' relay sessions
# The answer to a REFER: (status, reason, what to do once it is sent).
Referred = tuple[int, str, Callable[[], None] | None]


def other_leg(leg: str) -> str:
    """The other leg of a two-leg call."""
    return SECOND if leg == FIRST else FIRST


def silence_timer(leg: str) -> str:
    """The key of a leg's no-response timer."""
    return f"{leg}:silence"


class State(Enum):
    NEW = "new"
    FIRST_RINGING = "first_ringing"
    FIRST_ANSWERED = "first_answered"
    SECOND_RINGING = "second_ringing"
    HELD = "held"  # a customer (a Dial's, a queued caller) waits; nobody else is on the call
    PLAYING = "playing"  # a prompt plays to a held customer, then the call ends
    BRIDGED = "bridged"
    TRANSFERRING = "transferring"  # a leg's phone referred the call elsewhere: it rings
    ENDED = "ended"


def transitions(*steps: tuple[State, State]) -> Mapping[State, frozenset[State]]:
    """A call's transition table from its steps; every state but the end may end."""
    table: dict[State, set[State]] = {state: set() for state in State}
    for before, after in steps:
        table[before].add(after)
    for state in State:
        if state is not State.ENDED:
            table[state].add(State.ENDED)
    return {state: frozenset(after) for state, after in table.items()}


class RelayedCall:
    """What every call through the relay shares: its legs, ring timers and ending."""

    # The call's states and their transitions, in one place (each kind of call its own).
    TRANSITIONS: ClassVar[Mapping[State, frozenset[State]]] = transitions(
        (State.NEW, State.FIRST_RINGING),
        (State.FIRST_RINGING, State.FIRST_ANSWERED),
        (State.FIRST_ANSWERED, State.SECOND_RINGING),
        (State.SECOND_RINGING, State.BRIDGED),
        (State.BRIDGED, State.TRANSFERRING),
        (State.TRANSFERRING, State.BRIDGED),
    )

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
        self._legs: dict[str, Leg] = {}  # the dialog of each leg (FIRST, SECOND) now
        self._timers: dict[str, Any] = {}
        self._captures: tuple[str, str] | None = None
        self.numbers: set[str] = set()  # extensions (or numbers) the call involves
        # The relay port each leg receives on: kept when another dialog takes the leg's
        # place (an agent after one that failed, a group's next member, a transfer).
        self._ports: dict[str, int] = {}
        # How a leg's REFER is routed: (the referring extension, the target dialed) to
        # the route it would take as a call of that phone's (set by the call table).
        self.route_transfer: Callable[[str, str], Route | None] | None = None
        # How a leg's REFER with Replaces is carried out: (this call, the referring leg,
        # the Replaces header) to the answer to give (set by the call table).
        self.replace_with: Callable[[RelayedCall, str, str], Referred] | None = None
        # A transfer accepted while both parties have answered but the relay has not yet
        # confirmed the bridge: carried out once it has.
        self._transfer_when_bridged: Callable[[], None] | None = None
        self.on_ended: list[Callable[[], None]] = []  # run once CallEnded is reported

    def hangup(self, status: int | None = None) -> None:
        """End the call from the API's side (or on shutdown). Only a call that holds its
        caller for services refuses it with `status` (QueuedCall); here it does not apply."""
        if self.state is State.ENDED:
            return
        cause = EndReason.NORMAL if self.state is State.BRIDGED else EndReason.CANCELLED
        self._end(cause, Party.CALLER)

    def _enter(self, state: State) -> bool:
        """Take the transition to `state`, if the call's table has it; a transition it
        has not is a fault of the switch's, logged, and the call stays where it is."""
        if state not in self.TRANSITIONS[self.state]:
            log.error(
                "call transition refused",
                extra={"call_id": self.call_id, "from": self.state.value, "to": state.value},
            )
            return False
        self.state = state
        return True

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
                self._end(EndReason.SERVER_HANGUP, Party.CALLER)

        return go_on

    def _open_and_call(self, leg: str, target: Target) -> None:
        """Open the call's relay session and call its first party, offering a relay port."""

        def call(port: int) -> None:
            self._call(leg, target, port, sdp.DEFAULT_CODECS)
            self._enter(State.FIRST_RINGING)

        self._relay.open(self.call_id, self._then(State.NEW, call))

    # Which relay side each leg receives on: the party called first answers on side b,
    # the other party joins it on side a (calls that reach the switch say otherwise).
    SIDES: ClassVar[Mapping[str, str]] = {FIRST: SIDE_B, SECOND: SIDE_A}

    def _media(self, leg: str) -> sdp.MediaOffer | None:
        """Where and how leg `leg` receives, once it answered (or offered, a phone)."""
        party = self._legs.get(leg)
        return party.media if party is not None else None

    def _heard(self, leg: str) -> bool:
        party = self._legs.get(leg)
        return party is not None and party.heard

    def _has_answered(self, leg: str) -> bool:
        """Whether leg `leg` answered (or, a caller's, was answered)."""
        party = self._legs.get(leg)
        return party is not None and party.state is LegState.ANSWERED

    def _party(self, leg: str) -> Party:
        """The side of the call leg `leg` is, as CallEnded names who ended it."""
        return Party.CALLER if leg == FIRST else Party.CALLEE

    def _sdp(self, leg: str, codecs: tuple[sdp.Codec, ...], direction: str = sdp.SENDRECV) -> Any:
        """The SDP body for leg `leg`: its relay port, `codecs`, the next version of the
        leg's session description."""
        from sippy.MsgBody import MsgBody

        party = self._legs[leg]
        session, version = party.origin or (next(SDP_SESSIONS), 0)
        party.origin = (session, version + 1)
        address, port = self._local(leg)
        if party.bridge is not None:
            address, port = self._relay.address, party.bridge.browser_port
        secure = self._secure_of(party) if party.browser else None
        if secure is not None:
            secure = replace(secure, setup=dtls_role(party.media))
        text = sdp.build(address, port, codecs, direction, (session, version + 1), secure)
        body = MsgBody(text)
        body.needs_update = False
        return body

    def _local(self, leg: str) -> tuple[str, int]:
        """Where leg `leg` sends its media: the relay's port for it."""
        return self._relay.address, self._ports[leg]

    def _reoffer(
        self,
        leg: str,
        codecs: tuple[sdp.Codec, ...],
        then: Callable[[sdp.MediaOffer | None], None],
    ) -> None:
        """Send leg `leg` a re-INVITE offering where it now sends (`_local`); `then`
        gets its answer, or None when it refused (the call goes on)."""
        from sippy.CCEvents import CCEventUpdate

        party = self._legs[leg]
        party.reoffered = then
        party.ua.recvEvent(CCEventUpdate(self._sdp(leg, codecs)))

    def _call(self, leg: str, target: Target, port: int, codecs: tuple[sdp.Codec, ...]) -> None:
        """INVITE `target` as leg `leg`, offering relay port `port` and `codecs` (to a
        browser, once the relay gave the port's DTLS and ICE)."""
        from sippy.Time.Timeout import Timeout

        browser = is_websocket(target.address)
        ua = user_agent_class()(
            self._config,
            self._leg_event,
            target.username,
            target.password,
            target.address,
            nh_transport=transport_of(target.address),
        )
        # A new dialog of the leg (another agent for a held customer): a new session.
        # A party mixed into the call (not one of its two) has no side of the relay.
        party = Leg(leg, target.user, ua, self.SIDES.get(leg, ""), codecs, browser)
        self._legs[leg] = party
        self._ports[leg] = port
        ua.update_handler = partial(self._answer_update, leg)
        ua.refer_handler = partial(self._referred, leg)
        self.numbers.add(target.user)
        self._emit(LegCalling(time.monotonic(), self.call_id, leg, target.user))
        invite = partial(self._invite, party, target.caller_id)
        if browser and self.BRIDGES_BROWSERS:
            self._open_bridge(party, invite)
        elif browser and party.side:
            # The relay's end made anew for this browser (another may have had it).
            self._relay.secure_side(self.call_id, party.side, lambda _secure: invite())
        else:
            invite()
        self._timers[leg] = Timeout(self._timed_out, target.ring_timeout, 1, leg)
        if target.ring_timeout > NO_RESPONSE_SECONDS:
            self._timers[silence_timer(leg)] = Timeout(
                self._no_response, NO_RESPONSE_SECONDS, 1, leg
            )

    def _invite(self, party: Leg, caller_id: str) -> None:
        """Send leg `party` its INVITE, unless the call let go of it meanwhile; a browser
        the relay has no DTLS and ICE for fails at once."""
        from sippy.CCEvents import CCEventTry
        from sippy.SipCallId import SipCallId

        leg = party.name
        if self._legs.get(leg) is not party or self.state is State.ENDED:
            return
        if party.browser and self._secure_of(party) is None:
            self._failed(leg, 503)
            return
        body = self._sdp(leg, party.offered)
        party.ua.recvEvent(CCEventTry((SipCallId(), caller_id, party.number, body, None, "")))

    # Calls that mix their parties give each browser leg a relay session of its own.
    BRIDGES_BROWSERS: ClassVar[bool] = False

    def _open_bridge(self, party: Leg, then: Callable[[], None]) -> None:
        """Open browser leg `party`'s own relay session (`Bridge`), its side a facing
        where the call wants the leg (`_local`); `then` once it is open (or refused:
        the leg then has no DTLS and ICE and fails)."""
        session = f"{self.call_id}~{party.name}~{next(BRIDGE_SESSIONS)}"
        address, port = self._local(party.name)
        if address == self._relay.address:  # the call's own session: reached on this host
            address = self._relay.local
        self._relay.internal(session, SIDE_A)

        def plain_side(browser_port: int | None) -> None:
            if browser_port is None:
                then()
                return

            def opened(plain_port: int | None) -> None:
                if plain_port is not None and self._legs.get(party.name) is party:
                    party.bridge = Bridge(session, browser_port, plain_port)
                else:
                    self._relay.close(session, lambda: None)
                then()

            self._relay.side_b_at(session, (self._relay.local, 9, None), opened)

        self._relay.open_from(session, (address, port, None), plain_side, for_browser=True)

    def _secure_of(self, party: Leg) -> sdp.SecureMedia | None:
        """The relay's DTLS and ICE for browser leg `party` (its bridge's, if it has one)."""
        if party.bridge is not None:
            return self._relay.secure(party.bridge.session, SIDE_B)
        return self._relay.secure(self.call_id, party.side)

    def _toward(self, leg: str, media: sdp.MediaOffer) -> MediaAt:
        """Where the call sends leg `leg`'s audio, the leg receiving as `media` says: there,
        or for a bridged browser its bridge's plain side (the bridge told of `media`)."""
        party = self._legs.get(leg)
        bridge = party.bridge if party is not None else None
        if party is not None and party.side:
            self._relay.internal(self.call_id, party.side, bridge is not None)
        if bridge is None:
            return media_at(media)
        if bridge.browser_at != (media.address, media.port):
            bridge.browser_at = (media.address, media.port)
            self._relay.update(bridge.session, SIDE_B, media_at(media))
        return self._relay.local, bridge.plain_port, None

    def _close_bridge(self, party: Leg) -> None:
        bridge, party.bridge = party.bridge, None
        if bridge is not None:
            self._relay.close(bridge.session, lambda: None)

    def _leg_of(self, ua: Any) -> str:
        for leg, party in self._legs.items():
            if party.ua is ua:
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
        party = self._legs[leg]
        now = time.monotonic()
        if party.reoffered is not None and isinstance(event, CCEventConnect | CCEventFail):
            # The answer to a re-INVITE of ours (a failure leaves the dialog as it was).
            then, party.reoffered = party.reoffered, None
            body = event.getData()[2] if isinstance(event, CCEventConnect) else None
            offer = sdp.parse(str(body)) if body is not None else None
            then(self._accepted(leg, offer) if offer is not None else None)
        elif isinstance(event, CCEventUpdate):
            self._reoffered(leg, ua, event.getData())
        elif isinstance(event, CCEventConnect) and party.media is not None:
            # The ACK of our answer to the leg's INVITE or re-INVITE: it carries the
            # leg's answer only when the re-INVITE had no offer.
            body = event.getData()[2]
            answer = sdp.parse(str(body)) if body is not None else None
            if answer is not None:
                self._moved(leg, answer, sdp.shared(answer.codecs, party.media.codecs))
        elif isinstance(event, CCEventRing):
            self._cancel_timer(silence_timer(leg))
            code = event.getData()[0] if event.getData() else 180
            ringing = code in (180, 183)
            moved = party.move(LegState.RINGING if ringing else LegState.PROCEEDING, now)
            if moved and ringing:
                self._ringing(leg, now)
        elif isinstance(event, CCEventConnect):
            party.move(LegState.ANSWERED, now)
            self._cancel_timer(leg)
            self._cancel_timer(silence_timer(leg))
            body = event.getData()[2]
            media = self._accepted(leg, sdp.parse(str(body)) if body is not None else None)
            if media is None:
                from sippy.Core.EventDispatcher import ED2

                # Hung up on the next turn of the loop: the leg's ACK goes out first.
                ED2.callFromThread(self._end, EndReason.INVALID, Party.CALLER, 488)
                return
            party.media = media
            if self.state is State.TRANSFERRING:
                self._transferred(leg, media, now)
            else:
                self._answered(leg, media, now)
        elif isinstance(event, CCEventFail) and self.state is State.TRANSFERRING:
            RelayedCall._failed(self, leg, int(event.getData()[0]))  # the call ends
        elif isinstance(event, CCEventFail):
            self._failed(leg, int(event.getData()[0]))
        elif isinstance(event, CCEventDisconnect):
            self._hung_up(leg)

    def _hung_up(self, leg: str) -> None:
        """Leg `leg` hung up (a BYE; a caller's CANCEL): the call ends."""
        self._end(EndReason.NORMAL, self._party(leg))

    def _ringing(self, leg: str, now: float) -> None:
        self._emit(LegRinging(now, self.call_id, leg))

    def _accepted(self, leg: str, answer: sdp.MediaOffer | None) -> sdp.MediaOffer | None:
        """A leg's answer limited to the codecs it was offered; None when it names no
        voice codec that was offered, or none the other leg can receive (the relay
        cannot transcode: such a call would be bridged into silence)."""
        if answer is None:
            problem = "answer without audio"
        else:
            codecs = sdp.shared(answer.codecs, self._legs[leg].offered)
            other = self._media(other_leg(leg))
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
        party = self._legs.get(leg)
        if body is None:  # a refresh without an offer: nothing changes
            if party is None or leg not in self._ports:
                return 200, "OK", None
            codecs = party.media.codecs if party.media is not None else party.offered
            return 200, "OK", self._sdp(leg, codecs)
        offer = sdp.parse(str(body))
        if offer is None or party is None or leg not in self._ports:
            return 488, "Not Acceptable Here", None
        # What the other leg receives (its answer; while it rings, what it was offered),
        # numbered as it numbers them; with nobody else, what the offer has.
        other = self._legs.get(other_leg(leg))
        reference = None
        if other is not None:
            reference = other.media.codecs if other.media is not None else other.offered
        codecs = sdp.shared(reference, offer.codecs) if reference else sdp.relayed(offer.codecs)
        if not sdp.has_audio(codecs):
            log.info("re-offer refused: no codec in common", extra={"call_id": self.call_id})
            return 488, "Not Acceptable Here", None
        was_held = party.media is not None and party.media.on_hold
        self._moved(leg, offer, sdp.shared(offer.codecs, codecs))
        if offer.on_hold != was_held:
            self._phone_held(leg, offer.on_hold)
        return 200, "OK", self._sdp(leg, codecs, sdp.answer_direction(offer.direction))

    def _phone_held(self, leg: str, held: bool) -> None:
        """Leg `leg`'s phone put the call on hold (or, `held` False, took it off)."""

    def _moved(self, leg: str, media: sdp.MediaOffer, codecs: tuple[sdp.Codec, ...]) -> None:
        """Leg `leg` now receives as `media` says, with `codecs`: the relay sends there
        (unless it is a hold's address)."""
        party = self._legs[leg]
        current = party.media
        moved = current is None or (current.address, current.port) != (media.address, media.port)
        if moved and not media.on_hold and media.port:
            self._relay.update(self.call_id, party.side, self._toward(leg, media))
        party.media = replace(media, codecs=codecs)

    def _join(self, leg: str, media: sdp.MediaOffer, then: PortThen | None = None) -> None:
        """Tell the relay where leg `leg`, answered, receives; on side b, `then` gets the
        port to offer to the party on side a."""
        if self.SIDES[leg] == SIDE_B:
            assert then is not None, "side b's party is joined with what follows it"
            other = self._legs.get(other_leg(leg))
            browser = other is not None and other.browser
            self._relay.side_b_at(self.call_id, self._toward(leg, media), then, for_browser=browser)
        else:
            self._relay.side_a_at(self.call_id, self._toward(leg, media))

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        """Leg `leg` answered (at `now`) with `media`; reports LegAnswered."""
        raise NotImplementedError

    def _bridged(self, now: float) -> None:
        """Media flows; the relay records both directions when the call is recorded."""
        self._enter(State.BRIDGED)
        if self.record:
            # Kept as (from leg FIRST, from leg SECOND).
            from_a, from_b = (str(path) for path in self._relay.record(self.call_id))
            first_on_a = self.SIDES[FIRST] == SIDE_A
            self._captures = (from_a, from_b) if first_on_a else (from_b, from_a)
        self._emit(CallBridged(now, self.call_id))
        transfer, self._transfer_when_bridged = self._transfer_when_bridged, None
        if transfer is not None:
            transfer()

    def _failure_cause(self, leg: str, status: int) -> EndReason:
        if status in (408, 503) and not self._heard(leg):
            # Nothing ever answered the INVITE: the line itself is down.
            return EndReason.LINE_FAILURE
        return reason_of_failure(status)

    def _failed(self, leg: str, status: int) -> None:
        cause = self._failure_cause(leg, status)
        by = self._party(leg)
        party = self._legs.pop(leg, None)
        if party is not None:
            party.move(LegState.ENDED, time.monotonic())
        self._end(cause, by, status)

    def _ring_timeout(self, leg: str) -> None:
        self._timers.pop(leg, None)
        if self.state is State.ENDED:
            return
        self._end(
            self._unanswered_cause(leg),
            self._party(leg),
            None if self._heard(leg) else 408,
        )

    def _unanswered_cause(self, leg: str) -> EndReason:
        """Why a leg that was given up on did not answer: it rang out (the agent's phone
        timed out, anyone else no answer), or it never answered anything (a line failure)."""
        if not self._heard(leg):
            return EndReason.LINE_FAILURE
        return EndReason.TIMED_OUT if leg == FIRST else EndReason.NO_ANSWER

    def _timed_out(self, leg: str) -> None:
        """A leg's ring timer: during a transfer the call ends (nobody took it)."""
        if self.state is State.TRANSFERRING:
            RelayedCall._ring_timeout(self, leg)
        else:
            self._ring_timeout(leg)

    def dialog_of(self, leg: str) -> str:
        """The SIP Call-ID of leg `leg`'s dialog ("" without the leg)."""
        party = self._legs.get(leg)
        return str(getattr(party.ua, "cId", "")) if party is not None else ""

    def legs(self) -> dict[str, Leg]:
        """The call's legs now, by name."""
        return dict(self._legs)

    def give_up(self, leg: str) -> Leg | None:
        """Let another call have leg `leg`, answered, its dialog left up (an attended
        transfer's target): it is no longer this call's."""
        party = self._legs.get(leg)
        if party is None or party.state is not LegState.ANSWERED:
            return None
        self._cancel_timer(leg)
        self._cancel_timer(silence_timer(leg))
        del self._legs[leg]
        party.ua.event_cb = None
        self._forget_number(party)
        return party

    def _forget_number(self, party: Leg) -> None:
        """The number `party` reached is in this call no more, unless another leg has it."""
        if not any(other.number == party.number for other in self._legs.values()):
            self.numbers.discard(party.number)

    def _referred(self, leg: str, dialed: str, replaces: str | None = None) -> Referred:
        """A leg's REFER (blind transfer) to `dialed`: the answer to give it, and what to
        do once it is given (the referring phone is hung up, the target called in its
        place). Refused while the call is not up, or where the phone could not call."""
        if replaces is not None:
            if self.replace_with is None:
                return 501, "Not Implemented (Replaces)", None
            return self.replace_with(self, leg, replaces)
        referring = self._legs.get(leg)
        referrer = referring.number if referring is not None else ""
        # Both parties answered: bridged, or about to be (the phone may REFER as soon as
        # its answer is acknowledged, before the relay has confirmed the bridge).
        answered = all(self._media(party) is not None for party in (leg, other_leg(leg)))
        if not answered or self.state is State.ENDED:
            return 403, "Forbidden (the call is not up)", None
        route = self.route_transfer(referrer, dialed) if self.route_transfer else None
        if route is None:
            return 403, "Forbidden", None
        if isinstance(route.destination, Refusal):
            return route.destination.status, route.destination.reason, None
        target = route.destination
        if not isinstance(target, Target):  # a phone's own call is never queued
            return 403, "Forbidden", None
        if self.state is State.BRIDGED:
            return 202, "Accepted", partial(self._transfer, leg, target)

        def when_bridged() -> None:
            self._transfer_when_bridged = partial(self._transfer, leg, target)

        return 202, "Accepted", when_bridged

    def _transfer(self, leg: str, target: Target) -> None:
        """Hang up leg `leg` and call `target` in its place, on the same relay port; the
        other party stays where it is and is bridged to the target when it answers."""

        if self.state is not State.BRIDGED:
            return
        log.info(
            "blind transfer",
            extra={"call_id": self.call_id, "leg": leg, "to": target.user},
        )
        other = self._media(other_leg(leg))
        assert other is not None, "a bridged call's other party has answered"
        party = self._drop(leg, hang_up=True)
        if party is not None:
            self.numbers.discard(party.number)
            self._referred_away(leg)
        self._enter(State.TRANSFERRING)
        self._call(leg, target, self._ports[leg], other.codecs)

    def _referred_away(self, leg: str) -> None:
        """Leg `leg`'s phone transferred the call away and was let go."""

    def _transferred(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        """A transfer's target answered: the relay sends it what the other party says."""
        self._relay.update(self.call_id, self.SIDES[leg], self._toward(leg, media))
        self._enter(State.BRIDGED)
        self._emit(LegAnswered(now, self.call_id, leg))

    def _no_response(self, leg: str) -> None:
        self._timers.pop(silence_timer(leg), None)
        if leg in self._legs and not self._heard(leg):
            log.warning("no response to the INVITE", extra={"call_id": self.call_id, "leg": leg})
            self._cancel_timer(leg)
            self._timed_out(leg)

    def _drop(self, leg: str, hang_up: bool) -> Leg | None:
        """Let go of leg `leg` while the call goes on (another party takes its place, or
        nobody for now): its timers stop, its dialog is hung up or cancelled if
        `hang_up` (else the far end ended it). The leg that was, if any."""
        from sippy.CCEvents import CCEventDisconnect

        self._cancel_timer(leg)
        self._cancel_timer(silence_timer(leg))
        party = self._legs.pop(leg, None)
        if party is None:
            return None
        self._close_bridge(party)
        party.ua.event_cb = None
        if hang_up:
            party.ua.recvEvent(CCEventDisconnect())
            if not party.heard:
                stop_retransmitting(party.ua)
        party.move(LegState.ENDED, time.monotonic())
        return party

    def _cancel_timer(self, leg: str) -> None:
        timer = self._timers.pop(leg, None)
        if timer is not None:
            timer.cancel()

    def _release(self, party: Leg, cause: EndReason, status: int | None) -> None:
        """Hang up (or cancel) one leg as the call ends."""
        from sippy.CCEvents import CCEventDisconnect

        party.ua.recvEvent(CCEventDisconnect())
        if not party.heard:
            stop_retransmitting(party.ua)

    def _end(self, cause: EndReason, by: Party, status: int | None = None) -> None:
        if self.state is State.ENDED:
            return
        for leg in list(self._timers):
            self._cancel_timer(leg)
        now = time.monotonic()
        for leg, party in self._legs.items():
            party.ua.event_cb = None
            self._close_bridge(party)
            try:
                self._release(party, cause, status)
            except Exception:
                # The call ends all the same: its other legs, its session, its event.
                log.exception("call leg not released", extra={"call_id": self.call_id, "leg": leg})
            party.move(LegState.ENDED, now)
        self._enter(State.ENDED)
        self._legs.clear()
        ended = CallEnded(now, self.call_id, cause, by, status, self._captures)

        def report() -> None:
            self._emit(ended)
            for then in self.on_ended:
                then()

        try:
            # Reported once the relay has closed the session: its captures are complete.
            self._relay.close(self.call_id, report)
        except Exception:
            log.exception("relay session not closed", extra={"call_id": self.call_id})
            report()
        finally:
            self._done(self.call_id)


def dtls_role(browser: sdp.MediaOffer | None) -> str:
    """The relay's DTLS role as the SDP to a browser whose media is `browser` states it:
    in the first offer either (`actpass`: browsers then connect); after that, or in an
    answer, the other role than the browser's (`passive` unless it took `passive`)."""
    if browser is None or browser.secure is None:
        return "actpass"
    return "active" if browser.secure.setup == "passive" else "passive"


def stop_retransmitting(ua: Any) -> None:
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
