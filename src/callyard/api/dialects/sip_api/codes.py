"""The App.Sip_* codes of callyard's refusals, denials and line statuses.

One table per callyard word, each total over its enum (tests/test_refusals.py).
"""

from __future__ import annotations

from callyard.api.dialects.sip_api.code_tables import Code, GroupStatus, Ret
from callyard.domain.lines import LineCheck, LinePhase
from callyard.domain.refusals import Denial, Refusal

# `errors.code` of `data.status` 1.
REFUSALS: dict[Refusal, Code] = {
    Refusal.FAILED: Code.OPERATION_FAILED,
    Refusal.SWITCH_DOWN: Code.SERVER_CONNECTION_FAILED,
    Refusal.NO_TRUNK: Code.OPERATION_FAILED,
    Refusal.NO_NUMBER: Code.NUMBER_NOT_FOUND,
    Refusal.CALL_NOT_PLACED: Code.OPERATION_FAILED,
    Refusal.ALREADY_EXISTS: Code.ABNORMAL_OPERATION,
    Refusal.WRONG_CREDENTIALS: Code.OPERATION_FAILED,
    Refusal.TOO_MANY_FAILURES: Code.OPERATION_FAILED,
    Refusal.TOO_MANY_REQUESTS: Code.OPERATION_FAILED,
    Refusal.MESSAGE_UNSPEAKABLE: Code.OPERATION_FAILED,
    Refusal.EXTENSION_NOT_FOUND: Code.EXTENSION_NOT_FOUND,
    Refusal.EXTENSION_FOREIGN: Code.EXTENSION_ILLEGAL,
    Refusal.EXTENSION_DISABLED: Code.EXTENSION_DISABLED,
    Refusal.EXTENSION_NOT_REGISTERED: Code.EXTENSION_NOT_REGISTERED,
    Refusal.EXTENSION_BUSY: Code.CALL_CALLING,
    Refusal.EXTENSION_ASSIGNED: Code.ABNORMAL_OPERATION,
    Refusal.NUMBER_NOT_FOUND: Code.NUMBER_NOT_FOUND,
    Refusal.NUMBER_FOREIGN: Code.NUMBER_ILLEGAL,
    Refusal.NUMBER_DISABLED: Code.NUMBER_DISABLED,
    Refusal.GROUP_NOT_FOUND: Code.QUEUE_ILLEGAL,
    Refusal.GROUP_DISABLED: Code.QUEUE_EXCEPTION,
    Refusal.NOT_CHECKED_IN: Code.QUEUE_EXCEPTION,
    Refusal.ALREADY_CHECKED_IN: Code.QUEUE_CHECKED_IN,
    Refusal.AGENT_NOT_FOUND: Code.EXTENSION_NOT_FOUND,
    Refusal.AGENT_IN_CALL: Code.CALL_CALLING,
    Refusal.AGENT_DISABLED: Code.EXTENSION_DISABLED,
    Refusal.AGENT_UNREACHABLE: Code.EXTENSION_NOT_REGISTERED,
    Refusal.AGENT_SIGNED_OUT: Code.OPERATION_FAILED,
    Refusal.AGENT_WRONG_STATE: Code.ABNORMAL_OPERATION,
    Refusal.AGENT_NO_CALLS: Code.OPERATION_FAILED,
    Refusal.AGENT_NO_CALL: Code.OPERATION_FAILED,
    Refusal.NOT_SUPERVISOR: Code.OPERATION_FAILED,
    Refusal.CALL_NOT_CONTROLLED: Code.OPERATION_FAILED,
    Refusal.NOTHING_PENDING: Code.OPERATION_FAILED,
    Refusal.TARGET_UNAVAILABLE: Code.OPERATION_FAILED,
    Refusal.TASK_NOT_FOUND: Code.TASK_NOT_FOUND,
    Refusal.TASK_NOT_STARTED: Code.TASK_NOT_STARTED,
    Refusal.TASK_RUNNING: Code.TASK_IN_PROGRESS,
    Refusal.TASK_PAUSED: Code.TASK_PAUSED,
    Refusal.TASK_OVER: Code.TASK_OVER,
    Refusal.TASK_EXPIRED: Code.TASK_OVER,
    Refusal.RECORDING_NOT_FOUND: Code.OPERATION_FAILED,
    Refusal.RECORDING_PURGED: Code.OPERATION_FAILED,
    Refusal.RECORDING_UNAVAILABLE: Code.OPERATION_FAILED,
}

# `ret` of an interface exception.
DENIALS: dict[Denial, Ret] = {
    Denial.TOKEN_INVALID: Ret.TOKEN_INVALID,
    Denial.CREDENTIAL_UNKNOWN: Ret.APPID_NOT_AUTHORIZED,
    Denial.EXPIRED: Ret.APPID_EXPIRED,
    Denial.NOT_LICENSED: Ret.MODULE_NOT_LICENSED,
    Denial.ADDRESS_NOT_ALLOWED: Ret.IP_NOT_AUTHORIZED,
}

# GetSipnumberInfo's `status`, GetSipValidStatus's and GetSipRegisterStatus's `code`,
# GetSipCallStatus's `status` of a line in no call.
LINE_CHECKS: dict[LineCheck, Code] = {
    LineCheck.ENABLED: Code.EXTENSION_ENABLED,
    LineCheck.DISABLED: Code.EXTENSION_DISABLED,
    LineCheck.REGISTERED: Code.EXTENSION_REGISTERED,
    LineCheck.NOT_REGISTERED: Code.EXTENSION_NOT_REGISTERED,
    LineCheck.NOT_FOUND: Code.EXTENSION_NOT_FOUND,
    LineCheck.FOREIGN: Code.EXTENSION_ILLEGAL,
}

# GetSipCallStatus's `status` of a registered line.
LINE_PHASES: dict[LinePhase, Code] = {
    LinePhase.IDLE: Code.CALL_IDLE,
    LinePhase.RINGING: Code.CALL_RINGING,
    LinePhase.ANSWERED: Code.CALL_OFF_HOOK,
    LinePhase.TALKING: Code.CALL_CALLING,
}

# GetExtgroupInfo's `status`, by whether the group is enabled.
GROUP_STATUSES: dict[bool, GroupStatus] = {
    True: GroupStatus.ENABLED,
    False: GroupStatus.DISABLED,
}


def line_code(status: LineCheck | LinePhase) -> Code:
    """The code of a line's check or phase."""
    if isinstance(status, LinePhase):
        return LINE_PHASES[status]
    return LINE_CHECKS[status]
