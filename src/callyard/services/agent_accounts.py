"""Agents as a company records them: a person with a work number and password, on one
of the company's extensions (the SIP account every API sees), a role, a level, a mobile
phone, a display number and a home group.

An agent's enablement is its extension's: disabling one disables the other, so that
App.Sip_* and the vcall API see the same seat. What an agent is doing now is the
`AgentBoard`'s.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.clock import Clock
from callyard.domain.agents import AgentRole, AgentState, Phase
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.security import hash_secret, new_sip_password
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.directory import Directory
from callyard.services.extensions import check_number
from callyard.services.groups import Page, new_check_in, new_sn
from callyard.services.partial import copy_given, with_defaults
from callyard.store.database import Database, IntegrityError
from callyard.store.models import Agent, Extension, ExtensionGroup, GroupMember

WORK_NUMBER = re.compile(r"^[0-9A-Za-z_.\-]{1,32}$")
# The phases in which an agent's record may not be disabled or reset: it is in a call.
_IN_CALL = (Phase.IN_CALL, Phase.TALKING)
_SIP_ID_TRIES = 20


@dataclass(frozen=True)
class AgentFields:
    """An agent's recorded details; None: as they are (or the default, when new)."""

    number: str | None = None
    name: str | None = None
    password: str | None = None
    group_sn: str | None = None  # its home group; "" for none
    sip_id: str | None = None  # its extension; created when not given
    uses_sip: bool | None = None
    mobile: str | None = None
    role: AgentRole | None = None
    level: int | None = None
    working_offline: bool | None = None
    auto_idle_seconds: int | None = None
    display_number: str | None = None
    offline_call_type: int | None = None
    call_mode: int | None = None


NEW_AGENT = AgentFields(
    group_sn="",
    uses_sip=True,
    mobile="",
    role=AgentRole.AGENT,
    level=1,
    working_offline=False,
    display_number="",
    offline_call_type=0,
    call_mode=1,
)

# AgentFields stored as they are, under the same column name.
_STORED = ("name", "uses_sip", "mobile", "level", "working_offline", "auto_idle_seconds",
           "display_number", "offline_call_type", "call_mode")  # fmt: skip


@dataclass(frozen=True)
class AgentFilter:
    """Which agents a listing shows: those matching every filter given."""

    name: str | None = None  # contained in the name
    number: str | None = None
    group_sn: str | None = None  # checked in to that group
    mobile: str | None = None
    enabled: bool | None = None
    role: AgentRole | None = None


@dataclass(frozen=True)
class AgentRecord:
    """An agent as the listing shows it."""

    sn: str
    number: str
    name: str
    role: AgentRole
    group_sn: str
    group_name: str
    sip_id: str
    sip_password: str
    mobile: str
    enabled: bool
    level: int
    working_offline: bool
    auto_idle_seconds: int | None
    display_number: str
    offline_call_type: int
    call_mode: int
    uses_sip: bool


@dataclass(frozen=True)
class AgentProfile:
    """What calling for an agent needs of its record."""

    number: str
    name: str
    extension: str
    enabled: bool
    mobile: str
    display_number: str
    group_name: str
    group_caller_number: str


def _check_work_number(number: str) -> str:
    number = number.strip()
    if not WORK_NUMBER.match(number):
        raise InvalidInput("agentNumber", "must be 1 to 32 letters, digits, '.', '_' or '-'")
    return number


