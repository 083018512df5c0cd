"""The result codes of the voice verification-code API (seed 000)."""

from __future__ import annotations

from callyard.api.message_codes import MessageCode


class VoiceCodeResult(MessageCode):
    """`code` of the voice verification-code API (seed 000)."""

    SUCCESS = 1, "successful request"
    SYSTEM_ERROR = 1000, "system error"
    PARAMETER_ERROR = 1001, "Parameter error"
    # callyard's own: the seed lists only 1000 and 1001 (docs/compat.md).
    TOO_MANY_REQUESTS = 1002, "too many requests"
    NOT_AUTHORIZED = 1003, "not authorized"
