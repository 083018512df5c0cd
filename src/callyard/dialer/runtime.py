"""The dialer: runs every task in progress with real calls.

Each tick (and at once after anything that frees or needs an agent) it asks each task's
pacer how many customers to dial, claims that many numbers in the store (durably, before
any INVITE), and dials them through the company's trunk. An answered customer gets the
longest-free agent of the task's group at once; if no agent takes the call within
`max_wait` seconds the customer hears the abandon message and the call ends, abandoned.

Call records are written by the CallService like every other call's (predictive); the task
service finishes the number's attempt in the record's own transaction, so task counters
always match the records. Attempts a crash cut short are recorded at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from callyard.clock import Clock
from callyard.dialer.floor import AgentFloor
from callyard.dialer.pacing import FloorView, PacerHistory, PredictivePacer
from callyard.domain.agents import AgentState
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party, q850_cause
from callyard.errors import BusinessError
from callyard.metrics import Metrics
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.calls import CallService, CustomFields
from callyard.services.cdrs import CallRecord, CdrService
from callyard.services.directory import Directory
from callyard.services.groups import GroupService
from callyard.services.numbers import NumberService
from callyard.services.outbound import OutboundLine, OutboundLines
from callyard.services.tasks import (
    LINE_FAILURES,
    AttemptOutcome,
    DialOrder,
    InFlightAttempt,
    TaskHistory,
    TaskPlan,
    TaskService,
)
from callyard.services.trunks import TrunkService
from callyard.switch.commands import CallStateError, Dial, Target
from callyard.switch.events import (
    CallBridged,
    CallEnded,
    CallEvent,
    LegAnswered,
    LegFailed,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort
from callyard.tts import SynthesisError, Synthesizer, render_prompt

log = logging.getLogger("callyard.dialer")

CUSTOMER_LEG, AGENT_LEG = "customer", "agent"


@dataclass(frozen=True)
class AbandonMessage:
    """What a customer hears when no agent takes the call in time."""

    synthesizer: Synthesizer
    text: str
    language: str


@dataclass(frozen=True)
class DialerConfig:
    tick_seconds: float = 0.5
    max_wait: float = 2.0  # an answered customer waits this long for an agent
    agent_ring_timeout: float = 10.0
    max_new_per_tick: int = 50
    refresh_seconds: float = 1.0  # how often running tasks are re-read from the store
    staffed_flush_seconds: float = 10.0  # how often agents' staffed time is stored
    hold_after_line_failures: int = 3  # dials in a row the trunk failed: hold the numbers
    probe_seconds: float = 15.0  # while held, how often the trunk is asked (OPTIONS)


@dataclass
class DialerCall:
    """One customer call of a task, as the dialer follows it."""

    order: DialOrder
    task: Campaign
    dialed_at: float
    answered_at: float | None = None
    agent: str | None = None
    bridged_at: float | None = None
    abandoned: bool = False


@dataclass
class Campaign:
    """A running task: its plan, pacer, calls in flight and customers waiting for an agent."""

    plan: TaskPlan
    caller: Caller
    pacer: PredictivePacer
    calls: dict[str, DialerCall] = field(default_factory=dict)
    waiting: deque[str] = field(default_factory=deque)
    members: list[tuple[str, AgentState]] = field(default_factory=list)  # check-ins
    staffed: list[str] = field(default_factory=list)
    staffed_seconds: float = 0.0  # agent-seconds staffed, not yet stored
    talking_seconds: float = 0.0  # of them, on the task's calls, not yet stored
    running: bool = True
    # Why the task cannot dial now (no trunk, no caller ID, its trunk does not answer):
    # logged and stored when it changes; None until first stored.
    blocked: str | None = None
    line_failures: int = 0  # dials in a row that failed on the line
    trunk_down: str = ""  # why the trunk is taken to be down, until it answers a probe
    probe: asyncio.Task[None] | None = None
    probe_at: float = float("-inf")

    def ringing_since(self) -> list[float]:
        return [c.dialed_at for c in self.calls.values() if c.answered_at is None]


def pacer_history(history: TaskHistory, wall: datetime, wrapup: float) -> PacerHistory:
    """What the pacer needs to go on after a restart, from the task's stored attempts
    (every connected call was followed by the task's `wrapup` seconds)."""

    def ago(moment: datetime) -> float:
        return max(0.0, (wall - moment).total_seconds())

    answered = [a for a in history.attempts if a.answered_at is not None]
    return PacerHistory(
        dialed=history.dialed,
        answered=history.answered,
        abandoned=history.abandoned,
        answered_ago=[ago(a.answered_at) for a in answered if a.answered_at is not None],
        abandoned_ago=[
            ago(a.ended_at) for a in history.attempts if a.outcome is AttemptOutcome.ABANDONED
        ],
        ring_seconds=[a.ring_seconds for a in answered],
        failed_ring_seconds=[a.ring_seconds for a in history.attempts if a.answered_at is None],
        talk_seconds=[float(a.talk_seconds) for a in answered if a.talk_seconds is not None],
        wrapup_seconds=[wrapup for a in history.attempts if a.outcome is AttemptOutcome.CONNECTED],
    )


class Dialer:
    """Every running task's pacing and calls."""

    def __init__(
        self,
        tasks: TaskService,
        calls: CallService,
        switch: SwitchPort,
        groups: GroupService,
        directory: Directory,
        trunks: TrunkService,
        numbers: NumberService,
        cdrs: CdrService,
        clock: Clock,
        metrics: Metrics,
        abandon_message: AbandonMessage | None,
        config: DialerConfig = DialerConfig(),
        agents: AgentBoard | None = None,
    ) -> None:
        self._tasks = tasks
        self._calls = calls
        self._switch = switch
        self._groups = groups
        self._directory = directory
        self._lines = OutboundLines(trunks, numbers)
        self._cdrs = cdrs
        self._clock = clock
        self._metrics = metrics
        self._abandon_message = abandon_message
        self._abandon_prompt: Path | None = None
        self._config = config
        self.floor = AgentFloor(agents or AgentBoard(switch))
        self.campaigns: dict[int, Campaign] = {}
        self._live: dict[str, DialerCall] = {}
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._refreshed_at = float("-inf")
        self._staffed_at: float | None = None
        self._staffed_flushed_at = float("-inf")
        switch.subscribe(self._on_event)

    async def start(self) -> None:
        """Record attempts a crash cut short, render the abandon message, then run the
        tasks in progress."""
        await self.recover()
        if self._abandon_message is not None:
            message = self._abandon_message
            try:
                self._abandon_prompt = await render_prompt(
                    message.synthesizer, message.text, message.language
                )
            except SynthesisError:
                log.exception("no abandon message: abandoned calls end without one")
        self._runner = asyncio.create_task(self._run(), name="dialer")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        for campaign in self.campaigns.values():
            if campaign.probe is not None:
                campaign.probe.cancel()
            await self._store_staffed(campaign)

    def kick(self) -> None:
        """Pace again now rather than at the next tick."""
        self._wake.set()

    async def recover(self) -> int:
        """Write the call record of every attempt still in flight in the store: the server
        stopped during those calls. Each ends as a server hangup at its start time and is
        not dialed again (unless a retry rule applies)."""
        attempts = await self._tasks.in_flight()
        for attempt in attempts:
            if attempt.call_id not in self._live:
                record = unplaced_record(
                    attempt,
                    attempt.company_id,
                    attempt.company_code,
                    EndReason.SERVER_HANGUP,
                    attempt.started_at,
                )
                await self._cdrs.record(record)
        if attempts:
            log.warning("recorded attempts cut short by a stop", extra={"count": len(attempts)})
        return len(attempts)

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:
                log.exception("dialer tick failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.tick_seconds)

    async def _tick(self) -> None:
        now = self._clock.monotonic()
        wall = self._clock.now()
        if now - self._refreshed_at >= self._config.refresh_seconds:
            self._refreshed_at = now
            await self._tasks.expire(wall)
            await self._refresh(wall)
            await self._count_staffed(now)
            await self._publish_metrics(now, wall)
        for campaign in list(self.campaigns.values()):
            # Check-ins are re-read with the tasks (every refresh); registration and
            # calls, which change by the second, are asked of the switch each time.
            campaign.staffed = self.floor.staffed(campaign.members)
            self._assign(campaign, now)
            if campaign.running and campaign.plan.is_open(wall):
                await self._pace(campaign, now, wall)
            elif not campaign.running and not campaign.calls:
                await self._store_staffed(campaign)
                await self._show_held(campaign, "")
                if campaign.probe is not None:
                    campaign.probe.cancel()
                del self.campaigns[campaign.plan.id]

    async def _refresh(self, wall: datetime) -> None:
        plans = {plan.id: plan for plan in await self._tasks.running()}
        for task_id, campaign in self.campaigns.items():
            campaign.running = task_id in plans
            if campaign.running:
                campaign.plan = plans[task_id]
        for task_id, plan in plans.items():
            if task_id not in self.campaigns:
                self.campaigns[task_id] = await self._open(plan, wall)
        for campaign in self.campaigns.values():
            campaign.members = await self._groups.checked_in(campaign.plan.group_id)

    async def _open(self, plan: TaskPlan, wall: datetime) -> Campaign:
        pacer = PredictivePacer(abandon_target=plan.abandon_target, max_wait=self._config.max_wait)
        history = await self._tasks.history(plan.id, wall - timedelta(hours=1))
        pacer.restore(self._clock.monotonic(), pacer_history(history, wall, float(plan.wrapup)))
        company = await self._directory.company(plan.company_id)
        name = company.name if company is not None else ""
        zone = company.timezone if company is not None else None
        log.info("task running", extra={"taskid": plan.taskid})
        return Campaign(plan, Caller(plan.company_id, plan.company_code, name, zone), pacer)

    async def _count_staffed(self, now: float) -> None:
        """Count each task's staffed agent-seconds since the last count (for occupancy),
        and store them every `staffed_flush_seconds` rather than at every count."""
        since, self._staffed_at = self._staffed_at, now
        if since is None:
            return
        for campaign in self.campaigns.values():
            if campaign.running:
                campaign.staffed_seconds += len(campaign.staffed) * (now - since)
                for call in campaign.calls.values():
                    campaign.talking_seconds += self._talked(campaign, call, since, now)
        if now - self._staffed_flushed_at >= self._config.staffed_flush_seconds:
            self._staffed_flushed_at = now
            for campaign in self.campaigns.values():
                await self._store_staffed(campaign)

    @staticmethod
    def _talked(campaign: Campaign, call: DialerCall, since: float, until: float) -> float:
        """Seconds of [since, until] the call's agent talked on it, counted only for an
        agent counted as staffed (so talking time never exceeds staffed time)."""
        if call.bridged_at is None or call.agent not in campaign.staffed:
            return 0.0
        return max(0.0, until - max(since, call.bridged_at))

    async def _store_staffed(self, campaign: Campaign) -> None:
        if campaign.staffed_seconds > 0 or campaign.talking_seconds > 0:
            seconds, campaign.staffed_seconds = campaign.staffed_seconds, 0.0
            talking, campaign.talking_seconds = campaign.talking_seconds, 0.0
            await self._tasks.add_staffed_seconds(campaign.plan.id, seconds, talking)

    async def _publish_metrics(self, now: float, wall: datetime) -> None:
        histories = {
            task_id: await self._tasks.history(task_id, wall)
            for task_id, campaign in self.campaigns.items()
            if campaign.running
        }
        metrics = self._metrics
        metrics.clear_tasks()
        for task_id, history in histories.items():
            campaign = self.campaigns[task_id]
            taskid = campaign.plan.taskid
            for outcome, count in (
                ("dialed", history.dialed),
                ("answered", history.answered),
                ("connected", history.connected),
                ("abandoned", history.abandoned),
            ):
                metrics.task_calls.labels(taskid, outcome).set(count)
            statistics = campaign.pacer.statistics
            for window, rate in (
                ("life", statistics.abandon_rate),
                ("hour", statistics.abandon_rate_last_hour),
            ):
                metrics.task_abandon_ratio.labels(taskid, window).set(rate or 0.0)
            if history.staffed_seconds > 0:
                metrics.task_occupancy.labels(taskid).set(history.occupancy)
            metrics.task_held.labels(taskid).set(1 if campaign.blocked else 0)
            metrics.task_agents.labels(taskid, "staffed").set(len(campaign.staffed))
            free = self.floor.free(campaign.staffed, now)
            metrics.task_agents.labels(taskid, "free").set(len(free))
            stages = {"ringing": 0, "waiting": 0, "agent": 0}
            for call in campaign.calls.values():
                stage = "ringing" if call.answered_at is None else "waiting"
                stages["agent" if call.agent is not None else stage] += 1
            for stage, count in stages.items():
                metrics.task_calls_in_progress.labels(taskid, stage).set(count)

    async def _pace(self, campaign: Campaign, now: float, wall: datetime) -> None:
        if not await self._can_dial(campaign):
            return
        view = FloorView(
            now=now,
            idle_agents=len(self.floor.free(campaign.staffed, now)),
            busy_agents=self.floor.activities(campaign.staffed, now),
            ringing_since=campaign.ringing_since(),
            waiting=len(campaign.waiting),
        )
        wanted = min(campaign.pacer.calls_to_place(view), self._config.max_new_per_tick)
        if wanted <= 0:
            return
        for order in await self._tasks.claim(campaign.plan.id, wanted, wall):
            await self._place(campaign, order)

    async def _can_dial(self, campaign: Campaign) -> bool:
        reason = ""
        try:
            line = await self._lines.line(campaign.caller, campaign.plan.disnumber or None)
        except BusinessError as exc:
            reason = exc.desc
        else:
            if campaign.trunk_down:
                reason = campaign.trunk_down
                self._probe_trunk(campaign, (line.trunk.host, line.trunk.port))
        await self._show_held(campaign, reason)
        return not reason

    async def _show_held(self, campaign: Campaign, reason: str) -> None:
        """Log and store why the task holds its numbers, when that changes."""
        if reason == campaign.blocked:
            return
        taskid = campaign.plan.taskid
        if reason:
            log.warning("task holds its numbers", extra={"taskid": taskid, "why": reason})
        elif campaign.blocked:
            log.info("task dials again", extra={"taskid": taskid})
        campaign.blocked = reason
        await self._tasks.set_held(campaign.plan.id, reason)

    def _line_failed(self, campaign: Campaign, cause: EndReason) -> None:
        campaign.line_failures += 1
        if campaign.trunk_down or campaign.line_failures < self._config.hold_after_line_failures:
            return
        campaign.trunk_down = (
            f"the trunk does not answer: {campaign.line_failures} calls in a row failed on "
            f"the line (the last: {cause.value.replace('_', ' ')}); numbers are held, not "
            f"counted as attempts, and the trunk is asked every {self._config.probe_seconds:g} s"
        )
        self.kick()

    def _probe_trunk(self, campaign: Campaign, address: tuple[str, int]) -> None:
        """Ask the trunk (OPTIONS) whether it answers again, at most every probe_seconds."""
        now = self._clock.monotonic()
        if (campaign.probe is not None and not campaign.probe.done()) or now < campaign.probe_at:
            return
        campaign.probe_at = now + self._config.probe_seconds
        campaign.probe = asyncio.create_task(self._probe(campaign, address))

    async def _probe(self, campaign: Campaign, address: tuple[str, int]) -> None:
        status = await self._switch.probe(address)
        if status is None:
            return
        log.info(
            "the trunk answers again",
            extra={"taskid": campaign.plan.taskid, "status": status, "trunk": address},
        )
        campaign.trunk_down = ""
        campaign.line_failures = 0
        self.kick()

    async def _place(self, campaign: Campaign, order: DialOrder) -> None:
        plan = campaign.plan
        line: OutboundLine | None = None
        with contextlib.suppress(BusinessError):
            line = await self._lines.line(campaign.caller, plan.disnumber or None)
        if line is None:
            # Trunk or caller-ID pool gone since the check: the attempt fails like an
            # unreachable line, and is recorded as such.
            record = unplaced_record(
                order,
                plan.company_id,
                plan.company_code,
                EndReason.LINE_FAILURE,
                self._clock.now(),
            )
            await self._cdrs.record(record)
            return
        custom = CustomFields(order.userid, order.maturity, order.memberid, order.customuuid)
        self._calls.track_predictive(
            order.call_id, campaign.caller, order.telphone, line.caller_id, custom
        )
        call = DialerCall(order, campaign, self._clock.monotonic())
        campaign.calls[order.call_id] = call
        self._live[order.call_id] = call
        self._switch.dial(Dial(order.call_id, line.to(order.telphone, float(plan.ring_timeout))))

    def _assign(self, campaign: Campaign, now: float) -> None:
        """Give waiting customers the longest-free agents, first come first served."""
        if not campaign.waiting:
            return
        free = deque(self.floor.free(campaign.staffed, now))
        while campaign.waiting and free:
            call = campaign.calls.get(campaign.waiting.popleft())
            if call is None or call.abandoned:
                continue
            agent = free.popleft()
            binding = self._switch.binding(agent)
            if binding is None:
                campaign.waiting.appendleft(call.order.call_id)
                continue
            call.agent = agent
            live = self._calls.live.get(call.order.call_id)
            if live is not None:
                live.extnumber = agent
            target = Target(
                binding.target, agent, call.order.telphone, self._config.agent_ring_timeout
            )
            try:
                self._switch.attach(call.order.call_id, target)
            except CallStateError:
                # The customer is gone (its CallEnded is on the way): the agent stays free.
                call.agent = None
                free.appendleft(agent)

    def _give_up(self, call_id: str) -> None:
        """No agent took the customer within max_wait: abandon message, then hang up."""
        call = self._live.get(call_id)
        if call is None or call.agent is not None or call.abandoned:
            return
        call.abandoned = True
        campaign = call.task
        with contextlib.suppress(ValueError):
            campaign.waiting.remove(call_id)
        campaign.pacer.abandoned(self._clock.monotonic())
        prompt = self._abandon_prompt
        try:
            if prompt is None:
                raise FileNotFoundError("no abandon message")
            self._switch.play(call_id, prompt)
        except (CallStateError, OSError, ValueError):
            self._switch.hangup(call_id)

    def _on_event(self, event: SwitchEvent) -> None:
        if not isinstance(event, CallEvent):
            return
        call = self._live.get(event.call_id)
        if call is None:
            return
        campaign = call.task
        if isinstance(event, LegAnswered) and event.leg == CUSTOMER_LEG:
            call.answered_at = event.at
            campaign.pacer.dial_ended(event.at, True, event.at - call.dialed_at)
            campaign.waiting.append(call.order.call_id)
            self._assign(campaign, event.at)
            # Even with an agent offered the call now: if that agent's phone fails, the
            # customer must still not wait longer than max_wait.
            asyncio.get_running_loop().call_later(
                self._config.max_wait, self._give_up, call.order.call_id
            )
            self.kick()
        elif isinstance(event, CallBridged):
            call.bridged_at = event.at
            waited = event.at - (call.answered_at if call.answered_at is not None else event.at)
            campaign.pacer.connected(event.at, waited)
        elif isinstance(event, LegFailed) and event.leg == AGENT_LEG:
            # CALL_INVALID: the switch refused the attach itself (the customer was gone),
            # which is no fault of the agent's phone.
            if call.agent is not None and event.cause is not EndReason.INVALID:
                self.floor.missed(call.agent, event.at)
            call.agent = None
            live = self._calls.live.get(call.order.call_id)
            if live is not None:
                live.extnumber = ""
            answered = call.answered_at if call.answered_at is not None else event.at
            if event.at - answered >= self._config.max_wait:
                self._give_up(call.order.call_id)
            else:
                campaign.waiting.appendleft(call.order.call_id)
                self._assign(campaign, event.at)
            self.kick()
        elif isinstance(event, CallEnded):
            self._ended(call, event)

    def _ended(self, call: DialerCall, event: CallEnded) -> None:
        campaign = call.task
        call_id = call.order.call_id
        self._live.pop(call_id, None)
        campaign.calls.pop(call_id, None)
        with contextlib.suppress(ValueError):
            campaign.waiting.remove(call_id)
        pacer = campaign.pacer
        line_failed = call.answered_at is None and event.cause in LINE_FAILURES
        if not line_failed:
            campaign.line_failures = 0
        if line_failed:
            # The trunk's failure, not the customer's: no answer rate to learn from.
            self._line_failed(campaign, event.cause)
        elif call.answered_at is None:
            pacer.dial_ended(event.at, False, event.at - call.dialed_at)
        elif call.bridged_at is not None and call.agent is not None:
            if self._staffed_at is not None:
                campaign.talking_seconds += self._talked(campaign, call, self._staffed_at, event.at)
            pacer.talk_ended(event.at, event.at - call.bridged_at)
            wrapup = float(campaign.plan.wrapup)
            self.floor.finished(call.agent, event.at, wrapup)
            agent = call.agent
            asyncio.get_running_loop().call_later(wrapup, self._wrapped_up, campaign, agent, wrapup)
        elif not call.abandoned:
            # The customer hung up before an agent took the call.
            call.abandoned = True
            pacer.abandoned(event.at)
        self.kick()

    def _wrapped_up(self, campaign: Campaign, agent: str, wrapup: float) -> None:
        campaign.pacer.wrapup_ended(self._clock.monotonic(), wrapup)
        self.kick()


def unplaced_record(
    attempt: DialOrder | InFlightAttempt,
    company_id: int,
    company_code: int,
    cause: EndReason,
    at: datetime,
) -> CallRecord:
    """The record of an attempt that never became a call, or whose call a stop cut short:
    no answer, no agent, zero seconds at `at`."""
    return CallRecord(
        uuid=attempt.call_id,
        company_id=company_id,
        companycode=company_code,
        kind=CallKind.PREDICTIVE,
        extnumber="",
        destnumber=attempt.telphone,
        disnumber="",
        crmid=attempt.userid,
        maturity=attempt.maturity,
        memberid=attempt.memberid,
        customuuid=attempt.customuuid,
        starttime=at,
        endtime=at,
        duration=0,
        billsec=0,
        end_reason=cause,
        ended_by=Party.CALLER,
        q850_cause=q850_cause(cause),
    )
