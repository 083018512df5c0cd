"""Extension groups (queues) and the extensions checked in to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.agents import AgentState
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.directory import Directory
from callyard.services.extensions import resolve_extension
from callyard.store.database import Database, IntegrityError
from callyard.store.models import Extension, ExtensionGroup, GroupMember

MAX_GROUP_NAME = 64


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    enabled: bool


@dataclass(frozen=True)
class MemberView:
    group: str
    number: str
    answered: bool
    priority: int
    call_seconds: int
    updated_at: datetime | None
    state: AgentState


def check_group_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("name", "extension group name is empty")
    if len(name) > MAX_GROUP_NAME:
        raise InvalidInput("name", f"extension group name longer than {MAX_GROUP_NAME} characters")
    return name


async def _find_group(session: AsyncSession, caller: Caller, name: str) -> ExtensionGroup | None:
    return await session.scalar(
        select(ExtensionGroup).where(
            ExtensionGroup.company_id == caller.company_id, ExtensionGroup.name == name
        )
    )


async def _group(session: AsyncSession, caller: Caller, name: str) -> ExtensionGroup:
    group = await _find_group(session, caller, name)
    if group is None:
        raise BusinessError(Refusal.GROUP_NOT_FOUND, f"Extension group {name} does not exist")
    return group


async def _membership(
    session: AsyncSession, group: ExtensionGroup, extension: Extension
) -> GroupMember:
    member = await session.get(GroupMember, (group.id, extension.id))
    if member is None:
        raise BusinessError(
            Refusal.NOT_CHECKED_IN,
            f"Extension {extension.number} is not checked in to group {group.name}",
        )
    return member


class GroupService:
    """Extension groups of a company."""

    def __init__(
        self, db: Database, clock: Clock, agents: AgentBoard, directory: Directory
    ) -> None:
        self._db = db
        self._clock = clock
        self._agents = agents
        # Changes go through the directory: the switch's routing table (numbers routed
        # to a group ring its checked-in idle members) follows them.
        self._directory = directory

    async def add(self, caller: Caller, name: str, enabled: bool) -> None:
        name = check_group_name(name)
        duplicate = BusinessError(Refusal.ALREADY_EXISTS, f"Extension group {name} already exists")
        try:
            async with self._directory.changing() as session:
                if await session.scalar(
                    select(ExtensionGroup.id).where(
                        ExtensionGroup.company_id == caller.company_id,
                        ExtensionGroup.name == name,
                    )
                ):
                    raise duplicate
                session.add(
                    ExtensionGroup(
                        company_id=caller.company_id,
                        name=name,
                        enabled=enabled,
                        created_at=self._clock.now(),
                    )
                )
        except IntegrityError as exc:  # a concurrent AddExtgroup won the race
            raise duplicate from exc

    async def delete(self, caller: Caller, name: str) -> None:
        name = check_group_name(name)
        async with self._directory.changing() as session:
            group = await _group(session, caller, name)
            await session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
            await session.delete(group)

    async def info(self, caller: Caller, name: str | None) -> list[GroupView]:
        """GetExtgroupInfo: the caller's groups, or the one named (none if it has no such
        group)."""
        async with self._db.transaction() as session:
            if name:
                found = await _find_group(session, caller, check_group_name(name))
                groups = [found] if found else []
            else:
                groups = list(
                    await session.scalars(
                        select(ExtensionGroup)
                        .where(ExtensionGroup.company_id == caller.company_id)
                        .order_by(ExtensionGroup.id)
                    )
                )
        return [GroupView(g.id, g.name, g.enabled) for g in groups]

    async def check_in(self, caller: Caller, name: str, number: str) -> None:
        name = check_group_name(name)
        now = self._clock.now()
        already = BusinessError(
            Refusal.ALREADY_CHECKED_IN, f"Extension {number} is already checked in to group {name}"
        )
        try:
            async with self._directory.changing() as session:
                group = await _group(session, caller, name)
                if not group.enabled:
                    raise BusinessError(
                        Refusal.GROUP_DISABLED, f"Extension group {name} is disabled"
                    )
                extension = await resolve_extension(session, caller, number, require_enabled=True)
                if await session.get(GroupMember, (group.id, extension.id)):
                    raise already
                session.add(
                    GroupMember(
                        group_id=group.id,
                        extension_id=extension.id,
                        state=AgentState.IDLE.value,
                        priority=1,
                        checked_in_at=now,
                        updated_at=None,  # GetGroupExt's `date`: set by EditExtnumber
                    )
                )
        except IntegrityError as exc:
            raise already from exc

    async def check_out(self, caller: Caller, name: str, number: str) -> None:
        name = check_group_name(name)
        async with self._directory.changing() as session:
            group = await _group(session, caller, name)
            extension = await resolve_extension(session, caller, number)
            await session.delete(await _membership(session, group, extension))

    async def set_state(self, caller: Caller, name: str, number: str, state: AgentState) -> None:
        name = check_group_name(name)
        async with self._directory.changing() as session:
            group = await _group(session, caller, name)
            extension = await resolve_extension(session, caller, number)
            member = await _membership(session, group, extension)
            member.state = state.value
            member.updated_at = self._clock.now()

    async def members(
        self, caller: Caller, name: str | None, number: str | None
    ) -> list[MemberView]:
        """GetGroupExt: check-ins of the caller's groups, optionally of one group or
        extension; a filter naming no group or extension of the caller matches nothing."""
        async with self._db.transaction() as session:
            query = (
                select(ExtensionGroup.name, Extension.number, GroupMember)
                .join(ExtensionGroup, ExtensionGroup.id == GroupMember.group_id)
                .join(Extension, Extension.id == GroupMember.extension_id)
                .where(ExtensionGroup.company_id == caller.company_id)
                .order_by(ExtensionGroup.id, Extension.number)
            )
            if name:
                query = query.where(ExtensionGroup.name == check_group_name(name))
            if number:
                query = query.where(Extension.number == number)
            rows = (await session.execute(query)).all()
        views = []
        for group_name, ext_number, member in rows:
            talking = self._agents.talking_seconds(ext_number, self._clock.monotonic())
            views.append(
                MemberView(
                    group=group_name,
                    number=ext_number,
                    answered=talking is not None,
                    priority=member.priority,
                    call_seconds=talking or 0,
                    updated_at=member.updated_at,
                    state=AgentState(member.state),
                )
            )
        return views

    async def checked_in(self, group_id: int) -> list[tuple[str, AgentState]]:
        """The enabled extensions checked in to a group, with their idle/busy state (from
        the agents' board, which keeps them until they change)."""
        return [(c.number, c.state) for c in await self._agents.group_members(group_id)]
