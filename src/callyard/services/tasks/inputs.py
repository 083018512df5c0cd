"""What a task is made of, as a request gives it: numbers, calling windows, retry
delays and the task's settings, each checked and bounded."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise

from callyard.errors import InvalidInput
from callyard.services.calls import check_phone_number

MAX_NUMBERS_PER_REQUEST = 10_000
MAX_TASK_NAME = 128
MAX_CUSTOM = 128  # userid, memberid, maturity, customuuid
MAX_MARK = 255
RING_TIMEOUT_MIN, RING_TIMEOUT_MAX, DEFAULT_RING_TIMEOUT = 15, 60, 30
MAX_ATTEMPTS_MIN, MAX_ATTEMPTS_MAX = 1, 5
ABANDON_RATE_MIN, ABANDON_RATE_MAX, DEFAULT_ABANDON_RATE = 0.5, 10.0, 3.0  # percent
WRAPUP_MIN, WRAPUP_MAX, DEFAULT_WRAPUP = 0, 600, 10  # seconds
MAX_RETRIES, MAX_RETRY_MINUTES = 4, 1440
MAX_WINDOWS = 12
DEFAULT_WINDOWS = "09:00-18:00"
_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
_RETRY_DELAY = re.compile(r"^[0-9]{1,4}$")


Window = tuple[time, time]


@dataclass(frozen=True)
class NumberInput:
    """A number to call, with the custom fields that travel into its calls' records."""

    telphone: str
    userid: str = ""
    memberid: str = ""
    maturity: str = ""
    customuuid: str = ""
    mark: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "telphone", check_phone_number(self.telphone, "telphone"))
        for name in ("userid", "memberid", "maturity", "customuuid"):
            if len(getattr(self, name)) > MAX_CUSTOM:
                raise InvalidInput(name, f"longer than {MAX_CUSTOM} characters")
        if len(self.mark) > MAX_MARK:
            raise InvalidInput("mark", f"longer than {MAX_MARK} characters")


@dataclass(frozen=True)
class InvalidNumber:
    """A number that was not added, and why."""

    telphone: str
    reason: str


NumberEntry = NumberInput | InvalidNumber


def parse_windows(text: str) -> tuple[Window, ...]:
    """`HH:MM-HH:MM[,HH:MM-HH:MM...]`: daily windows in the server's time zone, each
    opening before it closes, none overlapping; returned in order."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or len(parts) > MAX_WINDOWS:
        raise InvalidInput("windows", f"give 1 to {MAX_WINDOWS} windows HH:MM-HH:MM")
    windows = []
    for part in parts:
        match = _WINDOW.match(part)
        if match is None:
            raise InvalidInput("windows", f"{part!r} is not a window HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = time(h1, m1), time(h2, m2)
        if start >= end:
            raise InvalidInput("windows", f"{part} never opens (it must start before it ends)")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in pairwise(windows):
        if start < end:
            raise InvalidInput("windows", "windows overlap")
    return tuple(windows)


def format_windows(windows: Iterable[Window]) -> str:
    return ",".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in windows)


def parse_retry_delays(text: str, field_name: str) -> tuple[int, ...]:
    """Minutes before each retry, e.g. `10,30`: up to 4 positive integers."""
    text = text.strip()
    if not text:
        return ()
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_RETRIES:
        raise InvalidInput(field_name, f"at most {MAX_RETRIES} retries")
    delays = []
    for part in parts:
        if not _RETRY_DELAY.match(part) or not 1 <= int(part) <= MAX_RETRY_MINUTES:
            raise InvalidInput(
                field_name, f"{part!r} is not a number of minutes from 1 to {MAX_RETRY_MINUTES}"
            )
        delays.append(int(part))
    return tuple(delays)


def format_delays(delays: Iterable[int]) -> str:
    return ",".join(str(d) for d in delays)


def in_range(value: float, low: float, high: float, field_name: str, unit: str = "") -> None:
    if not low <= value <= high:
        raise InvalidInput(field_name, f"must be from {low:g} to {high:g}{unit}")


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A task's settings as TaskCreate gives them; ranges are checked here."""

    name: str
    groupname: str
    startdate: date
    enddate: date
    disnumber: str = ""  # "" = a random enabled pool number per call
    windows: tuple[Window, ...] = parse_windows(DEFAULT_WINDOWS)
    ring_timeout: int = DEFAULT_RING_TIMEOUT
    retry_busy: tuple[int, ...] = ()
    retry_noanswer: tuple[int, ...] = ()
    max_attempts: int | None = None  # None: one more than the longer retry list
    abandon_rate: float = DEFAULT_ABANDON_RATE  # percent of answered calls
    wrapup: int = DEFAULT_WRAPUP

    def __post_init__(self) -> None:
        if not 1 <= len(self.name.strip()) <= MAX_TASK_NAME:
            raise InvalidInput("name", f"must be 1 to {MAX_TASK_NAME} characters")
        if self.enddate < self.startdate:
            raise InvalidInput("enddate", f"{self.enddate} is before startdate {self.startdate}")
        parse_windows(format_windows(self.windows))
        in_range(self.ring_timeout, RING_TIMEOUT_MIN, RING_TIMEOUT_MAX, "ringtimeout", " s")
        for delays, name in (
            (self.retry_busy, "retrybusy"),
            (self.retry_noanswer, "retrynoanswer"),
        ):
            parse_retry_delays(format_delays(delays), name)
        if self.max_attempts is not None:
            in_range(self.max_attempts, MAX_ATTEMPTS_MIN, MAX_ATTEMPTS_MAX, "maxattempts")
        in_range(self.abandon_rate, ABANDON_RATE_MIN, ABANDON_RATE_MAX, "abandonrate", " %")
        in_range(self.wrapup, WRAPUP_MIN, WRAPUP_MAX, "wrapup", " s")

    @property
    def attempts(self) -> int:
        """Dials per number at most: as given, else one plus the longer retry list."""
        if self.max_attempts is not None:
            return self.max_attempts
        return 1 + max(len(self.retry_busy), len(self.retry_noanswer))
