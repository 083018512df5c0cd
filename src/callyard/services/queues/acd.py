"""The distributor: callers of a queued group's number wait in the group's queue, in the
order they came, and are offered one by one to the group's free agents, chosen by the
group's ring policy.

A caller the switch holds (`IncomingCall.queued`) is answered and hears the group's
greeting, then music, until an agent answers. The oldest caller not being offered is
offered to the agent the policy picks among those free now: checked in to the group and
idle there, registered, in no call and not wrapping up or kept away, and ready in the
CTI (an agent's extension takes calls only while its agent is signed in; a plain
extension by its check-in alone). The agent's phone rings for the queue's ring time; an
agent that does not answer is made not ready (or, without a session, kept away for a
while) and the next one is tried. A caller that waits the queue's longest wait, or finds it full,
overflows: to another group's queue, to a number, or to a message and the end of the
call. Nothing here is stored: callers exist while their calls do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.bus import BusEvent
from callyard.clock import Clock
from callyard.domain.agent_sessions import LoginType, Step, takes_offers
from callyard.domain.agents import Phase
from callyard.domain.groups import Overflow
from callyard.domain.hangups import EndReason
from callyard.services.agent_reach import AgentReach
from callyard.services.agents import AgentBoard
from callyard.services.calls import CallAgent, CallService
from callyard.services.directory import Directory
from callyard.services.outbound import OutboundLines
from callyard.services.queues.policy import Candidate, Chooser
from callyard.services.queues.settings import GroupQueueView, QueueSettingsService
from callyard.services.queues.stats import QueueStats
from callyard.services.sessions.model import AgentNotice, AgentSession, Notice, WaitingCall
from callyard.services.sessions.service import AgentSessions
from callyard.store.models import Agent, CallerNumber, Extension
from callyard.switch.commands import CallStateError, Target
from callyard.switch.events import (
    AGENT_LEG,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegFailed,
    Registered,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort
from callyard.switch.relay import PCMU, PROMPT_RATE, prompt_file
from callyard.tts import Synthesizer, render_prompt

log = logging.getLogger("callyard.queues")

KEEP_AWAY_SECONDS = 30.0  # an agent without a session that missed an offer
TICK_SECONDS = 1.0  # queues are looked at again at least this often
FULL, TIMED_OUT = 486, 480  # how an unanswered caller is refused when it overflows


@dataclass
class QueuedCaller:
    """A caller waiting in a group's queue."""

    call_id: str
    company_id: int
    number: str  # who calls
    dialed: str
    group: GroupQueueView
    entered_at: float  # monotonic, in its first queue
    offered_to: str = ""  # the extension ringing for it now
    expired: bool = False  # waited its longest: overflows once the offer ringing ends
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class Distributor:
    """Every queued caller of every company, and the offers made for them."""

    def __init__(
        self,
        switch: SwitchPort,
        queues: QueueSettingsService,
        board: AgentBoard,
        sessions: AgentSessions,
        calls: CallService,
        lines: OutboundLines,
        directory: Directory,
        clock: Clock,
        synthesizer: Synthesizer,
        music: Callable[[], Path],
        stats: QueueStats,
    ) -> None:
        self._switch = switch
        self._queues = queues
        self._board = board
        self._sessions = sessions
        self._calls = calls
        self._reach = AgentReach(switch, lines, directory)
        self._directory = directory
        self._clock = clock
        self._synthesizer = synthesizer
        self._music = music
        self.stats = stats
        self._chooser = Chooser()
        self._callers: dict[str, QueuedCaller] = {}  # by call id
        self._waiting: dict[int, list[QueuedCaller]] = {}  # by group, oldest first
        self._offered: dict[str, str] = {}  # extension -> call id ringing it
        self._answered: dict[str, int] = {}  # extension -> calls answered from queues
        self._dispatching: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        switch.subscribe(self.on_event)

    # what callers and agents do

    def on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, IncomingCall):
            if event.queued:
                self._spawn(self._enter(event))
        elif isinstance(event, LegFailed):
            self._offer_failed(event)
        elif isinstance(event, LegAnswered):
            self._offer_taken(event)
        elif isinstance(event, CallEnded):
            self._ended(event)
        elif isinstance(event, Registered):
            self.wake_all()

    def on_bus_event(self, event: BusEvent) -> None:
        """An agent made ready (or out of wrap-up) may take a waiting caller."""
        if not isinstance(event, AgentNotice):
            return
        if event.kind is Notice.READY:
            for group in event.agent.groups:
                self.wake(group.group_id)
        elif event.kind is Notice.SIGNED_OUT:
            self._withdraw(event.agent.extension)

    def _withdraw(self, number: str) -> None:
        """The agent left while a caller was offered to it: its phone stops ringing and
        the caller is offered to the next (LegFailed)."""
        call_id = self._offered.get(number)
        if call_id is None:
            return
        try:
            self._switch.detach(call_id)
        except CallStateError:
            log.debug("offer already over", extra={"call_id": call_id})

    async def run(self) -> None:
        """Look at every queue with callers each tick (agents freed by what sends no
        event: a check-in changed elsewhere, a keep-away over)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.wake_all()
            self.stats.refresh(self._waiting, self._clock.monotonic())
            self.stats.count_agents(self._sessions.listing_all())

    def wake_all(self) -> None:
        for group_id, waiting in list(self._waiting.items()):
            if waiting:
                self.wake(group_id)

    def waiting(self, group_id: int) -> tuple[WaitingCall, ...]:
        """The group's callers waiting now, oldest first."""
        now, now_ms = self._clock.monotonic(), self._clock.now().timestamp() * 1000
        return tuple(
            WaitingCall(c.number, c.dialed, round(now_ms - (now - c.entered_at) * 1000))
            for c in self._waiting.get(group_id, ())
        )

    # entering and leaving

    async def _enter(self, incoming: IncomingCall) -> None:
        group_id = await self._group_of(incoming.dialed)
        queue = await self._queues.of_group(group_id) if group_id is not None else None
        if queue is None or queue.company_id != incoming.company_id:
            self._command(partial(self._switch.hangup, incoming.call_id, status=TIMED_OUT))
            return
        caller = QueuedCaller(
            incoming.call_id,
            incoming.company_id,
            incoming.caller,
            incoming.dialed,
            queue,
            incoming.at,
        )
        live = self._calls.live.get(incoming.call_id)
        if live is not None:
            live.queued_at = incoming.at
        if not self._command(partial(self._switch.answer, incoming.call_id)):
            return
        self._callers[caller.call_id] = caller
        await self._join(caller, queue, greet=True)

    async def has_queue(self, group_id: int) -> bool:
        """Whether the group has a queue."""
        return await self._queues.of_group(group_id) is not None

    async def transfer_in(
        self, call_id: str, company_id: int, number: str, dialed: str, group_id: int
    ) -> bool:
        """A caller handed over to a group (its call held, answered) joins the group's
        queue, without the greeting; False when the group has no queue."""
        queue = await self._queues.of_group(group_id)
        if queue is None or queue.company_id != company_id or call_id in self._callers:
            return False
        caller = QueuedCaller(call_id, company_id, number, dialed, queue, self._clock.monotonic())
        self._callers[call_id] = caller
        await self._join(caller, queue, greet=False)
        return True

    async def _join(self, caller: QueuedCaller, queue: GroupQueueView, greet: bool) -> None:
        """Put the caller in `queue`'s line, by when it first came."""
        caller.group = queue
        waiting = self._waiting.setdefault(queue.group_id, [])
        if len(waiting) >= queue.settings.max_size:
            self.stats.overflowed(queue, full=True)
            await self._overflow(caller, full=True)
            return
        waiting.append(caller)
        waiting.sort(key=lambda c: c.entered_at)
        self.stats.entered(queue)
        loop = asyncio.get_running_loop()
        caller.timers.append(loop.call_later(queue.settings.max_wait_seconds, self._expire, caller))
        await self._hold(caller, greet)
        self.wake(queue.group_id)

    async def _hold(self, caller: QueuedCaller, greet: bool) -> None:
        """The greeting once, then the music over and over."""
        settings = caller.group.settings
        music = Path(settings.music_file) if settings.music_file else self._music()
        greeting = None
        if greet and settings.greeting:
            try:
                greeting = await render_prompt(
                    self._synthesizer, settings.greeting, settings.language
                )
            except Exception:
                log.exception(
                    "the greeting could not be spoken", extra={"group": caller.group.name}
                )
        if self._callers.get(caller.call_id) is not caller or caller.offered_to:
            return
        if greeting is None:
            self._command(partial(self._switch.play, caller.call_id, music, False, True))
            return
        self._command(partial(self._switch.play, caller.call_id, greeting, False))
        seconds = prompt_seconds(greeting)

        def then_music() -> None:
            if self._callers.get(caller.call_id) is caller and not caller.offered_to:
                self._command(partial(self._switch.play, caller.call_id, music, False, True))

        caller.timers.append(asyncio.get_running_loop().call_later(seconds, then_music))

    def _leave(self, caller: QueuedCaller) -> None:
        caller.cancel_timers()
        waiting = self._waiting.get(caller.group.group_id, [])
        if caller in waiting:
            waiting.remove(caller)
        if caller.offered_to and self._offered.get(caller.offered_to) == caller.call_id:
            del self._offered[caller.offered_to]
        caller.offered_to = ""

    def _expire(self, caller: QueuedCaller) -> None:
        if self._callers.get(caller.call_id) is not caller:
            return
        caller.expired = True
        if not caller.offered_to:  # else once the offer ringing now ends
            self.stats.overflowed(caller.group, full=False)
            self._spawn(self._overflow(caller, full=False))

    async def _overflow(self, caller: QueuedCaller, full: bool) -> None:
        self._leave(caller)
        settings = caller.group.settings
        caller.expired = False
        if settings.overflow is Overflow.GROUP and caller.group.overflow_group_id is not None:
            target = await self._queues.of_group(caller.group.overflow_group_id)
            if target is not None:
                await self._join(caller, target, greet=False)
                return
        if settings.overflow is Overflow.NUMBER:
            number = await self._reach.number(
                caller.company_id, settings.overflow_number, settings.max_wait_seconds
            )
            if number is not None:
                self._callers.pop(caller.call_id, None)
                self._command(partial(self._switch.attach, caller.call_id, number))
                return
        self._callers.pop(caller.call_id, None)
        if settings.overflow_message:
            try:
                message = await render_prompt(
                    self._synthesizer, settings.overflow_message, settings.language
                )
                self._command(partial(self._switch.play, caller.call_id, message, True))
                return
            except Exception:
                log.exception("the overflow message could not be spoken")
        status = FULL if full else TIMED_OUT
        self._command(partial(self._switch.hangup, caller.call_id, status=status))

    def _ended(self, event: CallEnded) -> None:
        caller = self._callers.pop(event.call_id, None)
        if caller is None:
            return
        self.stats.abandoned(caller.group, event.at - caller.entered_at)
        group_id = caller.group.group_id
        self._leave(caller)
        self.wake(group_id)

    # offers

    def _offer_taken(self, event: LegAnswered) -> None:
        caller = self._callers.get(event.call_id)
        if caller is None or event.leg != AGENT_LEG or not caller.offered_to:
            return
        number = caller.offered_to
        self._answered[number] = self._answered.get(number, 0) + 1
        self.stats.answered(caller.group, event.at - caller.entered_at)
        live = self._calls.live.get(caller.call_id)
        session = self._sessions.by_extension(number)
        if live is not None:
            live.extnumber = live.answered_by = number  # the extension, also for a mobile
            live.agent = CallAgent(
                session.number if session else "",
                session.name if session else "",
                caller.group.name,
            )
        self._leave(caller)
        del self._callers[caller.call_id]

    def _offer_failed(self, event: LegFailed) -> None:
        caller = self._callers.get(event.call_id)
        if caller is None or event.leg != AGENT_LEG:
            return
        number, caller.offered_to = caller.offered_to, ""
        if self._offered.get(number) == caller.call_id:
            del self._offered[number]
        self._board.disengage(caller.call_id, number)  # an offer to a mobile
        withdrawn = event.cause is EndReason.CANCELLED  # its agent signed out meanwhile
        if number and not withdrawn and self._sessions.by_extension(number) is None:
            self._board.keep_away(number, self._clock.monotonic(), KEEP_AWAY_SECONDS)
        if caller.expired:
            self.stats.overflowed(caller.group, full=False)
            self._spawn(self._overflow(caller, full=False))
            return
        self.wake(caller.group.group_id)

    def wake(self, group_id: int) -> None:
        """Offer the group's waiting callers to its free agents (once more if a pass is
        under way)."""
        if group_id in self._dispatching:
            self._again.add(group_id)
            return
        task = asyncio.get_running_loop().create_task(self._dispatch(group_id))
        self._dispatching[group_id] = task

    async def _dispatch(self, group_id: int) -> None:
        try:
            while True:
                self._again.discard(group_id)
                await self._offer_all(group_id)
                if group_id not in self._again:
                    return
        except Exception:
            log.exception("offering queued callers failed", extra={"group_id": group_id})
        finally:
            self._dispatching.pop(group_id, None)

    async def _offer_all(self, group_id: int) -> None:
        while True:
            waiting = [c for c in self._waiting.get(group_id, ()) if not c.offered_to]
            if not waiting:
                return
            caller = waiting[0]
            candidates = await self._candidates(caller.group)
            chosen = self._chooser.choose(group_id, caller.group.policy, candidates)
            if chosen is None or not await self._offer(caller, chosen.number):
                return

    async def _target(
        self, caller: QueuedCaller, number: str, session: AgentSession | None
    ) -> Target | None:
        """Where the offer rings: the phone registered on the agent's extension, or the
        mobile of an agent signed in on it (through the company's trunk)."""
        ring = caller.group.settings.ring_seconds
        return await self._reach.agent(caller.company_id, number, session, caller.number, ring)

    async def _offer(self, caller: QueuedCaller, number: str) -> bool:
        """Ring the agent on `number` for the caller; False when it cannot be rung."""
        session = self._sessions.by_extension(number)
        target = await self._target(caller, number, session)
        if target is None or caller.offered_to or self._callers.get(caller.call_id) is not caller:
            return False
        if session is not None and self._sessions.step(session, Step.RESERVE):
            self._sessions.publish(Notice.RESERVED, session, 0)
        if session is not None and target.user != number:
            self._sessions.offering(caller.call_id, session)
            self._board.engage(caller.call_id, number)
        try:
            self._switch.attach(caller.call_id, target)
        except CallStateError:
            # The call ended (or is ending) meanwhile: its CallEnded takes it out.
            if session is not None and self._sessions.step(session, Step.RELEASE):
                self._sessions.publish(Notice.READY, session, 0)
            log.debug("offer to a call that is over", extra={"call_id": caller.call_id})
            return False
        caller.offered_to = number
        self._offered[number] = caller.call_id
        self.stats.offered(caller.group, self._clock.monotonic() - caller.entered_at)
        return True

    async def _candidates(self, queue: GroupQueueView) -> list[Candidate]:
        now = self._clock.monotonic()
        levels = await self._levels(queue.company_id)
        found = []
        for check_in in await self._board.group_members(queue.group_id):
            number = check_in.number
            if check_in.state.value != "idle" or number in self._offered:
                continue
            session = self._sessions.by_extension(number)
            on_mobile = session is not None and session.login_type is LoginType.MOBILE
            reachable = (
                bool(session.mobile) if session and on_mobile else self._board.registered(number)
            )
            if not reachable or self._board.in_call(number):
                continue
            if self._board.phase(number, now) is not Phase.IDLE:
                continue
            if session is None and number in levels:
                continue  # an agent's extension takes calls while its agent is signed in
            if session is not None and not takes_offers(session.status):
                continue
            seat = self._board.seat(number)
            found.append(
                Candidate(
                    number,
                    seat.available_since,
                    levels.get(number, 0),
                    self._answered.get(number, 0),
                )
            )
        return found

    # look-ups (from memory until the store changes)

    async def _group_of(self, dialed: str) -> int | None:
        bare = dialed.removeprefix("+")

        async def load(session: AsyncSession) -> int | None:
            return await session.scalar(
                select(CallerNumber.route_group_id).where(
                    CallerNumber.number.in_((bare, "+" + bare)),
                    CallerNumber.route_group_id.is_not(None),
                )
            )

        return await self._directory.cached("queued-number", bare, load)

    async def _levels(self, company_id: int) -> dict[str, int]:
        async def load(session: AsyncSession) -> dict[str, int]:
            rows = await session.execute(
                select(Extension.number, Agent.level)
                .join(Agent, Agent.extension_id == Extension.id)
                .where(Agent.company_id == company_id)
            )
            return {number: level for number, level in rows}

        return await self._directory.cached("agent-levels", company_id, load) or {}

    def _command(self, command: Callable[[], None]) -> bool:
        """Give the switch a command for a call; False when the call is over (or ending),
        as a caller may hang up at any moment."""
        try:
            command()
        except CallStateError as exc:
            log.debug("command for a call that is over", extra={"why": str(exc)})
            return False
        return True

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def prompt_seconds(base: Path) -> float:
    """How long a prompt plays."""
    return prompt_file(base, PCMU).stat().st_size / PROMPT_RATE
