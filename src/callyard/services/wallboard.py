"""The supervisors' wallboard: one company's floor at a glance, as a snapshot and then
live updates.

What it shows lives elsewhere, and is read where it lives: agents from their sessions
(`AgentSessions`), waiting callers from the distributor, calls in progress from
`CallService.live`, predictive tasks and the last hour's calls from the store. Changes
reach watchers without polling: agents' notices and calls' state changes on the bus, and
the switch's events (a caller joining a queue publishes nothing else), each marking its
company's live sections for a look a moment later (bursts coalesce into one update). The
stored sections (tasks, the chart) are read again when a call record is stored, and by a
tick for their rates and the chart's moving window. A watcher gets only the sections
that changed; its clocks (time in state, longest wait) tick in the page from the times
sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.bus import BusEvent, CallRecorded, CallStateChanged
from callyard.clock import Clock
from callyard.domain.agent_sessions import Status
from callyard.domain.agents import AgentRole
from callyard.domain.calls import CallKind
from callyard.domain.lines import LinePhase
from callyard.domain.refusals import Denial
from callyard.domain.tasks import TaskState
from callyard.errors import AccessDenied, Forbidden
from callyard.services.auth import Caller
from callyard.services.calls import CallService, LiveCall
from callyard.services.directory import Directory
from callyard.services.sessions.model import (
    AgentNotice,
    AgentSession,
    Notice,
    SessionView,
    WaitingCall,
)
from callyard.services.sessions.service import AgentSessions
from callyard.services.tasks import TaskService
from callyard.services.tasks.views import PageRequest, percent
from callyard.store.database import Database
from callyard.store.models import CallRecordRow, DialTask, ExtensionGroup, GroupQueue, TaskAttempt
from callyard.switch.events import CallEvent, IncomingCall, SwitchEvent
from callyard.switch.port import SwitchPort

log = logging.getLogger("callyard.wallboard")

SETTLE_SECONDS = 0.05  # changes this close together go out as one update
TICK_SECONDS = 1.0
STORED_EVERY_SECONDS = 5.0  # tasks' rates and the chart are read again this often
BUCKET_SECONDS = 300  # the chart: calls per 5 minutes over the last hour
CHART_BUCKETS = 12
DIAL_RATE_MINUTES = 10  # a task's dial rate: its dials per minute over this long
WATCHER_BACKLOG = 64  # updates waiting for a slow watcher before it gets a fresh snapshot
MAX_TASKS = 100

Waiting = Callable[[int], tuple[WaitingCall, ...]]


def nobody_waiting(_group_id: int) -> tuple[WaitingCall, ...]:
    """The queues where no distributor runs (no switch): empty."""
    return ()


# ---------------------------------------------------------------------------------------
# What a wallboard shows


@dataclass(frozen=True)
class AgentTile:
    """A signed-in agent: its state, since when, and its call's other party."""

    number: str
    name: str
    extension: str
    role: str  # agent, supervisor
    login_type: str
    status: str  # the session's Status: signed_in, idle, busy, reserved, ringing, ...
    busy_type: str  # why it is not ready ("" when it is, or never said)
    since_ms: int  # in this status since (epoch ms)
    groups: tuple[str, ...]  # the names of the groups it takes calls of
    registered: bool  # its phone is registered
    peer: str  # the other party of its call ("" none)
    direction: str  # of its call: inbound, outbound ("" none)


@dataclass(frozen=True)
class QueuedCaller:
    caller: str
    called: str
    queued_ms: int


@dataclass(frozen=True)
class QueueCard:
    """A group's queue: who waits, since when, and who could take them."""

    group_sn: str
    name: str
    waiting: int
    oldest_ms: int  # when the caller waiting longest came (0: nobody waits)
    callers: tuple[QueuedCaller, ...]  # oldest first
    agents_ready: int
    agents_signed_in: int


@dataclass(frozen=True)
class CallRow:
    """A call in progress."""

    call_id: str
    kind: str  # a CallKind
    direction: str  # inbound, outbound, internal
    caller: str
    called: str
    state: str  # queued, ringing, answered, talking
    started_ms: int
    answered_ms: int  # 0: nobody talks yet
    agent_number: str  # the agent on it ("" none)
    agent_name: str
    extension: str


