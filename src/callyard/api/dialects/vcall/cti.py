"""The vcall CTI (catalog M8.1): `POST /ccs/api/agent/control` and the same requests
over the agent's WebSocket.

A request names its agent (`companyId`, `agentNumber`), its action (`request`) and a
`sequence` the answer echoes; what it changes arrives as agent events carrying that
`sequence` (`agent_events.py`). Every action is one entry of `ACTIONS`: its parameters'
model, whether a supervisor must send it, and the function that carries it out on the
agent's session. `login` is authenticated by the agent's password; every other request
by the session's token (the Login event's `token`) or by a token of the company's API
credentials (`POST /api/token`), for a CRM acting for its agents. A request that is
invalid, unauthenticated, unknown, or does not fit the agent's state is answered `-1`
(or `403` for authentication) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

from callyard.api.dialects.vcall.agent_events import LOGIN_TYPES, STATES
from callyard.api.dialects.vcall.envelope import STRING, body
from callyard.api.dialects.vcall.schemas import validated
from callyard.domain.agents import AgentDevice, AgentRole
from callyard.domain.mid_call import Action as MidCallAction
from callyard.domain.mid_call import TargetKind
from callyard.domain.refusals import Denial, Refusal
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.services.auth import AuthService
from callyard.services.companies import Capability, TokenAudience
from callyard.services.sessions.mid_call import MidCalls
from callyard.services.sessions.model import (
    AgentSession,
    Notice,
    QueueView,
    SessionView,
    WaitingCall,
)
from callyard.services.sessions.service import AgentSessions, groups_of

CONTROL_PATH = "/ccs/api/agent/control"
CODES = STRING


def _long(value: Any) -> Any:
    """`sequence` is a long: taken as a JSON integer or a string of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _text(value: Any) -> Any:
    """Fields the seed types as strings whose examples are sometimes numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Sequence_ = Annotated[int, BeforeValidator(_long), Field(ge=0, le=2**63 - 1, strict=True)]
Text = Annotated[StrictStr, BeforeValidator(_text)]


class ControlBody(BaseModel):
    """What every CTI request carries (catalog M8.1)."""

    model_config = ConfigDict(extra="allow")

    companyId: Annotated[Text, Field(min_length=1, max_length=32)]
    agentNumber: Annotated[Text, Field(min_length=1, max_length=32)]
    request: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    sequence: Sequence_
    token: Annotated[StrictStr, Field(max_length=128)] = ""


class NoParams(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LoginParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    password: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    loginType: Annotated[Text, Field(pattern=r"^[123]$")]


class BusyParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    busyType: Annotated[Text, Field(max_length=32)] = "0"


class MakeCallParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    called: Annotated[Text, Field(min_length=1, max_length=40)]
    caller: Annotated[Text, Field(max_length=21, pattern=r"^[0-9]*$")] = ""
    callAgentType: Annotated[StrictStr, Field(pattern=r"^(default|phone|sip)$")] = "default"
    userData: Annotated[StrictStr, Field(max_length=1024)] = ""
    callId: Annotated[StrictStr, Field(max_length=64)] = ""


class TargetParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    beAgentNumber: Annotated[Text, Field(min_length=1, max_length=32)]
    busyType: Annotated[Text, Field(max_length=32)] = "0"


# `transferType`, `consultType` (§1.6).
TARGET_KINDS: Mapping[str, TargetKind] = {
    "1": TargetKind.AGENT,
    "2": TargetKind.NUMBER,
    "3": TargetKind.GROUP,
    "4": TargetKind.IVR,
}
BLIND, SUPERVISED = 0, 1  # `transferMode` (docs/compat.md)


class TransferParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    transferType: Annotated[Text, Field(pattern=r"^[1-4]$")]
    transferId: Annotated[Text, Field(min_length=1, max_length=40)]
    transferMode: Annotated[int, BeforeValidator(_long), Field(ge=BLIND, le=SUPERVISED)] = BLIND


class ConsultParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    consultType: Annotated[Text, Field(pattern=r"^[1-4]$")]
    consultId: Annotated[Text, Field(min_length=1, max_length=40)]


class Filter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    groupId: Annotated[StrictStr, Field(max_length=32)] = ""
    agentNumber: Annotated[Text, Field(max_length=32)] = ""
    agentName: Annotated[StrictStr, Field(max_length=64)] = ""
    agentState: Annotated[StrictStr, Field(max_length=32)] = ""
    callDirection: Annotated[Text, Field(pattern=r"^[01]?$")] = ""


class SurveillanceParams(BaseModel):
    """The filters, at the top level (`agentNumber` there is the acting agent) or in a
    `filter` object as the SDK sends them."""

    model_config = ConfigDict(extra="ignore")

    groupId: Annotated[StrictStr, Field(max_length=32)] = ""
    agentName: Annotated[StrictStr, Field(max_length=64)] = ""
    agentState: Annotated[StrictStr, Field(max_length=32)] = ""
    callDirection: Annotated[Text, Field(pattern=r"^[01]?$")] = ""
    filter: Filter | None = None


class GroupParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    groupId: Annotated[StrictStr, Field(max_length=32)] = ""


DEVICES = {
    "default": AgentDevice.PREFERRED,
    "phone": AgentDevice.MOBILE,
    "sip": AgentDevice.SIP_PHONE,
}
LOGIN_TYPE_OF = {code: login_type for login_type, code in LOGIN_TYPES.items()}

Waiting = Callable[[int], tuple[WaitingCall, ...]]
"""A group's callers waiting now (by group id)."""


