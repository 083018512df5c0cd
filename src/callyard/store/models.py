"""Tables. Times are stored as UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
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


class ApiToken(Base):
    """A login token, kept as its SHA-256 so that a database leak yields no tokens."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


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


class CallRecordRow(Base):
    """A finished call (CDR): the fields of the seed's call-record callback."""

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
    callmethod: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    extnumber: Mapped[str] = mapped_column(String(64))
    destnumber: Mapped[str] = mapped_column(String(64))
    disnumber: Mapped[str] = mapped_column(String(64))
    crmid: Mapped[str] = mapped_column(String(255))
    chengshudu: Mapped[str] = mapped_column(String(255))
    memberid: Mapped[str] = mapped_column(String(255))
    customuuid: Mapped[str] = mapped_column(String(255))
    userkey: Mapped[str] = mapped_column(String(32))
    starttime: Mapped[datetime] = mapped_column(UTCDateTime())
    answertime: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    endtime: Mapped[datetime] = mapped_column(UTCDateTime())
    duration: Mapped[int] = mapped_column(Integer)
    billsec: Mapped[int] = mapped_column(Integer)
    hangupcause: Mapped[int] = mapped_column(Integer)
    hangupdirection: Mapped[int] = mapped_column(Integer)
    recordfilename: Mapped[str] = mapped_column(String(255))
    downloadip: Mapped[str] = mapped_column(String(255))
    # Set when the retention purge deleted the recording; the name stays for history.
    recording_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


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
    kind: Mapped[str] = mapped_column(String(16))
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
