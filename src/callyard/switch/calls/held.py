"""Calls the switch holds for services: a customer (a dialed one who answered, a caller to
a queued number, the customer of a click-to-call) waits alone on the call until services
attach an agent (bridged when it answers, held again when its phone fails), play it a
prompt, or hang up; and, bridged, is put on hold, muted, handed over (released to be held
again), or mixed with more parties (a party consulted, a supervisor) in a conference."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from callyard.domain.hangups import EndReason, Party
from callyard.mixer.client import Mixer, MixerError
from callyard.switch import sdp
from callyard.switch.calls.base import (
    PROMPT,
    PROMPT_TAIL_SECONDS,
    Referred,
    RelayedCall,
    State,
    log,
)
from callyard.switch.calls.conference import Conference
from callyard.switch.calls.leg import Leg, LegState
from callyard.switch.commands import Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    LegAnswered,
    LegCalling,
    LegEnded,
    LegFailed,
    LegHeld,
)
from callyard.switch.relay import (
    PCMU,
    PROMPT_CODECS,
    SIDE_A,
    SIDE_B,
    RelayError,
    other_side,
    prompt_file,
)

# The steps of a held call once its customer is held, in every kind of held call's table.
HOLDING = (
    (State.HELD, State.SECOND_RINGING),  # an agent is called
    (State.HELD, State.PLAYING),  # a prompt plays, then the call ends
    (State.SECOND_RINGING, State.BRIDGED),
    (State.SECOND_RINGING, State.HELD),  # the agent's phone failed
    (State.BRIDGED, State.TRANSFERRING),
    (State.TRANSFERRING, State.BRIDGED),
    (State.BRIDGED, State.HELD),  # released: everyone but the customer left
)


DISCARD_PORT = 9  # where a side sends what nobody is to hear (RFC 863)

# An attended transfer's target is moved in this long after the referrer's phone answered
# its BYE, or HUNG_UP_SECONDS after the BYE when the phone does not answer.
SETTLE_SECONDS = 0.25
HUNG_UP_SECONDS = 2.0


def settle_timer(leg: str) -> str:
    """The key of the timer that moves an attended transfer's target in regardless."""
    return f"{leg}:settle"


def _disconnect() -> Any:
    from sippy.CCEvents import CCEventDisconnect

    return CCEventDisconnect()


def voice_payload_type(codecs: tuple[sdp.Codec, ...]) -> int:
    """The payload type of the first voice codec the relay plays prompts in (PCMU when
    none is)."""
    return next((c.payload_type for c in codecs if c.payload_type in PROMPT_CODECS), PCMU)


