"""Signed-in agents' calls, followed from the switch's events: each event that concerns an
agent's leg is a step of its session and a notice.

A call reaches an agent when the switch calls its extension (a queue's or a group's
offer, a predictive customer put through, a call placed for it), when the agent's phone
dials out, or when a call was placed for the agent by request (its mobile, too). An
offered call reaches it answered by the other party already (talking once the agent
answers); its own call rings the agent first, then the customer (talking once both
have answered). In the middle of a call more agents join it, each on a leg of its own
(a transfer's target, a party consulted, a supervisor), and an agent may leave a call
that goes on: each agent's part is followed by its leg.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from callyard.domain.agent_sessions import Status, Step
from callyard.domain.calls import CallKind, Direction
from callyard.domain.hangups import EndReason, Party
from callyard.domain.mid_call import Part
from callyard.services.calls import LiveCall
from callyard.services.sessions.model import AgentSession, CallSummary, Notice, SessionCall
from callyard.services.sessions.service import AgentSessions
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegCalling,
    LegEnded,
    LegFailed,
    LegRinging,
    Registered,
    SwitchEvent,
    Unregistered,
)

# Calls in which the agent's own leg rings first and the customer is called after.
_OWN_CALLS = frozenset({CallKind.CLICK_TO_CALL, CallKind.INTERNAL, CallKind.PHONE_OUTBOUND})

RecordingLink = Callable[[int, str, datetime], str]
"""A lasting download link of a call's recording: company code, call id, start."""


@dataclass
class _Followed:
    agent: AgentSession
    own: bool  # the agent's own call (it answers first), else an offered one
    agent_first: bool  # the agents' side is the call's first party


