"""Requests in the middle of a call: an agent's (hold, mute, transfer, consult, three-way)
and a supervisor's on an agent's call (listen, whisper, barge in, intercept, end it).

Each is carried out with the switch's mid-call commands and comes out in phases, told
to the agent who asked as `Notice.MID_CALL` notices (`MidCallOutcome`): the party it
needs is being called, it is done, or it failed with a cause and changed nothing. A
request that does not fit the call's state is refused that way before anything moves.

A call takes these requests once its customer talks to an agent through a held call of
the switch's: a queue's caller, a predictive customer, a click-to-call's customer. The
agent handling the customer now is the call's handler (its leg); a transfer or a
consult's end, or a supervisor's intercept, hands that role to another leg. One
consult (or supervised transfer) at a time; supervisors each on a leg of their own.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from callyard.domain.agent_sessions import Status, Step, takes_offers
from callyard.domain.agents import AgentRole
from callyard.domain.calls import CallKind
from callyard.domain.mid_call import MONITORING, Action, Part, Phase, TargetKind
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.services.agent_reach import AgentReach
from callyard.services.calls import CallAgent, CallService, LiveCall
from callyard.services.groups import GroupService
from callyard.services.queues.acd import Distributor
from callyard.services.sessions.model import AgentSession, MidCallOutcome, Notice, SessionCall
from callyard.services.sessions.service import AgentSessions
from callyard.switch.commands import (
    CallStateError,
    Drop,
    Hearing,
    Hold,
    Invite,
    MidCall,
    Mute,
    Release,
    Resume,
    Target,
)
from callyard.switch.events import (
    AGENT_LEG,
    CallEnded,
    LegAnswered,
    LegEnded,
    LegFailed,
    LegHeld,
    LegRinging,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort

log = logging.getLogger("callyard.sessions.mid_call")

RING_SECONDS = 30.0  # how long a party called into a call may ring
CONSULT, MONITOR = "consult", "monitor"  # the legs' names, numbered per call
# Kinds of calls whose customer the switch holds for services (bridged through a held
# call): their agents may act on them mid-call.
_CONTROLLED = frozenset({CallKind.CLICK_TO_CALL, CallKind.TWO_WAY, CallKind.PREDICTIVE})
# Who hears a supervisor, by its part: nobody (listening), the agent (whispering), all.
_HEARD_BY_NOBODY: frozenset[str] = frozenset()


@dataclass
class _Party:
    """A party called into the call (a consult, a supervised transfer's target, a
    supervisor): its leg, who asked, the agent it is (if one), what for."""

    leg: str
    action: Action
    requester: AgentSession
    sequence: int
    agent: AgentSession | None = None
    answered: bool = False
    part: Part = Part.NORMAL


@dataclass
class _Controlled:
    """A call in progress that takes mid-call requests."""

    call_id: str
    company_id: int
    handler: str  # the leg of the agent handling the customer now
    held: bool = False
    consulted: _Party | None = None  # a consult or supervised transfer
    joined: dict[str, _Party] = field(default_factory=dict)  # three-way parties, by leg
    monitors: dict[str, _Party] = field(default_factory=dict)  # supervisors, by leg
    blind: _Party | None = None  # a blind transfer's target, ringing
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def leg(self, kind: str) -> str:
        return f"{kind}-{next(self.numbers)}"


class MidCalls:
    """Every call in progress that an agent or supervisor acted on."""

    def __init__(
        self,
        sessions: AgentSessions,
        switch: SwitchPort,
        calls: CallService,
        reach: AgentReach,
        groups: GroupService,
        distributor: Distributor,
        music: Callable[[], Path],
    ) -> None:
        self._sessions = sessions
        self._switch = switch
        self._calls_service = calls
        self._live: Mapping[str, LiveCall] = calls.live
        self._reach = reach
        self._groups = groups
        self._distributor = distributor
        self._music = music
        self._calls: dict[str, _Controlled] = {}
        switch.subscribe(self.on_event)

    # an agent's requests -------------------------------------------------------------

    async def hold(self, agent: AgentSession, sequence: int) -> None:
        controlled, call = self._handling(agent, Action.HOLD, sequence)
        if controlled.held:
            self._refuse(agent, Action.HOLD, sequence, Refusal.AGENT_WRONG_STATE, "on hold already")
        self._control(Hold(controlled.call_id, self._music()))
        controlled.held = call.held = True
        self._tell(agent, Action.HOLD, Phase.DONE, sequence)

    async def unhold(self, agent: AgentSession, sequence: int) -> None:
        controlled, _call = self._handling(agent, Action.UNHOLD, sequence)
        if not controlled.held or controlled.consulted is not None:
            why = "a consult holds the customer" if controlled.held else "not on hold"
            self._refuse(agent, Action.UNHOLD, sequence, Refusal.AGENT_WRONG_STATE, why)
        self._resume(controlled)
        self._tell(agent, Action.UNHOLD, Phase.DONE, sequence)

    async def mute(self, agent: AgentSession, muted: bool, sequence: int) -> None:
        action = Action.MUTE if muted else Action.UNMUTE
        call = self._in_call(agent, action, sequence)
        if call.muted == muted:
            why = "muted already" if muted else "not muted"
            self._refuse(agent, action, sequence, Refusal.AGENT_WRONG_STATE, why)
        self._control(Mute(call.call_id, call.leg, muted))
        call.muted = muted
        self._tell(agent, action, Phase.DONE, sequence)

    async def transfer(
        self, agent: AgentSession, kind: TargetKind, to: str, blind: bool, sequence: int
    ) -> None:
        """Hand the call to an agent, a number or a group: at once (`blind`: the agent
        leaves now), or once the party answers (the agent stays until then)."""
        action = Action.TRANSFER
        controlled, _call = self._handling(agent, action, sequence)
        self._nothing_under_way(controlled, agent, action, sequence)
        if kind is TargetKind.GROUP:
            queued = await self._to_queue(controlled, agent, to, sequence)
            if queued:
                return
        target, target_agent = await self._target(agent, kind, to, action, sequence)
        if not blind:
            self._call_in(controlled, agent, action, sequence, target, target_agent, Part.TRANSFER)
            return
        party = _Party("", action, agent, sequence, target_agent, part=Part.TRANSFER)
        self._release(controlled)
        controlled.blind = party
        controlled.handler = ""
        if target_agent is not None:
            self._sessions.expect(controlled.call_id, AGENT_LEG, target_agent, Part.TRANSFER)
        try:
            self._switch.attach(controlled.call_id, target)
        except CallStateError:
            controlled.blind = None
            self._unreserve(controlled, party)
            self._refuse(agent, action, sequence, Refusal.AGENT_NO_CALL, "the call is over")
        self._tell(agent, action, Phase.CALLING, sequence, part=Part.TRANSFER)

    async def transfer_cancel(self, agent: AgentSession, sequence: int) -> None:
        controlled, _call = self._handling(agent, Action.TRANSFER_CANCEL, sequence)
        party = controlled.consulted
        if party is None or party.action is not Action.TRANSFER or party.answered:
            self._refuse(
                agent,
                Action.TRANSFER_CANCEL,
                sequence,
                Refusal.NOTHING_PENDING,
                "no transfer ringing",
            )
        self._drop_consulted(controlled)
        self._tell(agent, Action.TRANSFER_CANCEL, Phase.DONE, sequence)

    async def consult(self, agent: AgentSession, kind: TargetKind, to: str, sequence: int) -> None:
        """The customer waits (music) while the agent talks to an agent, a number or one
        of a group's ready agents."""
        controlled, _call = self._handling(agent, Action.CONSULT, sequence)
        self._nothing_under_way(controlled, agent, Action.CONSULT, sequence)
        target, target_agent = await self._target(agent, kind, to, Action.CONSULT, sequence)
        self._call_in(
            controlled, agent, Action.CONSULT, sequence, target, target_agent, Part.CONSULT
        )

    async def consult_cancel(self, agent: AgentSession, sequence: int) -> None:
        controlled, _call = self._handling(agent, Action.CONSULT_CANCEL, sequence)
        self._consulting(controlled, agent, Action.CONSULT_CANCEL, sequence, answered=False)
        self._drop_consulted(controlled)
        self._tell(agent, Action.CONSULT_CANCEL, Phase.DONE, sequence)

    async def consult_transfer(self, agent: AgentSession, sequence: int) -> None:
        """The customer is put through to the party consulted; the agent leaves."""
        controlled, _call = self._handling(agent, Action.CONSULT_TRANSFER, sequence)
        party = self._consulting(controlled, agent, Action.CONSULT_TRANSFER, sequence)
        self._hand_over(controlled, party)
        self._tell(agent, Action.CONSULT_TRANSFER, Phase.DONE, sequence)

    async def three_way(self, agent: AgentSession, sequence: int) -> None:
        """The customer, the agent and the party consulted all talk together."""
        controlled, _call = self._handling(agent, Action.THREE_WAY, sequence)
        party = self._consulting(controlled, agent, Action.THREE_WAY, sequence)
        controlled.consulted = None  # a party of the call now, no consult any more
        controlled.joined[party.leg] = party
        self._resume(controlled)
        self._tell(agent, Action.THREE_WAY, Phase.DONE, sequence)

    # a supervisor's requests ---------------------------------------------------------

    async def monitor(
        self, supervisor: AgentSession, number: str, action: Action, sequence: int
    ) -> None:
        """Listen to, whisper to, barge in on or intercept agent `number`'s call: the
        supervisor's phone is called into the call (or, already in it, changes part)."""
        controlled, agent = self._supervised(supervisor, number, action, sequence)
        part = MONITORING[action]
        mine = next((p for p in controlled.monitors.values() if p.agent is supervisor), None)
        if mine is not None and mine.answered:
            mine.action, mine.part, mine.sequence = action, part, sequence
            self._monitoring(controlled, mine, agent)
            return
        if mine is not None or supervisor.call is not None or not takes_call(supervisor):
            self._refuse(supervisor, action, sequence, Refusal.AGENT_WRONG_STATE, "in a call")
        target = await self._reach.agent(
            supervisor.company_id,
            supervisor.extension,
            supervisor,
            agent.number,
            RING_SECONDS,
        )
        if target is None:
            self._refuse(
                supervisor, action, sequence, Refusal.AGENT_UNREACHABLE, "no phone to ring"
            )
        leg = controlled.leg(MONITOR)
        party = _Party(leg, action, supervisor, sequence, supervisor, part=part)
        controlled.monitors[leg] = party
        self._sessions.expect(controlled.call_id, leg, supervisor, part)
        heard_by = self._heard_by(controlled, part)
        self._control(Invite(controlled.call_id, leg, target, heard_by))

    async def force_release(self, supervisor: AgentSession, number: str, sequence: int) -> None:
        """End agent `number`'s call."""
        controlled, _agent = self._supervised(supervisor, number, Action.FORCE_RELEASE, sequence)
        self._switch.hangup(controlled.call_id)
        self._tell(supervisor, Action.FORCE_RELEASE, Phase.DONE, sequence)

    # the switch's events -------------------------------------------------------------

    def on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, CallEnded):
            self._ended(event)
            return
        if isinstance(event, LegHeld):
            self._phone_held(event)
            return
        if isinstance(event, LegAnswered) and event.leg == AGENT_LEG:
            self._taken_over(event.call_id)
        controlled = self._calls.get(getattr(event, "call_id", ""))
        if controlled is None:
            return
        if isinstance(event, LegRinging):
            self._ringing(controlled, event.leg)
        elif isinstance(event, LegAnswered):
            self._answered(controlled, event.leg)
        elif isinstance(event, LegFailed):
            self._failed(controlled, event)
        elif isinstance(event, LegEnded):
            self._left(controlled, event)

    def _taken_over(self, call_id: str) -> None:
        """Another agent answered on the agent's leg after the first one left (a phone's
        attended transfer, a blind transfer's target): the record names it."""
        live = self._live.get(call_id)
        if live is None or not live.agent_left:
            return
        controlled = self._calls.get(call_id)
        if controlled is not None and controlled.blind is None:
            # Handed over by the phone itself: the switch took the customer off hold.
            controlled.held = False
            controlled.handler = AGENT_LEG
        self._handled_by(call_id, self._on_leg(call_id, AGENT_LEG))

    def _on_leg(self, call_id: str, leg: str) -> AgentSession | None:
        """The signed-in agent whose call reaches it on `leg` of call `call_id`."""
        return next(
            (
                a
                for a in self._sessions.all()
                if a.call is not None and (a.call.call_id, a.call.leg) == (call_id, leg)
            ),
            None,
        )

    def _phone_held(self, event: LegHeld) -> None:
        """The handling agent's phone held the call (its hold key): the customer hears
        the music; or took it off hold."""
        agent = self._on_leg(event.call_id, event.leg)
        if agent is None or agent.call is None or not agent.call.talked:
            return
        controlled = self._controlled(agent.call)
        if controlled is None or controlled.handler != event.leg:
            return
        if event.held and not controlled.held:
            self._control(Hold(controlled.call_id, self._music()))
            controlled.held = agent.call.held = True
            self._tell(agent, Action.HOLD, Phase.DONE, 0)
        elif not event.held and controlled.held and controlled.consulted is None:
            self._resume(controlled)
            self._tell(agent, Action.UNHOLD, Phase.DONE, 0)

    def _ringing(self, controlled: _Controlled, leg: str) -> None:
        party = self._party(controlled, leg)
        if party is not None:
            self._tell(party.requester, party.action, Phase.CALLING, party.sequence, party.part)

    def _answered(self, controlled: _Controlled, leg: str) -> None:
        blind = controlled.blind
        if blind is not None and not blind.leg and leg == AGENT_LEG:
            controlled.blind = None
            controlled.handler = leg
            self._handled_by(controlled.call_id, blind.agent)
            self._tell(blind.requester, Action.TRANSFER, Phase.DONE, blind.sequence, blind.part)
            return
        party = self._party(controlled, leg)
        if party is None:
            return
        party.answered = True
        if party.action is Action.TRANSFER:
            self._hand_over(controlled, party)
            self._tell(party.requester, Action.TRANSFER, Phase.DONE, party.sequence, party.part)
        elif party.action is Action.CONSULT:
            self._tell(party.requester, Action.CONSULT, Phase.DONE, party.sequence, party.part)
        else:
            handler = self._on_leg(controlled.call_id, controlled.handler)
            if handler is not None:
                self._monitoring(controlled, party, handler)

    def _failed(self, controlled: _Controlled, event: LegFailed) -> None:
        blind = controlled.blind
        if blind is not None and event.leg == AGENT_LEG:
            controlled.blind = None
            self._unreserve(controlled, blind)
            cause = event.cause.value
            self._tell(blind.requester, Action.TRANSFER, Phase.FAILED, blind.sequence, cause=cause)
            self._switch.hangup(controlled.call_id)  # nobody took the customer
            return
        party = self._party(controlled, event.leg)
        if party is None:
            return
        self._forget(controlled, party)
        self._unreserve(controlled, party)
        if controlled.consulted is None and party.action in (Action.CONSULT, Action.TRANSFER):
            self._resume(controlled)
        self._tell(
            party.requester, party.action, Phase.FAILED, party.sequence, cause=event.cause.value
        )

    def _left(self, controlled: _Controlled, event: LegEnded) -> None:
        party = self._party(controlled, event.leg)
        if party is not None:
            self._forget(controlled, party)
            if party.action is Action.CONSULT and party.answered and event.by_party:
                self._resume(controlled)
                self._tell(party.requester, Action.CONSULTED_LEFT, Phase.DONE, party.sequence)
            return
        if event.leg != controlled.handler or not event.by_party:
            return
        # The agent handling the customer hung up: a party it consulted takes the call;
        # without one (only supervisors listening), the call ends.
        consulted = controlled.consulted
        talking = [consulted] if consulted is not None and consulted.answered else []
        talking += list(controlled.joined.values())
        talking += [p for p in controlled.monitors.values() if p.part is Part.BARGE]
        if talking:
            self._hand_over(controlled, talking[0], drop_handler=False)
            return
        self._switch.hangup(controlled.call_id)

    def _ended(self, event: CallEnded) -> None:
        """The call is over: an agent reserved for a party it never rang is free."""
        controlled = self._calls.pop(event.call_id, None)
        if controlled is None:
            return
        parties = [controlled.consulted, controlled.blind, *controlled.monitors.values()]
        for party in parties:
            if party is not None:
                self._unreserve(controlled, party)

    # what the requests share ---------------------------------------------------------

    def _in_call(self, agent: AgentSession, action: Action, sequence: int) -> SessionCall:
        """The call the agent talks in."""
        call = agent.call
        if call is None or not call.talked or agent.status is not Status.TALKING:
            self._refuse(agent, action, sequence, Refusal.AGENT_NO_CALL, "not in a call")
        return call

    def _handling(
        self, agent: AgentSession, action: Action, sequence: int
    ) -> tuple[_Controlled, SessionCall]:
        """The call whose customer the agent handles, and the agent's part of it."""
        call = self._in_call(agent, action, sequence)
        controlled = self._controlled(call)
        if controlled is None:
            self._refuse(
                agent, action, sequence, Refusal.CALL_NOT_CONTROLLED, "this call takes no requests"
            )
        if controlled.handler != call.leg:
            self._refuse(
                agent, action, sequence, Refusal.AGENT_WRONG_STATE, "another agent has the call"
            )
        return controlled, call

    def _controlled(self, call: SessionCall) -> _Controlled | None:
        controlled = self._calls.get(call.call_id)
        if controlled is not None:
            return controlled
        live = self._live.get(call.call_id)
        if live is None or not (live.queued or live.kind in _CONTROLLED):
            return None
        controlled = _Controlled(call.call_id, live.caller.company_id, call.leg)
        self._calls[call.call_id] = controlled
        return controlled

    def _supervised(
        self, supervisor: AgentSession, number: str, action: Action, sequence: int
    ) -> tuple[_Controlled, AgentSession]:
        """The call a supervisor acts on: agent `number`'s, which it handles."""
        if supervisor.role is not AgentRole.SUPERVISOR:
            self._refuse(supervisor, action, sequence, Refusal.NOT_SUPERVISOR, "not a supervisor")
        agent = self._sessions.by_number(supervisor.company_id, number)
        if agent is None or agent is supervisor:
            self._refuse(supervisor, action, sequence, Refusal.AGENT_SIGNED_OUT, "not signed in")
        call = agent.call
        if call is None or not call.talked or agent.status is not Status.TALKING:
            self._refuse(supervisor, action, sequence, Refusal.AGENT_NO_CALL, "not in a call")
        controlled = self._controlled(call)
        if controlled is None or controlled.handler != call.leg:
            self._refuse(
                supervisor, action, sequence, Refusal.CALL_NOT_CONTROLLED, "a call not monitored"
            )
        return controlled, agent

    def _nothing_under_way(
        self, controlled: _Controlled, agent: AgentSession, action: Action, sequence: int
    ) -> None:
        if controlled.consulted is not None or controlled.blind is not None:
            self._refuse(
                agent, action, sequence, Refusal.AGENT_WRONG_STATE, "a consult is under way"
            )

    def _consulting(
        self,
        controlled: _Controlled,
        agent: AgentSession,
        action: Action,
        sequence: int,
        answered: bool = True,
    ) -> _Party:
        """The consult under way (answered, unless `answered` is False: any)."""
        party = controlled.consulted
        if party is None or party.action is not Action.CONSULT or (answered and not party.answered):
            why = (
                "no consult under way" if party is None else "the party consulted has not answered"
            )
            self._refuse(agent, action, sequence, Refusal.NOTHING_PENDING, why)
        return party

    async def _target(
        self, agent: AgentSession, kind: TargetKind, to: str, action: Action, sequence: int
    ) -> tuple[Target, AgentSession | None]:
        """Whom a transfer or consult rings: an agent's phone (the agent reserved), a
        number through the trunk, or a ready agent of a group."""
        if kind is TargetKind.IVR:
            self._refuse(agent, action, sequence, Refusal.TARGET_UNAVAILABLE, "no voice menus")
        if kind is TargetKind.NUMBER:
            target = await self._reach.number(agent.company_id, to, RING_SECONDS)
            if target is None:
                self._refuse(agent, action, sequence, Refusal.NO_TRUNK, "no trunk to call out on")
            return target, None
        if kind is TargetKind.GROUP:
            idle = self._sessions.idle_in(agent.company_id, to)
            other = next((v for v in idle if v.agent_id != agent.agent_id), None)
            found = self._sessions.by_agent(other.agent_id) if other is not None else None
        else:
            found = self._sessions.by_number(agent.company_id, to)
        if found is None or found is agent or not takes_offers(found.status):
            self._refuse(agent, action, sequence, Refusal.TARGET_UNAVAILABLE, "no ready agent")
        target = await self._reach.agent(
            found.company_id, found.extension, found, agent.number, RING_SECONDS
        )
        if target is None or not self._sessions.step(found, Step.RESERVE):
            self._refuse(agent, action, sequence, Refusal.TARGET_UNAVAILABLE, "cannot be rung")
        self._sessions.publish(Notice.RESERVED, found, 0)
        return target, found

    async def _to_queue(
        self, controlled: _Controlled, agent: AgentSession, group_sn: str, sequence: int
    ) -> bool:
        """Hand the customer to a group's queue, if the group has one (the agent leaves);
        False when it has none (the call goes to one of its ready agents instead)."""
        group_id = await self._groups.id_of(agent.company_id, group_sn)
        if group_id is None:
            self._refuse(agent, Action.TRANSFER, sequence, Refusal.GROUP_NOT_FOUND, "no such group")
        live = self._live.get(controlled.call_id)
        if live is None or not await self._distributor.has_queue(group_id):
            return False
        self._release(controlled)
        queued = await self._distributor.transfer_in(
            controlled.call_id, agent.company_id, live.disnumber, live.destnumber, group_id
        )
        if not queued:
            self._switch.hangup(controlled.call_id)
            self._tell(agent, Action.TRANSFER, Phase.FAILED, sequence, cause="no queue")
            return True
        self._calls.pop(controlled.call_id, None)  # a new call for whoever takes it
        self._tell(agent, Action.TRANSFER, Phase.DONE, sequence, part=Part.TRANSFER)
        return True

    def _call_in(
        self,
        controlled: _Controlled,
        agent: AgentSession,
        action: Action,
        sequence: int,
        target: Target,
        target_agent: AgentSession | None,
        part: Part,
    ) -> None:
        """Hold the customer and call a party into the call (a consult, a supervised
        transfer's target): the agent talks to it alone."""
        leg = controlled.leg(CONSULT)
        controlled.consulted = _Party(leg, action, agent, sequence, target_agent, part=part)
        if target_agent is not None:
            self._sessions.expect(controlled.call_id, leg, target_agent, part)
        if not controlled.held:
            self._control(Hold(controlled.call_id, self._music()))
            controlled.held = True
        self._control(Invite(controlled.call_id, leg, target))

    def _drop_consulted(self, controlled: _Controlled) -> None:
        party = controlled.consulted
        if party is None:
            return
        controlled.consulted = None
        self._control(Drop(controlled.call_id, party.leg))
        self._resume(controlled)

    def _hand_over(self, controlled: _Controlled, party: _Party, drop_handler: bool = True) -> None:
        """The customer is put through to `party`, which handles the call from now on;
        the agent handling it leaves (unless it has already)."""
        handler = controlled.handler
        self._forget(controlled, party)
        controlled.handler = party.leg
        if party.agent is not None and party.agent.call is not None:
            party.agent.call.part = Part.TRANSFER if party.part is Part.CONSULT else party.part
        if drop_handler and handler:
            self._control(Drop(controlled.call_id, handler))
        self._control(Hearing(controlled.call_id, party.leg, None))
        self._resume(controlled)
        self._handled_by(controlled.call_id, party.agent)

    def _monitoring(self, controlled: _Controlled, party: _Party, agent: AgentSession) -> None:
        """A supervisor in the call takes its part: heard by nobody, the agent, or all;
        intercepting, it takes the call over."""
        if party.agent is not None and party.agent.call is not None:
            party.agent.call.part = party.part
        if party.part is Part.INTERCEPT:
            self._hand_over(controlled, party)
        else:
            heard_by = self._heard_by(controlled, party.part)
            self._control(Hearing(controlled.call_id, party.leg, heard_by))
        self._tell(party.requester, party.action, Phase.DONE, party.sequence, party.part)

    def _heard_by(self, controlled: _Controlled, part: Part) -> frozenset[str] | None:
        if part is Part.LISTEN:
            return _HEARD_BY_NOBODY
        if part is Part.WHISPER:
            return frozenset({controlled.handler})
        return None

    def _release(self, controlled: _Controlled) -> None:
        """Everyone but the customer leaves; the customer waits with music."""
        self._control(Release(controlled.call_id, self._music()))
        controlled.held = False
        controlled.consulted = None
        controlled.joined.clear()
        controlled.monitors.clear()

    def _resume(self, controlled: _Controlled) -> None:
        if controlled.held:
            self._control(Resume(controlled.call_id))
            controlled.held = False
        handler = self._on_leg(controlled.call_id, controlled.handler)
        if handler is not None and handler.call is not None:
            handler.call.held = False

    def _handled_by(self, call_id: str, agent: AgentSession | None) -> None:
        """The call's record names the agent who handles it now."""
        live = self._live.get(call_id)
        if live is None or agent is None:
            return
        group = live.agent.group if live.agent is not None else ""
        handler = CallAgent(agent.number, agent.name, group)
        self._calls_service.handed_over(call_id, agent.extension, handler)

    def _unreserve(self, controlled: _Controlled, party: _Party) -> None:
        """An agent reserved for a party's leg that never rang it is free again."""
        agent = party.agent
        self._sessions.expected(controlled.call_id, party.leg or AGENT_LEG)
        if agent is not None and agent.status is Status.RESERVED:
            self._sessions.let_go(agent, Step.RELEASE)

    def _party(self, controlled: _Controlled, leg: str) -> _Party | None:
        consulted = controlled.consulted
        if consulted is not None and consulted.leg == leg:
            return consulted
        return controlled.joined.get(leg) or controlled.monitors.get(leg)

    def _forget(self, controlled: _Controlled, party: _Party) -> None:
        if controlled.consulted is party:
            controlled.consulted = None
        controlled.joined.pop(party.leg, None)
        controlled.monitors.pop(party.leg, None)

    def _control(self, command: MidCall) -> None:
        try:
            self._switch.control(command)
        except CallStateError:
            log.info("mid-call command for a call that is over", extra={"call_id": command.call_id})

    def _tell(
        self,
        agent: AgentSession,
        action: Action,
        phase: Phase,
        sequence: int,
        part: Part = Part.NORMAL,
        cause: str = "",
    ) -> None:
        outcome = MidCallOutcome(action, phase, cause, part)
        self._sessions.publish(Notice.MID_CALL, agent, sequence, outcome)

    def _refuse(
        self, agent: AgentSession, action: Action, sequence: int, refusal: Refusal, why: str
    ) -> NoReturn:
        """Tell the agent the request failed (and why), and refuse it."""
        self._tell(agent, action, Phase.FAILED, sequence, cause=why)
        raise BusinessError(refusal, f"{action.value}: {why}")


def takes_call(agent: AgentSession) -> bool:
    """Whether a supervisor's phone may be called into another agent's call."""
    return agent.status in (Status.IDLE, Status.BUSY, Status.SIGNED_IN, Status.WRAP_UP)
