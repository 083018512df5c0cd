"""The request fields of `POST /api/voiceCode` and the `{code, msg, data}` reply."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from callyard.api.dialects.voice_code.code_tables import VoiceCodeResult
from callyard.api.forms import Form
from callyard.domain.languages import Language
from callyard.errors import InvalidInput
from callyard.services.otp import MAX_PHONE_CHARS, check_code

Json = dict[str, Any]


def _code(value: str) -> str:
    try:
        return check_code(value)
    except InvalidInput as exc:
        raise ValueError(exc.reason) from exc


class VoiceCodeForm(Form):
    """The seed's five fields, all required; blank counts as missing."""

    appid: Annotated[str, Field(min_length=1, max_length=64)]
    accesskey: Annotated[str, Field(min_length=1, max_length=128)]
    code: Annotated[str, AfterValidator(_code)]
    phone: Annotated[str, Field(min_length=1, max_length=MAX_PHONE_CHARS)]
    language: Language = Field(alias="nationCode")


def success(customuuid: str) -> Json:
    """`code` 1 with the request's `customuuid`."""
    result = VoiceCodeResult.SUCCESS
    return {"code": result.value, "msg": result.message, "data": {"customuuid": customuuid}}


def failure(result: VoiceCodeResult, detail: str = "") -> Json:
    """An error: `msg` is the code's text, then what went wrong; `data` is `{}`."""
    msg = f"{result.message}: {detail}" if detail else result.message
    return {"code": result.value, "msg": msg, "data": {}}
