"""Extensions (agent seats): administration and the API's views of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.lines import LineCheck
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, Conflict, InvalidInput, NotFound
from callyard.security import new_sip_password, sip_password_weakness
from callyard.services.auth import Caller
from callyard.services.directory import Directory, ExtensionEntry, entry_of
from callyard.services.presence import Presence, Registration
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import Extension

EXTENSION_NUMBER = re.compile(r"^[0-9]{2,20}$")
MAX_RANGE = 10_000
MAX_LISTED_CHARS = 64
_PASSWORD = re.compile(r"^[\x21-\x7e]{6,64}$")


class StatusFilter(IntEnum):
    """GetSipnumberInfo's `status` parameter."""

    ENABLED = 1
    DISABLED = 2
    ALL = 3


@dataclass(frozen=True)
class ExtensionView:
    number: str
    password: str
    enabled: bool
    registered: bool

    @property
    def status(self) -> LineCheck:
        return LineCheck.ENABLED if self.enabled else LineCheck.DISABLED


def check_number(number: str, field: str = "extnumber") -> str:
    number = number.strip()
    if not EXTENSION_NUMBER.match(number):
        raise InvalidInput(field, f"{number!r} is not an extension number (2 to 20 digits)")
    return number


def expand_range(spec: str) -> list[str]:
    """`1001-1050` to its numbers; leading zeros keep their width."""
    first, sep, last = spec.partition("-")
    if not sep:
        raise InvalidInput("range", f"expected FIRST-LAST, got {spec!r}")
    first, last = check_number(first, "range"), check_number(last, "range")
    if len(first) != len(last) or int(last) < int(first):
        raise InvalidInput("range", f"{spec!r} is not an ascending range of equal-width numbers")
    count = int(last) - int(first) + 1
    if count > MAX_RANGE:
        raise InvalidInput("range", f"{count} extensions at once; at most {MAX_RANGE}")
    width = len(first)
    return [str(n).zfill(width) for n in range(int(first), int(last) + 1)]


def extension_numbers(numbers: list[str], range_spec: str | None) -> list[str]:
    """Numbers given one by one and/or as a range, in order, without duplicates."""
    combined = list(numbers) + (expand_range(range_spec) if range_spec else [])
    if not combined:
        raise InvalidInput("number", "give numbers or a range")
    return list(dict.fromkeys(combined))


def split_numbers(text: str, limit: int = 500) -> list[str]:
    """A comma-separated list of extensions as asked, duplicates removed, order kept. An
    entry that is not an extension number stays in the list: it is one that does not exist,
    and only its own answer says so."""
    numbers = [part.strip() for part in text.split(",") if part.strip()]
    too_long = next((n for n in numbers if len(n) > MAX_LISTED_CHARS), None)
    if too_long is not None:
        raise InvalidInput(
            "extnumber", f"{too_long[:16]!r}... is longer than {MAX_LISTED_CHARS} characters"
        )
    if not numbers:
        raise InvalidInput("extnumber", "no extension number given")
    if len(numbers) > limit:
        raise InvalidInput("extnumber", f"{len(numbers)} extensions; at most {limit} at once")
    return list(dict.fromkeys(numbers))


# What a status check reports for the refusals of owned_extension.
OWNERSHIP_CHECKS = {
    Refusal.EXTENSION_NOT_FOUND: LineCheck.NOT_FOUND,
    Refusal.EXTENSION_FOREIGN: LineCheck.FOREIGN,
}


def owned_extension(entry: ExtensionEntry | None, caller: Caller, number: str) -> ExtensionEntry:
    """The extension, or its refusal: no such extension, or another company's."""
    if entry is None:
        raise BusinessError(Refusal.EXTENSION_NOT_FOUND, f"Extension {number} does not exist")
    if entry.company_id != caller.company_id:
        raise BusinessError(
            Refusal.EXTENSION_FOREIGN, f"Extension {number} is not owned by the company"
        )
    return entry


async def resolve_extension(
    session: AsyncSession, caller: Caller, number: str, *, require_enabled: bool = False
) -> Extension:
    """The caller's extension `number`, or its refusal: not found, another company's or
    (with `require_enabled`) disabled."""
    extension = await session.scalar(select(Extension).where(Extension.number == number))
    owned_extension(entry_of(extension) if extension else None, caller, number)
    assert extension is not None
    if require_enabled and not extension.enabled:
        raise BusinessError(Refusal.EXTENSION_DISABLED, f"Extension {number} is disabled")
    return extension