class HeldCall(RelayedCall):
    """A customer held for services' commands: Attach, Play, Hangup.

    The customer receives on relay side b; an attached agent joins it on side a. The
    recording's captures follow the legs, so its left channel is the agent's.
    """

    SIDES: ClassVar[Mapping[str, str]] = {CUSTOMER_LEG: SIDE_B, AGENT_LEG: SIDE_A}
    BRIDGES_BROWSERS = True  # browsers stay put while the call mixes and moves

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # The mixer, started on first use (set by the call table).
        self.mixer: Callable[[], Mixer] | None = None
        self.hold_music: Path | None = None  # while nobody is with the customer
        self._conference: Conference | None = None
        self._music: Path | None = None  # the customer is on hold, hearing this
        self._muted: set[str] = set()
        self._playing: dict[str, Path | None] = {}  # relay side -> what plays to it
        self._agent_unfed = False  # a browser agent is sent nothing (it is on hold)
        self._was_bridged = False

    def attach(self, target: Target) -> None:
        """Call an agent for the held customer; bridged when the agent answers."""
        if self._waits(partial(self.attach, target)):
            return
        customer = self._media(CUSTOMER_LEG)
        if self.state is not State.HELD or customer is None:
            if self.state is not State.ENDED:
                log.warning("attach to a call that is not held", extra={"call_id": self.call_id})
                failed = LegFailed(
                    time.monotonic(), self.call_id, AGENT_LEG, EndReason.INVALID, None
                )
                self._emit(failed)
            return
        self._call(AGENT_LEG, target, self._ports[AGENT_LEG], customer.codecs)
        self._enter(State.SECOND_RINGING)

    def detach(self) -> None:
        """Stop ringing the agent called for the customer (an offer withdrawn)."""
        if self._waits(self.detach):
            return
        agent = self._legs.get(AGENT_LEG)
        if self.state is State.SECOND_RINGING and agent is not None and not agent.media:
            self._agent_failed(EndReason.CANCELLED, None, cancel=True)

    def play(self, prompt: Path, hangup_after: bool, repeat: bool = False) -> None:
        """Play a prompt to the held, answered customer: once, then hang up if asked to;
        or over and over (`repeat`) until an agent answers, another prompt or the end."""
        if self._waits(partial(self.play, prompt, hangup_after, repeat)):
            return
        customer = self._media(CUSTOMER_LEG)
        held = self.state is State.HELD and self._has_answered(CUSTOMER_LEG)
        if not held or customer is None:
            log.warning("play to a call that is not held", extra={"call_id": self.call_id})
            return
        codec = voice_payload_type(customer.codecs)
        to = self.SIDES[CUSTOMER_LEG]
        self._playing[to] = prompt if repeat else None
        try:
            seconds = self._relay.play(self.call_id, prompt, codec, to=to, repeat=repeat)
        except RelayError:
            log.exception("prompt not played", extra={"call_id": self.call_id})
            if hangup_after and not repeat:
                self._end(EndReason.SERVER_HANGUP, self._services_side())
            return
        if hangup_after and not repeat:
            from sippy.Time.Timeout import Timeout

            self._enter(State.PLAYING)
            self._timers[PROMPT] = Timeout(self._played, seconds + PROMPT_TAIL_SECONDS, 1)

    def _played(self) -> None:
        self._timers.pop(PROMPT, None)
        if self.state is State.PLAYING:
            self._end(EndReason.SERVER_HANGUP, self._services_side())

    def _services_side(self) -> Party:
        """The side of the call services (and their agents) are on, as CallEnded names
        it when they end the call."""
        return self._party(AGENT_LEG)

    def _waits(self, command: Callable[[], None]) -> bool:
        """Whether a command that came before the customer is held waits until it is (and
        `command` then runs); otherwise it is taken now."""
        return False

    def _hold(
        self,
        customer: sdp.MediaOffer,
        waiting: State,
        held: Callable[[], None],
        refused: Callable[[], None] | None = None,
    ) -> None:
        """Tell the relay where the customer receives; once it has the port an agent will
        be offered, the call (still `waiting`) is HELD and `held` runs. If the relay
        refuses, `refused` (by default the call ends)."""

        def hold(port: int) -> None:
            self._ports[AGENT_LEG] = port
            self._enter(State.HELD)
            held()

        self._join(CUSTOMER_LEG, customer, self._then(waiting, hold, refused))

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        """The agent answered: the customer is put through to it. A party invited into
        the conference answered: the mixer sends to it."""
        self._emit(LegAnswered(now, self.call_id, leg))
        if leg != AGENT_LEG:
            if self._conference is not None:
                self._conference.send_to(leg, *self._toward(leg, media)[:2])
            return
        self._put_customer_through(media, now)
        # A prompt still playing to the customer would drown the agent out.
        self._music = None
        self._muted.clear()
        self._stop_playing(self.SIDES[CUSTOMER_LEG])
        self._relay.update(self.call_id, self.SIDES[AGENT_LEG], self._toward(AGENT_LEG, media))
        self._agent_unfed = False
        self._bridged(now)

    def _bridged(self, now: float) -> None:
        """Media flows between the customer and an agent: recorded, and reported, once
        (a customer handed to another agent stays on the same recording)."""
        if self._was_bridged:
            self._enter(State.BRIDGED)
            return
        self._was_bridged = True
        super()._bridged(now)

    def _put_customer_through(self, agent: sdp.MediaOffer, now: float) -> None:
        """What the customer needs before it talks to the agent that answered with
        `agent` (a dialed customer has answered: nothing)."""

    def _failed(self, leg: str, status: int) -> None:
        if self._invited(leg):
            self._leave(leg, False, False, self._failure_cause(leg, status), status)
            return
        if leg != AGENT_LEG:
            super()._failed(leg, status)
            return
        self._agent_failed(self._failure_cause(leg, status), status, cancel=False)

    def _ring_timeout(self, leg: str) -> None:
        if self._invited(leg):
            self._timers.pop(leg, None)
            unheard = not self._heard(leg)
            cause = EndReason.LINE_FAILURE if unheard else EndReason.NO_ANSWER
            self._leave(leg, True, False, cause, 408 if unheard else None)
            return
        if leg != AGENT_LEG:
            super()._ring_timeout(leg)
            return
        self._timers.pop(leg, None)
        if self.state is State.SECOND_RINGING:
            unheard = not self._heard(leg)
            cause = EndReason.LINE_FAILURE if unheard else EndReason.NO_ANSWER
            self._agent_failed(cause, 408 if unheard else None, cancel=True)

    def _agent_failed(self, cause: EndReason, status: int | None, cancel: bool) -> None:
        """The agent's leg is over but the customer is still there: hold again."""
        agent = self._drop(AGENT_LEG, hang_up=cancel)
        customer = self._legs.get(CUSTOMER_LEG)
        if agent is not None and (customer is None or agent.number != customer.number):
            self.numbers.discard(agent.number)
        self._enter(State.HELD)
        self._emit(LegFailed(time.monotonic(), self.call_id, AGENT_LEG, cause, status))

    # -- the middle of a call ----------------------------------------------------------

    def hold(self, music: Path) -> None:
        """The customer hears `music` over and over; nobody hears the customer."""
        if self._in_call("hold"):
            self._music = music
            self._refresh()

    def resume(self) -> None:
        """The customer is off hold."""
        if self._in_call("resume") and self._music is not None:
            self._music = None
            self._refresh()

    def mute(self, leg: str, muted: bool) -> None:
        """What leg `leg` says reaches nobody (or, not `muted`, everyone it did)."""
        if not self._in_call("mute") or leg not in self._legs:
            return
        if muted:
            self._muted.add(leg)
        else:
            self._muted.discard(leg)
        self._refresh()

    def release(self, music: Path | None) -> None:
        """Everyone but the customer leaves; the customer is held (hearing `music`)."""
        if not self._in_call("release"):
            return
        for leg in self._others():
            self._leave(leg, hang_up=True, by_party=False)
        self._unmix()
        self._music = None
        self._muted.clear()
        self._stop_playing(self.SIDES[AGENT_LEG])
        self._enter(State.HELD)
        if music is not None:
            self.play(music, hangup_after=False, repeat=True)
        else:
            self._stop_playing(self.SIDES[CUSTOMER_LEG])

    def invite(self, leg: str, target: Target, heard_by: frozenset[str] | None) -> None:
        """Call `target` into the call as leg `leg`, the call's parties mixed."""
        customer = self._media(CUSTOMER_LEG)
        if not self._in_call("invite") or leg in self._legs or customer is None:
            self._not_invited(leg, EndReason.INVALID)
            return
        conference = self._mixed()
        if conference is None:
            self._not_invited(leg, EndReason.SERVER_HANGUP)
            return
        conference.heard_by[leg] = heard_by
        voice = voice_payload_type(customer.codecs)
        codecs = tuple(c for c in customer.codecs if c.payload_type == voice or not c.is_audio)
        try:
            port = conference.join(leg, voice, None)
        except MixerError:
            log.exception("no room in the mixer", extra={"call_id": self.call_id})
            self._not_invited(leg, EndReason.SERVER_HANGUP)
            return
        self._call(leg, target, port, codecs)

    def _not_invited(self, leg: str, cause: EndReason) -> None:
        self._emit(LegFailed(time.monotonic(), self.call_id, leg, cause, None))

    def set_hearing(self, leg: str, heard_by: frozenset[str] | None) -> None:
        """Who hears leg `leg` of a mixed call: the legs named, or everyone (None)."""
        if self._conference is not None:
            self._conference.heard(leg, heard_by)

    def drop(self, leg: str) -> None:
        """Leg `leg` (not the customer's) leaves the call, which goes on."""
        if leg == CUSTOMER_LEG or leg not in self._legs or self.state is State.ENDED:
            return
        if leg == AGENT_LEG and self.state is State.SECOND_RINGING:
            self.detach()
            return
        self._leave(leg, hang_up=True, by_party=False)
        if not self._others() and self.state is State.BRIDGED:
            self._unmix()
            self._enter(State.HELD)

    def _phone_held(self, leg: str, held: bool) -> None:
        """Services decide what the others hear while a phone holds the call (music)."""
        if self.state is State.BRIDGED and leg != CUSTOMER_LEG:
            self._emit(LegHeld(time.monotonic(), self.call_id, leg, held))

    def takes_over(self, leg: str) -> bool:
        """Whether leg `leg` may hand its place to a party of another call (an attended
        transfer): the agent's leg of a call bridged without a conference."""
        return (
            self.state is State.BRIDGED
            and leg == AGENT_LEG
            and self._conference is None
            and self._media(CUSTOMER_LEG) is not None
        )

    def adopt(self, leg: str, party: Leg) -> None:
        """Party `party` of another call takes leg `leg`'s place (the leg, the agent that
        referred, is hung up and reported gone): moved to this call's relay port by a
        re-INVITE once the leg's phone has answered its BYE. It is reported on this call
        (`report_adopted`) once the other call has ended."""
        customer = self._media(CUSTOMER_LEG)
        if not self.takes_over(leg) or customer is None:
            party.ua.recvEvent(_disconnect())
            return
        # A phone sends its last packets as it ends a call, even after answering the
        # BYE; were one to reach the relay after the side is pointed at the new party,
        # the relay would latch back to the phone for good. So the new party is moved in
        # a moment after the BYE is answered (or once it is given up on).
        move_in = partial(self._move_in, leg, party, customer.codecs)
        gone = self._legs.get(leg)
        if gone is not None:
            gone.ua.on_hung_up = partial(self._settle, settle_timer(leg), move_in)
        self._start_timer(settle_timer(leg), HUNG_UP_SECONDS, move_in)
        self._leave(leg, hang_up=True, by_party=False)
        if self._music is None:
            self._play_to(self.SIDES[CUSTOMER_LEG], self._waiting_music())
        party.name, party.side = leg, self.SIDES[leg]
        party.ua.event_cb = self._leg_event
        party.ua.update_handler = partial(self._answer_update, leg)
        party.ua.refer_handler = partial(self._referred, leg)
        self._legs[leg] = party
        self.numbers.add(party.number)

    def _start_timer(self, key: str, seconds: float, then: Callable[[], None]) -> None:
        """Do `then` in `seconds`, in place of what timer `key` would have done."""
        from sippy.Time.Timeout import Timeout

        self._cancel_timer(key)
        self._timers[key] = Timeout(then, seconds, 1)

    def _settle(self, key: str, then: Callable[[], None]) -> None:
        """The BYE was answered: `then` a moment later, unless timer `key` already did it."""
        if key in self._timers:
            self._start_timer(key, SETTLE_SECONDS, then)

    def _move_in(self, leg: str, party: Leg, codecs: tuple[sdp.Codec, ...]) -> None:
        self._timers.pop(settle_timer(leg), None)
        if self._legs.get(leg) is party and self.state is State.BRIDGED:
            self._reoffer(leg, codecs, partial(self._adopted, leg))

    def _fresh_start(self) -> None:
        """Another agent has the customer: no hold, no mute of the one before."""
        self._music = None
        self._muted.clear()
        self._refresh()

    def _transferred(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        super()._transferred(leg, media, now)
        self._fresh_start()

    def _adopted(self, leg: str, answer: sdp.MediaOffer | None) -> None:
        party = self._legs.get(leg)
        if party is None or self.state is State.ENDED:
            return
        if answer is None:
            log.warning("the transfer's target refused to move", extra={"call_id": self.call_id})
            self._end(EndReason.SERVER_HANGUP, self._services_side())
            return
        party.media = answer
        self._relay.update(self.call_id, self.SIDES[leg], self._toward(leg, answer))
        self._fresh_start()

    def report_adopted(self, leg: str) -> None:
        """Tell services who is on leg `leg` now: called and answered at once."""
        party = self._legs.get(leg)
        if party is None or self.state is State.ENDED:
            return
        now = time.monotonic()
        self._emit(LegCalling(now, self.call_id, leg, party.number))
        self._emit(LegAnswered(now, self.call_id, leg))

    def _referred_away(self, leg: str) -> None:
        """The agent handed the customer over: it is gone, as after a Release; the
        customer hears music until the target answers."""
        self._muted.discard(leg)
        self._play_to(self.SIDES[CUSTOMER_LEG], self._waiting_music())
        self._emit(LegEnded(time.monotonic(), self.call_id, leg, False))

    def _waiting_music(self) -> Path:
        """What a customer nobody is with hears: the hold music, or silence."""
        music = self.hold_music
        if music is not None and prompt_file(music, PCMU).is_file():
            return music
        return self._relay.silence

    def _referred(self, leg: str, dialed: str, replaces: str | None = None) -> Referred:
        if replaces is None and self._conference is not None:
            return 403, "Forbidden (the call is a conference)", None
        return super()._referred(leg, dialed, replaces)

    def _in_call(self, command: str) -> bool:
        """Whether the call is bridged (a mid-call command applies); logged if not."""
        if self.state is State.BRIDGED:
            return True
        if self.state is not State.ENDED:
            log.warning(f"{command} in a call that is not bridged", extra={"call_id": self.call_id})
        return False

    def _invited(self, leg: str) -> bool:
        return leg not in (AGENT_LEG, CUSTOMER_LEG)

    def _others(self) -> list[str]:
        """The legs on the call but the customer's."""
        return [leg for leg in self._legs if leg != CUSTOMER_LEG]

    def _leave(
        self,
        leg: str,
        hang_up: bool,
        by_party: bool,
        cause: EndReason = EndReason.CANCELLED,
        status: int | None = None,
    ) -> None:
        """Leg `leg` is off the call (hung up, or its ringing cancelled, if `hang_up`):
        reported LegEnded if it had answered, else LegFailed with `cause`."""
        party = self._drop(leg, hang_up=hang_up)
        if party is None:
            return
        self._muted.discard(leg)
        self._forget_number(party)
        if self._conference is not None:
            self._conference.leave(leg)
        now = time.monotonic()
        if any(state is LegState.ANSWERED for _, state in party.history):
            self._emit(LegEnded(now, self.call_id, leg, by_party))
        else:
            self._emit(LegFailed(now, self.call_id, leg, cause, status))

    def _hung_up(self, leg: str) -> None:
        """A party's BYE: the customer's, or the last other party's, ends the call; any
        other party just leaves it."""
        answered = [other for other in self._others() if other != leg and self._has_answered(other)]
        if leg == CUSTOMER_LEG or self.state is not State.BRIDGED or not answered:
            super()._hung_up(leg)
            return
        self._leave(leg, hang_up=False, by_party=True)

    # -- what plays to whom ------------------------------------------------------------

    def _refresh(self) -> None:
        """Apply the hold and the mutes: to the relay's prompts while the customer and
        the agent are bridged directly; to the conference's hearing once mixed."""
        customer_side = self.SIDES[CUSTOMER_LEG]
        agent_side = other_side(customer_side)
        conference = self._conference
        if self._music is not None:
            self._play_to(customer_side, self._music)
        elif conference is None and AGENT_LEG in self._muted:
            self._play_to(customer_side, self._relay.silence)
        else:
            self._stop_playing(customer_side)
        if conference is None:
            self._quiet_agent(agent_side, self._music is not None or CUSTOMER_LEG in self._muted)
            return
        self._stop_playing(agent_side)  # that side faces the mixer now
        conference.muted = set(self._muted)
        conference.customer_held = self._music is not None
        conference.apply()

    def _quiet_agent(self, side: str, quiet: bool) -> None:
        """The agent hears nothing (`quiet`), or the customer again: a prompt of silence
        plays to a phone; a browser is sent nothing at all, since once it has taken
        another stream (the prompt's) it would not take the customer's back."""
        agent = self._legs.get(AGENT_LEG)
        bridge = agent.bridge if agent is not None else None
        if bridge is None:
            if quiet:
                self._play_to(side, self._relay.silence)
            else:
                self._stop_playing(side)
            return
        if quiet != self._agent_unfed:
            self._agent_unfed = quiet
            port = DISCARD_PORT if quiet else bridge.plain_port
            self._relay.update(self.call_id, side, (self._relay.local, port, None))

    def _play_to(self, side: str, prompt: Path) -> None:
        if self._playing.get(side) == prompt:
            return
        leg = next((name for name, s in self.SIDES.items() if s == side), CUSTOMER_LEG)
        media = self._media(leg)
        codec = voice_payload_type(media.codecs) if media is not None else PCMU
        try:
            self._relay.play(self.call_id, prompt, codec, to=side, repeat=True)
        except RelayError:
            log.exception("prompt not played", extra={"call_id": self.call_id})
            return
        self._playing[side] = prompt

    def _stop_playing(self, side: str) -> None:
        if self._playing.pop(side, None) is not None or side == self.SIDES[CUSTOMER_LEG]:
            self._relay.stop_playing(self.call_id, to=side)

    # -- the conference ------------------------------------------------------------------

    def _mixed(self) -> Conference | None:
        """The call's conference, made on first use: the customer's relay side pointed
        at the room, the agent moved into it by a re-INVITE. None without a mixer."""
        if self._conference is not None:
            return self._conference
        customer = self._media(CUSTOMER_LEG)
        if self.mixer is None or customer is None:
            return None
        try:
            conference = Conference(self.mixer(), self.call_id, CUSTOMER_LEG)
            slot = (self._relay.address, self._ports[AGENT_LEG])
            conference.join(CUSTOMER_LEG, voice_payload_type(customer.codecs), slot)
        except MixerError:
            log.exception("no conference for the call", extra={"call_id": self.call_id})
            return None
        self._conference = conference
        agent = self._legs.get(AGENT_LEG)
        if agent is None or agent.media is None:
            self._point_relay_at_room()
        else:
            bridge = agent.bridge
            # A browser stays where it is: its bridge's plain side moves into the room.
            hears_at = (
                (agent.media.address, agent.media.port)
                if bridge is None
                else (self._relay.local, bridge.plain_port)
            )
            try:
                port = conference.join(AGENT_LEG, voice_payload_type(agent.media.codecs), hears_at)
            except MixerError:
                log.exception("the agent cannot join the room", extra={"call_id": self.call_id})
            else:
                if bridge is None:
                    self._reoffer(AGENT_LEG, agent.media.codecs, self._agent_moved)
                else:
                    self._relay.update(bridge.session, SIDE_A, (conference.address, port, None))
                    self._point_relay_at_room()
        self._refresh()
        return conference

    def _point_relay_at_room(self) -> None:
        """The relay's side that faced the agent now sends the customer to the room (and
        takes what the room sends it, once its packets come)."""
        conference = self._conference
        if conference is not None and CUSTOMER_LEG in conference.ports:
            room = (conference.address, conference.ports[CUSTOMER_LEG], None)
            self._relay.update(self.call_id, self.SIDES[AGENT_LEG], room)

    def _agent_moved(self, answer: sdp.MediaOffer | None) -> None:
        """The agent's answer to the re-INVITE into the room: where it receives now. If
        it refused, the conference is given up and the call goes on as it was."""
        conference = self._conference
        if conference is None or self.state is State.ENDED:
            return
        agent = self._legs.get(AGENT_LEG)
        if answer is None or agent is None:
            log.warning("the agent's phone refused the conference", extra={"call_id": self.call_id})
            for leg in self._others():
                if leg != AGENT_LEG:
                    self._leave(leg, hang_up=True, by_party=False)
            self._unmix()
            return
        conference.send_to(AGENT_LEG, answer.address, answer.port)
        if agent.media is not None:
            agent.media = replace(answer, codecs=agent.media.codecs)
        self._point_relay_at_room()

    def _unmix(self) -> None:
        if self._conference is not None:
            self._conference.close()
            self._conference = None

    def _local(self, leg: str) -> tuple[str, int]:
        conference = self._conference
        if conference is not None and leg in conference.ports:
            return conference.address, conference.ports[leg]
        return super()._local(leg)

    def _moved(self, leg: str, media: sdp.MediaOffer, codecs: tuple[sdp.Codec, ...]) -> None:
        conference = self._conference
        if conference is None or leg not in conference.ports or leg == CUSTOMER_LEG:
            super()._moved(leg, media, codecs)
            return
        if not media.on_hold and media.port:
            conference.send_to(leg, *self._toward(leg, media)[:2])
        self._legs[leg].media = replace(media, codecs=codecs)

    def _accepted(self, leg: str, answer: sdp.MediaOffer | None) -> sdp.MediaOffer | None:
        if not self._invited(leg) or answer is None:
            return super()._accepted(leg, answer)
        # The mixer decodes each party on its own: only what the leg was offered counts.
        codecs = sdp.shared(answer.codecs, self._legs[leg].offered)
        return replace(answer, codecs=codecs) if sdp.has_audio(codecs) else None

    def _end(self, cause: EndReason, by: Party, status: int | None = None) -> None:
        super()._end(cause, by, status)
        self._unmix()
