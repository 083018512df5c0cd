"""How a call ended: the reason, who ended it, the SIP status and the Q.850 cause."""

from __future__ import annotations

from enum import StrEnum


class EndReason(StrEnum):
    """Why a call, or one of its legs, ended."""

    NORMAL = "normal"  # answered, then hung up
    CANCELLED = "cancelled"  # the calling side gave up before an answer
    DECLINED = "declined"
    LINE_FAILURE = "line_failure"  # the trunk failed or answered nothing: never rang
    TIMED_OUT = "timed_out"  # the phone rung first did not answer in time
    BUSY = "busy"
    SERVER_HANGUP = "server_hangup"  # callyard ended it (a voice message spoken, a lost leg)
    NOT_REGISTERED = "not_registered"  # the extension has no phone registered
    UNREACHABLE = "unreachable"  # the far end failed (5xx)
    TIMER_EXPIRED = "timer_expired"
    CALLBACK_FAILED = "callback_failed"
    NO_SUCH_EXTENSION = "no_such_extension"
    NOT_FOUND = "not_found"  # no such number
    REQUEST_TIMEOUT = "request_timeout"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"  # a number or an offer that cannot be called
    ORIGIN_UNKNOWN = "origin_unknown"
    OTHER = "other"
    BAD_REQUEST = "bad_request"
    FORBIDDEN = "forbidden"
    NUMBER_CHANGED = "number_changed"
    INTERCEPTED = "intercepted"
    UNKNOWN = "unknown"


class Party(StrEnum):
    """The side of a call that ended it: the party called first (a company's extension,
    or whoever called in), or the other one."""

    CALLER = "caller"
    CALLEE = "callee"


# A SIP final response's reason (RFC 3261 status classes, as carriers use them).
_REASON_BY_STATUS: dict[int, EndReason] = {
    400: EndReason.BAD_REQUEST,
    401: EndReason.FORBIDDEN,
    403: EndReason.FORBIDDEN,
    404: EndReason.NOT_FOUND,
    407: EndReason.FORBIDDEN,
    408: EndReason.REQUEST_TIMEOUT,
    410: EndReason.NUMBER_CHANGED,
    480: EndReason.NO_ANSWER,
    484: EndReason.INVALID,
    486: EndReason.BUSY,
    487: EndReason.CANCELLED,
    488: EndReason.INVALID,
    500: EndReason.UNREACHABLE,
    502: EndReason.LINE_FAILURE,
    503: EndReason.LINE_FAILURE,
    504: EndReason.UNREACHABLE,
    600: EndReason.BUSY,
    603: EndReason.DECLINED,
    604: EndReason.NOT_FOUND,
}

# Q.850 causes of SIP statuses (RFC 3398, section 8.2.6.1; 488 as commonly mapped).
_Q850_BY_STATUS: dict[int, int] = {
    400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21, 408: 102,
    410: 22, 413: 127, 414: 127, 415: 79, 416: 127, 420: 127, 421: 127, 423: 127,
    480: 18, 481: 41, 482: 25, 483: 25, 484: 28, 485: 1, 486: 17, 487: 16, 488: 65,
    500: 41, 501: 79, 502: 38, 503: 41, 504: 102, 505: 127, 513: 127,
    600: 17, 603: 21, 604: 1, 606: 58,
}  # fmt: skip

# Q.850 causes of calls that ended without a SIP failure (hung up, timed out, refused
# by callyard itself).
_Q850_BY_REASON: dict[EndReason, int] = {
    EndReason.NORMAL: 16,
    EndReason.CANCELLED: 16,
    EndReason.DECLINED: 21,
    EndReason.LINE_FAILURE: 38,
    EndReason.TIMED_OUT: 19,
    EndReason.BUSY: 17,
    EndReason.SERVER_HANGUP: 16,
    EndReason.NOT_REGISTERED: 20,
    EndReason.UNREACHABLE: 27,
    EndReason.TIMER_EXPIRED: 102,
    EndReason.CALLBACK_FAILED: 41,
    EndReason.NO_SUCH_EXTENSION: 1,
    EndReason.NOT_FOUND: 1,
    EndReason.REQUEST_TIMEOUT: 102,
    EndReason.NO_ANSWER: 19,
    EndReason.INVALID: 28,
    EndReason.ORIGIN_UNKNOWN: 31,
    EndReason.OTHER: 31,
    EndReason.BAD_REQUEST: 41,
    EndReason.FORBIDDEN: 21,
    EndReason.NUMBER_CHANGED: 22,
    EndReason.INTERCEPTED: 21,
    EndReason.UNKNOWN: 127,
}


def reason_of_failure(status: int) -> EndReason:
    """Why a call attempt that failed with this SIP final response ended."""
    if status in _REASON_BY_STATUS:
        return _REASON_BY_STATUS[status]
    if 400 <= status < 500:
        return EndReason.INVALID
    if 500 <= status < 600:
        return EndReason.UNREACHABLE
    return EndReason.OTHER


def q850_cause(reason: EndReason, sip_status: int | None = None) -> int:
    """The ISDN (Q.850) cause of a call that ended for `reason`, after the SIP final
    response `sip_status` if one ended it."""
    if sip_status is not None and sip_status in _Q850_BY_STATUS:
        return _Q850_BY_STATUS[sip_status]
    return _Q850_BY_REASON[reason]
