"""Builders of test data that goes straight to the services: callers and call records."""

from __future__ import annotations

import struct
import uuid as uuids
import wave
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.services.auth import Caller
from callyard.services.cdrs import CallRecord
from callyard.store.models import Company


async def caller_of(container: Container, code: int) -> Caller:
    """The API caller of a company, as a token of it would resolve."""
    async with container.db.transaction() as session:
        company = await session.scalar(select(Company).where(Company.code == code))
    assert company is not None
    return Caller(company.id, company.code, company.name)


def call_record(caller: Caller, started: datetime, **changes: Any) -> CallRecord:
    """An answered outbound API call of 30 s (10 s ringing, 20 s talking)."""
    fields: dict[str, Any] = {
        "uuid": str(uuids.uuid4()),
        "company_id": caller.company_id,
        "companycode": caller.company_code,
        "kind": CallKind.CLICK_TO_CALL,
        "extnumber": "8001",
        "destnumber": "015029913692",
        "disnumber": "02566823420",
        "crmid": "2001",
        "maturity": "0",
        "memberid": "18533700187590656",
        "customuuid": "cust-1",
        "userkey": "",
        "starttime": started,
        "answertime": started + timedelta(seconds=10),
        "endtime": started + timedelta(seconds=30),
        "duration": 30,
        "billsec": 20,
        "end_reason": EndReason.NORMAL,
        "ended_by": Party.CALLER,
        "q850_cause": 16,
        "recordfilename": "",
        "downloadip": "127.0.0.1",
    }
    fields.update(changes)
    return CallRecord(**fields)


def write_wav(path: Path, seconds: float = 0.5) -> bytes:
    """A mono 8 kHz 16-bit WAV of a rising tone; returns the file's bytes."""
    frames = b"".join(
        struct.pack("<h", (i * 300) % 20000 - 10000) for i in range(int(8000 * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)
    return path.read_bytes()


# The seed's call-state callback: its fields, and (status, isbleg) of a bridged call's
# events in order: each leg rings and answers, then a hangup per leg.
STATE_FIELDS = frozenset({
    "buuid", "callee", "caller", "companycode", "customuuid", "direction", "disnumber",
    "extnumber", "isbleg", "method", "starttime", "status", "type", "uuid",
})  # fmt: skip
BRIDGED_CALL_STATES = [
    ("ring", "false"),
    ("answer", "false"),
    ("ring", "true"),
    ("answer", "true"),
    ("hangup", "false"),
    ("hangup", "true"),
]


@dataclass(frozen=True)
class PlacedCall:
    caller: Caller
    phone: str
    language: str
    text: str
    customuuid: str


class FakeVoiceCalls:
    """Records each call it is asked to place; fails with `failure` when set."""

    def __init__(self) -> None:
        self.placed: list[PlacedCall] = []
        self.failure: Exception | None = None

    async def place(
        self, caller: Caller, phone: str, language: str, text: str, customuuid: str
    ) -> None:
        if self.failure is not None:
            raise self.failure
        self.placed.append(PlacedCall(caller, phone, language, text, customuuid))
