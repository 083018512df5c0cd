"""HTTP entry of the App.Sip_* dialect: parse the form, dispatch, wrap the envelope."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from callyard.api.body_limits import BodyRefused
from callyard.api.dialects.sip_api import envelope
from callyard.api.dialects.sip_api.code_tables import Ret
from callyard.api.dialects.sip_api.codes import DENIALS, REFUSALS
from callyard.api.dialects.sip_api.handlers import SERVICES, Bare, Context, Deps, Done
from callyard.api.dialects.sip_api.schemas import TokenForm
from callyard.api.forms import describe, read_form
from callyard.clock import Clock
from callyard.domain.refusals import Denial
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.metrics import Metrics

log = logging.getLogger("callyard.api.sip")

DIALECT = "sip_api"


class SipApi:
    """Dispatches `service=App.Sip_*` requests to their handlers."""

    def __init__(self, deps: Deps, clock: Clock, metrics: Metrics) -> None:
        self._deps = deps
        self._clock = clock
        self._metrics = metrics

    def _seconds(self) -> int:
        return int(self._clock.now().timestamp())

    async def handle(self, fields: dict[str, str], client_ip: str) -> tuple[str, dict[str, Any]]:
        """The service name (for metrics) and the envelope to send back."""
        reqtime = self._seconds()
        name = fields.get("service", "").strip()
        service = SERVICES.get(name)
        if not name:
            return "none", envelope.interface_error(
                Ret.ILLEGAL_REQUEST, "missing parameter service"
            )
        if service is None:
            return "unknown", envelope.interface_error(
                Ret.ILLEGAL_REQUEST, f"unknown service {name}"
            )
        try:
            if service.needs_token and not fields.get("token", "x").strip():
                # A client that lost its token sends it blank: 600 makes it log in again.
                raise AccessDenied(Denial.TOKEN_INVALID, "the token is blank")
            form = service.form.model_validate(fields)
            token = form.token if isinstance(form, TokenForm) else ""
            caller = (
                await self._deps.auth.authorize(token, client_ip, service.capability)
                if service.needs_token
                else None
            )
            reply = await service.handler(self._deps, Context(client_ip, token, caller), form)
        except ValidationError as exc:
            problem = describe(exc)
            return name, _invalid(problem)
        except InvalidInput as exc:
            return name, _invalid(exc)
        except AccessDenied as exc:
            return name, envelope.interface_error(DENIALS[exc.denial], exc.detail)
        except BusinessError as exc:
            code = REFUSALS[exc.refusal]
            return name, envelope.business_failure(code, exc.desc, reqtime, self._seconds())
        if isinstance(reply, Bare):
            return name, envelope.raw_success(reply.data)
        assert isinstance(reply, Done)
        return name, envelope.success(reply.desc, reqtime, self._seconds(), reply.result)

    async def respond(self, request: Request) -> Response:
        started = self._clock.monotonic()
        client_ip = request.client.host if request.client else ""
        service = "none"
        try:
            fields = await read_form(request)
            service, body = await self.handle(fields, client_ip)
        except InvalidInput as exc:
            body = _invalid(exc)
        except BodyRefused as exc:
            body = envelope.interface_error(Ret.ILLEGAL_REQUEST, str(exc))
        except ClientDisconnect:
            raise  # nobody is left to answer; the app logs it
        except Exception:
            log.exception("App.Sip_* request failed", extra={"service": service})
            body = envelope.interface_error(Ret.SERVER_ERROR)
        self._metrics.api_requests.labels(DIALECT, service, str(body["ret"])).inc()
        self._metrics.api_latency.labels(DIALECT).observe(self._clock.monotonic() - started)
        return Response(orjson.dumps(body), media_type="application/json; charset=utf-8")


def _invalid(problem: InvalidInput) -> dict[str, Any]:
    if problem.reason == "missing parameter":
        return envelope.interface_error(Ret.ILLEGAL_REQUEST, f"missing parameter {problem.field}")
    return envelope.interface_error(
        Ret.ILLEGAL_REQUEST, f"invalid parameter {problem.field}: {problem.reason}"
    )


def router(api: SipApi) -> APIRouter:
    """`POST /`: every App.Sip_* service; `GET /` explains how to call it."""
    routes = APIRouter(tags=["App.Sip_* API"])
    services = ", ".join(sorted(SERVICES))

    @routes.post(
        "/",
        summary="App.Sip_* services",
        description=(
            "Form-data (multipart or urlencoded) with `service` naming one of: "
            f"{services}. Answers `{{ret, data, msg}}` with HTTP 200."
        ),
        response_class=Response,
    )
    async def sip_api(request: Request) -> Response:
        return await api.respond(request)

    @routes.get("/", include_in_schema=False)
    async def sip_api_get() -> Response:
        body = envelope.interface_error(
            Ret.ILLEGAL_REQUEST, "use POST with form-data and a service parameter"
        )
        return Response(orjson.dumps(body), media_type="application/json; charset=utf-8")

    return routes