class AgentAccounts:
    """The agents of each company: records, enablement and reset."""

    def __init__(
        self, db: Database, clock: Clock, agents: AgentBoard, directory: Directory
    ) -> None:
        self._db = db
        self._clock = clock
        self._agents = agents
        # Changes go through the directory: an agent's extension is a seat the switch and
        # App.Sip_* see.
        self._directory = directory

    async def create(self, caller: Caller, given: AgentFields) -> str:
        """A new agent (defaults for the details not given); its sn."""
        if given.number is None:
            raise InvalidInput("agentNumber", "missing parameter")
        if not given.name:
            raise InvalidInput("agentName", "missing parameter")
        if not given.password:
            raise InvalidInput("password", "missing parameter")
        details = with_defaults(given, NEW_AGENT)
        now = self._clock.now()
        row = Agent(
            sn=new_sn(),
            company_id=caller.company_id,
            created_at=now,
            password_hash="",
            role=AgentRole.AGENT.value,
        )
        await self._save(caller, row, details, new=True)
        return row.sn

    async def update(self, caller: Caller, sn: str, given: AgentFields) -> str:
        """Change the details given of the agent `sn` (the others stay); its sn."""
        async with self._db.transaction() as session:
            row = await self._by_sn(session, caller, sn)
        await self._save(caller, row, given, new=False)
        return sn

    async def _save(self, caller: Caller, row: Agent, given: AgentFields, *, new: bool) -> None:
        number = _check_work_number(given.number) if given.number is not None else row.number
        password_hash = (
            await asyncio.to_thread(hash_secret, given.password) if given.password else None
        )
        duplicate = BusinessError(Refusal.ALREADY_EXISTS, f"Agent {number} already exists")
        now = self._clock.now()
        try:
            async with self._directory.changing() as session:
                if not new:
                    row = await self._by_sn(session, caller, row.sn)
                if await session.scalar(
                    select(Agent.id).where(
                        Agent.company_id == caller.company_id,
                        Agent.number == number,
                        Agent.sn != row.sn,
                    )
                ):
                    raise duplicate
                row.number = number
                row.updated_at = now
                if password_hash is not None:
                    row.password_hash = password_hash
                if given.role is not None:
                    row.role = given.role.value
                copy_given(given, row, _STORED)
                if new or given.sip_id is not None:
                    extension = await self._extension(session, caller, row, given.sip_id, now)
                    if not new and extension.id != row.extension_id and row.group_id is not None:
                        # its home check-in moves with it; the old extension keeps the rest
                        await self._move_check_in(session, row, extension.id, now)
                    row.extension_id = extension.id
                if new:
                    session.add(row)
                    await session.flush()
                if given.group_sn is not None:
                    await self._set_home(session, caller, row, given.group_sn, now)
        except IntegrityError as exc:  # a concurrent change took the number or account
            raise duplicate from exc

    async def _extension(
        self,
        session: AsyncSession,
        caller: Caller,
        agent: Agent,
        sip_id: str | None,
        now: datetime,
    ) -> Extension:
        """The agent's extension: `sip_id` (the company's, and no other agent's; made when
        no one has that number), or a new one."""
        if sip_id is None:
            return await self._new_extension(session, caller, agent.number, now)
        sip_id = check_number(sip_id, "sipId")
        extension = await session.scalar(select(Extension).where(Extension.number == sip_id))
        if extension is None:
            extension = _extension_row(caller, sip_id, now)
            session.add(extension)
            await session.flush()
            return extension
        if extension.company_id != caller.company_id:
            raise BusinessError(Refusal.EXTENSION_FOREIGN, f"Extension {sip_id} is taken")
        holder = await session.scalar(
            select(Agent.sn).where(Agent.extension_id == extension.id, Agent.sn != agent.sn)
        )
        if holder is not None:
            raise BusinessError(
                Refusal.EXTENSION_ASSIGNED, f"Extension {sip_id} is another agent's"
            )
        return extension

    async def _new_extension(
        self, session: AsyncSession, caller: Caller, number: str, now: datetime
    ) -> Extension:
        # The company's code and the work number when those are digits and free (easy
        # to read on a phone's display), else a random number of 9 digits.
        candidates = []
        if number.isdigit() and len(str(caller.company_code)) + len(number) <= 20:
            candidates.append(f"{caller.company_code}{number}")
        candidates += [str(secrets.randbelow(9 * 10**8) + 10**8) for _ in range(_SIP_ID_TRIES)]
        for candidate in candidates:
            if await session.scalar(select(Extension.id).where(Extension.number == candidate)):
                continue
            extension = _extension_row(caller, candidate, now)
            session.add(extension)
            await session.flush()
            return extension
        raise BusinessError(Refusal.FAILED, "No free extension number was found; give a sipId")

    async def _set_home(
        self, session: AsyncSession, caller: Caller, agent: Agent, group_sn: str, now: datetime
    ) -> None:
        """Make `group_sn` the agent's home group ("": none), checking it in there and out
        of the group that was its home."""
        group = None
        if group_sn:
            group = await session.scalar(
                select(ExtensionGroup).where(
                    ExtensionGroup.company_id == caller.company_id, ExtensionGroup.sn == group_sn
                )
            )
            if group is None:
                raise BusinessError(Refusal.GROUP_NOT_FOUND, f"No group {group_sn}")
        new_home = group.id if group else None
        if agent.group_id is not None and agent.group_id != new_home:
            old = await session.get(GroupMember, (agent.group_id, agent.extension_id))
            if old is not None:
                await session.delete(old)
        if (
            group is not None
            and await session.get(GroupMember, (group.id, agent.extension_id)) is None
        ):
            session.add(new_check_in(group.id, agent.extension_id, now, AgentState.BUSY))
        agent.group_id = new_home

    async def _move_check_in(
        self, session: AsyncSession, agent: Agent, extension_id: int, now: datetime
    ) -> None:
        assert agent.group_id is not None
        old = await session.get(GroupMember, (agent.group_id, agent.extension_id))
        if old is not None:
            await session.delete(old)
        if await session.get(GroupMember, (agent.group_id, extension_id)) is None:
            session.add(new_check_in(agent.group_id, extension_id, now, AgentState.BUSY))

    async def _by_sn(self, session: AsyncSession, caller: Caller, sn: str) -> Agent:
        agent = await session.scalar(
            select(Agent).where(Agent.company_id == caller.company_id, Agent.sn == sn)
        )
        if agent is None:
            raise BusinessError(Refusal.AGENT_NOT_FOUND, f"No agent {sn}")
        return agent

    async def page(
        self, caller: Caller, wanted: AgentFilter, page: Page
    ) -> tuple[int, list[AgentRecord]]:
        """The company's agents matching `wanted`, oldest first: the total and one page.
        Kept until the store changes (every change to agents, their extensions and
        groups goes through the directory): CRMs poll this listing."""

        async def load(session: AsyncSession) -> tuple[int, list[AgentRecord]]:
            return await _page(session, caller.company_id, wanted, page)

        found = await self._directory.cached("agent-page", (caller.company_id, wanted, page), load)
        assert found is not None
        return found[0], list(found[1])

    async def profile(self, caller: Caller, number: str) -> AgentProfile:
        """The company's agent with work number `number` (from memory until the store
        changes: every call placed for an agent reads it)."""

        async def load(session: AsyncSession) -> AgentProfile | None:
            return await _profile(session, caller.company_id, number)

        found = await self._directory.cached("agent-profile", (caller.company_id, number), load)
        if found is None:
            raise BusinessError(Refusal.AGENT_NOT_FOUND, f"No agent {number}")
        return found

    async def set_enabled(self, caller: Caller, sn: str, enabled: bool) -> None:
        """Enable or disable the agent and its extension; refused while it is in a call."""
        async with self._directory.changing() as session:
            agent = await self._by_sn(session, caller, sn)
            extension = await session.get(Extension, agent.extension_id)
            assert extension is not None
            if not enabled:
                self._require_out_of_call(extension.number)
            extension.enabled = enabled
            extension.updated_at = agent.updated_at = self._clock.now()

    async def reset(self, caller: Caller, sn: str) -> None:
        """Put the agent back as a new one starts: out of wrap-up and not kept away, idle
        in each of its groups; refused while it is in a call (hang the call up first)."""
        async with self._directory.changing() as session:
            agent = await self._by_sn(session, caller, sn)
            extension = await session.get(Extension, agent.extension_id)
            assert extension is not None
            self._require_out_of_call(extension.number)
            now = self._clock.now()
            for member in await session.scalars(
                select(GroupMember).where(GroupMember.extension_id == agent.extension_id)
            ):
                member.state = AgentState.IDLE.value
                member.updated_at = now
            self._agents.reset(extension.number, self._clock.monotonic())

    def _require_out_of_call(self, number: str) -> None:
        if self._agents.phase(number, self._clock.monotonic()) in _IN_CALL:
            raise BusinessError(Refusal.AGENT_IN_CALL, f"Agent on extension {number} is in a call")


