"""The vcall API's call-center cause table (seed 003, catalog §1.9(a)): the code and name
pushed as `hangupGcode` / `hangupGname` (and `After.cause`), and the cause callyard
reports for each way a call or leg ends.

Codes are 1000 + the Q.850 cause for ISDN causes, 1000 + a softswitch cause number
for the switch's own causes (1487 cancelled, 16xx), 21xx for carrier results (busy or
unanswered after ringing, line busy or faulty, number status), and vendor codes above.

Code 0 is named `NORMAL_CLEARING`, "normal hang-up": the seed prints 0 as `SUCCESS` and
lists `NORMAL_CLEARING` with the normal-hang-up phrase but no legible code, and its task
logs report a normal completion as `hangupGcode` 0 with that phrase. One code has one
name; the seed's second names are kept in `OTHER_NAMES`. Pairings the catalog marks
uncertain are kept as its best reading: 1004 NO_ROUTE, 1016 CAUSE480, 1129 NO_SUCH_FS,
2002-2005, 3000-3005, 3100, 8888. Names without a code are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from callyard.domain.hangups import EndReason, q850_cause


@dataclass(frozen=True)
class Cause:
    """A cause of the table: the `hangupGcode` / `hangupGname` pair and its gloss."""

    code: int
    name: str
    description: str


CAUSES: tuple[Cause, ...] = (
    Cause(0, "NORMAL_CLEARING", "normal hang-up"),
    Cause(901, "SESSION_TIME_OUT", "session timed out"),
    Cause(902, "ORIGINATE_TIME_OUT", "placing the call timed out"),
    Cause(1001, "UNALLOCATED_NUMBER", "unallocated number"),
    Cause(1002, "NO_ROUTE_TRANSIT_NET", "no route to the transit network"),
    Cause(1003, "NO_ROUTE_DESTINATION", "no route to the destination"),
    Cause(1004, "NO_ROUTE", "no route"),
    Cause(1006, "CHANNEL_UNACCEPTABLE", "channel unacceptable"),
    Cause(1007, "CALL_AWARDED_DELIVERED", "call awarded on an established channel"),
    Cause(1016, "CAUSE480", "temporarily unavailable"),
    Cause(1017, "USER_BUSY", "user busy"),
    Cause(1018, "NO_USER_RESPONSE", "no user responding"),
    Cause(1019, "NO_ANSWER", "alerted, no answer"),
    Cause(1020, "SUBSCRIBER_ABSENT", "subscriber absent"),
    Cause(1021, "CALL_REJECTED", "call rejected"),
    Cause(1022, "NUMBER_CHANGED", "number changed"),
    Cause(1023, "REDIRECTION_TO_NEW_DESTINATION", "redirected to a new destination"),
    Cause(1025, "EXCHANGE_ROUTING_ERROR", "exchange routing error"),
    Cause(1027, "DESTINATION_OUT_OF_ORDER", "destination out of order"),
    Cause(1028, "INVALID_NUMBER_FORMAT", "invalid number format"),
    Cause(1029, "FACILITY_REJECTED", "facility rejected"),
    Cause(1030, "RESPONSE_TO_STATUS_ENQUIRY", "response to a status enquiry"),
    Cause(1031, "NORMAL_UNSPECIFIED", "normal, unspecified"),
    Cause(1034, "NORMAL_CIRCUIT_CONGESTION", "no circuit available"),
    Cause(1038, "NETWORK_OUT_OF_ORDER", "network out of order"),
    Cause(1041, "NORMAL_TEMPORARY_FAILURE", "temporary failure"),
    Cause(1042, "SWITCH_CONGESTION", "switching equipment congestion"),
    Cause(1043, "ACCESS_INFO_DISCARDED", "access information discarded"),
    Cause(1044, "REQUESTED_CHAN_UNAVAIL", "requested channel unavailable"),
    Cause(1045, "PRE_EMPTED", "pre-empted"),
    Cause(1050, "FACILITY_NOT_SUBSCRIBED", "facility not subscribed"),
    Cause(1052, "OUTGOING_CALL_BARRED", "outgoing calls barred"),
    Cause(1054, "INCOMING_CALL_BARRED", "incoming calls barred"),
    Cause(1057, "BEARERCAPABILITY_NOTAUTH", "bearer capability not authorized"),
    Cause(1058, "BEARERCAPABILITY_NOTAVAIL", "bearer capability not available"),
    Cause(1063, "SERVICE_UNAVAILABLE", "service or option unavailable"),
    Cause(1065, "BEARERCAPABILITY_NOTIMPL", "bearer capability not implemented"),
    Cause(1066, "USER_NOT_REGISTERED", "user not registered"),
    Cause(1067, "CHAN_NOT_IMPLEMENTED", "channel type not implemented"),
    Cause(1069, "FACILITY_NOT_IMPLEMENTED", "facility not implemented"),
    Cause(1079, "SERVICE_NOT_IMPLEMENTED", "service or option not implemented"),
    Cause(1081, "INVALID_CALL_REFERENCE", "invalid call reference"),
    Cause(1088, "INCOMPATIBLE_DESTINATION", "incompatible destination"),
    Cause(1095, "INVALID_MSG_UNSPECIFIED", "invalid message, unspecified"),
    Cause(1096, "MANDATORY_IE_MISSING", "mandatory information element missing"),
    Cause(1097, "MESSAGE_TYPE_NONEXIST", "message type nonexistent"),
    Cause(1098, "WRONG_MESSAGE", "message incompatible or not implemented"),
    Cause(1099, "IE_NONEXIST", "information element nonexistent"),
    Cause(1100, "INVALID_IE_CONTENTS", "invalid information element contents"),
    Cause(1101, "WRONG_CALL_STATE", "message not compatible with the call state"),
    Cause(1102, "RECOVERY_ON_TIMER_EXPIRE", "recovery on timer expiry"),
    Cause(1103, "MANDATORY_IE_LENGTH_ERROR", "mandatory information element length error"),
    Cause(1111, "PROTOCOL_ERROR", "protocol error"),
    Cause(1127, "INTERWORKING", "interworking, unspecified"),
    Cause(1128, "NO_CALLNUM", "no calling number available"),
    Cause(1129, "NO_SUCH_FS", "no such switch"),
    Cause(1401, "FILE NOT FOUND", "audio file not found"),
    Cause(1402, "PLAYBACK ERROR", "playback failed"),
    Cause(1487, "ORIGINATOR_CANCEL", "cancelled by the caller"),
    Cause(1500, "CRASH", "the switch crashed"),
    Cause(1501, "SYSTEM_SHUTDOWN", "system shut down"),
    Cause(1502, "LOSE_RACE", "answered elsewhere first"),
    Cause(1503, "MANAGER_REQUEST", "ended by a management request"),
    Cause(1600, "BLIND_TRANSFER", "blind transfer"),
    Cause(1601, "ATTENDED_TRANSFER", "attended transfer"),
    Cause(1602, "ALLOTTED_TIMEOUT", "allotted time ran out"),
    Cause(1603, "USER_CHALLENGE", "authentication challenge"),
    Cause(1604, "MEDIA_TIMEOUT", "no media in time"),
    Cause(1605, "PICKED_OFF", "picked up by another phone"),
    Cause(1607, "PROGRESS_TIMEOUT", "no call progress in time"),
    Cause(1608, "INVALID_GATEWAY", "invalid gateway"),
    Cause(1609, "GATEWAY_DOWN", "gateway down"),
    Cause(1610, "INVALID_URL", "invalid URL"),
    Cause(1611, "INVALID_PROFILE", "invalid profile"),
    Cause(1612, "NO_PICKUP", "not picked up"),
    Cause(1613, "SRTP_READ_ERROR", "SRTP read error"),
    Cause(1614, "NO_SIPGATEWAY", "no SIP gateway"),
    Cause(1615, "INVALID_UUID_ERROR", "invalid call id"),
    Cause(2002, "EXECUTE_SERVICE_OFFLINE", "executing service offline"),
    Cause(2003, "RS_FLOW_TIMEOUT", "call flow timed out"),
    Cause(2004, "RS_FLOW_BRIDGE_FAILURE", "call flow failed to bridge"),
    Cause(2005, "RS_FLOW_RESPONSE_TIMEOUT", "call flow response timed out"),
    Cause(2101, "RINGING_BUSY", "rang, then busy or rejected"),
    Cause(2102, "RINGING_NOANSWER", "rang, no answer"),
    Cause(2103, "LINE_BUSY", "line busy"),
    Cause(2104, "LINE_FAULT", "line fault"),
    Cause(2105, "STATUS_NOTINAREA", "out of the service area"),
    Cause(2106, "STATUS_PAUSE", "service suspended"),
    Cause(2107, "STATUS_STOP", "service stopped"),
    Cause(2108, "STATUS_UNABLECONNECT", "cannot connect"),
    Cause(2109, "STATUS_SHUTDOWN", "phone switched off"),
    Cause(2110, "STATUS_STOPANDKEEP", "suspended, number kept"),
    Cause(2111, "STATUS_LIMITED", "restricted"),
    Cause(2112, "STATUS_WAITING", "call waiting"),
    Cause(2113, "STATUS_TRANSFER", "call forwarding"),
    Cause(2114, "NUMBER_EMPTY", "vacant number"),
    Cause(2115, "NUMBER_WRONG", "wrong number"),
    Cause(2116, "NUMBER_INVALID", "invalid number"),
    Cause(2117, "NUMBER_FOREIGN", "foreign number"),
    Cause(2118, "NUMBER_LOCAL", "local number"),
    Cause(3000, "No such channel!", "no such channel"),
    Cause(3001, "NO_PNS", "no privacy number available"),
    Cause(3002, "NO_PNS_ERROR", "privacy number lookup failed"),
    Cause(3003, "DISPLAY_CALLER_EMPTY", "no caller number to display"),
    Cause(3004, "TEL_X_IS_NULL", "no X number"),
    Cause(3005, "NO_CALL_LOG", "no call log"),
    Cause(3100, "INBOUND_BRIDGE_ERROR", "inbound call failed to bridge"),
    Cause(4001, "GLOBAL_BLACKLIST", "number on the global blacklist"),
    Cause(4002, "GROUP_BLACKLIST", "number on the group's blacklist"),
    Cause(8888, "NO_REASON", "no reason given"),
)
CAUSE_BY_CODE: dict[int, Cause] = {cause.code: cause for cause in CAUSES}

# The seed's second names of a code (and its printed name of 0); read, never sent.
OTHER_NAMES: dict[str, int] = {"SUCCESS": 0, "BUSY": 1017, "UNKNOWN": 1063, "CANCEL": 1487}

NORMAL_CLEARING = CAUSE_BY_CODE[0]
_UNSPECIFIED = 1031
_Q850_NORMAL = 16  # Q.850's normal clearing is code 0 here, not 1016

# Codes of SIP final responses, whether or not the far end rang.
_CODE_BY_STATUS: dict[int, int] = {
    404: 2114,
    604: 2114,
    484: 2115,
    410: 1022,
    487: 1487,
    502: 2104,
    503: 2104,
}
# Codes after ringing and before it; None leaves it to the Q.850 cause.
_RINGING_CODE_BY_STATUS: dict[int, tuple[int, int | None]] = {
    486: (2101, 2103),
    600: (2101, 2103),
    603: (2101, None),
    408: (2102, None),
    480: (2102, None),
}

# Codes of calls no SIP failure ended, whether or not the far end rang.
_CODE_BY_REASON: dict[EndReason, int] = {
    EndReason.LINE_FAILURE: 2104,
    EndReason.NOT_FOUND: 2114,
    EndReason.INVALID: 2115,
    EndReason.NUMBER_CHANGED: 1022,
    EndReason.CANCELLED: 1487,
}
# Q.850's "no answer" (19) presumes the phone was alerted; unalerted is 18.
_RINGING_CODE_BY_REASON: dict[EndReason, tuple[int, int | None]] = {
    EndReason.BUSY: (2101, 2103),
    EndReason.DECLINED: (2101, None),
    EndReason.NO_ANSWER: (2102, 1018),
    EndReason.TIMED_OUT: (2102, 1018),
    EndReason.REQUEST_TIMEOUT: (2102, None),
}


def cause_of(reason: EndReason, sip_status: int | None, rang: bool) -> Cause:
    """The cause of a call or leg that ended for `reason` after the SIP final response
    `sip_status` (None when no SIP failure ended it), `rang` if the far end was ringing.

    An answered call hung up, or a call callyard hung up itself, ends normally (0). A
    missing extension registration is 1066 whatever the response. Otherwise the SIP
    response, when there is one, decides, else the reason: the carrier result where one
    applies, else 1000 + the Q.850 cause, else 1031.
    """
    if reason is EndReason.NORMAL or (reason is EndReason.SERVER_HANGUP and sip_status is None):
        return NORMAL_CLEARING
    if reason is EndReason.NOT_REGISTERED:
        return CAUSE_BY_CODE[1066]
    code: int | None
    if sip_status is not None:
        code = _CODE_BY_STATUS.get(sip_status)
        if code is None and sip_status in _RINGING_CODE_BY_STATUS:
            after, before = _RINGING_CODE_BY_STATUS[sip_status]
            code = after if rang else before
    else:
        code = _CODE_BY_REASON.get(reason)
        if code is None and reason in _RINGING_CODE_BY_REASON:
            after, before = _RINGING_CODE_BY_REASON[reason]
            code = after if rang else before
    if code is None:
        q850 = q850_cause(reason, sip_status)
        code = 0 if q850 == _Q850_NORMAL else 1000 + q850
    return CAUSE_BY_CODE.get(code, CAUSE_BY_CODE[_UNSPECIFIED])
