"""The vcall API's request bodies, as the seed names and types their fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from callyard.api.forms import Form, describe

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any) -> M:
    """`data` as `model`, or InvalidInput naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe(exc) from None


Key = Annotated[StrictStr, Field(min_length=1, max_length=128)]


class TokenRequest(BaseModel):
    """`POST /api/token` (M1.1): the company's key id and secret."""

    model_config = ConfigDict(extra="ignore")

    accessKeyId: Key
    accessKeySecret: Key


class Token(BaseModel):
    """`data` of the token's answer: the token and its absolute expiry in epoch ms."""

    token: str
    expireTime: int


Sn = Annotated[StrictStr, Field(min_length=1, max_length=32)]
Flag = Annotated[StrictInt, Field(ge=0, le=1)]


def flag(value: int | str | None) -> bool | None:
    """A 0/1 flag (an integer, or its string) as a truth; None when not given."""
    return None if value is None else int(value) == 1


Seconds = Annotated[StrictInt, Field(ge=0, le=86_400)]
DisplayNumber = Annotated[StrictStr, Field(max_length=21, pattern=r"^[0-9]*$")]
TokenField = Annotated[StrictStr, Field(max_length=128)]


class GroupBody(BaseModel):
    """`POST /api/group/open/create` and `/api/group/open/{sn}` (M5.1, M5.3). On update,
    fields left out (or null) keep their values; `agentSnList` given replaces the group's
    agents. `deptName` is callyard's addition (the listing shows it)."""

    model_config = ConfigDict(extra="ignore")

    token: TokenField = ""
    name: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    policy: Annotated[StrictInt, Field(ge=0, le=4)] | None = None
    agentSnList: Annotated[list[Sn], Field(max_length=1000)] | None = None
    popupWindowUrl: Annotated[StrictStr, Field(max_length=2048)] | None = None
    caller: DisplayNumber | None = None
    # a string in the create table, an integer in the listing: both are taken
    agentAutoIdle: Annotated[StrictStr, Field(pattern=r"^[01]$")] | Flag | None = None
    agentAutoIdleTime: Seconds | None = None
    onlyTransferToCurrent: Flag | None = None
    agentMakeCall: Flag | None = None
    remark: Annotated[StrictStr, Field(max_length=255)] | None = None
    deptName: Annotated[StrictStr, Field(max_length=64)] | None = None


class AgentBody(BaseModel):
    """`POST /api/agent/open/create` and `/api/agent/open/{sn}` (M6.1, M6.2). On update,
    fields left out (or null) keep their values."""

    model_config = ConfigDict(extra="ignore")

    token: TokenField = ""
    agentName: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    agentNumber: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    password: Annotated[StrictStr, Field(min_length=6, max_length=64)] | None = None
    groupSn: Annotated[StrictStr, Field(max_length=32)] | None = None
    isSip: Flag | None = None
    phone: Annotated[StrictStr, Field(max_length=32, pattern=r"^\+?[0-9]*$")] | None = None
    sipId: Annotated[StrictStr, Field(min_length=2, max_length=20, pattern=r"^[0-9]+$")] | None = (
        None
    )
    type: Flag | None = None
    level: Annotated[StrictInt, Field(ge=0, le=99)] | None = None
    workingOffline: Flag | None = None
    agentAutoIdleTime: Seconds | None = None
    displayCaller: DisplayNumber | None = None
    offlineCallType: Flag | None = None
    callMode: Annotated[StrictInt, Field(ge=0, le=3)] | None = None


class GroupRecord(BaseModel):
    """A record of `GET /api/group/open/page` (M5.2)."""

    sn: str
    name: str
    deptName: str
    policy: int
    agentSnList: list[str]
    agentTotal: int
    popupWindowUrl: str
    caller: str
    agentAutoIdle: int
    agentAutoIdleTime: int | None
    onlyTransferToCurrent: int
    agentMakeCall: int
    remark: str


class AgentRecord(BaseModel):
    """A record of `GET /api/agent/open/page` (M6.3)."""

    sn: str
    agentNumber: str
    agentName: str
    type: int
    groupSn: str
    groupName: str
    sipId: str
    sipPassword: str
    phone: str
    status: int
    paramsData: str
    level: int
    workingOffline: int
    agentAutoIdleTime: int | None
    displayCaller: str | None
    offlineCallType: int
    isSip: int
    callMode: int


def paged(total: int, records: Sequence[BaseModel]) -> dict[str, Any]:
    """`data` of a listing: the number of matches and one page of them."""
    return {"total": total, "records": [r.model_dump() for r in records]}


PageNo = Annotated[int, Field(ge=1, le=1_000_000)]
PageSize = Annotated[int, Field(ge=1, le=500)]


class Query(Form):
    """A query string's parameters: numbers arrive as text, blank ones count as absent."""

    token: TokenField = ""


class GroupQuery(Query):
    """`GET /api/group/open/page` (M5.2)."""

    name: Annotated[str, Field(max_length=64)] | None = None
    pageNo: PageNo = 1
    pageSize: PageSize = 10


class AgentQuery(Query):
    """`GET /api/agent/open/page` (M6.3)."""

    agentName: Annotated[str, Field(max_length=64)] | None = None
    agentNumber: Annotated[str, Field(max_length=32)] | None = None
    groupSn: Annotated[str, Field(max_length=32)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    status: Annotated[int, Field(ge=0, le=1)] | None = None
    type: Annotated[int, Field(ge=0, le=1)] | None = None
    pageNo: PageNo = 1
    pageSize: PageSize = 10


class StatusQuery(Query):
    """`POST /api/agent/open/{sn}/status` (M6.4): 1 enables, 0 disables."""

    status: Annotated[int, Field(ge=0, le=1)]


PhoneNumber = Annotated[StrictStr, Field(min_length=1, max_length=32)]
UserData = Annotated[StrictStr, Field(max_length=1024)]


class AgentCallBody(BaseModel):
    """`POST /api/agent/open/call` (M7.1): ring the agent on `type`'s phone, then
    `called`."""

    model_config = ConfigDict(extra="ignore")

    token: TokenField = ""
    agentNum: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    called: PhoneNumber
    userData: UserData = ""
    callnum: DisplayNumber | None = None
    type: Literal["default", "phone", "sip"] = "default"


class TwoWayCallBody(BaseModel):
    """`POST /api/sip/makecall` (M11.1): call `caller`, then `called` when it answers."""

    model_config = ConfigDict(extra="ignore")

    token: TokenField = ""
    caller: PhoneNumber
    called: PhoneNumber
    userData: UserData = ""
    callnum: DisplayNumber | None = None
    type: Literal["default", "click", "cmccbid"] = "default"


class CallId(BaseModel):
    """`data` of a call's answer: the id its push carries."""

    callId: str
