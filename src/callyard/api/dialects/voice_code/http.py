"""`POST /api/voiceCode`: read the body, authenticate, send the code, shape the reply."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from callyard.api.body_limits import BodyRefused
from callyard.api.dialects.voice_code.code_tables import VoiceCodeResult
from callyard.api.dialects.voice_code.codes import DENIAL_TEXTS, DENIALS, REFUSALS
from callyard.api.dialects.voice_code.schemas import VoiceCodeForm, failure, success
from callyard.api.forms import describe, read_form, read_json_object
from callyard.clock import Clock
from callyard.domain.refusals import Denial
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.metrics import Metrics
from callyard.services.auth import AuthService
from callyard.services.companies import Capability
from callyard.services.otp import VoiceCodeRefused, VoiceCodeService

log = logging.getLogger("callyard.api.voice_code")

DIALECT = "voice_code"
SERVICE = "voiceCode"
PATH = "/api/voiceCode"
_JSON = "application/json"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
AUTHENTICATION_FAILED = "authentication failed"


async def read_fields(request: Request) -> dict[str, Any]:
    """The body's fields: multipart or urlencoded form-data, or a JSON object (numbers
    become their text; null counts as absent)."""
    content_type = request.headers.get("content-type", "").strip().lower()
    if content_type.startswith(_FORMS):
        return await read_form(request)
    if not content_type.startswith(_JSON):
        raise InvalidInput(
            "Content-Type",
            f"{content_type or 'none'} is not supported; send {', '.join(_FORMS)} or {_JSON}",
        )
    data = await read_json_object(request)
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = str(value)
        elif value is not None:
            fields[name] = value  # strings; anything else fails validation of its field
    return fields


def _parameter_error(problem: InvalidInput) -> dict[str, Any]:
    if problem.reason == "missing parameter":
        detail = f"missing parameter {problem.field}"
    elif problem.field == "phone":
        detail = "invalid phone number"
    else:
        detail = f"invalid parameter {problem.field}: {problem.reason}"
    return failure(VoiceCodeResult.PARAMETER_ERROR, detail)


class VoiceCodeApi:
    """Answers voice verification-code requests with the seed's envelope."""

    def __init__(
        self, auth: AuthService, voice_codes: VoiceCodeService, clock: Clock, metrics: Metrics
    ) -> None:
        self._auth = auth
        self._voice_codes = voice_codes
        self._clock = clock
        self._metrics = metrics

    async def handle(self, fields: dict[str, Any], client_ip: str) -> dict[str, Any]:
        """The reply to one request's fields."""
        try:
            form = VoiceCodeForm.model_validate(fields)
        except ValidationError as exc:
            return _parameter_error(describe(exc))
        try:
            caller = await self._auth.authenticate(
                form.appid, form.accesskey, client_ip, Capability.VOICE_CODES
            )
        except AccessDenied as exc:
            if exc.denial is Denial.CREDENTIAL_UNKNOWN:
                return failure(DENIALS[exc.denial], AUTHENTICATION_FAILED)
            return failure(DENIALS[exc.denial], exc.detail or DENIAL_TEXTS[exc.denial])
        except BusinessError as exc:  # a wrong accesskey, or too many of them
            return failure(REFUSALS[exc.refusal], AUTHENTICATION_FAILED)
        try:
            customuuid = await self._voice_codes.send(caller, form.code, form.phone, form.language)
        except InvalidInput as exc:
            return _parameter_error(exc)
        except VoiceCodeRefused as exc:
            return failure(REFUSALS[exc.refusal], exc.detail)
        return success(customuuid)

    async def respond(self, request: Request) -> Response:
        """HTTP 200 with the envelope, whatever happens."""
        started = self._clock.monotonic()
        client_ip = request.client.host if request.client else ""
        try:
            body = await self.handle(await read_fields(request), client_ip)
        except InvalidInput as exc:
            body = _parameter_error(exc)
        except BodyRefused as exc:
            body = failure(VoiceCodeResult.PARAMETER_ERROR, str(exc))
        except ClientDisconnect:
            raise  # nobody is left to answer; the app logs it
        except Exception:
            log.exception("voice code request failed")
            body = failure(VoiceCodeResult.SYSTEM_ERROR)
        self._metrics.api_requests.labels(DIALECT, SERVICE, str(body["code"])).inc()
        self._metrics.api_latency.labels(DIALECT).observe(self._clock.monotonic() - started)
        return Response(orjson.dumps(body), media_type="application/json; charset=utf-8")


def router(api: VoiceCodeApi) -> APIRouter:
    """`POST /api/voiceCode`; a `GET` is told to post."""
    routes = APIRouter(tags=["Voice verification code"])

    @routes.post(
        PATH,
        summary="Call a phone and speak a 4-digit verification code",
        description=(
            "Form-data (multipart or urlencoded) or JSON with `appid`, `accesskey`, `code` "
            "(4 digits), `phone`, `nationCode` (`en`, `id`, `sp`). Answers "
            "`{code, msg, data}` with HTTP 200: code 1 and `data.customuuid` on success."
        ),
        response_class=Response,
    )
    async def voice_code(request: Request) -> Response:
        return await api.respond(request)

    @routes.get(PATH, include_in_schema=False)
    async def voice_code_get() -> Response:
        body = failure(VoiceCodeResult.PARAMETER_ERROR, "use POST with form-data or a JSON object")
        return Response(orjson.dumps(body), media_type="application/json; charset=utf-8")

    return routes
