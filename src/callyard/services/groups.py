"""Extension groups (queues) and the extensions checked in to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.agents import AgentState
from callyard.domain.groups import RingPolicy
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.directory import Directory
from callyard.services.extensions import resolve_extension
from callyard.services.partial import copy_given, with_defaults
from callyard.store.database import Database, IntegrityError
from callyard.store.models import Agent, Extension, ExtensionGroup, GroupMember

MAX_GROUP_NAME = 64
MAX_PAGE_SIZE = 500


def new_sn() -> str:
    """A public id of a group or an agent: 32 hex digits."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Page:
    """Which page of a listing: 1-based number and size."""

    number: int = 1
    size: int = 10

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidInput("pageNo", "must be 1 or more")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise InvalidInput("pageSize", f"must be 1 to {MAX_PAGE_SIZE}")

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True)
class GroupSettings:
    """How a group routes and treats its agents; None: as it is (or the default, when
    the group is new)."""

    name: str | None = None
    policy: RingPolicy | None = None
    popup_url: str | None = None
    caller_number: str | None = None
    auto_idle: bool | None = None
    auto_idle_seconds: int | None = None
    transfer_within: bool | None = None
    agents_dial: bool | None = None
    remark: str | None = None
    department: str | None = None
    # the agents (by sn) that are its members; the extensions checked in that are no
    # agents' stay
    agent_sns: tuple[str, ...] | None = None


NEW_GROUP = GroupSettings(
    policy=RingPolicy.ROUND_ROBIN,
    popup_url="",
    caller_number="",
    auto_idle=False,
    transfer_within=False,
    agents_dial=True,
    remark="",
    department="",
    agent_sns=(),
)

# GroupSettings fields stored as they are, under the same column name.
_STORED = ("popup_url", "caller_number", "auto_idle", "auto_idle_seconds", "transfer_within",
           "agents_dial", "remark", "department")  # fmt: skip


@dataclass(frozen=True)
class GroupRecord:
    """A group with its settings and members, as the skill-group listing shows it."""

    sn: str
    name: str
    enabled: bool
    policy: RingPolicy
    popup_url: str
    caller_number: str
    auto_idle: bool
    auto_idle_seconds: int | None
    transfer_within: bool
    agents_dial: bool
    remark: str
    department: str
    agent_sns: tuple[str, ...]
    members: int  # every extension checked in, agents' or not


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


