"""The dialer's side of TaskService: claims, call records finishing attempts, retries, the
end of a task, attempts in flight, history and expiry. Records go through a real
CdrService whose hook is the task service's, as the dialer's records do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callyard.api.dialects.sip_api.call_codes import ANSWER_TYPES
from callyard.api.dialects.sip_api.code_tables import AnswerType
from callyard.api.dialects.sip_api.task_numbers import parse_numbers
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason
from callyard.domain.tasks import NumberState, TaskState
from callyard.errors import InvalidInput
from callyard.services.auth import Caller
from callyard.services.cdrs import CdrService, StoredCallRecord
from callyard.services.tasks import (
    UNCOUNTED_LINE_FAILURES,
    AttemptOutcome,
    DialOrder,
    NumberInput,
    NumberView,
    PageRequest,
    TaskService,
    TaskSpec,
    parse_retry_delays,
    parse_windows,
)
from callyard.store.models import DialTask, TaskNumber
from callyard.testing.clock import ManualClock
from tests.conftest import Tenant
from tests.factories import call_record, caller_of

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Floor:
    """A tenant's caller, the task service and call records that reach its hook."""

    container: Container
    caller: Caller
    tasks: TaskService
    cdrs: CdrService

    async def task(self, count: int, **settings: Any) -> tuple[int, str]:
        """A started task of `count` numbers; its id and taskid."""
        spec = TaskSpec(
            name="renewals",
            groupname="sales",
            startdate=date(2026, 1, 1),
            enddate=date(2026, 1, 31),
            **settings,
        )
        numbers = [NumberInput(f"628{n:08d}", userid=f"u{n}") for n in range(count)]
        created = await self.tasks.create(self.caller, spec, numbers)
        assert created.numbers.added == count
        await self.tasks.start(self.caller, created.taskid)
        async with self.container.db.transaction() as session:
            task_id = await session.scalar(
                select(DialTask.id).where(DialTask.taskid == created.taskid)
            )
        assert task_id is not None
        return task_id, created.taskid

    async def end(self, order: DialOrder, at: datetime, **changes: Any) -> int:
        """Store the call record of a claimed dial, started at `at`."""
        return await self.cdrs.record(
            call_record(
                self.caller,
                at,
                uuid=order.call_id,
                kind=CallKind.PREDICTIVE,
                destnumber=order.telphone,
                crmid=order.userid,
                **changes,
            )
        )

    async def numbers(self, taskid: str) -> list[NumberView]:
        page = await self.tasks.info(self.caller, taskid, PageRequest(1, 100))
        return list(page.items)

    async def status(self, taskid: str) -> TaskState:
        page = await self.tasks.list_tasks(self.caller, PageRequest(1, 100))
        return next(t.state for t in page.items if t.taskid == taskid)


CONNECTED: dict[str, Any] = {"extnumber": "8001"}  # answered at +10 s, 20 s talk
ABANDONED: dict[str, Any] = {"extnumber": "", "billsec": 3}


def unanswered(cause: EndReason) -> dict[str, Any]:
    """A dial the customer never answered: no agent, nothing billed."""
    return {"extnumber": "", "answertime": None, "billsec": 0, "end_reason": cause}


BUSY = unanswered(EndReason.BUSY)
NO_ANSWER = unanswered(EndReason.NO_ANSWER)
TIMED_OUT = unanswered(EndReason.TIMED_OUT)
FAILED = unanswered(EndReason.DECLINED)
LINE_FAILED = unanswered(EndReason.LINE_FAILURE)


@pytest.fixture
async def floor(container: Container, tenant: Tenant) -> AsyncIterator[Floor]:
    caller = await caller_of(container, tenant.code)
    await container.groups.add(caller, "sales", enabled=True)
    cdrs = CdrService(container.db, on_record=container.tasks.record_hook)
    yield Floor(container, caller, container.tasks, cdrs)
    await cdrs.close()


