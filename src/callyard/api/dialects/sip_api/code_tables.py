"""The code tables of the App.Sip_* documentation (seeds 001, 002), each defined once.
The dialect maps callyard's own values onto them (codes.py, call_codes.py)."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from callyard.api.message_codes import MessageCode


class Ret(MessageCode):
    """`ret` of the App.Sip_* envelope: interface exceptions (seed 001)."""

    OK = 200, ""
    ILLEGAL_REQUEST = 400, "Illegal request"
    SERVER_ERROR = 500, "Server Error"
    TOKEN_INVALID = 600, "The token is invalid, please log in again to verify"
    APPID_NOT_AUTHORIZED = 601, "appid is not authorized"
    APPID_EXPIRED = 602, "appid authorization has expired"
    MODULE_NOT_LICENSED = 603, "Module not licensed"
    IP_NOT_AUTHORIZED = 604, "IP is not authorized"


class Code(MessageCode):
    """`errors.code` and status codes of the App.Sip_* API (seed 001)."""

    SERVER_CONNECTION_FAILED = 1001, "Server connection failed"
    ABNORMAL_OPERATION = 1002, "Abnormal operation"
    OPERATION_FAILED = 1003, "operation failed"
    EXTENSION_EXCEPTION = 1010, "Extension exception"
    EXTENSION_ILLEGAL = 1011, "illegal extension"
    EXTENSION_NOT_FOUND = 1012, "extension does not exist"
    EXTENSION_DISABLED = 1013, "extension disabled"
    EXTENSION_NOT_REGISTERED = 1014, "extension not registered"
    EXTENSION_NOT_IN_CALL = 1015, "The extension is not in a call"
    EXTENSION_ENABLED = 1016, "extension enabled"
    EXTENSION_REGISTERED = 1017, "extension is registered"
    NUMBER_ENABLED = 1018, "Number is enabled"
    NUMBER_DISABLED = 1019, "number disabled"
    NUMBER_NOT_FOUND = 1020, "number does not exist"
    NUMBER_ILLEGAL = 1021, "illegal number"
    TASK_NOT_FOUND = 1024, "task does not exist"
    TASK_NOT_STARTED = 1025, "has not started"
    TASK_IN_PROGRESS = 1026, "in progress"
    TASK_PAUSED = 1027, "pause"
    TASK_OVER = 1028, "over"
    CALL_IDLE = 1201, "idle"
    CALL_RINGING = 1202, "ringing"
    CALL_OFF_HOOK = 1203, "off-hook"
    CALL_CALLING = 1204, "calling"
    CALL_USER_REJECTS = 1205, "User rejects"
    QUEUE_EXCEPTION = 1210, "Queue exception"
    QUEUE_ILLEGAL = 1211, "illegal queue"
    QUEUE_NOT_ANSWERED = 1212, "did not answer"
    QUEUE_WAITING = 1213, "Waiting"
    QUEUE_RECEIVING = 1214, "receiving"
    QUEUE_ANSWERED = 1215, "answered"
    QUEUE_REJECT = 1216, "Reject"
    QUEUE_PAUSE = 1217, "pause"
    QUEUE_CHECKED_IN = 1218, "checked in"


class TaskNumberStatus(MessageCode):
    """`status` of a predictive task's number in TaskInfo (seed 002)."""

    NOT_CALLED = 1035, "not called"
    CALLED = 1036, "called"


class AnswerType(StrEnum):
    """`answertype` of a predictive task's number in TaskInfo (seed 002): `caller` the
    agent side did not pick up (abandoned), `callee` the customer did not answer."""

    CALLER = "caller"
    CALLEE = "callee"
    CONNECTED = "connected"


class HangupCode(MessageCode):
    """Call-state codes: hangup causes and hangup direction (seed 001)."""

    NORMAL = 10001, "hang up normally"
    CANCEL = 10002, "call cancel"
    REFUSED = 10003, "refuse to answer"
    OUTBOUND_LINE_FAILURE = 10004, "Outbound channel line failure"
    USER_TIMED_OUT = 10005, "User timed out"
    USER_BUSY = 10006, "User is busy"
    SERVER_HANGUP = 10007, "Server Hangup"
    EXTENSION_NOT_REGISTERED = 10008, "Extension Not Registered"
    DESTINATION_UNREACHABLE = 10009, "Destination Unreachable"
    TIMER_TIMEOUT = 10011, "Timer Timeout"
    INBOUND_CALLBACK_ERROR = 10012, "Inbound Callback Interface Error"
    EXTENSION_DOES_NOT_EXIST = 10013, "Extension Does Not Exist"
    NOT_FOUND = 10014, "Not Found"
    REQUEST_TIMEOUT = 10015, "Request Timeout"
    NO_ANSWER = 10016, "No Answer"
    CALL_INVALID = 10017, "Call Invalid"
    ORIGIN_UNKNOWN = 10019, "Origin Unknown"
    OTHER_REASON = 10020, "Other Reason"
    BAD_REQUEST = 10024, "Bad Request"
    CALL_FORBIDDEN = 10025, "Call Forbidden"
    NUMBER_CHANGED = 10027, "Number Changed"
    CALL_INTERCEPTED = 10028, "Call Intercepted"
    UNKNOWN = 10031, "Unknown"
    CALLER_HANGUP = 10040, "caller hang up"
    CALLEE_HANGUP = 10041, "Called hang up"


class GroupStatus(MessageCode):
    """Extension-group status in GetExtgroupInfo.

    Seed 001's table has no group codes; its GetExtgroupInfo example shows 1042 for a
    working group. 1043 for a disabled one is callyard's choice (docs/compat.md).
    """

    ENABLED = 1042, "extension group enabled"
    DISABLED = 1043, "extension group disabled"


class CallMethod(IntEnum):
    """Call method of call-state and call-record callbacks (seed 001)."""

    UNLIMITED = 0
    EXTENSION_TO_EXTENSION = 1
    EXTENSION_DIRECT_DIAL = 2
    API_CALL = 3
    API_DOUBLE_CALL = 4
    PREDICTIVE = 5
    IVR_GROUP_CALL = 6


class CallType(StrEnum):
    """`type` of a call record. The seed's example shows only `callout`; the others are
    callyard's (docs/compat.md)."""

    CALLOUT = "callout"
    CALLIN = "callin"
    LOCAL = "local"
