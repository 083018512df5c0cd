"""Call records (CDRs): one per finished call, as the seed's call-record callback has them."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select, update

from callyard.codes import CallMethod, CallType, HangupCode
from callyard.errors import InvalidInput, NotFound
from callyard.store.database import Database, IntegrityError
from callyard.store.lookups import company_by_code
from callyard.store.models import CallRecordRow, Company
from callyard.timefmt import TimeFormat

MAX_LIST = 1000
HANGUP_DIRECTIONS = frozenset({HangupCode.CALLER_HANGUP, HangupCode.CALLEE_HANGUP})
_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# Column widths of the text fields (store/models.py): longer values are refused.
_WIDTHS = {
    "extnumber": 64,
    "destnumber": 64,
    "disnumber": 64,
    "crmid": 255,
    "chengshudu": 255,
    "memberid": 255,
    "customuuid": 255,
    "userkey": 32,
    "recordfilename": 255,
    "downloadip": 255,
}


@dataclass(frozen=True, kw_only=True)
class CallRecord:
    """A finished call: every field of the seed's call-record callback but its `id`.

    `crmid` is the API's `userid`; `userkey` the DTMF key pressed ("" if none);
    `recordfilename` "" when the call was not recorded.
    """

    uuid: str
    company_id: int
    companycode: int
    callmethod: CallMethod
    type: str
    extnumber: str
    destnumber: str
    disnumber: str
    crmid: str = ""
    chengshudu: str = ""
    memberid: str = ""
    customuuid: str = ""
    userkey: str = ""
    starttime: datetime
    answertime: datetime | None = None
    endtime: datetime
    duration: int
    billsec: int
    hangupcause: HangupCode
    hangupdirection: HangupCode
    recordfilename: str = ""
    downloadip: str = ""

    def __post_init__(self) -> None:
        if not _UUID.match(self.uuid):
            raise InvalidInput("uuid", "must be 1 to 64 letters, digits or '-'")
        if self.type not in {t.value for t in CallType}:
            raise InvalidInput("type", f"{self.type!r} is not one of {', '.join(CallType)}")
        if self.hangupdirection not in HANGUP_DIRECTIONS:
            raise InvalidInput("hangupdirection", "must be 10040 (caller) or 10041 (callee)")
        for name in ("starttime", "answertime", "endtime"):
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
    values["callmethod"] = CallMethod(row.callmethod)
    values["hangupcause"] = HangupCode.lookup(row.hangupcause)
    values["hangupdirection"] = HangupCode.lookup(row.hangupdirection)
    return StoredCallRecord(row.id, CallRecord(**values), row.recording_purged_at)


def seed_payload(row: StoredCallRecord, times: TimeFormat) -> dict[str, object]:
    """The JSON of the seed's call-record callback, field for field and type for type;
    times in the server's time zone, `answertime` "" when the call was not answered."""
    rec = row.record
    return {
        "callmethod": int(rec.callmethod),
        "starttime": times(rec.starttime),
        "answertime": times(rec.answertime) or "",
        "endtime": times(rec.endtime),
        "duration": rec.duration,
        "billsec": rec.billsec,
        "crmid": rec.crmid,
        "hangupdirection": int(rec.hangupdirection),
        "chengshudu": rec.chengshudu,
        "hangupcause": int(rec.hangupcause),
        "memberid": rec.memberid,
        "disnumber": rec.disnumber,
        "destnumber": rec.destnumber,
        "downloadip": rec.downloadip,
        "recordfilename": rec.recordfilename,
        "companycode": rec.companycode,
        "type": str(rec.type),
        "id": row.id,
        "extnumber": rec.extnumber,
        "uuid": rec.uuid,
        "userkey": rec.userkey,
        "customuuid": rec.customuuid,
    }


class CdrService:
    """Stores call records and answers questions about them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, rec: CallRecord) -> int:
        """Store a finished call; returns its id. Recording a uuid again returns the first
        record's id and changes nothing."""
        try:
            async with self._db.writing() as session:
                existing = await session.scalar(
                    select(CallRecordRow.id).where(CallRecordRow.uuid == rec.uuid)
                )
                if existing is not None:
                    return existing
                code = await session.scalar(
                    select(Company.code).where(Company.id == rec.company_id)
                )
                if code is None:
                    raise NotFound(f"no company with id {rec.company_id}")
                if code != rec.companycode:
                    raise InvalidInput(
                        "companycode", f"{rec.companycode} is not the code of company {code}"
                    )
                values = {name: getattr(rec, name) for name in _RECORD_FIELDS}
                values.update(
                    callmethod=int(rec.callmethod),
                    type=str(rec.type),
                    hangupcause=int(rec.hangupcause),
                    hangupdirection=int(rec.hangupdirection),
                )
                row = CallRecordRow(**values)
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            # Another writer stored the same uuid first; its record stands.
            async with self._db.transaction() as session:
                first = await session.scalar(
                    select(CallRecordRow.id).where(CallRecordRow.uuid == rec.uuid)
                )
            if first is None:
                raise
            return first

    async def list_for_company(
        self, company_code: int, limit: int = 100, offset: int = 0
    ) -> list[StoredCallRecord]:
        """The company's call records, most recently recorded first."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput("limit", f"must be 1 to {MAX_LIST}")
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
        """Note that these records' recordings are gone (GetRecodeFile then answers 1003)."""
        if not cdr_ids:
            return
        async with self._db.writing() as session:
            await session.execute(
                update(CallRecordRow)
                .where(CallRecordRow.id.in_(cdr_ids))
                .values(recording_purged_at=at)
            )


def _recording(row: CallRecordRow) -> RecordingEntry:
    return RecordingEntry(
        row.id, row.companycode, row.recordfilename, row.recording_purged_at is not None
    )