@dataclass(frozen=True)
class TaskRow:
    """A predictive task in progress or paused, with its rates (percent)."""

    taskid: str
    name: str
    group: str
    state: str
    total: int
    dialed: int
    answered: int
    connected: int
    abandoned: int
    dials_per_minute: float  # over the last DIAL_RATE_MINUTES
    answer_rate: float  # answered of dialed
    abandon_rate: float  # abandoned of answered


@dataclass(frozen=True)
class ChartBucket:
    """Calls that started within a bucket of the last hour, by their records."""

    start_ms: int
    calls: int
    answered: int
    offered: int  # calls an agent should have taken: queued callers, predictive answers
    abandoned: int  # of those, nobody took


@dataclass(frozen=True)
class Sections:
    """Everything a wallboard shows; an update carries only what changed (None: same)."""

    agents: tuple[AgentTile, ...] | None = None
    queues: tuple[QueueCard, ...] | None = None
    calls: tuple[CallRow, ...] | None = None
    tasks: tuple[TaskRow, ...] | None = None
    chart: tuple[ChartBucket, ...] | None = None

    def changed_from(self, before: Sections) -> Sections:
        """What differs from `before` (sections this one has)."""
        return Sections(
            **{
                name: mine
                for name in SECTION_NAMES
                if (mine := getattr(self, name)) is not None and mine != getattr(before, name)
            }
        )

    def over(self, before: Sections) -> Sections:
        """`before` with this one's sections put in."""
        return Sections(
            **{
                name: mine if (mine := getattr(self, name)) is not None else getattr(before, name)
                for name in SECTION_NAMES
            }
        )

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in SECTION_NAMES)


SECTION_NAMES = ("agents", "queues", "calls", "tasks", "chart")


@dataclass(frozen=True)
class WallboardMessage:
    """What a watcher is sent: the whole board first (`snapshot`), then `update`s."""

    kind: str  # snapshot, update
    company_code: int
    server_ms: int  # the server's clock when it was made, for the page's clocks
    sections: Sections


@dataclass(frozen=True)
class SessionEnded:
    """The supervisor's own session ended: its watch is over."""

    reason: str


# ---------------------------------------------------------------------------------------
# Watchers


@dataclass(eq=False)
class Watch:
    """One open wallboard: its supervisor's session and what waits to be sent to it."""

    company_id: int
    supervisor_id: int
    session_key: str
    outbox: asyncio.Queue[WallboardMessage | SessionEnded] = field(
        default_factory=lambda: asyncio.Queue(WATCHER_BACKLOG)
    )

    async def next(self) -> WallboardMessage | SessionEnded:
        """The next message, waiting for one."""
        return await self.outbox.get()


