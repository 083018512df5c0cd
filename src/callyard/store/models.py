"""Tables. Times are stored as UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored without zone as UTC, returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Company(Base):
    """A tenant: owns credentials, extensions, groups and everything else."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(128))
    appid: Mapped[str] = mapped_column(String(64), unique=True)
    accesskey_hash: Mapped[str] = mapped_column(String(256))
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled_modules: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The IANA zone of the company's wall-clock times (API answers, callbacks, calling
    # windows); None: the server's.
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiCredential(Base):
    """A company's credential for one API dialect besides App.Sip_*'s appid/accesskey:
    a key id and a secret, kept as a hash when only checked, sealed (encrypted with the
    server key) when the dialect's signatures need it back."""

    __tablename__ = "api_credentials"
    __table_args__ = (UniqueConstraint("kind", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret_sealed: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A login token, kept as its SHA-256 so that a database leak yields no tokens."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # The API it is good for (a TokenAudience): the one whose credentials it was issued for.
    audience: Mapped[str] = mapped_column(String(16), server_default="sip_api")


class Extension(Base):
    """A SIP extension (agent seat). Numbers are unique across all companies."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(32), unique=True)
    password: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExtensionGroup(Base):
    """An extension group (queue) of one company."""

    __tablename__ = "extension_groups"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The group's public id in the vcall API (a skill group's `sn`).
    # (Nullable only as the column was added in place, without copying the table; every
    # group gets one.)
    sn: Mapped[str] = mapped_column(String(32), unique=True, index=True, nullable=True)
    policy: Mapped[str] = mapped_column(String(16), server_default="round_robin")  # RingPolicy
    popup_url: Mapped[str] = mapped_column(String(2048), server_default="")
    caller_number: Mapped[str] = mapped_column(String(21), server_default="")
    auto_idle: Mapped[bool] = mapped_column(Boolean, server_default="0")
    auto_idle_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transfer_within: Mapped[bool] = mapped_column(Boolean, server_default="0")
    agents_dial: Mapped[bool] = mapped_column(Boolean, server_default="1")
    remark: Mapped[str] = mapped_column(String(255), server_default="")
    department: Mapped[str] = mapped_column(String(64), server_default="")


class Agent(Base):
    """A person who takes and makes calls: a work number and password, on one of the
    company's extensions (the SIP account every API sees)."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("company_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sn: Mapped[str] = mapped_column(String(32), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    extension_id: Mapped[int] = mapped_column(
        ForeignKey("extensions.id", ondelete="CASCADE"), unique=True
    )
    # Its home group (it may be checked in to others).
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="SET NULL"), nullable=True, index=True
    )
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # an AgentRole
    level: Mapped[int] = mapped_column(Integer)
    mobile: Mapped[str] = mapped_column(String(32))
    display_number: Mapped[str] = mapped_column(String(21))
    uses_sip: Mapped[bool] = mapped_column(Boolean)
    working_offline: Mapped[bool] = mapped_column(Boolean)
    offline_call_type: Mapped[int] = mapped_column(Integer)
    call_mode: Mapped[int] = mapped_column(Integer)
    auto_idle_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupQueue(Base):
    """A group's queue: its callers wait (hearing a greeting, then music) to be offered
    to its ready agents. A group without one has its callers' calls hunted instead."""

    __tablename__ = "group_queues"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="CASCADE"), primary_key=True
    )
    max_wait_seconds: Mapped[int] = mapped_column(Integer)
    max_size: Mapped[int] = mapped_column(Integer)
    ring_seconds: Mapped[int] = mapped_column(Integer)
    greeting: Mapped[str] = mapped_column(String(1024))  # spoken; "" none
    language: Mapped[str] = mapped_column(String(8))
    music_file: Mapped[str] = mapped_column(String(1024))  # a prompt's base path; "" built in
    overflow: Mapped[str] = mapped_column(String(16))  # an OverflowKind
    overflow_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="SET NULL"), nullable=True
    )
    overflow_number: Mapped[str] = mapped_column(String(32))
    overflow_message: Mapped[str] = mapped_column(String(1024))  # spoken; "" none
    service_level_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentSessionRow(Base):
    """An agent's working session as it must survive a restart: signed in on which
    device, ready or not (and why not), and the session's token (its SHA-256)."""

    __tablename__ = "agent_sessions"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    login_type: Mapped[str] = mapped_column(String(16))  # a LoginType
    ready: Mapped[bool] = mapped_column(Boolean)
    busy_type: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signed_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupMember(Base):
    """An extension checked in to a group, with its idle/busy state there."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="CASCADE"), primary_key=True
    )
    extension_id: Mapped[int] = mapped_column(
        ForeignKey("extensions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(8), default="idle")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Trunk(Base):
    """A SIP trunk of one company to a carrier; its first (by id) carries outbound calls."""

    __tablename__ = "trunks"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PbxTrunk(Base):
    """A company's own PBX or dialer that sends calls out through callyard: known by the
    address it sends from, or by digest credentials, or both."""

    __tablename__ = "pbx_trunks"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(45), nullable=True, unique=True)  # an IP
    username: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    password: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallerNumber(Base):
    """A caller-ID number of a company's pool. Numbers are unique across all companies."""

    __tablename__ = "caller_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(21), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Where carriers' calls to the number go: one extension, or a group's members in
    # turn; neither: such calls are refused.
    route_extension_id: Mapped[int | None] = mapped_column(
        ForeignKey("extensions.id", ondelete="SET NULL"), nullable=True
    )
    route_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="SET NULL"), nullable=True
    )


