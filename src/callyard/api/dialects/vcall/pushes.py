"""The vcall API's pushes of a finished call (catalog M7.2, M11.2, M14): `AgentCallEnd`
for a call placed for an agent, `BidirectionalCallEnd` for a two-way call,
`HangupCauseEvent` and `SipDockingCallEnd` for a call a company's PBX sent out; each to
the company's URL for its kind, through the webhook outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from callyard.api.dialects.vcall.agent_events import AGENT_EVENT
from callyard.api.dialects.vcall.causes import cause_of
from callyard.domain.calls import CallKind
from callyard.domain.hangups import Party
from callyard.services.cdrs import CallRecord, StoredCallRecord
from callyard.timefmt import TimeFormat

AGENT_CALL_END = "AgentCallEnd"
TWO_WAY_CALL_END = "BidirectionalCallEnd"
HANGUP_CAUSE = "HangupCauseEvent"
DOCKING_CALL_END = "SipDockingCallEnd"
KINDS = (AGENT_CALL_END, TWO_WAY_CALL_END, HANGUP_CAUSE, DOCKING_CALL_END, AGENT_EVENT)

# `hangupDirection`: each push has its own encoding (catalog §1.6).
_AGENT_CALL_DIRECTIONS = {Party.CALLER: "1", Party.CALLEE: "2"}  # the agent's side, the customer's
_TWO_WAY_DIRECTIONS = {Party.CALLER: 1, Party.CALLEE: 2}  # A, B

RecordingLink = Callable[[int, str], str]
"""A download link of a company's (code) recording (file name), good while it is kept."""


def epoch_ms(moment: datetime | None) -> int:
    """Epoch milliseconds; 0 for what did not happen."""
    return 0 if moment is None else round(moment.timestamp() * 1000)


def talk_ms(rec: CallRecord) -> int:
    """From the answer to the end, in milliseconds; 0 when unanswered."""
    return 0 if rec.answertime is None else epoch_ms(rec.endtime) - epoch_ms(rec.answertime)


def hangup_cause(rec: CallRecord) -> dict[str, Any]:
    """`hangupGcode` and `hangupGname`: why the leg that ended the call ended."""
    if rec.second_called_at is not None:
        rang = rec.second_ringing_at is not None
    else:
        rang = rec.first_ringing_at is not None
    cause = cause_of(rec.end_reason, rec.sip_status, rang)
    return {"hangupGcode": cause.code, "hangupGname": cause.name}


class VcallPushes:
    """Renders the pushes of a stored call record (compact JSON, the seed's field order)."""

    def __init__(self, times: TimeFormat, link: RecordingLink) -> None:
        self._times = times
        self._link = link

    def pushes(self, row: StoredCallRecord, zone: str | None) -> list[tuple[str, bytes]]:
        rec = row.record
        found: list[tuple[str, dict[str, Any]]] = []
        if rec.kind is CallKind.CLICK_TO_CALL and rec.agent_number:
            found.append((AGENT_CALL_END, self.agent_call_end(row)))
        if rec.kind is CallKind.TWO_WAY:
            found.append((TWO_WAY_CALL_END, self.two_way_call_end(row, zone)))
        if rec.kind is CallKind.PBX_OUTBOUND:
            found.append((HANGUP_CAUSE, self.hangup_cause_event(row)))
            found.append((DOCKING_CALL_END, self.docking_call_end(row, zone)))
        return [(kind, orjson.dumps(body)) for kind, body in found]

    def _time(self, moment: datetime | None, zone: str | None) -> str:
        """`yyyy-MM-dd HH:mm:ss` in the company's zone; "" for what did not happen."""
        return self._times(moment, zone) or ""

    def _recording(self, row: StoredCallRecord) -> str:
        rec = row.record
        if not rec.recordfilename or row.recording_purged_at is not None:
            return ""
        return self._link(rec.companycode, rec.recordfilename)

    def agent_call_end(self, row: StoredCallRecord) -> dict[str, Any]:
        """M7.2: times in epoch ms, `duration` the talk in ms, `ringTime` the customer's
        ringing."""
        rec = row.record
        return {
            "event": AGENT_CALL_END,
            "callId": rec.uuid,
            "agentNumber": rec.agent_number,
            "agentName": rec.agent_name,
            "groupName": rec.group_name,
            "callingNumber": rec.disnumber,
            "calledNumber": rec.destnumber,
            "beginTime": epoch_ms(rec.starttime),
            "ringTime": epoch_ms(rec.second_ringing_at),
            "startTime": epoch_ms(rec.answertime),
            "stopTime": epoch_ms(rec.endtime),
            "duration": talk_ms(rec),
            "userData": rec.user_data,
            "recordUrl": self._recording(row),
            **hangup_cause(rec),
            "hangupDirection": _AGENT_CALL_DIRECTIONS[rec.ended_by],
        }

    def two_way_call_end(self, row: StoredCallRecord, zone: str | None) -> dict[str, Any]:
        """M11.2: the legs' times as `yyyy-MM-dd HH:mm:ss` in the company's zone ("" for
        what did not happen), `duration` the talk in ms."""
        rec = row.record

        def time(moment: datetime | None) -> str:
            return self._time(moment, zone)

        b_called = rec.second_called_at is not None
        return {
            "event": TWO_WAY_CALL_END,
            "callId": rec.uuid,
            "type": rec.label or "default",
            "displayCaller": rec.disnumber,
            "telA": rec.first_number,
            "aCallTime": time(rec.starttime),
            "aRingingTime": time(rec.first_ringing_at),
            "aAnswerTime": time(rec.first_answered_at),
            "aHangupTime": time(rec.endtime),
            "telB": rec.destnumber,
            "bCallTime": time(rec.second_called_at),
            "bRingingTime": time(rec.second_ringing_at),
            "bAnswerTime": time(rec.answertime),
            "bHangupTime": time(rec.endtime) if b_called else "",
            **hangup_cause(rec),
            "duration": talk_ms(rec),
            "hangupDirection": _TWO_WAY_DIRECTIONS[rec.ended_by],
            "recordPath": self._recording(row),
            "userData": rec.user_data,
        }

    def hangup_cause_event(self, row: StoredCallRecord) -> dict[str, Any]:
        """M14.1: why a PBX's call ended, the times in epoch ms (`ringingTime` 0 when the
        number never rang)."""
        rec = row.record
        return {
            "event": HANGUP_CAUSE,
            "callId": rec.uuid,
            "caller": rec.first_number,
            "called": rec.destnumber,
            "callTime": epoch_ms(rec.starttime),
            "ringingTime": epoch_ms(rec.second_ringing_at),
            "hangupTime": epoch_ms(rec.endtime),
            **hangup_cause(rec),
            "userData": rec.user_data,
        }

    def docking_call_end(self, row: StoredCallRecord, zone: str | None) -> dict[str, Any]:
        """M14.2: a PBX's call's record, times `yyyy-MM-dd HH:mm:ss` ("" for what did not
        happen); the start both as the table's `callTime` and the example's `startTime`."""
        rec = row.record
        started = self._time(rec.starttime, zone)
        return {
            "event": DOCKING_CALL_END,
            "callId": rec.uuid,
            "caller": rec.first_number,
            "displayCaller": rec.disnumber,
            "called": rec.destnumber,
            "callTime": started,
            "startTime": started,
            "ringingTime": self._time(rec.second_ringing_at, zone),
            "answerTime": self._time(rec.answertime, zone),
            "hangupTime": self._time(rec.endtime, zone),
            "duration": talk_ms(rec),
            **hangup_cause(rec),
            "recordUrl": self._recording(row),
        }