class CallFollower:
    """Moves sessions by the switch's events."""

    def __init__(
        self,
        sessions: AgentSessions,
        live: Mapping[str, LiveCall],
        recording_link: RecordingLink,
        epoch_ms: Callable[[], int],
    ) -> None:
        self._sessions = sessions
        self._live = live
        self._link = recording_link
        self._epoch_ms = epoch_ms
        self._calls: dict[str, dict[str, _Followed]] = {}  # call id -> leg -> its agent
        self._bridged: set[str] = set()

    def on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, Registered | Unregistered):
            self._registration(event)
        elif isinstance(event, IncomingCall):
            self._dialed_out(event)
        elif isinstance(event, LegCalling):
            self._calling(event)
        elif isinstance(event, LegRinging):
            self._leg(event.call_id, event.leg, Notice.RINGING, Notice.CUSTOMER_RINGING)
        elif isinstance(event, LegAnswered):
            self._answered(event)
        elif isinstance(event, CallBridged):
            self._bridged_now(event)
        elif isinstance(event, LegFailed):
            self._missed(event)
        elif isinstance(event, LegEnded):
            self._left(event)
        elif isinstance(event, CallEnded):
            self._ended(event)

    def _registration(self, event: Registered | Unregistered) -> None:
        agent = self._sessions.by_extension(event.number)
        if agent is None or not agent.on_phone:
            return
        if isinstance(event, Registered):
            self._sessions.phone_back(agent)
        else:
            self._sessions.phone_lost(agent)

    def _dialed_out(self, event: IncomingCall) -> None:
        if event.from_carrier:
            return
        agent = self._sessions.by_extension(event.caller)
        if agent is None or agent.call is not None:
            return
        if not self._sessions.step(agent, Step.RING):
            return
        agent.call = SessionCall(
            event.call_id,
            AGENT_LEG,  # a phone's own call: its INVITE is the first leg
            Direction.OUTBOUND,
            event.caller_id,
            event.dialed,
            0,
            begin_ms=self._epoch_ms(),
        )
        self._follow(event.call_id, AGENT_LEG, _Followed(agent, own=True, agent_first=True))
        # The phone placed the call: it does not ring, it has answered already.
        self._sessions.step(agent, Step.ANSWER_OWN)

    def _follow(self, call_id: str, leg: str, followed: _Followed) -> None:
        self._calls.setdefault(call_id, {})[leg] = followed

    def _calling(self, event: LegCalling) -> None:
        followed = self._calls.get(event.call_id, {})
        expected = self._sessions.expected(event.call_id, event.leg)
        if expected is not None:
            self._bind_offer(expected[0], event, expected[1])
            return
        if not followed and (placed := self._sessions.placed(event.call_id)) is not None:
            call = placed.call
            if call is not None and call.call_id == event.call_id:
                call.leg = event.leg  # a call placed by request calls the agent first
                self._follow(event.call_id, event.leg, _Followed(placed, True, True))
                self._sessions.publish(Notice.CALLING_AGENT, placed, call.sequence)
            return
        if (offered := self._sessions.offered(event.call_id)) is not None:
            self._bind_offer(offered, event)
            return
        on_leg = followed.get(event.leg)
        if on_leg is not None:
            if event.number != on_leg.agent.extension and not on_leg.own:
                # The leg that rang the agent now calls someone else: it was missed.
                self._offer_over(event.call_id, event.leg, Step.MISS)
            return
        if followed:
            return  # the customer of an agent's own call, a party no agent is
        agent = self._sessions.by_extension(event.number)
        if agent is None or not agent.on_phone or agent.call is not None:
            return
        self._bind_offer(agent, event)

    def _bind_offer(self, agent: AgentSession, event: LegCalling, part: Part = Part.NORMAL) -> None:
        """A call the switch now rings the agent for (on its phone or its mobile)."""
        if agent.call is not None:
            return
        live = self._live.get(event.call_id)
        kind = live.kind if live is not None else CallKind.INBOUND_GROUP
        inbound = kind.direction is Direction.INBOUND
        caller = live.disnumber if live is not None else ""
        called = live.destnumber if live is not None else ""
        agent.call = SessionCall(
            event.call_id,
            event.leg,
            Direction.INBOUND if inbound else Direction.OUTBOUND,
            caller,
            called,
            0,
            live.custom.user_data if live is not None else "",
            predictive=kind is CallKind.PREDICTIVE,
            queued_at_ms=live.queued_ms if live is not None else 0,
            begin_ms=self._epoch_ms(),
            part=part,
        )
        own = kind in _OWN_CALLS and part is Part.NORMAL
        self._follow(event.call_id, event.leg, _Followed(agent, own, kind in _OWN_CALLS))
        if self._sessions.step(agent, Step.RING):
            self._sessions.publish(Notice.CALLING_AGENT, agent, 0)

    def _on_leg(self, call_id: str, leg: str) -> tuple[_Followed, SessionCall] | None:
        """The agent on a call's leg, with its part of the call."""
        followed = self._calls.get(call_id, {}).get(leg)
        if followed is None:
            return None
        call = followed.agent.call
        if call is None or call.call_id != call_id:
            self._unfollow(call_id, leg)
            return None
        return followed, call

    def _owner(self, call_id: str) -> tuple[_Followed, SessionCall] | None:
        """The agent whose own call it is (the customer is called for it)."""
        for leg, followed in list(self._calls.get(call_id, {}).items()):
            if followed.own:
                return self._on_leg(call_id, leg)
        return None

    def _unfollow(self, call_id: str, leg: str) -> None:
        legs = self._calls.get(call_id)
        if legs is not None:
            legs.pop(leg, None)
            if not legs:
                del self._calls[call_id]

    def _leg(self, call_id: str, leg: str, agents: Notice, others: Notice) -> None:
        found = self._on_leg(call_id, leg)
        if found is not None:
            followed, call = found
            call.ring_ms = call.ring_ms or self._epoch_ms()
            self._sessions.publish(agents, followed.agent, call.sequence)
        elif leg == CUSTOMER_LEG and (owner := self._owner(call_id)) is not None:
            followed, call = owner
            call.called_ring_ms = call.called_ring_ms or self._epoch_ms()
            self._sessions.publish(others, followed.agent, call.sequence)

    def _answered(self, event: LegAnswered) -> None:
        found = self._on_leg(event.call_id, event.leg)
        if found is not None:
            followed, call = found
            agent = followed.agent
            step = Step.ANSWER_OWN if followed.own else Step.ANSWER_OFFER
            if self._sessions.step(agent, step, call.sequence):
                self._sessions.publish(Notice.ANSWERED, agent, call.sequence)
            if event.call_id in self._bridged:  # joined a call already under way
                self._talking(followed, call)
        elif event.leg == CUSTOMER_LEG and (owner := self._owner(event.call_id)) is not None:
            followed, call = owner
            self._sessions.publish(Notice.CUSTOMER_ANSWERED, followed.agent, call.sequence)

    def _bridged_now(self, event: CallBridged) -> None:
        self._bridged.add(event.call_id)
        for leg in list(self._calls.get(event.call_id, {})):
            found = self._on_leg(event.call_id, leg)
            if found is not None:
                self._talking(*found)

    def _talking(self, followed: _Followed, call: SessionCall) -> None:
        agent = followed.agent
        if call.talked:
            return
        call.talked = True
        call.answer_ms = self._epoch_ms()
        if agent.status is Status.DIALING:
            self._sessions.step(agent, Step.CONNECT, call.sequence)
        if agent.status is Status.TALKING:
            self._sessions.publish(Notice.TALKING, agent, call.sequence)

    def _missed(self, event: LegFailed) -> None:
        found = self._on_leg(event.call_id, event.leg)
        if found is None:
            return
        # A mid-call party that did not answer (a consult, a transfer) is not kept away.
        step = Step.MISS if found[1].part is Part.NORMAL else Step.RELEASE
        self._offer_over(event.call_id, event.leg, step)

    def _offer_over(self, call_id: str, leg: str, step: Step) -> None:
        """The agent's part in a call ended before it talked."""
        followed = self._calls.get(call_id, {}).get(leg)
        self._unfollow(call_id, leg)
        if followed is None:
            return
        followed.agent.call = None
        self._sessions.let_go(followed.agent, step)

    def _left(self, event: LegEnded) -> None:
        """An agent's leg left a call that goes on (handed over, consulted no more, a
        supervisor done): its part of the call is over."""
        found = self._on_leg(event.call_id, event.leg)
        if found is None:
            return
        self._part_over(event.call_id, event.leg, EndReason.NORMAL, None, by_agent=True)

    def _ended(self, event: CallEnded) -> None:
        self._bridged.discard(event.call_id)
        for leg, followed in list(self._calls.get(event.call_id, {}).items()):
            by_agent = (event.by is Party.CALLER) == followed.agent_first
            self._part_over(event.call_id, leg, event.cause, event.sip_status, by_agent, event)
        self._calls.pop(event.call_id, None)

    def _part_over(
        self,
        call_id: str,
        leg: str,
        cause: EndReason,
        sip_status: int | None,
        by_agent: bool,
        ended: CallEnded | None = None,
    ) -> None:
        """The agent on `leg` is done with the call: wrap-up after a talk, else back to
        what it chose (or, an offer it let go, not ready)."""
        found = self._on_leg(call_id, leg)
        if found is None:
            return
        followed, call = found
        agent = followed.agent
        rang = (call.ring_ms if by_agent else call.called_ring_ms or call.ring_ms) > 0
        if not call.talked:
            if followed.own:
                summary = CallSummary(cause, sip_status, rang, by_agent, "", None, self._epoch_ms())
                self._sessions.publish(Notice.CALL_FAILED, agent, call.sequence, summary)
                self._offer_over(call_id, leg, Step.RELEASE)
            else:
                missed = by_agent and call.part is Part.NORMAL
                self._offer_over(call_id, leg, Step.MISS if missed else Step.RELEASE)
            return
        self._unfollow(call_id, leg)
        link = ""
        live = self._live.get(call_id)
        recorded = ended is None or ended.captures
        if recorded and live is not None:
            link = self._link(agent.company_code, call_id, live.started_wall)
        summary = CallSummary(
            cause, sip_status, rang, by_agent, link, agent.auto_idle_seconds, self._epoch_ms()
        )
        agent.call = None
        self._sessions.step(agent, Step.HANG_UP, call.sequence)
        self._sessions.publish(Notice.WRAP_UP, agent, call.sequence, summary, call=call)