class CallRecordRow(Base):
    """A finished call (CDR), in callyard's words; each API renders its own fields."""

    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_company_id_id", "company_id", "id"),
        Index("ix_call_records_company_id_recordfilename", "company_id", "recordfilename"),
        Index("ix_call_records_starttime", "starttime"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    companycode: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))  # a CallKind
    extnumber: Mapped[str] = mapped_column(String(64))
    destnumber: Mapped[str] = mapped_column(String(64))
    disnumber: Mapped[str] = mapped_column(String(64))
    crmid: Mapped[str] = mapped_column(String(255))
    maturity: Mapped[str] = mapped_column(String(255))
    memberid: Mapped[str] = mapped_column(String(255))
    customuuid: Mapped[str] = mapped_column(String(255))
    userkey: Mapped[str] = mapped_column(String(32))
    starttime: Mapped[datetime] = mapped_column(UTCDateTime())
    answertime: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    endtime: Mapped[datetime] = mapped_column(UTCDateTime())
    duration: Mapped[int] = mapped_column(Integer)
    billsec: Mapped[int] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(String(24))  # an EndReason
    ended_by: Mapped[str] = mapped_column(String(8))  # a Party
    sip_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    q850_cause: Mapped[int] = mapped_column(Integer)
    recordfilename: Mapped[str] = mapped_column(String(255))
    downloadip: Mapped[str] = mapped_column(String(255))
    # Set when the retention purge deleted the recording; the name stays for history.
    recording_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Each leg's progress: the first leg is called at `starttime`, the second once the
    # first answers (an inbound call's second leg is the extension it reaches).
    first_ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    second_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    second_ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The number the first leg called when it is no extension (a two-way call's first).
    first_number: Mapped[str] = mapped_column(String(64), server_default="")
    # What the API that placed the call gave to be echoed back, and the agent it was for.
    user_data: Mapped[str] = mapped_column(String(1024), server_default="")
    label: Mapped[str] = mapped_column(String(16), server_default="")
    agent_number: Mapped[str] = mapped_column(String(32), server_default="")
    agent_name: Mapped[str] = mapped_column(String(64), server_default="")
    group_name: Mapped[str] = mapped_column(String(64), server_default="")
    # When the caller entered a group's queue (None: never queued).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StoreRevision(Base):
    """A counter bumped by every change to companies, extensions or tokens.

    Servers cache those in memory and reload when the counter moves, so changes
    made by the CLI or by another server process are seen within a poll interval.
    Row 1 counts companies, extensions and tokens; row 2 webhook settings.
    """

    __tablename__ = "store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class WebhookSettingsRow(Base):
    """Where a company's call-state and call-record callbacks go, and their signing key."""

    __tablename__ = "webhook_settings"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    call_state_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    cdr_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    secret: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookEventRow(Base):
    """One webhook request to make (the outbox): pending, then delivered or dead."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("call_id", "seq"),
        Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_events_company_id_id", "company_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # per call: delivered in this order
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttemptRow(Base):
    """One HTTP attempt of a webhook event, for the delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    elapsed_ms: Mapped[int] = mapped_column(Integer)


class DialTask(Base):
    """A predictive outbound task: numbers to call for one extension group's agents."""

    __tablename__ = "dial_tasks"
    __table_args__ = (
        Index("ix_dial_tasks_company_id_id", "company_id", "id"),
        Index("ix_dial_tasks_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taskid: Mapped[str] = mapped_column(String(20), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # A deleted group leaves its tasks (and their history) without agents.
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("extension_groups.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), server_default="not_started")  # TaskState
    disnumber: Mapped[str] = mapped_column(String(21))  # "" = a random pool number per call
    startdate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date] = mapped_column(Date)
    windows: Mapped[str] = mapped_column(String(255))  # "HH:MM-HH:MM,..."
    ring_timeout: Mapped[int] = mapped_column(Integer)
    retry_busy: Mapped[str] = mapped_column(String(64))  # minutes, "10,30"
    retry_noanswer: Mapped[str] = mapped_column(String(64))
    max_attempts: Mapped[int] = mapped_column(Integer)
    abandon_target: Mapped[float] = mapped_column(Float)  # a fraction: 0.03 for 3 %
    wrapup: Mapped[int] = mapped_column(Integer)  # seconds after each call
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dialed: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    connected: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    staffed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Agent-seconds on the task's calls, counted by the dialer with staffed_seconds.
    talking_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Why a task in progress dials nothing now (its trunk does not answer ...); "" if it dials.
    held_reason: Mapped[str] = mapped_column(String(255), default="", server_default="")


class TaskNumber(Base):
    """A number of a predictive task, with the results of its last attempt."""

    __tablename__ = "task_numbers"
    __table_args__ = (
        UniqueConstraint("task_id", "telphone"),
        # The dialer's pick: a task's numbers not yet called, in the order they were added.
        Index("ix_task_numbers_task_id_state_position", "task_id", "state", "position"),
        Index("ix_task_numbers_task_id_position", "task_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("dial_tasks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    telphone: Mapped[str] = mapped_column(String(33))
    userid: Mapped[str] = mapped_column(String(128))
    memberid: Mapped[str] = mapped_column(String(128))
    maturity: Mapped[str] = mapped_column(String(128))
    customuuid: Mapped[str] = mapped_column(String(128))
    mark: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(8), server_default="pending")  # NumberState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    in_flight_call_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    extnumber: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # How its last dial ended (an AttemptOutcome); None before one has.
    last_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    calltime: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration: Mapped[int] = mapped_column(Integer, default=0)
    billsec: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskAttempt(Base):
    """One dial of a task's number: open while the call is in flight, then its outcome."""

    __tablename__ = "task_attempts"
    __table_args__ = (
        Index("ix_task_attempts_task_id_ended_at", "task_id", "ended_at"),
        Index("ix_task_attempts_ended_at", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("dial_tasks.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(
        ForeignKey("task_numbers.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str] = mapped_column(String(36), unique=True)
    attempt: Mapped[int] = mapped_column(Integer)  # 1 .. max_attempts
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ring_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


class VoiceCodeRequest(Base):
    """An accepted voice verification-code request (never the code itself): what the
    abuse limits count, kept for a day."""

    __tablename__ = "voice_code_requests"
    __table_args__ = (
        Index(
            "ix_voice_code_requests_company_id_phone_created_at",
            "company_id",
            "phone",
            "created_at",
        ),
        Index("ix_voice_code_requests_company_id_created_at", "company_id", "created_at"),
        Index("ix_voice_code_requests_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customuuid: Mapped[str] = mapped_column(String(36), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164 digits without '+'
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VoiceCodeTemplate(Base):
    """A company's own wording of the spoken code in one language."""

    __tablename__ = "voice_code_templates"
    __table_args__ = (UniqueConstraint("company_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PushUrl(Base):
    """A company's URL for one kind of push of an API dialect."""

    __tablename__ = "push_urls"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
