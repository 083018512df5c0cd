"""The task service: the API side (App.Sip_Yccall.*) creates tasks, adds numbers and
moves a task through its states:

    not started --start--> running --pause--> paused --resume--> running
    not started / running / paused --stop--> over   (also: every number called, or the
                                                      end date passed)

A change a state does not allow is refused with the refusal of the task's current state.

The dialer side claims due numbers (one attempt each, stored before anything is dialed),
and every dial's call record finishes its attempt in the record's own transaction
(`record_hook`), so a number's result and the task's counters always match the records.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.calls import CallKind
from callyard.domain.refusals import Refusal
from callyard.domain.tasks import NumberState, TaskState
from callyard.errors import BusinessError, InvalidInput
from callyard.services.auth import Caller
from callyard.services.cdrs import StoredCallRecord
from callyard.services.numbers import NumberService
from callyard.services.tasks.inputs import (
    InvalidNumber,
    NumberEntry,
    NumberInput,
    TaskSpec,
    format_delays,
    format_windows,
    parse_retry_delays,
    parse_windows,
)
from callyard.services.tasks.views import (
    UNCOUNTED_LINE_FAILURES,
    AddedNumbers,
    AttemptOutcome,
    CreatedTask,
    DialOrder,
    EndedAttempt,
    InFlightAttempt,
    NumberView,
    Page,
    PageRequest,
    TaskHistory,
    TaskPlan,
    TaskSummary,
    attempt_outcome,
    occupancy,
    percent,
)
from callyard.store.database import Database, IntegrityError
from callyard.store.models import Company, DialTask, ExtensionGroup, TaskAttempt, TaskNumber

_IN_CHUNK = 500  # values per IN (...) when looking numbers up
_TASKID_TRIES = 5
_LIVE = tuple(state.value for state in TaskState if state.live)


class TaskAction(StrEnum):
    """A change of a task's state asked through the API."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


