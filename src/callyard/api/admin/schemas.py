"""Admin request and response bodies; the CLI prints the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from callyard.domain.groups import Overflow


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CompanyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    appid: str | None = None
    accesskey: str | None = None


class Credentials(Out):
    """Shown once: the access key is kept only as a hash."""

    companycode: int
    companyname: str
    appid: str
    accesskey: str


class CompanyOut(Out):
    code: int
    name: str
    appid: str
    authorized_at: datetime
    expires_at: datetime | None
    allowed_cidrs: list[str]
    disabled_capabilities: list[str]
    timezone: str | None = None


class TimeZone(BaseModel):
    """An IANA zone for the company's wall-clock times; null: the server's."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None


class AllowedIps(BaseModel):
    cidrs: list[str]
    replace: bool = True


class Expiry(BaseModel):
    at: AwareDatetime | None


class Capabilities(BaseModel):
    enable: list[str] = []
    disable: list[str] = []


class ExtensionCreate(BaseModel):
    numbers: list[str] = []
    range: str | None = Field(default=None, description="FIRST-LAST, e.g. 1001-1050")
    password: str | None = None
    allow_weak_password: bool = Field(
        default=False, description="Keep a password that is easy to guess"
    )


class ExtensionNumbers(BaseModel):
    numbers: list[str] = Field(min_length=1)


class ExtensionOut(Out):
    number: str
    password: str
    enabled: bool
    registered: bool


class ErrorOut(BaseModel):
    error: str


class TrunkCreate(BaseModel):
    name: str
    host: str = Field(description="Hostname or IP address of the carrier's SIP server")
    port: int = 5060
    username: str | None = Field(default=None, description="Digest user; with password")
    password: str | None = None


class TrunkOut(Out):
    """The password is shown: the admin needs it to check the carrier's settings."""

    id: int
    company_code: int
    name: str
    host: str
    port: int
    username: str | None
    password: str | None


class PbxTrunkCreate(BaseModel):
    name: str
    host: str | None = Field(
        default=None, description="IP address the PBX sends from; calls from it are its"
    )
    username: str | None = Field(
        default=None, description="Digest user (a letter first); with password"
    )
    password: str | None = Field(default=None, description="8 to 128 characters")


class PbxTrunkOut(Out):
    """The password is shown: the admin configures it on the PBX."""

    company_code: int
    name: str
    host: str | None
    username: str | None
    password: str | None


class NumberCreate(BaseModel):
    number: str = Field(description="Caller ID: optional '+', then 3 to 20 digits")
    enabled: bool = True


class NumberList(BaseModel):
    numbers: list[str] = Field(min_length=1)


class NumberOut(Out):
    number: str
    enabled: bool
    route_extension: str | None = None
    route_group: str | None = None


class CredentialCreate(BaseModel):
    """A new API credential: `vcall` (accessKeyId / accessKeySecret) or `robot` (Api-Key
    and secret)."""

    model_config = ConfigDict(extra="forbid")

    kind: str


class CredentialOut(Out):
    kind: str
    key_id: str
    created_at: datetime


class IssuedCredentialOut(CredentialOut):
    secret: str  # shown once


class NumberRoute(BaseModel):
    """Where carriers' calls to the number go: an extension, or a group's members in
    turn; neither: they are refused."""

    model_config = ConfigDict(extra="forbid")

    extension: str | None = None
    group: str | None = None


class CdrOut(BaseModel):
    """A call record, exactly as the call-record callback sends it."""

    callmethod: int
    starttime: str
    answertime: str = Field(description='"" when the call was not answered')
    endtime: str
    duration: int
    billsec: int
    crmid: str
    hangupdirection: int
    chengshudu: str
    hangupcause: int
    memberid: str
    disnumber: str
    destnumber: str
    downloadip: str
    recordfilename: str
    companycode: int
    type: str
    id: int
    extnumber: str
    uuid: str
    userkey: str
    customuuid: str


class WebhookUpdate(BaseModel):
    """Fields left out (or null) are unchanged; an empty URL removes it."""

    call_state_url: str | None = Field(
        default=None, description="http(s) URL for extension call-state callbacks"
    )
    cdr_url: str | None = Field(default=None, description="http(s) URL for call-record callbacks")
    enabled: bool | None = None
    pushes: dict[str, str] | None = Field(
        default=None,
        description="Push kind -> http(s) URL for that kind of push; an empty URL removes it,"
        " kinds left out are unchanged",
    )


class WebhookOut(Out):
    company_code: int
    call_state_url: str | None
    cdr_url: str | None
    enabled: bool
    secret_created_at: datetime | None
    updated_at: datetime | None
    pushes: dict[str, str] = Field(default={}, description="Push kind -> URL")


class WebhookSecretOut(WebhookOut):
    """The signing secret is shown once: when the settings are created or it is rotated."""

    secret: str | None = Field(description="null unless just created or rotated")


class WebhookAttemptOut(Out):
    at: datetime
    status_code: int | None
    error: str | None
    elapsed_ms: int


class WebhookDeliveryOut(Out):
    """A webhook event: `pending`, then `delivered` or `dead` after the last attempt."""

    event_id: str = Field(description="X-Callyard-Event-Id: receivers de-duplicate on it")
    kind: str = Field(description="call_state or call_record")
    call_uuid: str
    seq: int = Field(description="Order of the event within its call")
    url: str
    status: str
    attempts: int = Field(description="Attempts since created or last redelivered")
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When pending: the next attempt")
    created_at: datetime
    delivered_at: datetime | None
    history: list[WebhookAttemptOut]


class Redelivered(BaseModel):
    redelivered: int


class GroupQueueBody(Out):
    """A group's queue: how its callers wait, and where they go when they cannot (full,
    or waited `max_wait_seconds`): `hang_up` (after `overflow_message`, if any), `group`
    (`overflow_group`'s queue) or `number` (`overflow_number`, through the trunk).
    `music_file` is a prompt made by `callyard queue set --music-file` ("" the built-in
    music)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    max_wait_seconds: int = 120
    max_size: int = 50
    ring_seconds: int = 20
    greeting: str = ""
    language: str = "en"
    music_file: str = ""
    overflow: Overflow = Overflow.HANG_UP
    overflow_group: str = ""
    overflow_number: str = ""
    overflow_message: str = ""
    service_level_seconds: int = 20


class MonitorBody(BaseModel):
    """A supervisor's part in an agent's call."""

    model_config = ConfigDict(extra="forbid")

    supervisor: str = Field(
        min_length=1, max_length=32, description="the supervisor's work number (signed in)"
    )
    mode: Literal["listen", "whisper", "barge", "intercept", "release"] = Field(
        description="listen: hears both, heard by nobody; whisper: heard by the agent only;"
        " barge: talks with both; intercept: takes the call over, the agent leaves;"
        " release: ends the call"
    )
