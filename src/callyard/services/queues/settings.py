"""Each group's queue settings: made, changed and removed by the platform's admin, read
(from memory until the store changes) by the distributor for every caller."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.groups import Overflow, RingPolicy
from callyard.errors import InvalidInput, NotFound
from callyard.services.directory import Directory
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import ExtensionGroup, GroupQueue

PHONE = re.compile(r"^\+?[0-9]{3,32}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")


@dataclass(frozen=True)
class QueueSettings:
    """How a group's callers wait and where they go when they cannot."""

    max_wait_seconds: int = 120
    max_size: int = 50
    ring_seconds: int = 20  # each offer rings the agent this long
    greeting: str = ""  # spoken once as the caller enters; "" none
    language: str = "en"
    music_file: str = ""  # a prompt's base path (`<base>.0`/`.8`); "" the built-in music
    overflow: Overflow = Overflow.HANG_UP
    overflow_group: str = ""  # the group's name, for Overflow.GROUP
    overflow_number: str = ""  # for Overflow.NUMBER
    overflow_message: str = ""  # spoken before hanging up (Overflow.HANG_UP)
    service_level_seconds: int = 20  # answered within this long counts as served in time

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_wait_seconds", 1, 86_400),
            ("max_size", 1, 10_000),
            ("ring_seconds", 5, 300),
            ("service_level_seconds", 1, 3_600),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise InvalidInput(name, f"must be {low} to {high}")
        if len(self.greeting) > 1024 or len(self.overflow_message) > 1024:
            raise InvalidInput("greeting", "at most 1,024 characters")
        if not LANGUAGE.match(self.language):
            raise InvalidInput("language", "a language code such as en or id")
        if self.overflow is Overflow.GROUP and not self.overflow_group:
            raise InvalidInput("overflow_group", "needed when callers overflow to a group")
        if self.overflow is Overflow.NUMBER and not PHONE.match(self.overflow_number):
            raise InvalidInput("overflow_number", "3 to 32 digits, optionally after +")


@dataclass(frozen=True)
class GroupQueueView:
    """A group's queue as the distributor uses it."""

    group_id: int
    company_id: int
    name: str
    sn: str
    policy: RingPolicy
    settings: QueueSettings
    overflow_group_id: int | None


class QueueSettingsService:
    """The groups' queues."""

    def __init__(self, db: Database, directory: Directory, clock: Clock) -> None:
        self._db = db
        self._directory = directory
        self._clock = clock

    async def set(self, company_code: int, group: str, settings: QueueSettings) -> QueueSettings:
        """Give the group a queue, or change it; a number routed to the group queues its
        callers from then on."""
        async with self._directory.changing() as session:
            row = await _group(session, company_code, group)
            overflow_id = None
            if settings.overflow is Overflow.GROUP:
                target = await _group(session, company_code, settings.overflow_group)
                if target.id == row.id:
                    raise InvalidInput("overflow_group", "a group cannot overflow to itself")
                overflow_id = target.id
            queue = await session.get(GroupQueue, row.id) or GroupQueue(group_id=row.id)
            for field in fields(QueueSettings):
                if field.name not in ("overflow", "overflow_group"):
                    setattr(queue, field.name, getattr(settings, field.name))
            queue.overflow = settings.overflow.value
            queue.overflow_group_id = overflow_id
            queue.updated_at = self._clock.now()
            session.add(queue)
        return settings

    async def get(self, company_code: int, group: str) -> QueueSettings | None:
        async with self._db.transaction() as session:
            row = await _group(session, company_code, group)
            queue = await session.get(GroupQueue, row.id)
            return None if queue is None else await _settings(session, queue)

    async def remove(self, company_code: int, group: str) -> None:
        """The group's callers are hunted again, not queued."""
        async with self._directory.changing() as session:
            row = await _group(session, company_code, group)
            await session.execute(delete(GroupQueue).where(GroupQueue.group_id == row.id))

    async def of_group(self, group_id: int) -> GroupQueueView | None:
        """A group's queue (None: it has none), from memory until the store changes."""

        async def load(session: AsyncSession) -> GroupQueueView | None:
            found = (
                await session.execute(
                    select(GroupQueue, ExtensionGroup)
                    .join(ExtensionGroup, ExtensionGroup.id == GroupQueue.group_id)
                    .where(GroupQueue.group_id == group_id)
                )
            ).first()
            if found is None:
                return None
            queue, group = found
            return GroupQueueView(
                group.id,
                group.company_id,
                group.name,
                group.sn,
                RingPolicy(group.policy),
                await _settings(session, queue),
                queue.overflow_group_id,
            )

        return await self._directory.cached("group-queue", group_id, load)


async def _group(session: AsyncSession, company_code: int, name: str) -> ExtensionGroup:
    company = await company_by_code(session, company_code)
    row = await session.scalar(
        select(ExtensionGroup).where(
            ExtensionGroup.company_id == company.id, ExtensionGroup.name == name
        )
    )
    if row is None:
        raise NotFound(f"no group {name} in company {company_code}")
    return row


async def _settings(session: AsyncSession, queue: GroupQueue) -> QueueSettings:
    overflow_group = ""
    if queue.overflow_group_id is not None:
        target = await session.get(ExtensionGroup, queue.overflow_group_id)
        overflow_group = target.name if target else ""
    overflow = Overflow(queue.overflow)
    if overflow is Overflow.GROUP and not overflow_group:
        overflow = Overflow.HANG_UP  # the group it overflowed to was deleted
    return replace(
        QueueSettings(),
        max_wait_seconds=queue.max_wait_seconds,
        max_size=queue.max_size,
        ring_seconds=queue.ring_seconds,
        greeting=queue.greeting,
        language=queue.language,
        music_file=queue.music_file,
        overflow=overflow,
        overflow_group=overflow_group,
        overflow_number=queue.overflow_number,
        overflow_message=queue.overflow_message,
        service_level_seconds=queue.service_level_seconds,
    )
