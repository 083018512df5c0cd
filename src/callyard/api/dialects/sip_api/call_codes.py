"""The App.Sip_* dialect's codes for calls and tasks (seeds 001, 002): callyard's call
kinds, end reasons, task and number states mapped onto the seed's tables, each total
over callyard's enum."""

from __future__ import annotations

from callyard.api.dialects.sip_api.code_tables import (
    AnswerType,
    CallMethod,
    CallType,
    Code,
    HangupCode,
    TaskNumberStatus,
)
from callyard.domain.calls import CallKind, Direction
from callyard.domain.hangups import EndReason, Party
from callyard.domain.tasks import NumberState, TaskState
from callyard.services.tasks import AttemptOutcome

CALL_METHODS: dict[CallKind, CallMethod] = {
    CallKind.INTERNAL: CallMethod.EXTENSION_TO_EXTENSION,
    CallKind.PHONE_OUTBOUND: CallMethod.EXTENSION_DIRECT_DIAL,
    CallKind.PBX_OUTBOUND: CallMethod.EXTENSION_DIRECT_DIAL,
    CallKind.CLICK_TO_CALL: CallMethod.API_CALL,
    CallKind.TWO_WAY: CallMethod.API_DOUBLE_CALL,
    CallKind.PREDICTIVE: CallMethod.PREDICTIVE,
    CallKind.VOICE_MESSAGE: CallMethod.IVR_GROUP_CALL,
    CallKind.INBOUND_EXTENSION: CallMethod.UNLIMITED,
    CallKind.INBOUND_GROUP: CallMethod.IVR_GROUP_CALL,
}

CALL_TYPES: dict[Direction, CallType] = {
    Direction.OUTBOUND: CallType.CALLOUT,
    Direction.INBOUND: CallType.CALLIN,
    Direction.INTERNAL: CallType.LOCAL,
}

HANGUP_CAUSES: dict[EndReason, HangupCode] = {
    EndReason.NORMAL: HangupCode.NORMAL,
    EndReason.CANCELLED: HangupCode.CANCEL,
    EndReason.DECLINED: HangupCode.REFUSED,
    EndReason.LINE_FAILURE: HangupCode.OUTBOUND_LINE_FAILURE,
    EndReason.TIMED_OUT: HangupCode.USER_TIMED_OUT,
    EndReason.BUSY: HangupCode.USER_BUSY,
    EndReason.SERVER_HANGUP: HangupCode.SERVER_HANGUP,
    EndReason.NOT_REGISTERED: HangupCode.EXTENSION_NOT_REGISTERED,
    EndReason.UNREACHABLE: HangupCode.DESTINATION_UNREACHABLE,
    EndReason.TIMER_EXPIRED: HangupCode.TIMER_TIMEOUT,
    EndReason.CALLBACK_FAILED: HangupCode.INBOUND_CALLBACK_ERROR,
    EndReason.NO_SUCH_EXTENSION: HangupCode.EXTENSION_DOES_NOT_EXIST,
    EndReason.NOT_FOUND: HangupCode.NOT_FOUND,
    EndReason.REQUEST_TIMEOUT: HangupCode.REQUEST_TIMEOUT,
    EndReason.NO_ANSWER: HangupCode.NO_ANSWER,
    EndReason.INVALID: HangupCode.CALL_INVALID,
    EndReason.ORIGIN_UNKNOWN: HangupCode.ORIGIN_UNKNOWN,
    EndReason.OTHER: HangupCode.OTHER_REASON,
    EndReason.BAD_REQUEST: HangupCode.BAD_REQUEST,
    EndReason.FORBIDDEN: HangupCode.CALL_FORBIDDEN,
    EndReason.NUMBER_CHANGED: HangupCode.NUMBER_CHANGED,
    EndReason.INTERCEPTED: HangupCode.CALL_INTERCEPTED,
    EndReason.UNKNOWN: HangupCode.UNKNOWN,
}

HANGUP_DIRECTIONS: dict[Party, HangupCode] = {
    Party.CALLER: HangupCode.CALLER_HANGUP,
    Party.CALLEE: HangupCode.CALLEE_HANGUP,
}

TASK_STATUSES: dict[TaskState, Code] = {
    TaskState.NOT_STARTED: Code.TASK_NOT_STARTED,
    TaskState.RUNNING: Code.TASK_IN_PROGRESS,
    TaskState.PAUSED: Code.TASK_PAUSED,
    TaskState.OVER: Code.TASK_OVER,
}
TASK_STATES: dict[int, TaskState] = {code.value: state for state, code in TASK_STATUSES.items()}

NUMBER_STATUSES: dict[NumberState, TaskNumberStatus] = {
    NumberState.PENDING: TaskNumberStatus.NOT_CALLED,
    NumberState.CALLED: TaskNumberStatus.CALLED,
}
NUMBER_STATES: dict[TaskNumberStatus, NumberState] = {
    status: state for state, status in NUMBER_STATUSES.items()
}

# `answertype`: who did not pick up. The agent side (`caller`) when nobody took an
# answered call, the customer (`callee`) when the call was never answered.
ANSWER_TYPES: dict[AttemptOutcome, AnswerType] = {
    AttemptOutcome.CONNECTED: AnswerType.CONNECTED,
    AttemptOutcome.ABANDONED: AnswerType.CALLER,
    AttemptOutcome.BUSY: AnswerType.CALLEE,
    AttemptOutcome.NO_ANSWER: AnswerType.CALLEE,
    AttemptOutcome.LINE_FAILURE: AnswerType.CALLEE,
    AttemptOutcome.FAILED: AnswerType.CALLEE,
}
OUTCOMES: dict[AnswerType, frozenset[AttemptOutcome]] = {
    answer: frozenset(o for o, a in ANSWER_TYPES.items() if a is answer) for answer in AnswerType
}
