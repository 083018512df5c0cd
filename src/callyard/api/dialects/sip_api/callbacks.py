"""The App.Sip_* dialect's callbacks (seed 001): the extension call-state callback and the
call-record callback, rendered from callyard's events field for field and type for type."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from callyard.api.dialects.sip_api.call_codes import (
    CALL_METHODS,
    CALL_TYPES,
    HANGUP_CAUSES,
    HANGUP_DIRECTIONS,
)
from callyard.bus import CallStateChanged, LegStatus
from callyard.domain.calls import Direction
from callyard.services.cdrs import StoredCallRecord
from callyard.switch.events import CUSTOMER_LEG
from callyard.timefmt import TimeFormat

_STATUS = {LegStatus.RINGING: "ring", LegStatus.ANSWERED: "answer", LegStatus.ENDED: "hangup"}


def b_uuid(call_id: str) -> str:
    """The id of the customer (b) leg in call-state callbacks."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"callyard:{call_id}:b"))


def state_body(event: CallStateChanged) -> dict[str, str]:
    """The extension call-state callback of one leg: every value a string. A carrier's
    call rings the extension (the seat side: `isbleg` false), called by the outside
    number."""
    call = event.call
    return {
        "buuid": b_uuid(call.call_id),
        "callee": call.destnumber,
        "caller": call.disnumber if call.inbound else call.extnumber,
        "companycode": str(call.company_code),
        "customuuid": call.customuuid,
        "direction": CALL_TYPES[Direction.INBOUND if call.inbound else Direction.OUTBOUND].value,
        "disnumber": call.disnumber,
        "extnumber": call.extnumber,
        "isbleg": "true" if event.leg == CUSTOMER_LEG and not call.inbound else "false",
        "method": str(CALL_METHODS[call.kind].value),
        "starttime": str(int(call.started_at.timestamp())),
        "status": _STATUS[event.status],
        "type": "call",
        "uuid": call.call_id,
    }


def record_body(
    row: StoredCallRecord, times: TimeFormat, zone: str | None = None
) -> dict[str, Any]:
    """The call-record callback; times in `zone` (the company's, else the server's),
    `answertime` "" when the call was not answered."""
    rec = row.record
    return {
        "callmethod": CALL_METHODS[rec.kind].value,
        "starttime": times(rec.starttime, zone),
        "answertime": times(rec.answertime, zone) or "",
        "endtime": times(rec.endtime, zone),
        "duration": rec.duration,
        "billsec": rec.billsec,
        "crmid": rec.crmid,
        "hangupdirection": HANGUP_DIRECTIONS[rec.ended_by].value,
        "chengshudu": rec.maturity,
        "hangupcause": HANGUP_CAUSES[rec.end_reason].value,
        "memberid": rec.memberid,
        "disnumber": rec.disnumber,
        "destnumber": rec.destnumber,
        "downloadip": rec.downloadip,
        "recordfilename": rec.recordfilename,
        "companycode": rec.companycode,
        "type": CALL_TYPES[rec.kind.direction].value,
        "id": row.id,
        "extnumber": rec.extnumber,
        "uuid": rec.uuid,
        "userkey": rec.userkey,
        "customuuid": rec.customuuid,
    }


class SipApiCallbacks:
    """The bodies the webhook outbox sends for App.Sip_* companies (compact JSON, the
    seed's field order)."""

    def __init__(self, times: TimeFormat) -> None:
        self._times = times

    def state(self, event: CallStateChanged) -> bytes:
        return orjson.dumps(state_body(event))

    def record(self, row: StoredCallRecord, zone: str | None) -> bytes:
        return orjson.dumps(record_body(row, self._times, zone))