async def _page(
    session: AsyncSession, company_id: int, wanted: AgentFilter, page: Page
) -> tuple[int, list[AgentRecord]]:
    """One page of the company's agents matching `wanted`, and how many match."""
    where = [Agent.company_id == company_id]
    if wanted.name:
        where.append(Agent.name.contains(wanted.name, autoescape=True))
    if wanted.number:
        where.append(Agent.number == wanted.number)
    if wanted.mobile:
        where.append(Agent.mobile == wanted.mobile)
    if wanted.enabled is not None:
        where.append(Extension.enabled.is_(wanted.enabled))
    if wanted.role is not None:
        where.append(Agent.role == wanted.role.value)
    if wanted.group_sn:
        member_of = (
            select(GroupMember.extension_id)
            .join(ExtensionGroup, ExtensionGroup.id == GroupMember.group_id)
            .where(
                ExtensionGroup.company_id == company_id,
                ExtensionGroup.sn == wanted.group_sn,
            )
        )
        where.append(Agent.extension_id.in_(member_of))
    joined = (
        select(Agent, Extension, ExtensionGroup)
        .join(Extension, Extension.id == Agent.extension_id)
        .outerjoin(ExtensionGroup, ExtensionGroup.id == Agent.group_id)
    )
    total = (
        await session.scalar(
            select(func.count())
            .select_from(Agent)
            .join(Extension, Extension.id == Agent.extension_id)
            .where(*where)
        )
        or 0
    )
    rows = (
        await session.execute(
            joined.where(*where).order_by(Agent.id).offset(page.offset).limit(page.size)
        )
    ).all()
    return total, [_record(agent, ext, group) for agent, ext, group in rows]


