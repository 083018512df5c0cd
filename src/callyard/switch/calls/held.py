"""Calls the switch holds for services: a customer (a dialed one who answered, a caller to
a queued number) waits alone on the call until services attach an agent (bridged when
it answers, held again when its phone fails), play it a prompt, or hang up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import ClassVar

from callyard.domain.hangups import EndReason, Party
from callyard.switch import sdp
from callyard.switch.calls.base import (
    PROMPT,
    PROMPT_TAIL_SECONDS,
    RelayedCall,
    State,
    log,
)
from callyard.switch.commands import Target
from callyard.switch.events import AGENT_LEG, CUSTOMER_LEG, LegAnswered, LegFailed
from callyard.switch.relay import PCMU, PROMPT_CODECS, SIDE_A, SIDE_B, RelayError

# The steps of a held call once its customer is held, in every kind of held call's table.
HOLDING = (
    (State.HELD, State.SECOND_RINGING),  # an agent is called
    (State.HELD, State.PLAYING),  # a prompt plays, then the call ends
    (State.SECOND_RINGING, State.BRIDGED),
    (State.SECOND_RINGING, State.HELD),  # the agent's phone failed
    (State.BRIDGED, State.TRANSFERRING),
    (State.TRANSFERRING, State.BRIDGED),
)


class HeldCall(RelayedCall):
    """A customer held for services' commands: Attach, Play, Hangup.

    The customer receives on relay side b; an attached agent joins it on side a. The
    recording's captures follow the legs, so its left channel is the agent's.
    """

    SIDES: ClassVar[Mapping[str, str]] = {CUSTOMER_LEG: SIDE_B, AGENT_LEG: SIDE_A}

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
        if self.state is State.SECOND_RINGING:
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
        codec = next(
            (c.payload_type for c in customer.codecs if c.payload_type in PROMPT_CODECS), PCMU
        )
        to = self.SIDES[CUSTOMER_LEG]
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
        """The agent answered: the customer is put through to it."""
        self._emit(LegAnswered(now, self.call_id, leg))
        self._put_customer_through(media, now)
        # A prompt still playing to the customer would drown the agent out.
        self._relay.stop_playing(self.call_id, to=self.SIDES[CUSTOMER_LEG])
        self._join(AGENT_LEG, media)
        self._bridged(now)

    def _put_customer_through(self, agent: sdp.MediaOffer, now: float) -> None:
        """What the customer needs before it talks to the agent that answered with
        `agent` (a dialed customer has answered: nothing)."""

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
