"""The App.Sip_* dialect's callbacks (seed 001): the extension call-state callback and the
call-record callback, rendered from callyard's events field for field and type for type."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from callyard.bus import CallStateChanged, LegStatus
from callyard.codes import CallType
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
        "direction": CallType.CALLIN.value if call.inbound else CallType.CALLOUT.value,
        "disnumber": call.disnumber,
        "extnumber": call.extnumber,
        "isbleg": "true" if event.leg == CUSTOMER_LEG and not call.inbound else "false",
        "method": str(call.method),
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
        "callmethod": int(rec.callmethod),
        "starttime": times(rec.starttime, zone),
        "answertime": times(rec.answertime, zone) or "",
        "endtime": times(rec.endtime, zone),
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


class SipApiCallbacks:
    """The bodies the webhook outbox sends for App.Sip_* companies (compact JSON, the
    seed's field order)."""

    def __init__(self, times: TimeFormat) -> None:
        self._times = times

    def state(self, event: CallStateChanged) -> bytes:
        return orjson.dumps(state_body(event))

    def record(self, row: StoredCallRecord, zone: str | None) -> bytes:
        return orjson.dumps(record_body(row, self._times, zone))
