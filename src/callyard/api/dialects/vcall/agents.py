"""Agents (catalog M6) in callyard's words and back: `type`, the 0/1 flags, a request's
details, a listing's filter and record."""

from __future__ import annotations

from callyard.api.dialects.vcall import schemas
from callyard.domain.agents import AgentRole
from callyard.phone_numbers import without_separators
from callyard.services.agent_accounts import AgentFields, AgentFilter, AgentRecord

ROLES: dict[int, AgentRole] = {0: AgentRole.AGENT, 1: AgentRole.SUPERVISOR}
ROLE_CODES = {role: code for code, role in ROLES.items()}


def fields_of(body: schemas.AgentBody) -> AgentFields:
    """What a create or update request sets."""
    return AgentFields(
        number=body.agentNumber,
        name=body.agentName,
        password=body.password,
        group_sn=body.groupSn,
        sip_id=body.sipId,
        uses_sip=schemas.flag(body.isSip),
        mobile=None if body.phone is None else without_separators(body.phone),
        role=None if body.type is None else ROLES[body.type],
        level=body.level,
        working_offline=schemas.flag(body.workingOffline),
        auto_idle_seconds=body.agentAutoIdleTime,
        display_number=body.displayCaller,
        offline_call_type=body.offlineCallType,
        call_mode=body.callMode,
    )


def filter_of(query: schemas.AgentQuery) -> AgentFilter:
    return AgentFilter(
        name=query.agentName,
        number=query.agentNumber,
        group_sn=query.groupSn,
        mobile=query.phone,
        enabled=None if query.status is None else query.status == 1,
        role=None if query.type is None else ROLES[query.type],
    )


def record_of(agent: AgentRecord) -> schemas.AgentRecord:
    return schemas.AgentRecord(
        sn=agent.sn,
        agentNumber=agent.number,
        agentName=agent.name,
        type=ROLE_CODES[agent.role],
        groupSn=agent.group_sn,
        groupName=agent.group_name,
        sipId=agent.sip_id,
        sipPassword=agent.sip_password,
        phone=agent.mobile,
        status=int(agent.enabled),
        paramsData="{}",
        level=agent.level,
        workingOffline=int(agent.working_offline),
        agentAutoIdleTime=agent.auto_idle_seconds,
        displayCaller=agent.display_number or None,
        offlineCallType=agent.offline_call_type,
        isSip=int(agent.uses_sip),
        callMode=agent.call_mode,
    )
