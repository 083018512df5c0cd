"""callyard's own API of the agent desktop (`/agent/`), under `/desktop/`: the signed-in
agent with its groups' screen-pop URLs, and its recent calls with their recordings. Each
request carries the agent's CTI session token (the Login event's `data.token`) as
`Authorization: Bearer`; without one, or with any other token, it is 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from callyard.errors import AccessDenied
from callyard.services.desktop import MAX_RECENT_CALLS, AgentDesktop, RecentCall
from callyard.services.sessions.model import AgentSession

PREFIX = "/desktop"
_BEARER = HTTPBearer(auto_error=False, description="the agent's CTI session token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
REFUSED: dict[int | str, dict[str, object]] = {
    401: {"description": "no token, or not a signed-in agent's"}
}


class GroupOut(BaseModel):
    id: str  # the group's sn, as the CTI's groupInfoList
    name: str
    isMaster: bool
    popupWindowUrl: str


class AgentOut(BaseModel):
    companyId: str
    agentNumber: str
    agentName: str
    sipId: str
    groups: list[GroupOut]


class CallOut(BaseModel):
    callId: str
    startTime: int  # epoch ms, as the CTI's times
    direction: str  # inbound, outbound or internal
    number: str
    duration: int  # seconds from the start to the end
    talkSeconds: int
    outcome: str  # answered, or why it ended
    recordingUrl: str  # a signed link, "" when none is kept


class CallsOut(BaseModel):
    calls: list[CallOut]


def _call_out(call: RecentCall) -> CallOut:
    return CallOut(
        callId=call.uuid,
        startTime=int(call.started.timestamp() * 1000),
        direction=call.direction.value,
        number=call.number,
        duration=call.duration,
        talkSeconds=call.talk_seconds,
        outcome=call.outcome,
        recordingUrl=call.recording_url,
    )


def router(desktop: AgentDesktop) -> APIRouter:
    """The agent desktop's routes."""
    routes = APIRouter(prefix=PREFIX, tags=["agent desktop"], responses=REFUSED)

    def signed_in(credentials: Credentials) -> AgentSession:
        token = credentials.credentials.strip() if credentials is not None else ""
        try:
            return desktop.signed_in(token)
        except AccessDenied as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None

    # A default, not an annotation: annotations of names local to this function are not
    # resolved by FastAPI under postponed evaluation.
    agent_session = Depends(signed_in)

    @routes.get("/agent", response_model=AgentOut)
    async def signed_in_agent(session: AgentSession = agent_session) -> AgentOut:
        """The signed-in agent and its groups (`popupWindowUrl`: the screen pop's URL)."""
        agent = await desktop.agent(session)
        return AgentOut(
            companyId=str(agent.company_code),
            agentNumber=agent.number,
            agentName=agent.name,
            sipId=agent.extension,
            groups=[
                GroupOut(id=g.sn, name=g.name, isMaster=g.home, popupWindowUrl=g.popup_url)
                for g in agent.groups
            ],
        )

    @routes.get("/calls", response_model=CallsOut)
    async def recent_calls(
        limit: Annotated[int, Query(ge=1, le=MAX_RECENT_CALLS)] = 20,
        session: AgentSession = agent_session,
    ) -> CallsOut:
        """The agent's latest calls (those its extension had last), newest first."""
        calls = await desktop.recent_calls(session, limit)
        return CallsOut(calls=[_call_out(call) for call in calls])

    return routes
