"""What of a session the store keeps, and the agent records a sign-in reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.domain.agent_sessions import LoginType
from callyard.domain.agents import AgentRole, AgentState
from callyard.services.sessions.model import GroupRef
from callyard.store.models import (
    Agent,
    AgentSessionRow,
    Company,
    Extension,
    ExtensionGroup,
    GroupMember,
)


@dataclass(frozen=True)
class AgentAccount:
    """An agent as a sign-in needs it."""

    agent_id: int
    agent_sn: str
    company_id: int
    company_code: int
    number: str
    name: str
    password_hash: str
    extension_id: int
    extension: str
    sip_password: str
    enabled: bool
    mobile: str
    role: AgentRole
    groups: tuple[GroupRef, ...]
    auto_idle_seconds: float | None
    makes_calls: bool


@dataclass(frozen=True)
class StoredSession:
    account: AgentAccount
    login_type: LoginType
    ready: bool
    busy_type: str
    token_hash: str
    signed_in_at: datetime


async def account(session: AsyncSession, company_id: int, number: str) -> AgentAccount | None:
    """The company's agent with work number `number`."""
    found = await _accounts(session, Agent.company_id == company_id, Agent.number == number)
    return found[0] if found else None


async def _accounts(session: AsyncSession, *where: object) -> list[AgentAccount]:
    rows = (
        await session.execute(
            select(Agent, Extension, Company.code)
            .join(Extension, Extension.id == Agent.extension_id)
            .join(Company, Company.id == Agent.company_id)
            .where(*where)  # type: ignore[arg-type]
        )
    ).all()
    found = []
    for agent, extension, company_code in rows:
        groups = (
            await session.scalars(
                select(ExtensionGroup)
                .join(GroupMember, GroupMember.group_id == ExtensionGroup.id)
                .where(GroupMember.extension_id == extension.id)
                .order_by(ExtensionGroup.id)
            )
        ).all()
        home = next((g for g in groups if g.id == agent.group_id), None)
        auto_idle: float | None = None
        if home is not None and home.auto_idle:
            seconds = agent.auto_idle_seconds
            auto_idle = float(seconds if seconds is not None else home.auto_idle_seconds or 0)
        found.append(
            AgentAccount(
                agent_id=agent.id,
                agent_sn=agent.sn,
                company_id=agent.company_id,
                company_code=company_code,
                number=agent.number,
                name=agent.name,
                password_hash=agent.password_hash,
                extension_id=extension.id,
                extension=extension.number,
                sip_password=extension.password,
                enabled=extension.enabled,
                mobile=agent.mobile,
                role=AgentRole(agent.role),
                groups=tuple(GroupRef(g.id, g.sn, g.name, g.id == agent.group_id) for g in groups),
                auto_idle_seconds=auto_idle,
                makes_calls=home.agents_dial if home is not None else True,
            )
        )
    return found


async def stored_sessions(session: AsyncSession) -> list[StoredSession]:
    """Every session the store holds, with its agent."""
    rows = (await session.scalars(select(AgentSessionRow))).all()
    by_agent = {row.agent_id: row for row in rows}
    if not by_agent:
        return []
    accounts = await _accounts(session, Agent.id.in_(by_agent))
    return [
        StoredSession(
            a,
            LoginType(by_agent[a.agent_id].login_type),
            by_agent[a.agent_id].ready,
            by_agent[a.agent_id].busy_type,
            by_agent[a.agent_id].token_hash,
            by_agent[a.agent_id].signed_in_at,
        )
        for a in accounts
    ]


async def save(
    session: AsyncSession,
    agent: AgentAccount,
    login_type: LoginType,
    token_hash: str,
    now: datetime,
) -> None:
    """Store a new session of `agent` (replacing any earlier one), not ready."""
    await session.execute(delete(AgentSessionRow).where(AgentSessionRow.agent_id == agent.agent_id))
    session.add(
        AgentSessionRow(
            agent_id=agent.agent_id,
            company_id=agent.company_id,
            login_type=login_type.value,
            ready=False,
            busy_type="",
            token_hash=token_hash,
            signed_in_at=now,
            updated_at=now,
        )
    )
    await set_check_ins(session, agent.extension_id, ready=False, now=now)


async def set_ready(
    session: AsyncSession,
    agent_id: int,
    extension_id: int,
    ready: bool,
    busy_type: str,
    now: datetime,
) -> None:
    """Keep what the agent chose: ready, or not (and why); its check-ins follow."""
    await session.execute(
        update(AgentSessionRow)
        .where(AgentSessionRow.agent_id == agent_id)
        .values(ready=ready, busy_type=busy_type, updated_at=now)
    )
    await set_check_ins(session, extension_id, ready=ready, now=now)


async def remove(session: AsyncSession, agent_id: int, extension_id: int, now: datetime) -> None:
    """The session ended: its agent takes no group's calls."""
    await session.execute(delete(AgentSessionRow).where(AgentSessionRow.agent_id == agent_id))
    await set_check_ins(session, extension_id, ready=False, now=now)


async def set_check_ins(
    session: AsyncSession, extension_id: int, *, ready: bool, now: datetime
) -> None:
    """Every group check-in of the extension idle (ready) or busy: what the status
    services, the group listings and the dialer read."""
    state = AgentState.IDLE if ready else AgentState.BUSY
    await session.execute(
        update(GroupMember)
        .where(GroupMember.extension_id == extension_id, GroupMember.state != state.value)
        .values(state=state.value, updated_at=now)
    )
