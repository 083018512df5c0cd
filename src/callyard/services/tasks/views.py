"""What the task service answers: the API side's views of tasks and numbers, and what
the dialer reads and writes of a task in progress (plans, orders, attempts, history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from callyard.domain.hangups import EndReason
from callyard.domain.tasks import NumberState, TaskState
from callyard.errors import InvalidInput
from callyard.services.tasks.inputs import InvalidNumber, Window, in_range

MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 100, 10
MAX_NUMBERS_PAGE_SIZE = 1000  # TaskInfo: a task's numbers, read in pages by CRMs
T = TypeVar("T")


class AttemptOutcome(StrEnum):
    """How one dial of a number ended."""

    CONNECTED = "connected"  # answered and taken by an agent
    ABANDONED = "abandoned"  # answered, but no agent took it
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    LINE_FAILURE = "line_failure"  # the trunk answered nothing, or failed: never rang
    FAILED = "failed"  # any other failure (unreachable, refused ...)


# Causes of a dial the trunk failed (the carrier is down or refused the line), not the
# customer: such a dial is not counted as one of the number's attempts.
LINE_FAILURES = frozenset({EndReason.LINE_FAILURE, EndReason.UNREACHABLE})
# A number whose dials keep failing on the line (while the trunk answers others) is
# counted after this many.
UNCOUNTED_LINE_FAILURES = 3


@dataclass(frozen=True)
class AddedNumbers:
    """What TaskCreate and TaskAppend did with the numbers: every entry is counted once,
    as added, a duplicate (within the request or of the task), or invalid."""

    added: int
    duplicates: tuple[str, ...]
    invalid: tuple[InvalidNumber, ...]


@dataclass(frozen=True)
class CreatedTask:
    taskid: str
    numbers: AddedNumbers


@dataclass(frozen=True)
class PageRequest:
    number: int = 1
    size: int = DEFAULT_PAGE_SIZE
    largest: int = MAX_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidInput("currentpage", "must be 1 or more")
        in_range(self.size, 1, self.largest, "itemsperpage")


@dataclass(frozen=True)
class Page(Generic[T]):
    total: int
    request: PageRequest
    items: tuple[T, ...]


@dataclass(frozen=True)
class TaskSummary:
    """A task in TaskList: its settings' headline and its life counters."""

    taskid: str
    name: str
    groupname: str  # "" once the group was deleted
    state: TaskState
    created_at: datetime
    total: int
    dialed: int
    answered: int
    connected: int
    abandoned: int
    abandon_rate: float  # percent of answered calls, 2 decimals
    occupancy: float  # percent of staffed agent time spent talking, 2 decimals
    held_reason: str  # why a task in progress dials nothing now; "" when it dials


@dataclass(frozen=True)
class NumberView:
    """A number in TaskInfo, with its last attempt's results."""

    taskid: str
    telphone: str
    userid: str
    memberid: str
    maturity: str
    customuuid: str
    state: NumberState
    extnumber: str | None
    answered: bool | None
    last_outcome: AttemptOutcome | None  # how its last dial ended; None before one has
    calltime: datetime | None
    duration: int
    billsec: int
    created_at: datetime
    mark: str


# ---------------------------------------------------------------------------------------
# The dialer side


@dataclass(frozen=True)
class TaskPlan:
    """A task in progress, as the dialer runs it."""

    id: int
    taskid: str
    company_id: int
    company_code: int
    group_id: int
    groupname: str
    disnumber: str  # "" = a random enabled pool number per call
    windows: tuple[Window, ...]  # in the server's time zone, `zone`
    startdate: date
    enddate: date
    ring_timeout: int
    retry_busy: tuple[int, ...]  # minutes
    retry_noanswer: tuple[int, ...]
    max_attempts: int
    abandon_target: float  # a fraction of answered calls: 0.03
    wrapup: int  # seconds an agent gets after each call
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def is_open(self, moment: datetime) -> bool:
        """Inside the date range and one of the daily windows."""
        local = moment.astimezone(self.zone)
        if not self.startdate <= local.date() <= self.enddate:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.windows)


@dataclass(frozen=True)
class DialOrder:
    """A number claimed for one dial: call it with this call id (the record's uuid)."""

    task_id: int
    number_id: int
    call_id: str
    attempt: int
    telphone: str
    userid: str
    memberid: str
    maturity: str
    customuuid: str


@dataclass(frozen=True)
class InFlightAttempt:
    """A dial without a call record yet: in progress, or cut short by a stop."""

    task_id: int
    taskid: str
    company_id: int
    company_code: int
    number_id: int
    call_id: str
    attempt: int
    telphone: str
    userid: str
    memberid: str
    maturity: str
    customuuid: str
    started_at: datetime


@dataclass(frozen=True)
class EndedAttempt:
    """A finished dial, for the pacer: `ring_seconds` until answered (or until it failed),
    `talk_seconds` only for connected calls."""

    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    outcome: AttemptOutcome
    ring_seconds: float
    talk_seconds: int | None


@dataclass(frozen=True)
class TaskHistory:
    """A task's life counters and the dials that ended since a moment, oldest first."""

    dialed: int
    answered: int
    connected: int
    abandoned: int
    talk_seconds: int
    staffed_seconds: float
    attempts: tuple[EndedAttempt, ...]
    talking_seconds: float = 0.0  # agent-seconds on calls, on the staffed time's clock

    @property
    def occupancy(self) -> float:
        """The share of staffed agent time spent on the task's calls, 0 to 1."""
        return occupancy(self.talking_seconds, self.staffed_seconds)


def attempt_outcome(record_answered: bool, extnumber: str, cause: EndReason) -> AttemptOutcome:
    """A dial's outcome from its call record."""
    if record_answered:
        return AttemptOutcome.CONNECTED if extnumber else AttemptOutcome.ABANDONED
    if cause is EndReason.BUSY:
        return AttemptOutcome.BUSY
    if cause in (EndReason.NO_ANSWER, EndReason.TIMED_OUT):
        return AttemptOutcome.NO_ANSWER
    if cause in LINE_FAILURES:
        return AttemptOutcome.LINE_FAILURE
    return AttemptOutcome.FAILED


def percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def occupancy(talking: float, staffed: float) -> float:
    """Talking agent-seconds over staffed agent-seconds, 0 to 1. Both are counted on one
    clock, talking only for staffed agents, so it cannot pass 1; the bound holds even
    for rows written before that was so."""
    return min(1.0, talking / staffed) if staffed > 0 else 0.0
