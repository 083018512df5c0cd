"""The vcall API's routes: read the JSON body, call services, shape the envelope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from callyard.api.body_limits import BodyRefused
from callyard.api.dialects.vcall.agent_socket import SOCKET_PATH, AgentSockets
from callyard.api.dialects.vcall.agents import fields_of as agent_fields
from callyard.api.dialects.vcall.agents import filter_of as agent_filter
from callyard.api.dialects.vcall.agents import record_of as agent_record
from callyard.api.dialects.vcall.codes import REFUSALS
from callyard.api.dialects.vcall.cti import CONTROL_PATH, LOGIN, ControlBody, Cti, acknowledged
from callyard.api.dialects.vcall.envelope import (
    CALLS,
    INTEGER,
    NO_AUTH,
    STRING,
    Codes,
    body,
    code_of,
    reply,
)
from callyard.api.dialects.vcall.groups import record_of as group_record
from callyard.api.dialects.vcall.groups import settings_of as group_settings
from callyard.api.dialects.vcall.schemas import (
    AgentBody,
    AgentCallBody,
    AgentQuery,
    CallId,
    GroupBody,
    GroupQuery,
    Query,
    StatusQuery,
    Token,
    TokenRequest,
    TwoWayCallBody,
    paged,
    validated,
)
from callyard.api.forms import read_json_object
from callyard.clock import Clock
from callyard.domain.agents import AgentDevice
from callyard.domain.refusals import Denial
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.metrics import Metrics
from callyard.services.agent_accounts import AgentAccounts
from callyard.services.agent_calls import AgentCallService
from callyard.services.auth import AuthService, Caller
from callyard.services.calls import CallService, CustomFields
from callyard.services.companies import Capability, TokenAudience
from callyard.services.credentials import CredentialKind
from callyard.services.groups import GroupService, Page

log = logging.getLogger("callyard.api.vcall")

DIALECT = "vcall"
_JSON = "application/json"


async def read_json(request: Request) -> dict[str, Any]:
    """The body's JSON object (InvalidInput when it is none)."""
    content_type = request.headers.get("content-type", "").strip().lower()
    if not content_type.startswith(_JSON):
        raise InvalidInput("Content-Type", f"{content_type or 'none'} is not {_JSON}")
    return await read_json_object(request)


def _invalid(codes: Codes, problem: InvalidInput) -> dict[str, Any]:
    return body(codes.failure, f"{problem.field}: {problem.reason}")


M = TypeVar("M", bound=BaseModel)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


Handler = Callable[[Request], Awaitable[dict[str, Any]]]

# `type` of an agent call (catalog §1.6): which of the agent's phones rings first.
AGENT_DEVICES = {
    "default": AgentDevice.PREFERRED,
    "phone": AgentDevice.MOBILE,
    "sip": AgentDevice.SIP_PHONE,
}