async def test_claim_takes_due_numbers_in_order_once(floor: Floor) -> None:
    # Attempts to spare: only being in flight keeps a number from a second claim.
    task_id, taskid = await floor.task(5, max_attempts=3)
    first = await floor.tasks.claim(task_id, 2, START)
    assert [o.telphone for o in first] == ["62800000000", "62800000001"]
    assert [o.attempt for o in first] == [1, 1]
    assert (first[0].userid, first[0].task_id) == ("u0", task_id)
    assert len({o.call_id for o in first}) == 2
    rest = await floor.tasks.claim(task_id, 10, START)
    assert [o.telphone for o in rest] == ["62800000002", "62800000003", "62800000004"]
    assert await floor.tasks.claim(task_id, 10, START) == []  # all in flight
    assert await floor.tasks.claim(task_id, 0, START) == []

    numbers = await floor.numbers(taskid)
    assert all(n.calltime == START and n.state is NumberState.PENDING for n in numbers)
    history = await floor.tasks.history(task_id, START)
    assert (history.dialed, history.answered, history.attempts) == (5, 0, ())


async def test_concurrent_claims_never_share_a_number(floor: Floor) -> None:
    task_id, _ = await floor.task(30, max_attempts=3)
    batches = await asyncio.gather(*(floor.tasks.claim(task_id, 4, START) for _ in range(10)))
    claimed = [order.telphone for batch in batches for order in batch]
    assert len(claimed) == 30
    assert len(set(claimed)) == 30
    assert (await floor.tasks.history(task_id, START)).dialed == 30


async def test_claim_needs_a_task_in_progress(floor: Floor) -> None:
    task_id, taskid = await floor.task(2)
    await floor.tasks.pause(floor.caller, taskid)
    assert await floor.tasks.claim(task_id, 5, START) == []
    await floor.tasks.resume(floor.caller, taskid)
    assert len(await floor.tasks.claim(task_id, 5, START)) == 2
    assert await floor.tasks.claim(task_id + 100, 5, START) == []


async def test_line_failures_hold_the_number_without_counting_an_attempt(
    floor: Floor,
) -> None:
    """The trunk failed, the customer never rang: the number keeps its attempt and is
    due again at once; a number that keeps failing while the trunk answers others is
    counted after three such dials."""
    task_id, taskid = await floor.task(2, max_attempts=1)
    for n in range(UNCOUNTED_LINE_FAILURES):
        [order] = await floor.tasks.claim(task_id, 1, START)
        assert order.telphone == "62800000000"
        await floor.end(order, START, **LINE_FAILED)
        number = (await floor.numbers(taskid))[0]
        assert (number.state, number.last_outcome) == (NumberState.PENDING, None)
        history = await floor.tasks.history(task_id, START)
        assert history.dialed == 0
        assert [a.outcome for a in history.attempts] == [AttemptOutcome.LINE_FAILURE] * (n + 1)
    [order] = await floor.tasks.claim(task_id, 1, START)
    await floor.end(order, START, **LINE_FAILED)
    number = (await floor.numbers(taskid))[0]
    assert number.state is NumberState.CALLED  # the fourth line failure counts
    assert (await floor.tasks.history(task_id, START)).dialed == 1


@pytest.mark.parametrize(
    ("changes", "outcome", "answertype", "answered"),
    [
        (CONNECTED, AttemptOutcome.CONNECTED, AnswerType.CONNECTED, True),
        (ABANDONED, AttemptOutcome.ABANDONED, AnswerType.CALLER, True),
        (BUSY, AttemptOutcome.BUSY, AnswerType.CALLEE, False),
        (NO_ANSWER, AttemptOutcome.NO_ANSWER, AnswerType.CALLEE, False),
        (TIMED_OUT, AttemptOutcome.NO_ANSWER, AnswerType.CALLEE, False),
        (FAILED, AttemptOutcome.FAILED, AnswerType.CALLEE, False),
    ],
)
async def test_a_record_finishes_its_attempt(
    floor: Floor,
    changes: dict[str, Any],
    outcome: AttemptOutcome,
    answertype: AnswerType,
    answered: bool,
) -> None:
    task_id, taskid = await floor.task(2)
    [order] = await floor.tasks.claim(task_id, 1, START)
    await floor.end(order, START, **changes)

    number = (await floor.numbers(taskid))[0]
    assert number.state is NumberState.CALLED  # no retries configured
    assert number.answered is answered
    assert number.last_outcome is outcome
    assert ANSWER_TYPES[outcome] is answertype
    assert number.extnumber == ("8001" if outcome is AttemptOutcome.CONNECTED else None)
    assert (number.duration, number.billsec) == (30, changes.get("billsec", 20))

    history = await floor.tasks.history(task_id, START)
    connected = outcome is AttemptOutcome.CONNECTED
    assert (history.dialed, history.answered, history.connected, history.abandoned) == (
        1,
        int(answered),
        int(connected),
        int(outcome is AttemptOutcome.ABANDONED),
    )
    assert history.talk_seconds == (20 if connected else 0)
    [ended] = history.attempts
    assert ended.outcome is outcome
    assert ended.ended_at == START + timedelta(seconds=30)
    assert ended.ring_seconds == (10.0 if answered else 30.0)
    assert ended.talk_seconds == (20 if connected else None)
    assert await floor.status(taskid) is TaskState.RUNNING  # one number left
    assert await floor.tasks.in_flight() == []


