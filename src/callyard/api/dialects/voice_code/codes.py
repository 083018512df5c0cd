"""The voiceCode results of callyard's refusals and denials.

Each table is total over its enum (tests/test_refusals.py).
"""

from __future__ import annotations

from callyard.api.dialects.voice_code.code_tables import VoiceCodeResult
from callyard.domain.refusals import Denial, Refusal

# `code` of a request that is refused: a wrong key or too many of them is a parameter
# error (1001), over a limit 1002, anything else (the call cannot be placed) 1000.
REFUSALS: dict[Refusal, VoiceCodeResult] = {
    Refusal.FAILED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.SWITCH_DOWN: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NO_TRUNK: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NO_NUMBER: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.CALL_NOT_PLACED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.ALREADY_EXISTS: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.WRONG_CREDENTIALS: VoiceCodeResult.PARAMETER_ERROR,
    Refusal.TOO_MANY_FAILURES: VoiceCodeResult.PARAMETER_ERROR,
    Refusal.TOO_MANY_REQUESTS: VoiceCodeResult.TOO_MANY_REQUESTS,
    Refusal.MESSAGE_UNSPEAKABLE: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_FOREIGN: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_DISABLED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_NOT_REGISTERED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_BUSY: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.EXTENSION_ASSIGNED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NUMBER_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NUMBER_FOREIGN: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NUMBER_DISABLED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.GROUP_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.GROUP_DISABLED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NOT_CHECKED_IN: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.ALREADY_CHECKED_IN: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_IN_CALL: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_DISABLED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_SIGNED_OUT: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_WRONG_STATE: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_NO_CALLS: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_NO_CALL: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NOT_SUPERVISOR: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.CALL_NOT_CONTROLLED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.NOTHING_PENDING: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TARGET_UNAVAILABLE: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.AGENT_UNREACHABLE: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_NOT_STARTED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_RUNNING: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_PAUSED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_OVER: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.TASK_EXPIRED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.RECORDING_NOT_FOUND: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.RECORDING_PURGED: VoiceCodeResult.SYSTEM_ERROR,
    Refusal.RECORDING_UNAVAILABLE: VoiceCodeResult.SYSTEM_ERROR,
}

# `code` of a request authentication or licensing refused: an unknown appid is a
# parameter error (told apart from a wrong key by nothing), the rest not authorized.
DENIALS: dict[Denial, VoiceCodeResult] = {
    Denial.TOKEN_INVALID: VoiceCodeResult.NOT_AUTHORIZED,
    Denial.CREDENTIAL_UNKNOWN: VoiceCodeResult.PARAMETER_ERROR,
    Denial.EXPIRED: VoiceCodeResult.NOT_AUTHORIZED,
    Denial.NOT_LICENSED: VoiceCodeResult.NOT_AUTHORIZED,
    Denial.ADDRESS_NOT_ALLOWED: VoiceCodeResult.NOT_AUTHORIZED,
}

# What `msg` says after the code's text when a denial comes without details.
DENIAL_TEXTS: dict[Denial, str] = {
    Denial.TOKEN_INVALID: "The token is invalid, please log in again to verify",
    Denial.CREDENTIAL_UNKNOWN: "appid is not authorized",
    Denial.EXPIRED: "appid authorization has expired",
    Denial.NOT_LICENSED: "Module not licensed",
    Denial.ADDRESS_NOT_ALLOWED: "IP is not authorized",
}