class VcallApi:
    """Answers the vcall API's requests with its envelopes."""

    def __init__(
        self,
        auth: AuthService,
        groups: GroupService,
        agents: AgentAccounts,
        agent_calls: AgentCallService,
        calls: CallService,
        clock: Clock,
        metrics: Metrics,
        cti: Cti,
    ) -> None:
        self._auth = auth
        self._cti = cti
        self._groups = groups
        self._agents = agents
        self._agent_calls = agent_calls
        self._calls = calls
        self._clock = clock
        self._metrics = metrics

    # M1: token

    async def token(self, request: Request) -> dict[str, Any]:
        """M1.1: a token for the company's accessKeyId and accessKeySecret."""
        form = validated(TokenRequest, await read_json(request))
        session = await self._auth.credential_token(
            CredentialKind.VCALL, form.accessKeyId, form.accessKeySecret, _client_ip(request)
        )
        expires = int(session.expires_at.timestamp() * 1000)
        token = Token(token=session.token, expireTime=expires)
        return body(INTEGER.success, "success", token.model_dump())

    async def _form(
        self, request: Request, model: type[M], capability: Capability
    ) -> tuple[M, Caller]:
        """The JSON body as `model`, and the company whose token came with it (in the
        body, else the query); the token is checked first, as the seed answers a request
        without one `403` whatever else it holds."""
        data = await read_json(request)
        token = data.get("token")
        caller = await self._caller(request, token if isinstance(token, str) else "", capability)
        return validated(model, data), caller

    async def _query(
        self, request: Request, model: type[M], capability: Capability
    ) -> tuple[M, Caller]:
        """The query's parameters as `model`, and the company whose token they hold."""
        caller = await self._caller(request, "", capability)
        return validated(model, dict(request.query_params)), caller

    async def _caller(self, request: Request, token: str, capability: Capability) -> Caller:
        """The company whose token came with the request (in the body, else the query)."""
        token = token or request.query_params.get("token", "")
        if not token.strip():
            raise AccessDenied(Denial.TOKEN_INVALID, "the token is missing")
        return await self._auth.authorize(
            token, _client_ip(request), capability, TokenAudience.VCALL
        )

    # M5: skill groups

    async def group_create(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, GroupBody, Capability.GROUPS)
        sn = await self._groups.create(caller, group_settings(form))
        return body(STRING.success, "success", sn)

    async def group_update(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, GroupBody, Capability.GROUPS)
        sn = await self._groups.update(caller, request.path_params["sn"], group_settings(form))
        return body(STRING.success, "success", sn)

    async def group_page(self, request: Request) -> dict[str, Any]:
        query, caller = await self._query(request, GroupQuery, Capability.GROUPS)
        total, groups = await self._groups.page(
            caller, query.name, Page(query.pageNo, query.pageSize)
        )
        return body(STRING.success, "success", paged(total, [group_record(g) for g in groups]))

    # M6: agents

    async def agent_create(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, AgentBody, Capability.EXTENSIONS)
        sn = await self._agents.create(caller, agent_fields(form))
        return body(STRING.success, "success", sn)

    async def agent_update(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, AgentBody, Capability.EXTENSIONS)
        sn = await self._agents.update(caller, request.path_params["sn"], agent_fields(form))
        return body(STRING.success, "success", sn)

    async def agent_page(self, request: Request) -> dict[str, Any]:
        query, caller = await self._query(request, AgentQuery, Capability.EXTENSIONS)
        total, agents = await self._agents.page(
            caller, agent_filter(query), Page(query.pageNo, query.pageSize)
        )
        return body(STRING.success, "success", paged(total, [agent_record(a) for a in agents]))

    async def agent_status(self, request: Request) -> dict[str, Any]:
        query, caller = await self._query(request, StatusQuery, Capability.EXTENSIONS)
        await self._agents.set_enabled(caller, request.path_params["sn"], query.status == 1)
        return body(STRING.success, "success")

    async def agent_reset(self, request: Request) -> dict[str, Any]:
        _, caller = await self._query(request, Query, Capability.EXTENSIONS)
        await self._agents.reset(caller, request.path_params["sn"])
        return body(STRING.success, "success")

    # M7, M11: calls

    async def agent_call(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, AgentCallBody, Capability.CALLS)
        call_id = await self._agent_calls.call(
            caller,
            form.agentNum,
            form.called,
            form.callnum or None,
            AGENT_DEVICES[form.type],
            form.userData,
        )
        return body(CALLS.success, "success", CallId(callId=call_id).model_dump())

    async def two_way_call(self, request: Request) -> dict[str, Any]:
        form, caller = await self._form(request, TwoWayCallBody, Capability.CALLS)
        if form.type == "cmccbid":
            raise InvalidInput(
                "type", "cmccbid (an operator's own two-way product) is not offered; use default"
            )
        call_id = await self._calls.double_call(
            caller,
            "",
            form.caller,
            form.called,
            form.callnum or None,
            CustomFields(user_data=form.userData, label=form.type),
            fields=("caller", "called"),
        )
        return body(CALLS.success, "success", CallId(callId=call_id).model_dump())

    # M8: the CTI

    async def control(self, request: Request) -> dict[str, Any]:
        """M8.1: an agent's request, answered at once; its outcome follows as events."""
        data = await read_json(request)
        common = validated(ControlBody, data)
        request.state.sequence = common.sequence
        client = _client_ip(request)
        if common.request == LOGIN:
            await self._cti.login(common, data, client)
        else:
            token = common.token or request.query_params.get("token", "") or _bearer(request)
            agent = await self._cti.acting(common, token, client)
            await self._cti.perform(agent, common, data)
        return acknowledged(common.sequence)

    async def answer(self, request: Request, route: Route, handle: Handler) -> Response:
        """HTTP 200 with the route's envelope, whatever happens."""
        codes = route.codes
        started = self._clock.monotonic()
        try:
            content = await handle(request)
        except InvalidInput as exc:
            content = _invalid(codes, exc)
        except AccessDenied as exc:  # no token, a wrong or expired one, a lapsed company
            content = body(codes.no_auth, f"{NO_AUTH}: {exc.detail or exc}")
        except BusinessError as exc:
            code = REFUSALS.get(exc.refusal)
            content = body(codes.failure if code is None else code_of(codes, code), exc.desc)
        except BodyRefused as exc:
            content = body(codes.failure, str(exc))
        except ClientDisconnect:
            raise  # nobody is left to answer; the app logs it
        except Exception:
            log.exception("vcall request failed", extra={"service": route.service})
            content = body(codes.failure, "server error")
        sequence = getattr(request.state, "sequence", None)
        if sequence is not None and content["data"] is None:
            content["data"] = {"sequence": sequence}  # the CTI echoes it whatever happens
        self._metrics.api_requests.labels(DIALECT, route.service, str(content["code"])).inc()
        self._metrics.api_latency.labels(DIALECT).observe(self._clock.monotonic() - started)
        return reply(content)