async def test_busy_and_unanswered_numbers_are_retried_on_their_schedules(floor: Floor) -> None:
    task_id, taskid = await floor.task(2, retry_busy=(10, 30), retry_noanswer=(5,))
    busy, quiet = await floor.tasks.claim(task_id, 2, START)
    assert busy.telphone == "62800000000"
    await floor.end(busy, START, **BUSY)
    await floor.end(quiet, START, **NO_ANSWER)
    ended = START + timedelta(seconds=30)

    numbers = await floor.numbers(taskid)
    assert [n.state for n in numbers] == [NumberState.PENDING] * 2
    assert await floor.tasks.claim(task_id, 5, ended + timedelta(minutes=4)) == []
    [again] = await floor.tasks.claim(task_id, 5, ended + timedelta(minutes=5))
    assert (again.telphone, again.attempt) == (quiet.telphone, 2)
    await floor.end(again, ended + timedelta(minutes=5), **NO_ANSWER)  # no second retry
    assert (await floor.numbers(taskid))[1].state is NumberState.CALLED

    [second] = await floor.tasks.claim(task_id, 5, ended + timedelta(minutes=10))
    assert (second.telphone, second.attempt) == (busy.telphone, 2)
    second_start = ended + timedelta(minutes=10)
    await floor.end(second, second_start, **BUSY)
    second_end = second_start + timedelta(seconds=30)
    assert await floor.tasks.claim(task_id, 5, second_end + timedelta(minutes=29)) == []
    [third] = await floor.tasks.claim(task_id, 5, second_end + timedelta(minutes=30))
    assert third.attempt == 3  # max attempts: one more than the longer retry list
    await floor.end(third, second_end + timedelta(minutes=30), **BUSY)

    assert [n.state for n in await floor.numbers(taskid)] == [NumberState.CALLED] * 2
    assert await floor.status(taskid) is TaskState.OVER
    assert (await floor.tasks.history(task_id, START)).dialed == 5


async def test_max_attempts_caps_the_retries(floor: Floor) -> None:
    task_id, taskid = await floor.task(1, retry_busy=(10, 30), max_attempts=2)
    [first] = await floor.tasks.claim(task_id, 1, START)
    await floor.end(first, START, **BUSY)
    later = START + timedelta(hours=1)
    [second] = await floor.tasks.claim(task_id, 1, later)
    await floor.end(second, later, **BUSY)
    assert (await floor.numbers(taskid))[0].state is NumberState.CALLED
    assert await floor.tasks.claim(task_id, 1, later + timedelta(days=1)) == []


async def test_claim_never_exceeds_max_attempts(floor: Floor) -> None:
    task_id, taskid = await floor.task(1, max_attempts=1)
    async with floor.container.db.writing() as session:
        number = await session.scalar(select(TaskNumber).where(TaskNumber.task_id == task_id))
        assert number is not None
        number.attempts = 1  # as if a dial had been made and its record not yet stored
    assert await floor.tasks.claim(task_id, 1, START) == []
    assert await floor.status(taskid) is TaskState.RUNNING


async def test_the_task_is_over_when_its_last_number_is_called(
    floor: Floor, clock: ManualClock
) -> None:
    task_id, taskid = await floor.task(2)
    first, second = await floor.tasks.claim(task_id, 2, START)
    await floor.end(first, START, **CONNECTED)
    assert await floor.status(taskid) is TaskState.RUNNING  # the second is in flight
    clock.advance(60)
    await floor.end(second, START, **ABANDONED)
    assert await floor.status(taskid) is TaskState.OVER
    async with floor.container.db.transaction() as session:
        task = await session.get(DialTask, task_id)
        assert task is not None
        assert task.finished_at == START + timedelta(seconds=60)
    assert [p.taskid for p in await floor.tasks.running()] == []