def nobody_waiting(_group_id: int) -> tuple[WaitingCall, ...]:
    return ()


@dataclass(frozen=True)
class Acting:
    """Who a request acts as: the agent's session, and the request's sequence."""

    agent: AgentSession
    sequence: int
    waiting: Waiting = nobody_waiting
    mid_calls: MidCalls | None = None

    @property
    def mid(self) -> MidCalls:
        """Mid-call requests (none without a switch)."""
        if self.mid_calls is None:
            raise BusinessError(Refusal.CALL_NOT_CONTROLLED, "no calls without a switch")
        return self.mid_calls


Perform = Callable[[AgentSessions, Acting, Any], Awaitable[None]]


@dataclass(frozen=True)
class Action:
    params: type[BaseModel]
    perform: Perform
    supervisor: bool = False


async def _logout(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await sessions.sign_out(acting.agent, acting.sequence)


async def _reconnect(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    sessions.take_up(acting.agent, acting.sequence)


async def _idle(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await sessions.set_ready(acting.agent, acting.sequence)


async def _busy(sessions: AgentSessions, acting: Acting, params: BusyParams) -> None:
    await sessions.set_not_ready(acting.agent, params.busyType, acting.sequence)


async def _heartbeat(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    sessions.heard_from(acting.agent)


async def _make_call(sessions: AgentSessions, acting: Acting, params: MakeCallParams) -> None:
    await sessions.place_call(
        acting.agent,
        params.called,
        params.caller or None,
        DEVICES[params.callAgentType],
        acting.sequence,
        params.userData,
    )


async def _cancel_call(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    sessions.cancel_call(acting.agent, acting.sequence)


async def _force_idle(sessions: AgentSessions, acting: Acting, params: TargetParams) -> None:
    target = sessions.supervise(acting.agent, params.beAgentNumber)
    await sessions.set_ready(target, acting.sequence)


async def _force_busy(sessions: AgentSessions, acting: Acting, params: TargetParams) -> None:
    target = sessions.supervise(acting.agent, params.beAgentNumber)
    await sessions.set_not_ready(target, params.busyType, acting.sequence)


async def _force_logout(sessions: AgentSessions, acting: Acting, params: TargetParams) -> None:
    target = sessions.supervise(acting.agent, params.beAgentNumber)
    await sessions.sign_out(target, acting.sequence)


async def _hold(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.hold(acting.agent, acting.sequence)


async def _unhold(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.unhold(acting.agent, acting.sequence)


async def _mute(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.mute(acting.agent, True, acting.sequence)


async def _unmute(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.mute(acting.agent, False, acting.sequence)


async def _transfer(_sessions: AgentSessions, acting: Acting, params: TransferParams) -> None:
    kind = TARGET_KINDS[params.transferType]
    blind = params.transferMode == BLIND
    await acting.mid.transfer(acting.agent, kind, params.transferId, blind, acting.sequence)


async def _transfer_cancel(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.transfer_cancel(acting.agent, acting.sequence)


async def _consult(_sessions: AgentSessions, acting: Acting, params: ConsultParams) -> None:
    kind = TARGET_KINDS[params.consultType]
    await acting.mid.consult(acting.agent, kind, params.consultId, acting.sequence)


async def _consult_cancel(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.consult_cancel(acting.agent, acting.sequence)


async def _consult_transfer(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.consult_transfer(acting.agent, acting.sequence)


async def _three_way(_sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    await acting.mid.three_way(acting.agent, acting.sequence)


def _monitor(action: MidCallAction) -> Perform:
    """A supervisor's request on an agent's call: listen, whisper, barge in, intercept."""

    async def perform(_sessions: AgentSessions, acting: Acting, params: TargetParams) -> None:
        await acting.mid.monitor(acting.agent, params.beAgentNumber, action, acting.sequence)

    return perform


async def _force_break(_sessions: AgentSessions, acting: Acting, params: TargetParams) -> None:
    await acting.mid.force_release(acting.agent, params.beAgentNumber, acting.sequence)


def _matches(view: SessionView, wanted: Filter) -> bool:
    if wanted.groupId and all(g.sn != wanted.groupId for g in view.groups):
        return False
    if wanted.agentNumber and view.number != wanted.agentNumber:
        return False
    if wanted.agentName and wanted.agentName not in view.name:
        return False
    if wanted.agentState and STATES[view.status] != wanted.agentState:
        return False
    if wanted.callDirection:
        inbound = wanted.callDirection == "0"
        if view.direction is None or (view.direction.value == "inbound") != inbound:
            return False
    return True


async def _surveillance(
    sessions: AgentSessions, acting: Acting, params: SurveillanceParams
) -> None:
    wanted = params.filter or Filter(
        groupId=params.groupId,
        agentName=params.agentName,
        agentState=params.agentState,
        callDirection=params.callDirection,
    )
    listed = tuple(v for v in sessions.listing(acting.agent.company_id) if _matches(v, wanted))
    sessions.publish(Notice.AGENTS, acting.agent, acting.sequence, listed)


async def _idle_agent(sessions: AgentSessions, acting: Acting, params: GroupParams) -> None:
    idle = sessions.idle_in(acting.agent.company_id, params.groupId)
    sessions.publish(Notice.IDLE_AGENTS, acting.agent, acting.sequence, idle)


async def _queue_info(sessions: AgentSessions, acting: Acting, params: GroupParams) -> None:
    groups = acting.agent.groups
    if params.groupId:
        groups = tuple(g for g in groups if g.sn == params.groupId)
        if not groups:
            raise InvalidInput("groupId", "not one of the agent's groups")
    for group in groups:
        view = QueueView(group, acting.waiting(group.group_id), member=True)
        sessions.publish(Notice.QUEUE, acting.agent, acting.sequence, view)


async def _groups(sessions: AgentSessions, acting: Acting, _: NoParams) -> None:
    views = [sessions.view(acting.agent)]
    sessions.publish(Notice.GROUPS, acting.agent, acting.sequence, groups_of(views))


ACTIONS: Mapping[str, Action] = {
    "logout": Action(NoParams, _logout),
    "reconnect": Action(NoParams, _reconnect),
    "idle": Action(NoParams, _idle),
    "busy": Action(BusyParams, _busy),
    "heartbeat": Action(NoParams, _heartbeat),
    "makeCall": Action(MakeCallParams, _make_call),
    "cancelCall": Action(NoParams, _cancel_call),
    "idleAgent": Action(GroupParams, _idle_agent),
    "getGroups": Action(NoParams, _groups),
    "queueInfo": Action(GroupParams, _queue_info),
    "surveillance": Action(SurveillanceParams, _surveillance, supervisor=True),
    "forceIdle": Action(TargetParams, _force_idle, supervisor=True),
    "forceBusy": Action(TargetParams, _force_busy, supervisor=True),
    "forceLogout": Action(TargetParams, _force_logout, supervisor=True),
    "hold": Action(NoParams, _hold),
    "unHold": Action(NoParams, _unhold),
    "mute": Action(NoParams, _mute),
    "unmute": Action(NoParams, _unmute),
    "transferCall": Action(TransferParams, _transfer),
    "transferCancel": Action(NoParams, _transfer_cancel),
    "consultCall": Action(ConsultParams, _consult),
    "consultCancel": Action(NoParams, _consult_cancel),
    "consultTransfer": Action(NoParams, _consult_transfer),
    "tripartiteTalk": Action(NoParams, _three_way),
    # A supervisor's requests on an agent's call: an ordinary agent gets their failure
    # events (the mid-call service checks the role).
    "listen": Action(TargetParams, _monitor(MidCallAction.LISTEN)),
    "whisper": Action(TargetParams, _monitor(MidCallAction.WHISPER)),
    "forceInsert": Action(TargetParams, _monitor(MidCallAction.BARGE)),
    "intercept": Action(TargetParams, _monitor(MidCallAction.INTERCEPT)),
    "forceBreak": Action(TargetParams, _force_break),
}
LOGIN = "login"


class Cti:
    """Carries out CTI requests for both channels."""

    def __init__(
        self,
        sessions: AgentSessions,
        auth: AuthService,
        waiting: Waiting = nobody_waiting,
        mid_calls: MidCalls | None = None,
    ) -> None:
        self.sessions = sessions
        self._auth = auth
        self._waiting = waiting
        self._mid_calls = mid_calls

    async def login(
        self,
        common: ControlBody,
        data: dict[str, Any],
        client_ip: str,
        joining: Callable[[int], None] | None = None,
    ) -> AgentSession:
        """Sign the agent in with its password; `joining` is told the agent's id just
        before its Login event is published."""
        params = validated(LoginParams, data)
        company = await self._auth.company_for(common.companyId, client_ip, Capability.EXTENSIONS)
        session, _token = await self.sessions.sign_in(
            company.company_id,
            common.agentNumber,
            params.password,
            LOGIN_TYPE_OF[params.loginType],
            common.sequence,
            client_ip=client_ip,
            joining=joining,
        )
        return session

    async def acting(self, common: ControlBody, token: str, client_ip: str) -> AgentSession:
        """The session a request acts as: by the session's token, or by a company token
        for the company's agent `agentNumber`."""
        if not token.strip():
            raise AccessDenied(Denial.TOKEN_INVALID, "the token is missing")
        session = self.sessions.by_token(token)
        if session is not None:
            if (
                str(session.company_code) != common.companyId
                or session.number != common.agentNumber
            ):
                raise AccessDenied(Denial.TOKEN_INVALID, "the token is another agent's")
            return session
        caller = await self._auth.authorize(
            token, client_ip, Capability.EXTENSIONS, TokenAudience.VCALL
        )
        if str(caller.company_code) != common.companyId:
            raise AccessDenied(Denial.TOKEN_INVALID, "the token is another company's")
        session = self.sessions.by_number(caller.company_id, common.agentNumber)
        if session is None:
            raise BusinessError(
                Refusal.AGENT_SIGNED_OUT, f"Agent {common.agentNumber} is not signed in"
            )
        return session

    async def perform(self, agent: AgentSession, common: ControlBody, data: dict[str, Any]) -> None:
        """Carry out a request (not `login`) as `agent`."""
        action = ACTIONS.get(common.request)
        if action is None:
            raise InvalidInput("request", unknown_request(common.request))
        params = validated(action.params, data)
        if action.supervisor and agent.role is not AgentRole.SUPERVISOR:
            raise BusinessError(Refusal.NOT_SUPERVISOR, f"Agent {agent.number} is not a supervisor")
        self.sessions.heard_from(agent)
        acting = Acting(agent, common.sequence, self._waiting, self._mid_calls)
        await action.perform(self.sessions, acting, params)


def unknown_request(request: str) -> str:
    return f"unknown request {request!r}"


def acknowledged(sequence: int) -> dict[str, Any]:
    return body(CODES.success, "success", {"sequence": sequence})