# The state machine: for each action, the states it applies to and the state it leads to.
TRANSITIONS: dict[TaskAction, dict[TaskState, TaskState]] = {
    TaskAction.START: {TaskState.NOT_STARTED: TaskState.RUNNING},
    TaskAction.PAUSE: {TaskState.RUNNING: TaskState.PAUSED},
    TaskAction.RESUME: {TaskState.PAUSED: TaskState.RUNNING},
    TaskAction.STOP: {
        TaskState.NOT_STARTED: TaskState.OVER,
        TaskState.RUNNING: TaskState.OVER,
        TaskState.PAUSED: TaskState.OVER,
    },
}
_STATE_PHRASES = {
    TaskState.NOT_STARTED: "has not started",
    TaskState.RUNNING: "is in progress",
    TaskState.PAUSED: "is paused (resume it with TaskResume)",
    TaskState.OVER: "is over",
}
# The refusal of an action a task's state does not allow.
_REFUSAL_IN = {
    TaskState.NOT_STARTED: Refusal.TASK_NOT_STARTED,
    TaskState.RUNNING: Refusal.TASK_RUNNING,
    TaskState.PAUSED: Refusal.TASK_PAUSED,
    TaskState.OVER: Refusal.TASK_OVER,
}


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class TaskService:
    """Predictive tasks: the App.Sip_Yccall.* operations and what the dialer needs."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        numbers: NumberService,
        timezone: str = "UTC",
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._numbers = numbers
        self._zone = ZoneInfo(timezone)
        self._rng = rng or random.Random()

    def _zone_of(self, timezone: str | None) -> ZoneInfo:
        """A company's zone (its tasks' windows and dates), else the server's."""
        return ZoneInfo(timezone) if timezone else self._zone

    def _today(self, timezone: str | None, moment: datetime | None = None) -> date:
        return (moment or self._clock.now()).astimezone(self._zone_of(timezone)).date()

    def _new_taskid(self, timezone: str | None) -> str:
        local = self._clock.now().astimezone(self._zone_of(timezone))
        return f"{local:%Y%m%d%H%M%S}{self._rng.randrange(1_000_000):06d}"

    # -- API side ------------------------------------------------------------------------

    async def create(
        self, caller: Caller, spec: TaskSpec, numbers: Sequence[NumberEntry] = ()
    ) -> CreatedTask:
        """A new task, not started, with the valid numbers of `numbers`. Fails with
        GROUP_NOT_FOUND, GROUP_DISABLED, a caller ID's refusal, or InvalidInput for a date
        range wholly in the past; nothing is stored then."""
        if spec.enddate < self._today(caller.timezone):
            raise InvalidInput("enddate", f"{spec.enddate} is in the past")
        if spec.disnumber:
            await self._numbers.pick(caller, spec.disnumber)
        for _attempt in range(_TASKID_TRIES):
            taskid = self._new_taskid(caller.timezone)
            try:
                async with self._db.writing() as session:
                    group = await self._group(session, caller, spec.groupname)
                    now = self._clock.now()
                    task = DialTask(
                        taskid=taskid,
                        company_id=caller.company_id,
                        group_id=group.id,
                        name=spec.name.strip(),
                        state=TaskState.NOT_STARTED.value,
                        disnumber=spec.disnumber,
                        startdate=spec.startdate,
                        enddate=spec.enddate,
                        windows=format_windows(spec.windows),
                        ring_timeout=spec.ring_timeout,
                        retry_busy=format_delays(spec.retry_busy),
                        retry_noanswer=format_delays(spec.retry_noanswer),
                        max_attempts=spec.attempts,
                        abandon_target=spec.abandon_rate / 100.0,
                        wrapup=spec.wrapup,
                        created_at=now,
                        dialed=0,
                        answered=0,
                        connected=0,
                        abandoned=0,
                        talk_seconds=0,
                        staffed_seconds=0.0,
                    )
                    session.add(task)
                    await session.flush()
                    added = await self._add_numbers(session, task, numbers, now)
                return CreatedTask(taskid, added)
            except IntegrityError:
                continue  # the same taskid was made at the same second: draw again
        raise BusinessError(Refusal.FAILED, "Could not allocate a task id")

    async def append(
        self, caller: Caller, taskid: str, numbers: Sequence[NumberEntry]
    ) -> AddedNumbers:
        """Add numbers to a task that is not over (TASK_OVER once it is)."""
        async with self._db.writing() as session:
            task = await self._task(session, caller, taskid, lock=True)
            if task.state == TaskState.OVER:
                raise BusinessError(Refusal.TASK_OVER, f"Task {taskid} is over")
            return await self._add_numbers(session, task, numbers, self._clock.now())

    async def start(self, caller: Caller, taskid: str) -> TaskState:
        return await self._change(caller, taskid, TaskAction.START)

    async def pause(self, caller: Caller, taskid: str) -> TaskState:
        return await self._change(caller, taskid, TaskAction.PAUSE)

    async def resume(self, caller: Caller, taskid: str) -> TaskState:
        return await self._change(caller, taskid, TaskAction.RESUME)

    async def stop(self, caller: Caller, taskid: str) -> TaskState:
        return await self._change(caller, taskid, TaskAction.STOP)

    async def delete(self, caller: Caller, taskid: str) -> None:
        """Delete a task with its numbers and attempts; a task in progress must be
        stopped (or paused) first (TASK_RUNNING)."""
        async with self._db.writing() as session:
            task = await self._task(session, caller, taskid, lock=True)
            if task.state == TaskState.RUNNING:
                raise BusinessError(
                    Refusal.TASK_RUNNING, f"Task {taskid} is in progress: stop it first"
                )
            await session.execute(delete(DialTask).where(DialTask.id == task.id))

    async def list_tasks(
        self, caller: Caller, page: PageRequest, state: TaskState | None = None
    ) -> Page[TaskSummary]:
        """TaskList: the company's tasks, newest first."""
        where = [DialTask.company_id == caller.company_id]
        if state is not None:
            where.append(DialTask.state == state.value)
        async with self._db.transaction() as session:
            total = await session.scalar(select(func.count()).select_from(DialTask).where(*where))
            rows = (
                await session.execute(
                    select(DialTask, ExtensionGroup.name)
                    .outerjoin(ExtensionGroup, ExtensionGroup.id == DialTask.group_id)
                    .where(*where)
                    .order_by(DialTask.id.desc())
                    .limit(page.size)
                    .offset((page.number - 1) * page.size)
                )
            ).all()
            ids = [task.id for task, _ in rows]
            counts: dict[int, int] = {}
            if ids:
                counted = await session.execute(
                    select(TaskNumber.task_id, func.count())
                    .where(TaskNumber.task_id.in_(ids))
                    .group_by(TaskNumber.task_id)
                )
                counts = {task_id: count for task_id, count in counted.all()}
        return Page(
            total or 0,
            page,
            tuple(
                TaskSummary(
                    taskid=task.taskid,
                    name=task.name,
                    groupname=groupname or "",
                    state=TaskState(task.state),
                    created_at=task.created_at,
                    total=counts.get(task.id, 0),
                    dialed=task.dialed,
                    answered=task.answered,
                    connected=task.connected,
                    abandoned=task.abandoned,
                    abandon_rate=percent(task.abandoned, task.answered),
                    occupancy=round(
                        100.0 * occupancy(task.talking_seconds, task.staffed_seconds), 2
                    ),
                    held_reason=task.held_reason if task.state == TaskState.RUNNING else "",
                )
                for task, groupname in rows
            ),
        )

    async def info(
        self,
        caller: Caller,
        taskid: str,
        page: PageRequest,
        state: NumberState | None = None,
        outcomes: frozenset[AttemptOutcome] | None = None,
    ) -> Page[NumberView]:
        """TaskInfo: the task's numbers in the order they were added; `outcomes`, those
        whose last dial ended so."""
        async with self._db.transaction() as session:
            task = await self._task(session, caller, taskid)
            where = [TaskNumber.task_id == task.id]
            if state is not None:
                where.append(TaskNumber.state == state.value)
            if outcomes is not None:
                where.append(TaskNumber.last_outcome.in_(sorted(o.value for o in outcomes)))
            total = await session.scalar(select(func.count()).select_from(TaskNumber).where(*where))
            rows = await session.scalars(
                select(TaskNumber)
                .where(*where)
                .order_by(TaskNumber.position, TaskNumber.id)
                .limit(page.size)
                .offset((page.number - 1) * page.size)
            )
            items = tuple(
                NumberView(
                    taskid=task.taskid,
                    telphone=row.telphone,
                    userid=row.userid,
                    memberid=row.memberid,
                    maturity=row.maturity,
                    customuuid=row.customuuid,
                    state=NumberState(row.state),
                    extnumber=row.extnumber,
                    answered=row.answered,
                    last_outcome=AttemptOutcome(row.last_outcome) if row.last_outcome else None,
                    calltime=row.calltime,
                    duration=row.duration,
                    billsec=row.billsec,
                    created_at=row.created_at,
                    mark=row.mark,
                )
                for row in rows
            )
        return Page(total or 0, page, items)

    async def _change(self, caller: Caller, taskid: str, action: TaskAction) -> TaskState:
        async with self._db.writing() as session:
            task = await self._task(session, caller, taskid, lock=True)
            current = TaskState(task.state)
            target = TRANSITIONS[action].get(current)
            if target is None:
                raise BusinessError(
                    _REFUSAL_IN[current],
                    f"Cannot {action.value} task {taskid}: it {_STATE_PHRASES[current]}",
                )
            if target is TaskState.RUNNING and task.enddate < self._today(caller.timezone):
                raise BusinessError(
                    Refusal.TASK_EXPIRED, f"Task {taskid} ended on {task.enddate.isoformat()}"
                )
            now = self._clock.now()
            task.state = target.value
            if action is TaskAction.START:
                task.started_at = now
            if target is TaskState.OVER:
                task.finished_at = now
            return target

    @staticmethod
    async def _group(session: AsyncSession, caller: Caller, name: str) -> ExtensionGroup:
        group = await session.scalar(
            select(ExtensionGroup).where(
                ExtensionGroup.company_id == caller.company_id,
                ExtensionGroup.name == name.strip(),
            )
        )
        if group is None:
            raise BusinessError(Refusal.GROUP_NOT_FOUND, f"Extension group {name} does not exist")
        if not group.enabled:
            raise BusinessError(Refusal.GROUP_DISABLED, f"Extension group {name} is disabled")
        return group

    @staticmethod
    async def _task(
        session: AsyncSession, caller: Caller, taskid: str, *, lock: bool = False
    ) -> DialTask:
        """The caller's task; another company's is as unknown as a missing one (1024)."""
        query = select(DialTask).where(
            DialTask.taskid == taskid.strip(), DialTask.company_id == caller.company_id
        )
        task = await session.scalar(query.with_for_update() if lock else query)
        if task is None:
            raise BusinessError(Refusal.TASK_NOT_FOUND, f"Task {taskid} does not exist")
        return task

    @staticmethod
    async def _add_numbers(
        session: AsyncSession, task: DialTask, entries: Sequence[NumberEntry], now: datetime
    ) -> AddedNumbers:
        invalid = [entry for entry in entries if isinstance(entry, InvalidNumber)]
        valid = [entry for entry in entries if isinstance(entry, NumberInput)]
        candidates = list(dict.fromkeys(entry.telphone for entry in valid))
        known: set[str] = set()
        for chunk in _chunks(candidates):
            known.update(
                await session.scalars(
                    select(TaskNumber.telphone).where(
                        TaskNumber.task_id == task.id, TaskNumber.telphone.in_(chunk)
                    )
                )
            )
        last = await session.scalar(
            select(func.max(TaskNumber.position)).where(TaskNumber.task_id == task.id)
        )
        position = (last or 0) + 1
        rows: list[dict[str, object]] = []
        duplicates: list[str] = []
        for entry in valid:
            if entry.telphone in known:
                duplicates.append(entry.telphone)
                continue
            known.add(entry.telphone)
            rows.append(
                {
                    "task_id": task.id,
                    "position": position,
                    "telphone": entry.telphone,
                    "userid": entry.userid,
                    "memberid": entry.memberid,
                    "maturity": entry.maturity,
                    "customuuid": entry.customuuid,
                    "mark": entry.mark,
                    "state": NumberState.PENDING.value,
                    "attempts": 0,
                    "duration": 0,
                    "billsec": 0,
                    "created_at": now,
                }
            )
            position += 1
        if rows:
            await session.execute(insert(TaskNumber), rows)
        return AddedNumbers(len(rows), tuple(duplicates), tuple(invalid))

    # -- dialer side ---------------------------------------------------------------------

    def _plan(
        self, task: DialTask, company_code: int, groupname: str, timezone: str | None
    ) -> TaskPlan:
        assert task.group_id is not None
        return TaskPlan(
            id=task.id,
            taskid=task.taskid,
            company_id=task.company_id,
            company_code=company_code,
            group_id=task.group_id,
            groupname=groupname,
            disnumber=task.disnumber,
            windows=parse_windows(task.windows),
            startdate=task.startdate,
            enddate=task.enddate,
            ring_timeout=task.ring_timeout,
            retry_busy=parse_retry_delays(task.retry_busy, "retrybusy"),
            retry_noanswer=parse_retry_delays(task.retry_noanswer, "retrynoanswer"),
            max_attempts=task.max_attempts,
            abandon_target=task.abandon_target,
            wrapup=task.wrapup,
            zone=self._zone_of(timezone),
        )

    async def running(self) -> list[TaskPlan]:
        """Every task in progress whose group still exists, oldest first."""
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(DialTask, Company.code, ExtensionGroup.name, Company.timezone)
                    .join(Company, Company.id == DialTask.company_id)
                    .join(ExtensionGroup, ExtensionGroup.id == DialTask.group_id)
                    .where(DialTask.state == TaskState.RUNNING.value)
                    .order_by(DialTask.id)
                )
            ).all()
        return [self._plan(task, code, group, zone) for task, code, group, zone in rows]

    async def claim(self, task_id: int, count: int, now: datetime) -> list[DialOrder]:
        """Up to `count` numbers of a task in progress to dial now, in the order they were
        added: not yet called, not in flight, due, attempts left. Each gets a new call id
        and an open attempt, stored before this returns."""
        if count <= 0:
            return []
        async with self._db.writing() as session:
            task = await session.get(DialTask, task_id)
            if task is None or task.state != TaskState.RUNNING:
                return []
            numbers = list(
                await session.scalars(
                    self._due(task, now).limit(count).with_for_update(skip_locked=True)
                )
            )
            orders = []
            for number in numbers:
                call_id = str(uuid.uuid4())
                number.attempts += 1
                number.in_flight_call_id = call_id
                number.calltime = now
                session.add(
                    TaskAttempt(
                        task_id=task.id,
                        number_id=number.id,
                        call_id=call_id,
                        attempt=number.attempts,
                        started_at=now,
                    )
                )
                orders.append(
                    DialOrder(
                        task_id=task.id,
                        number_id=number.id,
                        call_id=call_id,
                        attempt=number.attempts,
                        telphone=number.telphone,
                        userid=number.userid,
                        memberid=number.memberid,
                        maturity=number.maturity,
                        customuuid=number.customuuid,
                    )
                )
            if orders:
                # An expression, not a read-modify-write: claims may run side by side.
                await session.execute(
                    update(DialTask)
                    .where(DialTask.id == task.id)
                    .values(dialed=DialTask.dialed + len(orders))
                )
            return orders

    @staticmethod
    def _due(task: DialTask, now: datetime) -> Select[TaskNumber]:
        return (
            select(TaskNumber)
            .where(
                TaskNumber.task_id == task.id,
                TaskNumber.state == NumberState.PENDING.value,
                TaskNumber.in_flight_call_id.is_(None),
                or_(TaskNumber.next_attempt_at.is_(None), TaskNumber.next_attempt_at <= now),
                TaskNumber.attempts < task.max_attempts,
            )
            .order_by(TaskNumber.position, TaskNumber.id)
        )

    async def record_hook(self, session: AsyncSession, stored: StoredCallRecord) -> None:
        """CdrService's hook, inside the transaction that stores a call record: a
        predictive call's record finishes its attempt, its number and the task's counters.
        Records of other calls, and a second record of the same call, change nothing."""
        rec = stored.record
        if rec.kind is not CallKind.PREDICTIVE:
            return
        attempt = await session.scalar(select(TaskAttempt).where(TaskAttempt.call_id == rec.uuid))
        if attempt is None or attempt.ended_at is not None:
            return
        # The task row is locked first, so that of two records ending a task's last two
        # numbers side by side (PostgreSQL), the second sees the first's and ends the task.
        task = await session.scalar(
            select(DialTask).where(DialTask.id == attempt.task_id).with_for_update()
        )
        number = await session.get(TaskNumber, attempt.number_id)
        if task is None or number is None:
            return
        answered = rec.answertime is not None
        outcome = attempt_outcome(answered, rec.extnumber, rec.end_reason)
        connected = outcome is AttemptOutcome.CONNECTED
        ring_until = rec.answertime if rec.answertime is not None else rec.endtime

        attempt.ended_at = rec.endtime
        attempt.outcome = outcome.value
        attempt.answered_at = rec.answertime
        attempt.ring_seconds = (ring_until - rec.starttime).total_seconds()
        attempt.talk_seconds = rec.billsec if connected else None

        if number.in_flight_call_id == rec.uuid:
            number.in_flight_call_id = None
        if outcome is AttemptOutcome.LINE_FAILURE and await self._forgiven(session, number):
            # The trunk failed, the customer never rang: the number keeps its attempt
            # and is due again (the dialer holds the task while its trunk is down).
            number.attempts -= 1
            task.dialed -= 1
            return
        number.extnumber = rec.extnumber or None
        number.answered = answered
        number.last_outcome = outcome.value
        number.duration = rec.duration
        number.billsec = rec.billsec
        delays = {
            AttemptOutcome.BUSY: parse_retry_delays(task.retry_busy, "retrybusy"),
            AttemptOutcome.NO_ANSWER: parse_retry_delays(task.retry_noanswer, "retrynoanswer"),
        }.get(outcome, ())
        if number.attempts <= len(delays) and number.attempts < task.max_attempts:
            number.next_attempt_at = rec.endtime + timedelta(minutes=delays[number.attempts - 1])
        else:
            number.state = NumberState.CALLED.value
            number.next_attempt_at = None

        task.answered += int(answered)
        task.connected += int(connected)
        task.abandoned += int(outcome is AttemptOutcome.ABANDONED)
        task.talk_seconds += rec.billsec if connected else 0
        if task.state == TaskState.RUNNING:
            left = await session.scalar(
                select(
                    exists().where(
                        TaskNumber.task_id == task.id,
                        TaskNumber.state == NumberState.PENDING.value,
                    )
                )
            )
            if not left:
                task.state = TaskState.OVER.value
                task.finished_at = self._clock.now()

    @staticmethod
    async def _forgiven(session: AsyncSession, number: TaskNumber) -> bool:
        """Whether a line failure of `number` goes uncounted: the first few are (the
        trunk's fault); a number that keeps failing while others go through is not."""
        earlier = await session.scalar(
            select(func.count())
            .select_from(TaskAttempt)
            .where(
                TaskAttempt.number_id == number.id,
                TaskAttempt.outcome == AttemptOutcome.LINE_FAILURE.value,
            )
        )
        # The count includes this attempt, whose outcome is already set in the session.
        return (earlier or 0) <= UNCOUNTED_LINE_FAILURES

    async def in_flight(self) -> list[InFlightAttempt]:
        """Every dial without a call record, oldest first (after a crash: the dials the
        stop cut short, whose records the dialer writes)."""
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(TaskAttempt, DialTask.taskid, DialTask.company_id, Company.code)
                    .add_columns(TaskNumber)
                    .join(DialTask, DialTask.id == TaskAttempt.task_id)
                    .join(Company, Company.id == DialTask.company_id)
                    .join(TaskNumber, TaskNumber.id == TaskAttempt.number_id)
                    .where(TaskAttempt.ended_at.is_(None))
                    .order_by(TaskAttempt.id)
                )
            ).all()
        return [
            InFlightAttempt(
                task_id=attempt.task_id,
                taskid=taskid,
                company_id=company_id,
                company_code=company_code,
                number_id=number.id,
                call_id=attempt.call_id,
                attempt=attempt.attempt,
                telphone=number.telphone,
                userid=number.userid,
                memberid=number.memberid,
                maturity=number.maturity,
                customuuid=number.customuuid,
                started_at=attempt.started_at,
            )
            for attempt, taskid, company_id, company_code, number in rows
        ]

    async def history(self, task_id: int, since: datetime) -> TaskHistory:
        """The task's life counters and its dials that ended at or after `since`."""
        async with self._db.transaction() as session:
            task = await session.get(DialTask, task_id)
            if task is None:
                return TaskHistory(0, 0, 0, 0, 0, 0.0, ())
            attempts = await session.scalars(
                select(TaskAttempt)
                .where(TaskAttempt.task_id == task_id, TaskAttempt.ended_at >= since)
                .order_by(TaskAttempt.ended_at, TaskAttempt.id)
            )
            ended = tuple(
                EndedAttempt(
                    started_at=a.started_at,
                    answered_at=a.answered_at,
                    ended_at=a.ended_at,
                    outcome=AttemptOutcome(a.outcome),
                    ring_seconds=a.ring_seconds or 0.0,
                    talk_seconds=a.talk_seconds,
                )
                for a in attempts
                if a.ended_at is not None and a.outcome is not None
            )
            return TaskHistory(
                dialed=task.dialed,
                answered=task.answered,
                connected=task.connected,
                abandoned=task.abandoned,
                talk_seconds=task.talk_seconds,
                staffed_seconds=task.staffed_seconds,
                attempts=ended,
                talking_seconds=task.talking_seconds,
            )

    async def add_staffed_seconds(self, task_id: int, seconds: float, talking: float = 0.0) -> None:
        """Count agent-seconds staffed for the task and, of them, spent on its calls
        (occupancy's denominator and numerator, counted together)."""
        if seconds <= 0 and talking <= 0:
            return
        async with self._db.writing() as session:
            await session.execute(
                update(DialTask)
                .where(DialTask.id == task_id)
                .values(
                    staffed_seconds=DialTask.staffed_seconds + seconds,
                    talking_seconds=DialTask.talking_seconds + talking,
                )
            )

    async def set_held(self, task_id: int, reason: str) -> None:
        """Say why a task in progress dials nothing now ("": it dials again)."""
        async with self._db.writing() as session:
            await session.execute(
                update(DialTask).where(DialTask.id == task_id).values(held_reason=reason[:255])
            )

    async def expire(self, now: datetime) -> list[str]:
        """End every task not over whose end date has passed (in its company's time
        zone); their taskids."""
        # No zone is more than 14 hours ahead of UTC: nothing ending after that day yet.
        latest = (now + timedelta(hours=14)).date()
        async with self._db.writing() as session:
            rows = (
                await session.execute(
                    select(DialTask, Company.timezone)
                    .join(Company, Company.id == DialTask.company_id)
                    .where(
                        DialTask.state.in_(_LIVE),
                        DialTask.enddate < latest,
                    )
                    .order_by(DialTask.id)
                    .with_for_update(of=DialTask)
                )
            ).all()
            tasks = [task for task, zone in rows if task.enddate < self._today(zone, now)]
            for task in tasks:
                task.state = TaskState.OVER.value
                task.finished_at = now
            return [task.taskid for task in tasks]