def _extension_row(caller: Caller, number: str, now: datetime) -> Extension:
    return Extension(
        company_id=caller.company_id,
        number=number,
        password=new_sip_password(),
        enabled=True,
        created_at=now,
        updated_at=now,
    )


def _record(agent: Agent, extension: Extension, group: ExtensionGroup | None) -> AgentRecord:
    return AgentRecord(
        sn=agent.sn,
        number=agent.number,
        name=agent.name,
        role=AgentRole(agent.role),
        group_sn=group.sn if group else "",
        group_name=group.name if group else "",
        sip_id=extension.number,
        sip_password=extension.password,
        mobile=agent.mobile,
        enabled=extension.enabled,
        level=agent.level,
        working_offline=agent.working_offline,
        auto_idle_seconds=agent.auto_idle_seconds,
        display_number=agent.display_number,
        offline_call_type=agent.offline_call_type,
        call_mode=agent.call_mode,
        uses_sip=agent.uses_sip,
    )


async def _profile(session: AsyncSession, company_id: int, number: str) -> AgentProfile | None:
    row = (
        await session.execute(
            select(Agent, Extension, ExtensionGroup)
            .join(Extension, Extension.id == Agent.extension_id)
            .outerjoin(ExtensionGroup, ExtensionGroup.id == Agent.group_id)
            .where(Agent.company_id == company_id, Agent.number == number)
        )
    ).first()
    if row is None:
        return None
    agent, extension, group = row
    return AgentProfile(
        number=agent.number,
        name=agent.name,
        extension=extension.number,
        enabled=extension.enabled,
        mobile=agent.mobile,
        display_number=agent.display_number,
        group_name=group.name if group else "",
        group_caller_number=group.caller_number if group else "",
    )
