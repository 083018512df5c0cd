"""Why a call ended, as the seeds' 100xx hangup codes."""

from __future__ import annotations

from callyard.codes import HangupCode

_BY_STATUS: dict[int, HangupCode] = {
    400: HangupCode.BAD_REQUEST,
    401: HangupCode.CALL_FORBIDDEN,
    403: HangupCode.CALL_FORBIDDEN,
    404: HangupCode.NOT_FOUND,
    407: HangupCode.CALL_FORBIDDEN,
    408: HangupCode.REQUEST_TIMEOUT,
    410: HangupCode.NUMBER_CHANGED,
    480: HangupCode.NO_ANSWER,
    484: HangupCode.CALL_INVALID,
    486: HangupCode.USER_BUSY,
    487: HangupCode.CANCEL,
    488: HangupCode.CALL_INVALID,
    500: HangupCode.DESTINATION_UNREACHABLE,
    502: HangupCode.OUTBOUND_LINE_FAILURE,
    503: HangupCode.OUTBOUND_LINE_FAILURE,
    504: HangupCode.DESTINATION_UNREACHABLE,
    600: HangupCode.USER_BUSY,
    603: HangupCode.REFUSED,
    604: HangupCode.NOT_FOUND,
}


def cause_of_failure(status: int) -> HangupCode:
    """The hangup code of a call attempt that failed with a SIP final response."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return HangupCode.CALL_INVALID
    if 500 <= status < 600:
        return HangupCode.DESTINATION_UNREACHABLE
    return HangupCode.OTHER_REASON