class ExtensionService:
    """Extensions of a company."""

    def __init__(
        self, db: Database, clock: Clock, presence: Presence, directory: Directory
    ) -> None:
        self._db = db
        self._clock = clock
        self._presence = presence
        self._directory = directory

    def _view(self, row: Extension | ExtensionEntry) -> ExtensionView:
        registered = self._presence.registration(row.number) is not None
        return ExtensionView(row.number, row.password, row.enabled, registered)

    # administration

    async def create(
        self,
        company_code: int,
        numbers: list[str],
        password: str | None = None,
        *,
        allow_weak_password: bool = False,
    ) -> list[ExtensionView]:
        """Create extensions; all or none. Without a password each gets a random one; a
        password that is easy to guess is refused unless `allow_weak_password`."""
        numbers = [check_number(n, "number") for n in numbers]
        if not numbers:
            raise InvalidInput("number", "no extension number given")
        if password is not None:
            if not _PASSWORD.match(password):
                raise InvalidInput(
                    "password", "must be 6 to 64 printable characters without spaces"
                )
            weakness = None if allow_weak_password else sip_password_weakness(password, numbers)
            if weakness is not None:
                raise InvalidInput(
                    "password",
                    f"too easy to guess: {weakness}; choose a stronger one, or leave it out "
                    "for a random one (to keep it anyway, allow weak passwords explicitly)",
                )
        now = self._clock.now()
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            taken = set(
                await session.scalars(select(Extension.number).where(Extension.number.in_(numbers)))
            )
            if taken:
                shown = ", ".join(sorted(taken)[:10])
                raise Conflict(f"{len(taken)} extension number(s) already exist: {shown}")
            rows = [
                Extension(
                    company_id=company.id,
                    number=number,
                    password=password or new_sip_password(),
                    enabled=True,
                    created_at=now,
                    updated_at=now,
                )
                for number in dict.fromkeys(numbers)
            ]
            session.add_all(rows)
        return [self._view(row) for row in rows]

    async def set_enabled(
        self, company_code: int, numbers: list[str], enabled: bool
    ) -> list[ExtensionView]:
        numbers = [check_number(n, "number") for n in numbers]
        now = self._clock.now()
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            rows = list(
                await session.scalars(
                    select(Extension).where(
                        Extension.company_id == company.id, Extension.number.in_(numbers)
                    )
                )
            )
            missing = set(numbers) - {row.number for row in rows}
            if missing:
                raise NotFound(
                    f"company {company_code} has no extension {', '.join(sorted(missing))}"
                )
            for row in rows:
                row.enabled = enabled
                row.updated_at = now
        return [self._view(row) for row in sorted(rows, key=lambda r: r.number)]

    async def list_all(self, company_code: int) -> list[ExtensionView]:
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            rows = await session.scalars(
                select(Extension)
                .where(Extension.company_id == company.id)
                .order_by(Extension.number)
            )
            return [self._view(row) for row in rows]

    # API

    async def info(
        self, caller: Caller, status: StatusFilter, number: str | None
    ) -> list[ExtensionView]:
        """GetSipnumberInfo: the caller's extensions by status, or one of them."""
        if number:
            entries: Iterable[ExtensionEntry] = [
                owned_extension(await self._directory.extension(number), caller, number)
            ]
        else:
            entries = await self._directory.extensions_of(caller.company_id)
        wanted = {
            StatusFilter.ENABLED: (True,),
            StatusFilter.DISABLED: (False,),
            StatusFilter.ALL: (True, False),
        }[status]
        return [self._view(e) for e in entries if e.enabled in wanted]

    async def registration_status(
        self, caller: Caller, numbers: list[str]
    ) -> list[tuple[str, LineCheck, Registration | None]]:
        """GetSipRegisterStatus: registered or not, else disabled, not found or another
        company's."""
        result: list[tuple[str, LineCheck, Registration | None]] = []
        for number, check in await self.valid_status(caller, numbers):
            registration = None
            if check is LineCheck.ENABLED:
                registration = self._presence.registration(number)
                check = LineCheck.REGISTERED if registration else LineCheck.NOT_REGISTERED
            result.append((number, check, registration))
        return result

    async def valid_status(self, caller: Caller, numbers: list[str]) -> list[tuple[str, LineCheck]]:
        """GetSipValidStatus: one check per number: enabled, disabled, not found or
        another company's."""
        result = []
        for number in numbers:
            try:
                entry = owned_extension(await self._directory.extension(number), caller, number)
            except BusinessError as exc:
                result.append((number, OWNERSHIP_CHECKS[exc.refusal]))
                continue
            check = LineCheck.ENABLED if entry.enabled else LineCheck.DISABLED
            result.append((number, check))
        return result