async def test_a_paused_task_is_not_ended_by_its_last_record(floor: Floor) -> None:
    task_id, taskid = await floor.task(1)
    [order] = await floor.tasks.claim(task_id, 1, START)
    await floor.tasks.pause(floor.caller, taskid)
    await floor.end(order, START, **CONNECTED)
    assert await floor.status(taskid) is TaskState.PAUSED
    assert (await floor.numbers(taskid))[0].state is NumberState.CALLED


async def test_a_record_counts_once(floor: Floor) -> None:
    task_id, taskid = await floor.task(2)
    [order] = await floor.tasks.claim(task_id, 1, START)
    record = call_record(floor.caller, START, uuid=order.call_id, kind=CallKind.PREDICTIVE)
    first_id = await floor.cdrs.record(record)
    assert await floor.cdrs.record(record) == first_id  # CdrService keeps the first
    async with floor.container.db.writing() as session:  # and the hook ignores a repeat
        await floor.tasks.record_hook(session, StoredCallRecord(first_id, record, None))
    history = await floor.tasks.history(task_id, START)
    assert (history.answered, history.connected, history.talk_seconds) == (1, 1, 20)
    assert len(history.attempts) == 1
    assert (await floor.numbers(taskid))[0].billsec == 20


async def test_records_of_other_calls_change_nothing(floor: Floor) -> None:
    task_id, taskid = await floor.task(1)
    [order] = await floor.tasks.claim(task_id, 1, START)
    # The dial's call id, but not a predictive call; and a predictive call of no task.
    await floor.cdrs.record(call_record(floor.caller, START, uuid=order.call_id))
    await floor.cdrs.record(call_record(floor.caller, START, kind=CallKind.PREDICTIVE))
    assert [a.call_id for a in await floor.tasks.in_flight()] == [order.call_id]
    assert (await floor.tasks.history(task_id, START)).answered == 0
    assert (await floor.numbers(taskid))[0].last_outcome is None


async def test_in_flight_lists_dials_without_a_record(floor: Floor, tenant: Tenant) -> None:
    task_id, taskid = await floor.task(3)
    orders = await floor.tasks.claim(task_id, 2, START)
    later = START + timedelta(seconds=5)
    [third] = await floor.tasks.claim(task_id, 1, later)
    await floor.end(orders[0], START, **NO_ANSWER)

    attempts = await floor.tasks.in_flight()
    assert [(a.call_id, a.started_at) for a in attempts] == [
        (orders[1].call_id, START),
        (third.call_id, later),
    ]
    first = attempts[0]
    assert (first.task_id, first.taskid, first.company_id, first.company_code) == (
        task_id,
        taskid,
        floor.caller.company_id,
        tenant.code,
    )
    assert (first.telphone, first.userid, first.attempt) == ("62800000001", "u1", 1)


async def test_history_gives_the_dials_that_ended_since(floor: Floor) -> None:
    task_id, _ = await floor.task(3)
    orders = await floor.tasks.claim(task_id, 3, START)
    await floor.end(orders[0], START, **CONNECTED)  # ends at +30 s
    await floor.end(orders[1], START + timedelta(minutes=10), **ABANDONED)
    await floor.end(orders[2], START + timedelta(minutes=20), **BUSY)
    await floor.tasks.add_staffed_seconds(task_id, 120.0)
    await floor.tasks.add_staffed_seconds(task_id, 30.5)

    recent = await floor.tasks.history(task_id, START + timedelta(minutes=5))
    assert [a.outcome for a in recent.attempts] == [AttemptOutcome.ABANDONED, AttemptOutcome.BUSY]
    assert recent.attempts[0].answered_at == START + timedelta(minutes=10, seconds=10)
    assert recent.attempts[1].answered_at is None
    assert (recent.dialed, recent.answered, recent.connected, recent.abandoned) == (3, 2, 1, 1)
    assert recent.staffed_seconds == 150.5
    everything = await floor.tasks.history(task_id, START)
    assert len(everything.attempts) == 3
    assert (await floor.tasks.history(task_id + 100, START)).attempts == ()