@dataclass(frozen=True)
class Route:
    """One path of the API: its envelope, and what it takes (for the OpenAPI document)."""

    method: str
    path: str
    service: str  # its name in the metrics and the log
    codes: Codes  # its module's envelope codes
    summary: str
    description: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    example: dict[str, Any] | None = None


def _openapi(route: Route) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if route.body is not None:
        content: dict[str, Any] = {"schema": route.body.model_json_schema()}
        if route.example is not None:
            content["example"] = route.example
        extra["requestBody"] = {"required": True, "content": {_JSON: content}}
    if route.query is not None:
        schema = route.query.model_json_schema()
        required = set(schema.get("required", ()))
        extra["parameters"] = [
            {"name": name, "in": "query", "required": name in required, "schema": field}
            for name, field in schema["properties"].items()
        ]
    return extra


def _endpoint(
    api: VcallApi, route: Route, handle: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await api.answer(request, route, handle)

    return endpoint


def router(api: VcallApi, sockets: AgentSockets) -> APIRouter:
    """The vcall API's paths, each also without its `/api` prefix as the seed's own
    examples send them (catalog §1.1), and the agents' WebSocket."""
    routes = APIRouter(tags=["vcall call center (seed 003)"])
    routes.add_api_websocket_route(SOCKET_PATH, sockets.serve)
    handlers: list[tuple[Route, Handler]] = [
        (TOKEN, api.token),
        (GROUP_CREATE, api.group_create),
        (GROUP_PAGE, api.group_page),
        (GROUP_UPDATE, api.group_update),
        (AGENT_CREATE, api.agent_create),
        (AGENT_CALL, api.agent_call),
        (TWO_WAY_CALL, api.two_way_call),
        (AGENT_PAGE, api.agent_page),
        (AGENT_STATUS, api.agent_status),
        (AGENT_RESET, api.agent_reset),
        (AGENT_UPDATE, api.agent_update),
        (CONTROL, api.control),
    ]
    for route, handle in handlers:
        endpoint = _endpoint(api, route, handle)
        paths = {route.path: True, route.path.removeprefix("/api"): False}
        for path, shown in paths.items():
            routes.add_api_route(
                path,
                endpoint,
                methods=[route.method],
                summary=route.summary,
                description=route.description,
                response_class=Response,
                include_in_schema=shown,
                openapi_extra=_openapi(route),
            )
    return routes


_ANSWERS = (
    "HTTP 200 whatever the outcome; `code` -1 with the reason in `msg` for bad input, "
    "403 with `no auth` for a missing, wrong or expired token."
)
TOKEN = Route(
    "POST",
    "/api/token",
    "token",
    INTEGER,
    "Get a token (M1.1)",
    'Answers `{"code": 0, "msg": "success", "data": {"token": "…", "expireTime": '
    "1620847518789}}` (`expireTime`: the absolute expiry, epoch milliseconds). " + _ANSWERS,
    body=TokenRequest,
    example={
        "accessKeyId": "b2c8d1e6-5f0a-4f43-9a51-0d6f5c8e7a21",
        "accessKeySecret": "0f3c6a9e-8d2b-4c7e-a1f5-6b9d3e2c4a80",
    },
)
GROUP_CREATE = Route(
    "POST",
    "/api/group/open/create",
    "group.create",
    STRING,
    "Create a skill group (M5.1)",
    'Answers `{"code": "0", "msg": "success", "data": "<group sn>"}`. `policy`: 0 round '
    "robin, 1 random, 2 longest idle, 3 by agent level, 4 fewest answered. " + _ANSWERS,
    body=GroupBody,
    example={"token": "…", "name": "collections", "policy": 0, "agentSnList": []},
)
GROUP_PAGE = Route(
    "GET",
    "/api/group/open/page",
    "group.page",
    STRING,
    "Page skill groups (M5.2)",
    'Answers `{"code": "0", "msg": "success", "data": {"total": 1, "records": [...]}}`. '
    + _ANSWERS,
    query=GroupQuery,
)
GROUP_UPDATE = Route(
    "POST",
    "/api/group/open/{sn}",
    "group.update",
    STRING,
    "Update a skill group (M5.3)",
    "Fields left out keep their values; `agentSnList` replaces the group's agents. "
    'Answers `{"code": "0", "msg": "success", "data": "<group sn>"}`. ' + _ANSWERS,
    body=GroupBody,
    example={"token": "…", "name": "collections", "policy": 2, "remark": "day shift"},
)
AGENT_CREATE = Route(
    "POST",
    "/api/agent/open/create",
    "agent.create",
    STRING,
    "Create an agent (M6.1)",
    "`sipId`: one of the company's extensions, made when no one has that number; a new "
    'one when left out. Answers `{"code": "0", "msg": "success", "data": "<agent sn>"}`. '
    + _ANSWERS,
    body=AgentBody,
    example={
        "token": "…",
        "agentName": "Dewi",
        "agentNumber": "1000101",
        "password": "s3cret-pass",
        "groupSn": "facc37bd06fa14eff13577b0efdf6185",
        "isSip": 1,
        "phone": "13800000001",
        "type": 0,
    },
)
AGENT_PAGE = Route(
    "GET",
    "/api/agent/open/page",
    "agent.page",
    STRING,
    "Page agents (M6.3)",
    'Answers `{"code": "0", "msg": "success", "data": {"total": 1, "records": [...]}}`. '
    + _ANSWERS,
    query=AgentQuery,
)
AGENT_STATUS = Route(
    "POST",
    "/api/agent/open/{sn}/status",
    "agent.status",
    STRING,
    "Enable or disable an agent (M6.4)",
    "`status` 1 enables the agent and its extension, 0 disables both; refused with "
    "`1005009` while the agent is in a call. " + _ANSWERS,
    query=StatusQuery,
)
AGENT_RESET = Route(
    "POST",
    "/api/agent/open/{sn}/reset",
    "agent.reset",
    STRING,
    "Reset an agent (M6.5)",
    "Clears the agent's wrap-up and missed-call pause and puts it idle in each of its "
    "groups; refused with `1005009` while the agent is in a call. " + _ANSWERS,
    query=Query,
)
AGENT_UPDATE = Route(
    "POST",
    "/api/agent/open/{sn}",
    "agent.update",
    STRING,
    "Update an agent (M6.2)",
    'Fields left out keep their values. Answers `{"code": "0", "msg": "success", "data": '
    '"<agent sn>"}`. ' + _ANSWERS,
    body=AgentBody,
    example={"token": "…", "agentNumber": "1000101", "phone": "13800000002", "type": 1},
)
AGENT_CALL = Route(
    "POST",
    "/api/agent/open/call",
    "agent.call",
    CALLS,
    "Agent click-to-call (M7.1)",
    "Rings the agent (`type`: `sip` its registered phone, `phone` its mobile through the "
    "trunk, `default` the phone when registered, else the mobile), then `called`, showing "
    "`callnum`, else the agent's display number, its group's, or one of the company's. "
    'Answers at once `{"code": "0000", "msg": "success", "data": {"callId": "…"}}`; '
    "`AgentCallEnd` is pushed when the call ends. " + _ANSWERS,
    body=AgentCallBody,
    example={"token": "…", "agentNum": "0001", "called": "15800000001", "type": "default"},
)
TWO_WAY_CALL = Route(
    "POST",
    "/api/sip/makecall",
    "sip.makecall",
    CALLS,
    "Two-way call (M11.1)",
    "Calls `caller` (A), then `called` (B) when A answers, bridged and recorded; `type` "
    "`default` or `click` (echoed in the push; `cmccbid` is refused). Answers at once "
    '`{"code": "0000", "msg": "success", "data": {"callId": "…"}}`; '
    "`BidirectionalCallEnd` is pushed when the call ends. " + _ANSWERS,
    body=TwoWayCallBody,
    example={"token": "…", "caller": "1380000002", "called": "1580000002"},
)
CONTROL = Route(
    "POST",
    CONTROL_PATH,
    "cti.control",
    STRING,
    "Agent control (M8.1)",
    "An agent's request (`login`, `logout`, `reconnect`, `idle`, `busy`, `heartbeat`, "
    "`makeCall`, `cancelCall`, `idleAgent`, `getGroups`, and a supervisor's `surveillance`, "
    "`forceIdle`, `forceBusy`, `forceLogout`), answered at once with "
    '`{"code": "0", "msg": "success", "data": {"sequence": …}}`; its outcome arrives as '
    "agent events carrying the same `sequence`. `login` takes the agent's `password` and "
    "`loginType` (1 SIP phone, 2 mobile, 3 WebRTC); every other request the session's "
    "`token` (the Login event's), or a token of the company's API credentials, in the body, "
    "the query or `Authorization: Bearer`. `companyId` is the company's code. `-1` with the "
    "reason in `msg` for a request that is invalid, unknown or does not fit the agent's "
    "state (nothing changes); `403` / `no auth` for a missing or wrong token.",
    body=ControlBody,
    example={
        "companyId": "1001",
        "agentNumber": "1000101",
        "sequence": 1689131708674,
        "request": "login",
        "password": "s3cret-pass",
        "loginType": "1",
    },
)
