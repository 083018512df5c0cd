"""The dialer's calls: a customer called alone and held, agents attached to it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from callyard.domain.hangups import EndReason, Party
from callyard.switch import sdp
from callyard.switch.calls.base import (
    PROMPT,
    PROMPT_TAIL_SECONDS,
    RelayedCall,
    State,
    log,
    transitions,
)
from callyard.switch.commands import Dial, Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    LegAnswered,
    LegFailed,
)
from callyard.switch.relay import (
    PCMU,
    PROMPT_CODECS,
    SIDE_A,
    SIDE_B,
    RelayError,
)


class DialedCall(RelayedCall):
    """A predictive call: the switch calls the customer; once answered the call is held
    until services attach an agent, play a prompt, or hang up.

    The customer, called first, answers on relay side b; an attached agent joins it on
    side a.
    """

    SIDES: ClassVar[Mapping[str, str]] = {CUSTOMER_LEG: SIDE_B, AGENT_LEG: SIDE_A}
    TRANSITIONS = transitions(
        (State.NEW, State.FIRST_RINGING),
        (State.FIRST_RINGING, State.HELD),
        (State.HELD, State.SECOND_RINGING),
        (State.HELD, State.PLAYING),
        (State.SECOND_RINGING, State.BRIDGED),
        (State.SECOND_RINGING, State.HELD),  # the agent's phone failed
        (State.BRIDGED, State.TRANSFERRING),
        (State.TRANSFERRING, State.BRIDGED),
    )

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
        cause = EndReason.NORMAL if answered else EndReason.CANCELLED
        self._end(cause, Party.CALLER)

    def attach(self, target: Target) -> None:
        """Call an agent for the held customer; bridged when the agent answers."""
        customer = self._media(CUSTOMER_LEG)
        if self.state is not State.HELD or customer is None:
            if self.state is not State.ENDED:
                log.warning("attach to a call that is not held", extra={"call_id": self.call_id})
                failed = LegFailed(
                    time.monotonic(), self.call_id, AGENT_LEG, EndReason.INVALID, None
                )
                self._emit(failed)
            return
        self._agent = target.user
        self._call(AGENT_LEG, target, self._ports[AGENT_LEG], customer.codecs)
        self._enter(State.SECOND_RINGING)

    def play(self, prompt: Path, hangup_after: bool) -> None:
        """Play a prompt to the held customer; hang up when it has played if asked to."""
        customer = self._media(CUSTOMER_LEG)
        if self.state is not State.HELD or customer is None:
            log.warning("play to a call that is not held", extra={"call_id": self.call_id})
            return
        codec = next(
            (c.payload_type for c in customer.codecs if c.payload_type in PROMPT_CODECS), PCMU
        )
        try:
            seconds = self._relay.play(self.call_id, prompt, codec, to=self.SIDES[CUSTOMER_LEG])
        except RelayError:
            log.exception("prompt not played", extra={"call_id": self.call_id})
            if hangup_after:
                self._end(EndReason.SERVER_HANGUP, Party.CALLER)
            return
        if hangup_after:
            from sippy.Time.Timeout import Timeout

            self._enter(State.PLAYING)
            self._timers[PROMPT] = Timeout(self._played, seconds + PROMPT_TAIL_SECONDS, 1)

    def _played(self) -> None:
        self._timers.pop(PROMPT, None)
        if self.state is State.PLAYING:
            self._end(EndReason.SERVER_HANGUP, Party.CALLER)

    def _answered(self, leg: str, media: sdp.MediaOffer, now: float) -> None:
        if leg == CUSTOMER_LEG:

            def hold(port: int) -> None:
                # Held (and reported answered, so services may attach) once the relay
                # has the port an agent will be offered.
                self._ports[AGENT_LEG] = port
                self._enter(State.HELD)
                self._emit(LegAnswered(now, self.call_id, leg))

            self._join(CUSTOMER_LEG, media, self._then(State.FIRST_RINGING, hold))
            return
        self._emit(LegAnswered(now, self.call_id, leg))
        # A prompt still playing to the customer would drown the agent out.
        self._relay.stop_playing(self.call_id, to=self.SIDES[CUSTOMER_LEG])
        self._join(AGENT_LEG, media)
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
            unheard = not self._heard(leg)
            cause = EndReason.LINE_FAILURE if unheard else EndReason.NO_ANSWER
            self._agent_failed(cause, 408 if unheard else None, cancel=True)

    def _agent_failed(self, cause: EndReason, status: int | None, cancel: bool) -> None:
        """The agent's leg is over but the customer is still there: hold again."""
        if self._agent is not None and self._agent != self.order.target.user:
            self.numbers.discard(self._agent)
        self._agent = None
        self._drop(AGENT_LEG, hang_up=cancel)
        self._enter(State.HELD)
        self._emit(LegFailed(time.monotonic(), self.call_id, AGENT_LEG, cause, status))
