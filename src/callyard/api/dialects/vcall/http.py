"""The vcall API's routes: read the JSON body, call services, shape the envelope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from callyard.api.body_limits import BodyRefused
from callyard.api.dialects.vcall.envelope import INTEGER, NO_AUTH, Codes, body, reply
from callyard.api.dialects.vcall.schemas import Token, TokenRequest
from callyard.api.forms import describe, read_json_object
from callyard.clock import Clock
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.metrics import Metrics
from callyard.services.auth import AuthService
from callyard.services.credentials import CredentialKind

log = logging.getLogger("callyard.api.vcall")

DIALECT = "vcall"
_JSON = "application/json"


async def read_json(request: Request) -> dict[str, Any]:
    """The body's JSON object (InvalidInput when it is none)."""
    content_type = request.headers.get("content-type", "").strip().lower()
    if not content_type.startswith(_JSON):
        raise InvalidInput("Content-Type", f"{content_type or 'none'} is not {_JSON}")
    return await read_json_object(request)


def _invalid(codes: Codes, problem: InvalidInput) -> dict[str, Any]:
    return body(codes.failure, f"{problem.field}: {problem.reason}")


class VcallApi:
    """Answers the vcall API's requests with its envelopes."""

    def __init__(self, auth: AuthService, clock: Clock, metrics: Metrics) -> None:
        self._auth = auth
        self._clock = clock
        self._metrics = metrics

    async def token(self, request: Request) -> Response:
        """M1.1: a token for the company's accessKeyId and accessKeySecret."""
        return await self._answer(request, "token", INTEGER, self._token)

    async def _token(self, request: Request) -> dict[str, Any]:
        try:
            form = TokenRequest.model_validate(await read_json(request))
        except ValidationError as exc:
            return _invalid(INTEGER, describe(exc))
        client_ip = request.client.host if request.client else ""
        try:
            session = await self._auth.credential_token(
                CredentialKind.VCALL, form.accessKeyId, form.accessKeySecret, client_ip
            )
        except BusinessError as exc:  # a wrong key or secret, or too many of them
            return body(INTEGER.failure, exc.desc)
        except AccessDenied as exc:  # the company's authorization lapsed, its addresses
            return body(INTEGER.no_auth, f"{NO_AUTH}: {exc.detail or exc}")
        expires = int(session.expires_at.timestamp() * 1000)
        token = Token(token=session.token, expireTime=expires)
        return body(INTEGER.success, "success", token.model_dump())

    async def _answer(
        self,
        request: Request,
        service: str,
        codes: Codes,
        handle: Callable[[Request], Awaitable[dict[str, Any]]],
    ) -> Response:
        """HTTP 200 with the envelope, whatever happens."""
        started = self._clock.monotonic()
        try:
            content = await handle(request)
        except InvalidInput as exc:
            content = _invalid(codes, exc)
        except BodyRefused as exc:
            content = body(codes.failure, str(exc))
        except ClientDisconnect:
            raise  # nobody is left to answer; the app logs it
        except Exception:
            log.exception("vcall request failed", extra={"service": service})
            content = body(codes.failure, "server error")
        self._metrics.api_requests.labels(DIALECT, service, str(content["code"])).inc()
        self._metrics.api_latency.labels(DIALECT).observe(self._clock.monotonic() - started)
        return reply(content)


def router(api: VcallApi) -> APIRouter:
    """The vcall API's paths, each also without its `/api` prefix as the seed's own
    examples send them (catalog §1.1)."""
    routes = APIRouter(tags=["vcall call center (seed 003)"])

    @routes.post(
        "/api/token",
        summary="Get a token (M1.1)",
        description=(
            'JSON `{"accessKeyId": "…", "accessKeySecret": "…"}`. Answers '
            '`{"code": 0, "msg": "success", "data": {"token": "…", "expireTime": '
            "1620847518789}}` (`expireTime`: the absolute expiry, epoch milliseconds); "
            "`code` -1 with the reason in `msg` otherwise. HTTP 200 either way."
        ),
        response_class=Response,
    )
    async def token(request: Request) -> Response:
        return await api.token(request)

    routes.add_api_route(
        "/token", token, methods=["POST"], response_class=Response, include_in_schema=False
    )
    return routes