@dataclass(eq=False)
class _Floor:
    """A watched company: its watchers, what they were last sent, and what changed."""

    company_id: int
    company_code: int
    watches: set[Watch] = field(default_factory=set)
    shown: Sections = field(default_factory=Sections)
    live_dirty: bool = False
    stored_dirty: bool = False
    stored_at: float = float("-inf")  # monotonic
    bucket: int = 0  # the chart's current bucket, when last read
    timer: asyncio.TimerHandle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Wallboard:
    """Every open wallboard of every company, kept up to date from events."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        clock: Clock,
        sessions: AgentSessions,
        calls: CallService,
        tasks: TaskService,
        *,
        waiting: Waiting = nobody_waiting,
        switch: SwitchPort | None = None,
    ) -> None:
        self._db = db
        self._directory = directory
        self._clock = clock
        self._sessions = sessions
        self._calls = calls
        self._tasks = tasks
        self._waiting = waiting
        self._floors: dict[int, _Floor] = {}  # by company id
        self._ticker: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()
        if switch is not None:
            switch.subscribe(self.on_switch_event)

    # who may watch

    def supervisor(self, token: str, company_code: str = "") -> AgentSession:
        """The signed-in supervisor whose CTI session token this is (of company
        `company_code`, when given)."""
        if not token.strip():
            raise AccessDenied(
                Denial.TOKEN_INVALID, "no token: sign in as a supervisor and send its token"
            )
        session = self._sessions.by_token(token)
        if session is None:
            raise AccessDenied(
                Denial.TOKEN_INVALID, "the token is no signed-in agent's: sign in again"
            )
        if company_code.strip() and company_code.strip() != str(session.company_code):
            raise Forbidden("the token is another company's")
        if session.role is not AgentRole.SUPERVISOR:
            raise Forbidden(f"agent {session.number} is not a supervisor")
        return session

    # the board

    async def snapshot(self, company_id: int, company_code: int) -> WallboardMessage:
        """The company's whole board now."""
        stored = await self._stored_sections(company_id, company_code)
        live = await self._live_sections(company_id)
        return WallboardMessage("snapshot", company_code, self._now_ms(), live.over(stored))

    @contextlib.contextmanager
    def watching(self, supervisor: AgentSession) -> Iterator[Watch]:
        """Watch the supervisor's company: a snapshot first, updates after, until the
        block ends (or the supervisor's session does: `SessionEnded`)."""
        watch = Watch(supervisor.company_id, supervisor.agent_id, supervisor.token_hash)
        floor = self._floors.get(watch.company_id)
        if floor is None:
            floor = _Floor(watch.company_id, supervisor.company_code)
            self._floors[watch.company_id] = floor
        floor.watches.add(watch)
        self._spawn(self._welcome(floor, watch))
        self._start_ticking()
        try:
            yield watch
        finally:
            floor.watches.discard(watch)
            if not floor.watches and self._floors.get(floor.company_id) is floor:
                if floor.timer is not None:
                    floor.timer.cancel()
                del self._floors[floor.company_id]
            if not self._floors and self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None

    # what changes it

    def on_bus_event(self, event: BusEvent) -> None:
        """Agents' notices and calls' changes mark their company's live sections; a
        stored call record its stored ones."""
        if isinstance(event, AgentNotice):
            if event.kind in (Notice.SIGNED_OUT, Notice.KICKED):
                self._session_ended(event.agent)
            self._changed(event.agent.company_id)
        elif isinstance(event, CallStateChanged):
            self._changed(event.company_id)
        elif isinstance(event, CallRecorded):
            self._changed(event.company_id, stored=True)

    def on_switch_event(self, event: SwitchEvent) -> None:
        """A call's event: callers joining and leaving queues, calls bridged and ended."""
        if isinstance(event, IncomingCall):
            self._changed(event.company_id)
        elif isinstance(event, CallEvent):
            live = self._calls.live.get(event.call_id)
            if live is not None:
                self._changed(live.caller.company_id)
            else:
                for company_id in list(self._floors):
                    self._changed(company_id)

    def _changed(self, company_id: int, stored: bool = False) -> None:
        floor = self._floors.get(company_id)
        if floor is None:
            return
        floor.live_dirty = True
        floor.stored_dirty = floor.stored_dirty or stored
        if floor.timer is None:
            loop = asyncio.get_running_loop()
            floor.timer = loop.call_later(SETTLE_SECONDS, self._settled, floor)

    def _settled(self, floor: _Floor) -> None:
        floor.timer = None
        self._spawn(self._refresh(floor))

    def _session_ended(self, agent: SessionView) -> None:
        floor = self._floors.get(agent.company_id)
        for watch in list(floor.watches) if floor else ():
            if watch.supervisor_id == agent.agent_id and watch.session_key == agent.key:
                _deliver(watch, SessionEnded("the supervisor's session ended"))

    # sending

    async def _welcome(self, floor: _Floor, watch: Watch) -> None:
        async with floor.lock:
            try:
                stored = await self._stored_sections(floor.company_id, floor.company_code)
                live = await self._live_sections(floor.company_id)
            except Exception:
                log.exception("reading the wallboard failed", extra={"company": floor.company_id})
                return
            floor.stored_at = self._clock.monotonic()
            floor.bucket = self._bucket_now()
            self._send(floor, live.over(stored), welcome=watch)

    async def _refresh(self, floor: _Floor, *, tick: bool = False) -> None:
        async with floor.lock:
            if self._floors.get(floor.company_id) is not floor:
                return
            now = self._clock.monotonic()
            stored_due = floor.stored_dirty or (
                tick
                and (
                    now - floor.stored_at >= STORED_EVERY_SECONDS
                    or self._bucket_now() != floor.bucket
                )
            )
            live_due = floor.live_dirty
            floor.live_dirty = floor.stored_dirty = False
            fresh = Sections()
            try:
                if stored_due:
                    fresh = await self._stored_sections(floor.company_id, floor.company_code)
                    floor.stored_at, floor.bucket = now, self._bucket_now()
                if live_due:
                    fresh = (await self._live_sections(floor.company_id)).over(fresh)
            except Exception:
                log.exception("reading the wallboard failed", extra={"company": floor.company_id})
                return
            self._send(floor, fresh)

    def _send(self, floor: _Floor, fresh: Sections, welcome: Watch | None = None) -> None:
        changes = fresh.changed_from(floor.shown)
        floor.shown = fresh.over(floor.shown)
        now_ms = self._now_ms()
        whole = WallboardMessage("snapshot", floor.company_code, now_ms, floor.shown)
        if welcome is not None:
            _deliver(welcome, whole)
        if changes.empty:
            return
        update = WallboardMessage("update", floor.company_code, now_ms, changes)
        for watch in floor.watches:
            if watch is welcome:
                continue
            if not _deliver(watch, update):
                # Too far behind: what it missed is replaced by the whole board.
                _drain(watch)
                _deliver(watch, whole)

    def _start_ticking(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """Tasks' rates and the chart's window move with time, not with events."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            for floor in list(self._floors.values()):
                if not floor.lock.locked():
                    self._spawn(self._refresh(floor, tick=True))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    # reading what it shows

    async def _live_sections(self, company_id: int) -> Sections:
        views = self._sessions.listing(company_id)
        return Sections(
            agents=tuple(_tile(v) for v in views),
            queues=await self._queues(company_id, views),
            calls=self._calls_of(company_id),
        )

    async def _queues(
        self, company_id: int, views: tuple[SessionView, ...]
    ) -> tuple[QueueCard, ...]:
        async def load(session: AsyncSession) -> tuple[tuple[int, str, str], ...]:
            rows = await session.execute(
                select(ExtensionGroup.id, ExtensionGroup.sn, ExtensionGroup.name)
                .join(GroupQueue, GroupQueue.group_id == ExtensionGroup.id)
                .where(ExtensionGroup.company_id == company_id)
                .order_by(ExtensionGroup.name)
            )
            return tuple((group_id, sn or "", name) for group_id, sn, name in rows)

        groups = await self._directory.cached("wallboard-queues", company_id, load) or ()
        cards = []
        for group_id, sn, name in groups:
            callers = tuple(
                QueuedCaller(w.caller, w.called, w.queued_ms) for w in self._waiting(group_id)
            )
            members = [v for v in views if any(g.group_id == group_id for g in v.groups)]
            cards.append(
                QueueCard(
                    group_sn=sn,
                    name=name,
                    waiting=len(callers),
                    oldest_ms=min((c.queued_ms for c in callers), default=0),
                    callers=callers,
                    agents_ready=sum(1 for v in members if v.status is Status.IDLE),
                    agents_signed_in=len(members),
                )
            )
        return tuple(cards)

    def _calls_of(self, company_id: int) -> tuple[CallRow, ...]:
        rows = [
            self._call_row(call)
            for call in list(self._calls.live.values())
            if call.caller.company_id == company_id
        ]
        return tuple(sorted(rows, key=lambda r: (r.started_ms, r.call_id)))

    def _call_row(self, call: LiveCall) -> CallRow:
        extension = call.answered_by or call.extnumber
        session = self._sessions.by_extension(extension) if extension else None
        agent_number = session.number if session else (call.agent.number if call.agent else "")
        agent_name = session.name if session else (call.agent.name if call.agent else "")
        if call.queued and not call.answered_by:
            state = "queued" if not call.extnumber else "ringing"
        else:
            state = call.status.value
        return CallRow(
            call_id=call.call_id,
            kind=call.kind.value,
            direction=call.kind.direction.value,
            caller=call.disnumber if call.inbound else (call.extnumber or call.disnumber),
            called=call.destnumber,
            state=state if state != LinePhase.IDLE.value else "ringing",
            started_ms=_ms(call.started_wall),
            answered_ms=(
                _ms(call.started_wall + timedelta(seconds=call.bridged_at - call.started_at))
                if call.bridged_at is not None
                else 0
            ),
            agent_number=agent_number,
            agent_name=agent_name,
            extension=extension,
        )

    async def _stored_sections(self, company_id: int, company_code: int) -> Sections:
        return Sections(
            tasks=await self._task_rows(company_id, company_code),
            chart=await self._chart(company_id),
        )

    async def _task_rows(self, company_id: int, company_code: int) -> tuple[TaskRow, ...]:
        page = await self._tasks.list_tasks(
            Caller(company_id, company_code, ""), PageRequest(1, MAX_TASKS)
        )
        shown = [t for t in page.items if t.state in (TaskState.RUNNING, TaskState.PAUSED)]
        if not shown:
            return ()
        since = self._clock.now() - timedelta(minutes=DIAL_RATE_MINUTES)
        async with self._db.transaction() as session:
            rows = await session.execute(
                select(DialTask.taskid, func.count(TaskAttempt.id))
                .join(TaskAttempt, TaskAttempt.task_id == DialTask.id)
                .where(DialTask.company_id == company_id, TaskAttempt.started_at >= since)
                .group_by(DialTask.taskid)
            )
            recent = {taskid: count for taskid, count in rows}
        return tuple(
            TaskRow(
                taskid=t.taskid,
                name=t.name,
                group=t.groupname,
                state=t.state.value,
                total=t.total,
                dialed=t.dialed,
                answered=t.answered,
                connected=t.connected,
                abandoned=t.abandoned,
                dials_per_minute=round(recent.get(t.taskid, 0) / DIAL_RATE_MINUTES, 2),
                answer_rate=percent(t.answered, t.dialed),
                abandon_rate=t.abandon_rate,
            )
            for t in shown
        )

    async def _chart(self, company_id: int) -> tuple[ChartBucket, ...]:
        first = (self._bucket_now() - CHART_BUCKETS + 1) * BUCKET_SECONDS
        since = datetime.fromtimestamp(first, self._clock.now().tzinfo)
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        CallRecordRow.starttime,
                        CallRecordRow.kind,
                        CallRecordRow.answertime,
                        CallRecordRow.extnumber,
                    ).where(
                        CallRecordRow.company_id == company_id, CallRecordRow.starttime >= since
                    )
                )
            ).all()
        counts = [[0, 0, 0, 0] for _ in range(CHART_BUCKETS)]
        for started, kind, answered, extnumber in rows:
            index = int(started.timestamp() - first) // BUCKET_SECONDS
            if not 0 <= index < CHART_BUCKETS:
                continue
            bucket = counts[index]
            bucket[0] += 1
            bucket[1] += answered is not None
            offered = kind == CallKind.INBOUND_GROUP or (
                kind == CallKind.PREDICTIVE and answered is not None
            )
            bucket[2] += offered
            bucket[3] += offered and not extnumber
        return tuple(
            ChartBucket((first + i * BUCKET_SECONDS) * 1000, *bucket)
            for i, bucket in enumerate(counts)
        )

    def _bucket_now(self) -> int:
        return int(self._clock.now().timestamp()) // BUCKET_SECONDS

    def _now_ms(self) -> int:
        return _ms(self._clock.now())


def _tile(view: SessionView) -> AgentTile:
    return AgentTile(
        number=view.number,
        name=view.name,
        extension=view.extension,
        role=view.role.value,
        login_type=view.login_type.value,
        status=view.status.value,
        busy_type=view.busy_type,
        since_ms=view.since_ms,
        groups=tuple(g.name for g in view.groups),
        registered=view.registered,
        peer=view.peer,
        direction=view.direction.value if view.direction is not None else "",
    )


def _deliver(watch: Watch, message: WallboardMessage | SessionEnded) -> bool:
    try:
        watch.outbox.put_nowait(message)
    except asyncio.QueueFull:
        return False
    return True


def _drain(watch: Watch) -> None:
    while not watch.outbox.empty():
        watch.outbox.get_nowait()


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
