"""Call records (CDRs): one per finished call."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.errors import InvalidInput, NotFound
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import company_by_code
from callyard.store.models import CallRecordRow, Company

MAX_LIST = 1000
MAX_BATCH = 200  # call records per transaction
_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# Column widths of the text fields (store/models.py): longer values are refused, or
# clipped by CallRecord.clipped.
_WIDTHS = {
    "extnumber": 64,
    "destnumber": 64,
    "disnumber": 64,
    "crmid": 255,
    "maturity": 255,
    "memberid": 255,
    "customuuid": 255,
    "userkey": 32,
    "recordfilename": 255,
    "downloadip": 255,
    "first_number": 64,
    "user_data": 1024,
    "label": 16,
    "agent_number": 32,
    "agent_name": 64,
    "group_name": 64,
}


_LEG_TIMES = (
    "first_ringing_at",
    "first_answered_at",
    "second_called_at",
    "second_ringing_at",
    "queued_at",
)


@dataclass(frozen=True, kw_only=True)
class CallRecord:
    """A finished call.

    `crmid` is the CRM's id of the customer (the API's `userid`); `maturity` how ripe
    the lead is, as the CRM rates it; `userkey` the DTMF key pressed ("" if none);
    `recordfilename` "" when the call was not recorded. How it ended: `end_reason`,
    `ended_by`, the SIP final response that ended an unanswered leg (`sip_status`, if
    any) and the ISDN cause (`q850_cause`). Each leg's progress: the first is called at
    `starttime` (`first_number` when it is no extension), the second (the customer, or
    the extension a carrier's call reaches) once the first answers. `user_data` and
    `label` are what the API that placed the call gave to be echoed back (a two-way
    call's variant); `agent_*` the agent it was for.
    """

    uuid: str
    company_id: int
    companycode: int
    kind: CallKind
    extnumber: str
    destnumber: str
    disnumber: str
    crmid: str = ""
    maturity: str = ""
    memberid: str = ""
    customuuid: str = ""
    userkey: str = ""
    starttime: datetime
    answertime: datetime | None = None
    endtime: datetime
    duration: int
    billsec: int
    end_reason: EndReason
    ended_by: Party
    sip_status: int | None = None
    q850_cause: int
    recordfilename: str = ""
    downloadip: str = ""
    first_ringing_at: datetime | None = None
    first_answered_at: datetime | None = None
    second_called_at: datetime | None = None
    second_ringing_at: datetime | None = None
    first_number: str = ""
    user_data: str = ""
    label: str = ""
    agent_number: str = ""
    agent_name: str = ""
    group_name: str = ""
    queued_at: datetime | None = None  # when the caller entered a group's queue

    def __post_init__(self) -> None:
        if not _UUID.match(self.uuid):
            raise InvalidInput("uuid", "must be 1 to 64 letters, digits or '-'")
        if not 1 <= self.q850_cause <= 127:
            raise InvalidInput("q850_cause", "must be 1 to 127")
        for name in ("starttime", "answertime", "endtime", *_LEG_TIMES):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(name, "needs a timezone")
        if self.endtime < self.starttime:
            raise InvalidInput("endtime", "is before starttime")
        if self.answertime is not None and not self.starttime <= self.answertime <= self.endtime:
            raise InvalidInput("answertime", "is not between starttime and endtime")
        if self.duration < 0 or self.billsec < 0:
            raise InvalidInput("duration", "durations cannot be negative")
        for name, width in _WIDTHS.items():
            if len(getattr(self, name)) > width:
                raise InvalidInput(name, f"longer than {width} characters")

    @classmethod
    def clipped(cls, **fields: Any) -> CallRecord:
        """A record with its text fields clipped to their columns: a call that happened
        is recorded whatever a phone dialed."""
        for name, width in _WIDTHS.items():
            value = fields.get(name)
            if isinstance(value, str) and len(value) > width:
                fields[name] = value[:width]
        return cls(**fields)


_RECORD_FIELDS = tuple(f.name for f in fields(CallRecord))


@dataclass(frozen=True)
class StoredCallRecord:
    """A call record as stored: its id, and when its recording was purged (if it was)."""

    id: int
    record: CallRecord
    recording_purged_at: datetime | None


@dataclass(frozen=True)
class RecordingEntry:
    """The recording of a stored call record."""

    cdr_id: int
    companycode: int
    recordfilename: str
    purged: bool


def _stored(row: CallRecordRow) -> StoredCallRecord:
    values = {name: getattr(row, name) for name in _RECORD_FIELDS}
    values["kind"] = CallKind(row.kind)
    values["end_reason"] = EndReason(row.end_reason)
    values["ended_by"] = Party(row.ended_by)
    return StoredCallRecord(row.id, CallRecord(**values), row.recording_purged_at)


def _company_mismatch(rec: CallRecord, code: int | None) -> Exception | None:
    if code is None:
        return NotFound(f"no company with id {rec.company_id}")
    if code != rec.companycode:
        return InvalidInput("companycode", f"{rec.companycode} is not the code of company {code}")
    return None


_ROWS: Table = CallRecordRow.__table__  # type: ignore[assignment]
_COMPANIES: Table = Company.__table__  # type: ignore[assignment]
# Core statements against the tables, built once: the ORM's bulk insert of the entity
# spends more CPU than the INSERT. Ids are matched to records by uuid, not by order:
# RETURNING rows in parameter order would cost SQLite one INSERT per row.
_INSERT = insert(_ROWS).returning(_ROWS.c.uuid, _ROWS.c.id)
_COMPANY_CODES = select(_COMPANIES.c.id, _COMPANIES.c.code).where(
    _COMPANIES.c.id.in_(bindparam("ids", expanding=True))
)


def _row_values(rec: CallRecord) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(rec, name) for name in _RECORD_FIELDS}
    values.update(kind=rec.kind.value, end_reason=rec.end_reason.value, ended_by=rec.ended_by.value)
    return values


RecordHook = Callable[[AsyncSession, StoredCallRecord], Awaitable[None]]
"""Called inside the transaction that stores a new record, after its row is flushed:
what it writes commits or rolls back with the record (the webhook outbox)."""


class CdrService:
    """Stores call records and answers questions about them."""

    def __init__(self, db: Database, on_record: RecordHook | None = None) -> None:
        self._db = db
        self._on_record = on_record
        self._waiting: list[tuple[CallRecord, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None
        # Company id -> code, of companies seen. A company's code is given once, when it
        # is created, and never changes, and companies are not deleted: no invalidation.
        self._codes: dict[int, int] = {}

    async def record(self, rec: CallRecord) -> int:
        """Store a finished call; returns its id once committed. Recording a uuid again
        returns the first record's id and changes nothing.

        Records stored at the same moment share one transaction (a group commit): at
        hundreds of calls a second, one commit per call would cost more than the calls.
        """
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((rec, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # A cancelled caller does not cancel the write: the call happened.
        return await asyncio.shield(done)

    async def close(self) -> None:
        """Wait for the records being written."""
        if self._writer is not None:
            await self._writer

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._write_batch(batch)
            except IntegrityError:
                # Another process stored one of these uuids first: one at a time, so
                # each record learns which id stands.
                for rec, done in batch:
                    if not done.done():
                        await self._write_one(rec, done)
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    async def _write_batch(self, batch: list[tuple[CallRecord, asyncio.Future[int]]]) -> None:
        """One INSERT for the batch. A uuid stored before makes it fail as a whole
        (IntegrityError), and the caller then stores the records one by one."""
        async with self._db.writing() as session:
            conn = await session.connection()
            codes = self._codes
            unknown = {rec.company_id for rec, _ in batch} - codes.keys()
            if unknown:
                found = await conn.execute(_COMPANY_CODES, {"ids": sorted(unknown)})
                codes.update((row[0], row[1]) for row in found)
            fresh: dict[str, CallRecord] = {}
            for rec, done in batch:
                problem = _company_mismatch(rec, codes.get(rec.company_id))
                if problem is not None:
                    done.set_exception(problem)
                else:
                    fresh.setdefault(rec.uuid, rec)  # a uuid twice: the first stands
            if not fresh:
                return
            inserted = await conn.execute(_INSERT, [_row_values(rec) for rec in fresh.values()])
            ids: dict[str, int] = {row[0]: row[1] for row in inserted}
            if self._on_record is not None:
                for rec in fresh.values():
                    await self._on_record(session, StoredCallRecord(ids[rec.uuid], rec, None))
        for rec, done in batch:
            if not done.done():
                done.set_result(ids[rec.uuid])

    async def _write_one(self, rec: CallRecord, done: asyncio.Future[int]) -> None:
        try:
            async with self._db.writing() as session:
                existing = await session.scalar(
                    select(CallRecordRow.id).where(CallRecordRow.uuid == rec.uuid)
                )
                if existing is None:
                    code = await session.scalar(
                        select(Company.code).where(Company.id == rec.company_id)
                    )
                    problem = _company_mismatch(rec, code)
                    if problem is not None:
                        raise problem
                    inserted = await session.execute(_INSERT, _row_values(rec))
                    existing = inserted.one()[1]
                    if self._on_record is not None:
                        await self._on_record(session, StoredCallRecord(existing, rec, None))
            done.set_result(existing)
        except IntegrityError as exc:
            async with self._db.transaction() as session:
                first = await session.scalar(
                    select(CallRecordRow.id).where(CallRecordRow.uuid == rec.uuid)
                )
            if first is None:  # not a duplicate record: something else refused it
                done.set_exception(exc)
            else:
                done.set_result(first)
        except Exception as exc:
            done.set_exception(exc)

    async def list_for_company(
        self, company_code: int, limit: int = 100, offset: int = 0
    ) -> list[StoredCallRecord]:
        """The company's call records, most recently recorded first."""
        _check_limit(limit)
        if offset < 0:
            raise InvalidInput("offset", "cannot be negative")
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            rows = await session.scalars(
                select(CallRecordRow)
                .where(CallRecordRow.company_id == company.id)
                .order_by(CallRecordRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_stored(row) for row in rows]

    async def recent_of_extension(
        self, company_id: int, extension: str, limit: int
    ) -> list[StoredCallRecord]:
        """The company's latest call records whose extension is `extension` (the one
        that had the call last), most recent first."""
        _check_limit(limit)
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(CallRecordRow)
                .where(
                    CallRecordRow.company_id == company_id,
                    CallRecordRow.extnumber == extension,
                )
                .order_by(CallRecordRow.id.desc())
                .limit(limit)
            )
            return [_stored(row) for row in rows]

    async def recording(self, company_id: int, filename: str) -> RecordingEntry | None:
        """The company's recording of this name, if one of its calls has it."""
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(CallRecordRow)
                .where(
                    CallRecordRow.company_id == company_id,
                    CallRecordRow.recordfilename == filename,
                    CallRecordRow.recordfilename != "",
                )
                .order_by(CallRecordRow.id)
                .limit(1)
            )
        return _recording(row) if row is not None else None

    async def recordings_started_before(
        self, cutoff: datetime, limit: int = 500
    ) -> list[RecordingEntry]:
        """Recordings not yet purged of calls that started before `cutoff`, oldest first."""
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(CallRecordRow)
                .where(
                    CallRecordRow.starttime < cutoff,
                    CallRecordRow.recordfilename != "",
                    CallRecordRow.recording_purged_at.is_(None),
                )
                .order_by(CallRecordRow.starttime, CallRecordRow.id)
                .limit(limit)
            )
            return [_recording(row) for row in rows]

    async def mark_recordings_purged(self, cdr_ids: list[int], at: datetime) -> None:
        """Note that these records' recordings are gone (the recording is then refused)."""
        if not cdr_ids:
            return
        async with self._db.writing() as session:
            await session.execute(
                update(CallRecordRow)
                .where(CallRecordRow.id.in_(cdr_ids))
                .values(recording_purged_at=at)
            )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput("limit", f"must be 1 to {MAX_LIST}")


def _recording(row: CallRecordRow) -> RecordingEntry:
    return RecordingEntry(
        row.id, row.companycode, row.recordfilename, row.recording_purged_at is not None
    )