def new_check_in(
    group_id: int, extension_id: int, now: datetime, state: AgentState = AgentState.IDLE
) -> GroupMember:
    """An extension checked in to a group, idle there (an agent's: busy, until its agent
    signs in and is ready)."""
    return GroupMember(
        group_id=group_id,
        extension_id=extension_id,
        state=state.value,
        priority=1,
        checked_in_at=now,
        updated_at=None,  # GetGroupExt's `date`: set by EditExtnumber
    )


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
                        sn=new_sn(),
                    )
                )
        except IntegrityError as exc:  # a concurrent AddExtgroup won the race
            raise duplicate from exc

    # skill groups: by sn, with their settings and agents

    async def create(self, caller: Caller, settings: GroupSettings) -> str:
        """A new enabled group with these settings (defaults for those not given); its
        sn."""
        if settings.name is None:
            raise InvalidInput("name", "missing parameter")
        settings = with_defaults(settings, NEW_GROUP)
        sn = new_sn()
        row = ExtensionGroup(
            company_id=caller.company_id, enabled=True, created_at=self._clock.now(), sn=sn
        )
        await self._save(caller, row, settings, new=True)
        return sn

    async def update(self, caller: Caller, sn: str, settings: GroupSettings) -> str:
        """Change the settings given of the group `sn` (the others stay); its sn."""
        async with self._db.transaction() as session:
            row = await self._by_sn(session, caller, sn)
        await self._save(caller, row, settings, new=False)
        return sn

    async def _save(
        self, caller: Caller, row: ExtensionGroup, settings: GroupSettings, *, new: bool
    ) -> None:
        name = check_group_name(settings.name) if settings.name is not None else row.name
        duplicate = BusinessError(Refusal.ALREADY_EXISTS, f"Group {name} already exists")
        now = self._clock.now()
        try:
            async with self._directory.changing() as session:
                if not new:
                    row = await self._by_sn(session, caller, row.sn)
                if await session.scalar(
                    select(ExtensionGroup.id).where(
                        ExtensionGroup.company_id == caller.company_id,
                        ExtensionGroup.name == name,
                        ExtensionGroup.sn != row.sn,
                    )
                ):
                    raise duplicate
                row.name = name
                if settings.policy is not None:
                    row.policy = settings.policy.value
                copy_given(settings, row, _STORED)
                if new:
                    session.add(row)
                    await session.flush()
                if settings.agent_sns is not None:
                    await self._set_agents(session, caller, row, settings.agent_sns, now)
        except IntegrityError as exc:  # a concurrent change took the name
            raise duplicate from exc

    async def _set_agents(
        self,
        session: AsyncSession,
        caller: Caller,
        group: ExtensionGroup,
        sns: Sequence[str],
        now: datetime,
    ) -> None:
        """Make the agents `sns` the group's agent members: check in those not yet, check
        out the other agents (extensions that are no agents' stay)."""
        agents = {
            a.sn: a
            for a in await session.scalars(
                select(Agent).where(Agent.company_id == caller.company_id, Agent.sn.in_(sns))
            )
        }
        missing = [sn for sn in sns if sn not in agents]
        if missing:
            raise BusinessError(Refusal.AGENT_NOT_FOUND, f"No agent {missing[0]}")
        wanted = {a.extension_id for a in agents.values()}
        current = set(
            await session.scalars(
                select(GroupMember.extension_id)
                .join(Agent, Agent.extension_id == GroupMember.extension_id)
                .where(GroupMember.group_id == group.id)
            )
        )
        for extension_id in current - wanted:
            await session.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == group.id, GroupMember.extension_id == extension_id
                )
            )
        for agent in agents.values():
            if agent.extension_id not in current:
                session.add(new_check_in(group.id, agent.extension_id, now, AgentState.BUSY))
            if agent.group_id is None:
                agent.group_id = group.id
        for agent in await session.scalars(
            select(Agent).where(Agent.group_id == group.id, Agent.extension_id.not_in(wanted))
        ):
            agent.group_id = None

    async def _by_sn(self, session: AsyncSession, caller: Caller, sn: str) -> ExtensionGroup:
        group = await session.scalar(
            select(ExtensionGroup).where(
                ExtensionGroup.company_id == caller.company_id, ExtensionGroup.sn == sn
            )
        )
        if group is None:
            raise BusinessError(Refusal.GROUP_NOT_FOUND, f"No group {sn}")
        return group

    async def id_of(self, company_id: int, sn: str) -> int | None:
        """The id of the company's group `sn` (None: no such group)."""
        async with self._db.transaction() as session:
            group_id: int | None = await session.scalar(
                select(ExtensionGroup.id).where(
                    ExtensionGroup.company_id == company_id, ExtensionGroup.sn == sn
                )
            )
        return group_id

    async def popup_urls(self, company_id: int, group_ids: Sequence[int]) -> dict[int, str]:
        """The screen-pop URL (`popupWindowUrl`) of each of the company's groups asked
        for that has one."""
        async with self._db.transaction() as session:
            rows = await session.execute(
                select(ExtensionGroup.id, ExtensionGroup.popup_url).where(
                    ExtensionGroup.company_id == company_id,
                    ExtensionGroup.id.in_(group_ids),
                    ExtensionGroup.popup_url != "",
                )
            )
            return {group_id: url for group_id, url in rows}

    async def page(
        self, caller: Caller, name: str | None, page: Page
    ) -> tuple[int, list[GroupRecord]]:
        """The company's groups (whose name contains `name`, if given), oldest first: the
        total and one page; kept until the store changes, as the agents' listing."""

        async def load(session: AsyncSession) -> tuple[int, list[GroupRecord]]:
            return await _page(session, caller.company_id, name, page)

        found = await self._directory.cached("group-page", (caller.company_id, name, page), load)
        assert found is not None
        return found[0], list(found[1])

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
                session.add(new_check_in(group.id, extension.id, now))
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


async def _page(
    session: AsyncSession, company_id: int, name: str | None, page: Page
) -> tuple[int, list[GroupRecord]]:
    """One page of the company's groups whose name contains `name`, and how many."""
    where = [ExtensionGroup.company_id == company_id]
    if name:
        where.append(ExtensionGroup.name.contains(name, autoescape=True))
    total = await session.scalar(select(func.count()).where(*where)) or 0
    rows = list(
        await session.scalars(
            select(ExtensionGroup)
            .where(*where)
            .order_by(ExtensionGroup.id)
            .offset(page.offset)
            .limit(page.size)
        )
    )
    ids = [row.id for row in rows]
    members = dict(
        (
            await session.execute(
                select(GroupMember.group_id, func.count())
                .where(GroupMember.group_id.in_(ids))
                .group_by(GroupMember.group_id)
            )
        ).all()
    )
    agent_sns: dict[int, list[str]] = {}
    for group_id, sn in await session.execute(
        select(GroupMember.group_id, Agent.sn)
        .join(Agent, Agent.extension_id == GroupMember.extension_id)
        .where(GroupMember.group_id.in_(ids))
        .order_by(Agent.id)
    ):
        agent_sns.setdefault(group_id, []).append(sn)
    return total, [
        GroupRecord(
            sn=row.sn,
            name=row.name,
            enabled=row.enabled,
            policy=RingPolicy(row.policy),
            popup_url=row.popup_url,
            caller_number=row.caller_number,
            auto_idle=row.auto_idle,
            auto_idle_seconds=row.auto_idle_seconds,
            transfer_within=row.transfer_within,
            agents_dial=row.agents_dial,
            remark=row.remark,
            department=row.department,
            agent_sns=tuple(agent_sns.get(row.id, ())),
            members=members.get(row.id, 0),
        )
        for row in rows
    ]
