"""Signed-in agents' calls, followed from the switch's events: each event that concerns an
agent's leg is a step of its session and a notice.

A call reaches an agent when the switch calls its extension (a queue's or a group's
offer, a predictive customer put through, a call placed for it), when the agent's phone
dials out, or when a call was placed for the agent by request (its mobile, too). An
offered call reaches it answered by the other party already (talking once the agent
answers); its own call rings the agent first, then the customer (talking once both
have answered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from callyard.domain.agent_sessions import Status, Step
from callyard.domain.calls import CallKind, Direction
from callyard.domain.hangups import Party
from callyard.services.calls import LiveCall
from callyard.services.sessions.model import AgentSession, CallSummary, Notice, SessionCall
from callyard.services.sessions.service import AgentSessions
from callyard.switch.events import (
    AGENT_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegCalling,
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
        self._calls: dict[str, _Followed] = {}  # call id -> the agent it concerns

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
            self._bridged(event)
        elif isinstance(event, LegFailed):
            self._missed(event)
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
        self._calls[event.call_id] = _Followed(agent, own=True)
        # The phone placed the call: it does not ring, it has answered already.
        self._sessions.step(agent, Step.ANSWER_OWN)

    def _calling(self, event: LegCalling) -> None:
        followed = self._calls.get(event.call_id)
        if followed is None and (placed := self._sessions.placed(event.call_id)) is not None:
            followed = self._calls[event.call_id] = _Followed(placed, own=True)
        if followed is None and (offered := self._sessions.offered(event.call_id)) is not None:
            self._bind_offer(offered, event)
            return
        if followed is not None:
            call = followed.agent.call
            if call is None or call.call_id != event.call_id:
                return
            if not call.leg:
                call.leg = event.leg  # a call placed by request calls the agent first
                self._sessions.publish(Notice.CALLING_AGENT, followed.agent, call.sequence)
            elif call.leg == event.leg and event.number != followed.agent.extension:
                # The leg that rang the agent now calls someone else: it was missed.
                self._offer_over(followed, Step.MISS)
            return
        agent = self._sessions.by_extension(event.number)
        if agent is None or not agent.on_phone or agent.call is not None:
            return
        self._bind_offer(agent, event)

    def _bind_offer(self, agent: AgentSession, event: LegCalling) -> None:
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
        )
        own = kind in _OWN_CALLS
        self._calls[event.call_id] = _Followed(agent, own=own)
        if self._sessions.step(agent, Step.RING):
            self._sessions.publish(Notice.CALLING_AGENT, agent, 0)

    def _agent_call(self, call_id: str) -> tuple[_Followed, SessionCall] | None:
        followed = self._calls.get(call_id)
        if followed is None:
            return None
        call = followed.agent.call
        if call is None or call.call_id != call_id:
            self._calls.pop(call_id, None)
            return None
        return followed, call

    def _leg(self, call_id: str, leg: str, agents: Notice, others: Notice) -> None:
        found = self._agent_call(call_id)
        if found is None:
            return
        followed, call = found
        if leg == call.leg:
            call.ring_ms = call.ring_ms or self._epoch_ms()
            self._sessions.publish(agents, followed.agent, call.sequence)
        elif followed.own:
            call.called_ring_ms = call.called_ring_ms or self._epoch_ms()
            self._sessions.publish(others, followed.agent, call.sequence)

    def _answered(self, event: LegAnswered) -> None:
        found = self._agent_call(event.call_id)
        if found is None:
            return
        followed, call = found
        agent = followed.agent
        if event.leg == call.leg:
            step = Step.ANSWER_OWN if followed.own else Step.ANSWER_OFFER
            if self._sessions.step(agent, step, call.sequence):
                self._sessions.publish(Notice.ANSWERED, agent, call.sequence)
        elif followed.own:
            self._sessions.publish(Notice.CUSTOMER_ANSWERED, agent, call.sequence)

    def _bridged(self, event: CallBridged) -> None:
        found = self._agent_call(event.call_id)
        if found is None:
            return
        followed, call = found
        agent = followed.agent
        call.talked = True
        call.answer_ms = self._epoch_ms()
        if agent.status is Status.DIALING:
            self._sessions.step(agent, Step.CONNECT, call.sequence)
        if agent.status is Status.TALKING:
            self._sessions.publish(Notice.TALKING, agent, call.sequence)

    def _missed(self, event: LegFailed) -> None:
        found = self._agent_call(event.call_id)
        if found is None or event.leg != found[1].leg:
            return
        self._offer_over(found[0], Step.MISS)

    def _offer_over(self, followed: _Followed, step: Step) -> None:
        """The agent's part in a call ended before it talked."""
        agent = followed.agent
        call = agent.call
        if call is not None:
            self._calls.pop(call.call_id, None)
        agent.call = None
        if self._sessions.step(agent, step, 0):
            kind = Notice.READY if agent.status is Status.IDLE else Notice.NOT_READY
            self._sessions.publish(kind, agent, 0)

    def _ended(self, event: CallEnded) -> None:
        found = self._agent_call(event.call_id)
        self._calls.pop(event.call_id, None)
        if found is None:
            return
        followed, call = found
        agent = followed.agent
        # The agent is the call's first party in its own calls only (an offered call's
        # first party is its caller, or the customer the dialer reached).
        by_agent = (event.by is Party.CALLER) == followed.own
        rang = (call.ring_ms if by_agent else call.called_ring_ms or call.ring_ms) > 0
        if not call.talked:
            if followed.own:
                summary = CallSummary(
                    event.cause, event.sip_status, rang, by_agent, "", None, self._epoch_ms()
                )
                self._sessions.publish(Notice.CALL_FAILED, agent, call.sequence, summary)
                self._offer_over(followed, Step.RELEASE)
            else:
                self._offer_over(followed, Step.RELEASE if not by_agent else Step.MISS)
            return
        link = ""
        live = self._live.get(event.call_id)
        if event.captures and live is not None:
            link = self._link(agent.company_code, event.call_id, live.started_wall)
        summary = CallSummary(
            event.cause,
            event.sip_status,
            rang,
            by_agent,
            link,
            agent.auto_idle_seconds,
            self._epoch_ms(),
        )
        agent.call = None
        self._sessions.step(agent, Step.HANG_UP, call.sequence)
        self._sessions.publish(Notice.WRAP_UP, agent, call.sequence, summary, call=call)