async def test_expire_ends_tasks_past_their_end_date(floor: Floor, clock: ManualClock) -> None:
    _, running = await floor.task(1)
    short = TaskSpec(
        name="short",
        groupname="sales",
        startdate=date(2026, 1, 1),
        enddate=date(2026, 1, 2),
    )
    waiting = (await floor.tasks.create(floor.caller, short)).taskid
    paused = (await floor.tasks.create(floor.caller, short)).taskid
    await floor.tasks.start(floor.caller, paused)
    await floor.tasks.pause(floor.caller, paused)
    stopped = (await floor.tasks.create(floor.caller, short)).taskid
    await floor.tasks.stop(floor.caller, stopped)

    assert await floor.tasks.expire(datetime(2026, 1, 2, 23, 59, tzinfo=UTC)) == []
    now = datetime(2026, 1, 3, tzinfo=UTC)
    assert sorted(await floor.tasks.expire(now)) == sorted([waiting, paused])
    assert await floor.tasks.expire(now) == []
    for taskid in (waiting, paused, stopped):
        assert await floor.status(taskid) is TaskState.OVER
    assert await floor.status(running) is TaskState.RUNNING

    clock.advance(timedelta(days=3).total_seconds())
    with pytest.raises(InvalidInput) as past:
        await floor.tasks.create(floor.caller, short)
    assert past.value.field == "enddate"


async def test_running_gives_the_dialers_plan(floor: Floor, tenant: Tenant) -> None:
    task_id, taskid = await floor.task(
        1,
        windows=parse_windows("13:00-17:30,08:30-12:00"),
        ring_timeout=25,
        retry_busy=(10, 30),
        retry_noanswer=(60,),
        abandon_rate=2.5,
        wrapup=15,
    )
    await floor.tasks.create(
        floor.caller,
        TaskSpec(name="later", groupname="sales", startdate=START.date(), enddate=START.date()),
    )
    [plan] = await floor.tasks.running()
    assert (plan.id, plan.taskid, plan.company_id, plan.company_code) == (
        task_id,
        taskid,
        floor.caller.company_id,
        tenant.code,
    )
    assert plan.groupname == "sales"
    assert plan.windows == ((time(8, 30), time(12, 0)), (time(13, 0), time(17, 30)))
    assert (plan.startdate, plan.enddate) == (date(2026, 1, 1), date(2026, 1, 31))
    assert (plan.ring_timeout, plan.retry_busy, plan.retry_noanswer) == (25, (10, 30), (60,))
    assert (plan.max_attempts, plan.abandon_target, plan.wrapup) == (3, 0.025, 15)
    assert plan.disnumber == ""
    assert plan.is_open(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    assert not plan.is_open(datetime(2026, 1, 5, 12, 30, tzinfo=UTC))
    assert not plan.is_open(datetime(2026, 1, 5, 17, 30, tzinfo=UTC))
    assert not plan.is_open(datetime(2026, 2, 1, 9, 0, tzinfo=UTC))


async def test_a_deleted_group_leaves_its_tasks(floor: Floor) -> None:
    _, taskid = await floor.task(1)
    await floor.container.groups.delete(floor.caller, "sales")
    assert await floor.tasks.running() == []
    page = await floor.tasks.list_tasks(floor.caller, PageRequest())
    assert [(t.taskid, t.groupname) for t in page.items] == [(taskid, "")]


def test_numbers_windows_and_retries_parse() -> None:
    entries = parse_numbers('["+6281", 62812, {"telphone": " 62813 ", "mark": 7}, true, []]')
    assert [getattr(e, "telphone", None) for e in entries] == [
        "+6281",
        "62812",
        "62813",
        "true",
        "[]",
    ]
    assert entries[2] == NumberInput("62813", mark="7")
    assert parse_windows(" 09:00-12:00 , 13:00-18:00") == (
        (time(9), time(12)),
        (time(13), time(18)),
    )
    assert parse_windows("00:00-23:59") == ((time(0), time(23, 59)),)
    for bad in ("", "09:00-09:00", "12:00-09:00", "9:00-10:00", "09:00-12:00,11:59-13:00"):
        with pytest.raises(InvalidInput):
            parse_windows(bad)
    assert parse_retry_delays(" 10, 30 ", "retrybusy") == (10, 30)
    assert parse_retry_delays("", "retrybusy") == ()
    for bad in ("0", "-5", "1.5", "1,2,3,4,5", "1441"):
        with pytest.raises(InvalidInput):
            parse_retry_delays(bad, "retrybusy")
    with pytest.raises(InvalidInput):
        TaskSpec(
            name="x",
            groupname="sales",
            startdate=date(2026, 1, 2),
            enddate=date(2026, 1, 1),
        )
