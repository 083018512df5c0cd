"""A company's numbers: the pool of caller IDs shown to the called party, and where
carriers' calls to each number go (its route: an extension, or a group's members)."""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from callyard.clock import Clock
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, Conflict, InvalidInput, NotFound
from callyard.services.auth import Caller
from callyard.services.directory import Directory
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import company_by_code
from callyard.store.models import CallerNumber, Extension, ExtensionGroup
from callyard.switch.routing import pick_caller_id

CALLER_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True)
class NumberView:
    number: str
    enabled: bool
    route_extension: str | None = None  # carriers' calls go to this extension
    route_group: str | None = None  # ... or to this group's members, in turn


@dataclass(frozen=True)
class _Owned:
    company_id: int
    enabled: bool


async def _id_of(
    session: AsyncSession,
    model: type[Extension] | type[ExtensionGroup],
    key: InstrumentedAttribute[str],
    value: str,
    company_id: int,
    what: str,
) -> int:
    """The id of the company's extension or group named `value`, or NotFound."""
    found = await session.scalar(
        select(model.id).where(model.company_id == company_id, key == value)
    )
    if found is None:
        raise NotFound(f"the company has no {what} {value}")
    return found


def check_caller_number(number: str) -> str:
    number = number.strip()
    if not CALLER_NUMBER.match(number):
        raise InvalidInput("number", f"{number!r} is not a caller ID (optional '+', 3-20 digits)")
    return number


class NumberService:
    """Caller-ID numbers of a company: administration, and the choice for each call."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        directory: Directory,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._directory = directory
        self._rng = rng or random.Random()

    async def add(self, company_code: int, number: str, enabled: bool = True) -> NumberView:
        """Add a number to the company's pool; numbers are unique across the platform."""
        number = check_caller_number(number)
        now = self._clock.now()
        duplicate = Conflict(f"caller ID {number} already exists")
        try:
            async with self._directory.changing() as session:
                company = await company_by_code(session, company_code)
                if await session.scalar(
                    select(CallerNumber.id).where(CallerNumber.number == number)
                ):
                    raise duplicate
                session.add(
                    CallerNumber(
                        company_id=company.id,
                        number=number,
                        enabled=enabled,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as exc:  # a concurrent add won the race
            raise duplicate from exc
        return NumberView(number, enabled)

    async def set_enabled(
        self, company_code: int, numbers: list[str], enabled: bool
    ) -> list[NumberView]:
        """Enable or disable numbers of the company; all or none."""
        numbers = [check_caller_number(n) for n in numbers]
        if not numbers:
            raise InvalidInput("number", "no caller ID given")
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            rows = list(
                await session.scalars(
                    select(CallerNumber).where(
                        CallerNumber.company_id == company.id, CallerNumber.number.in_(numbers)
                    )
                )
            )
            missing = set(numbers) - {row.number for row in rows}
            if missing:
                raise NotFound(
                    f"company {company_code} has no caller ID {', '.join(sorted(missing))}"
                )
            now = self._clock.now()
            for row in rows:
                row.enabled = enabled
                row.updated_at = now
        return [NumberView(row.number, row.enabled) for row in sorted(rows, key=lambda r: r.number)]

    async def list_all(self, company_code: int) -> list[NumberView]:
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            rows = await session.execute(
                select(CallerNumber, Extension.number, ExtensionGroup.name)
                .outerjoin(Extension, Extension.id == CallerNumber.route_extension_id)
                .outerjoin(ExtensionGroup, ExtensionGroup.id == CallerNumber.route_group_id)
                .where(CallerNumber.company_id == company.id)
                .order_by(CallerNumber.number)
            )
            return [
                NumberView(row.number, row.enabled, extension, group)
                for row, extension, group in rows
            ]

    async def set_route(
        self,
        company_code: int,
        number: str,
        *,
        extension: str | None = None,
        group: str | None = None,
    ) -> NumberView:
        """Route carriers' calls to one of the company's numbers to one of its extensions
        or to one of its groups (whose members are rung in turn); neither: refuse them."""
        number = check_caller_number(number)
        if extension and group:
            raise InvalidInput("route", "give an extension or a group, not both")
        async with self._directory.changing() as session:
            company = await company_by_code(session, company_code)
            row = await session.scalar(
                select(CallerNumber).where(
                    CallerNumber.company_id == company.id, CallerNumber.number == number
                )
            )
            if row is None:
                raise NotFound(f"company {company_code} has no number {number}")
            row.route_extension_id = row.route_group_id = None
            if extension:
                row.route_extension_id = await _id_of(
                    session, Extension, Extension.number, extension, company.id, "extension"
                )
            if group:
                row.route_group_id = await _id_of(
                    session, ExtensionGroup, ExtensionGroup.name, group, company.id, "group"
                )
            row.updated_at = self._clock.now()
        return NumberView(row.number, row.enabled, extension or None, group or None)

    async def pick(self, caller: Caller, disnumber: str | None) -> str:
        """The caller ID of a call: `disnumber` if the company may show it, else (blank) a
        random enabled number of the company. Refused: not found, foreign, disabled. From
        memory once read: every call placed needs it."""
        wanted = (disnumber or "").strip()
        if wanted:
            owned = await self._directory.cached("caller-id", wanted, self._owner(wanted))
            if owned is None:
                raise BusinessError(Refusal.NUMBER_NOT_FOUND, f"Caller ID {wanted} does not exist")
            if owned.company_id != caller.company_id:
                raise BusinessError(
                    Refusal.NUMBER_FOREIGN, f"Caller ID {wanted} is not owned by the company"
                )
            if not owned.enabled:
                raise BusinessError(Refusal.NUMBER_DISABLED, f"Caller ID {wanted} is disabled")
            return wanted
        pool = await self._directory.cached(
            "caller-id-pool", caller.company_id, self._pool(caller.company_id)
        )
        if not pool:
            raise BusinessError(Refusal.NO_NUMBER, "The company has no enabled caller ID number")
        return pick_caller_id(pool, self._rng.choice)

    @staticmethod
    def _owner(number: str) -> Callable[[AsyncSession], Awaitable[_Owned | None]]:
        async def load(session: AsyncSession) -> _Owned | None:
            row = await session.scalar(select(CallerNumber).where(CallerNumber.number == number))
            return _Owned(row.company_id, row.enabled) if row else None

        return load

    @staticmethod
    def _pool(company_id: int) -> Callable[[AsyncSession], Awaitable[tuple[str, ...]]]:
        async def load(session: AsyncSession) -> tuple[str, ...]:
            return tuple(
                await session.scalars(
                    select(CallerNumber.number)
                    .where(
                        CallerNumber.company_id == company_id,
                        CallerNumber.enabled.is_(True),
                    )
                    .order_by(CallerNumber.id)
                )
            )

        return load
