"""The HTTP application: every dialect, the admin API, health and metrics."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from callyard import __version__
from callyard.api import desktop as desktop_http
from callyard.api import operations
from callyard.api import recordings as recordings_http
from callyard.api import wallboard as wallboard_http
from callyard.api import web as web_http
from callyard.api.admin import http as admin_http
from callyard.api.body_limits import BodyRefused, RequestBodyLimits
from callyard.api.dialects.sip_api import http as sip_http
from callyard.api.dialects.sip_api.handlers import Deps
from callyard.api.dialects.vcall import http as vcall_http
from callyard.api.dialects.vcall.agent_socket import AgentSockets
from callyard.api.dialects.vcall.cti import Cti, nobody_waiting
from callyard.api.dialects.voice_code import http as voice_code_http
from callyard.container import Container
from callyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from callyard.services.desktop import AgentDesktop
from callyard.timefmt import TimeFormat

log = logging.getLogger("callyard.api")


def create_app(container: Container, admin_key: str) -> FastAPI:
    """A FastAPI app over an opened container."""
    app = FastAPI(
        title="callyard",
        version=__version__,
        description="Open-source cloud call center: App.Sip_* API, vcall API and admin API.",
        openapi_url=None,  # the operations router serves the documentation
        docs_url=None,
        redoc_url=None,
    )
    settings = container.settings
    app.add_middleware(
        RequestBodyLimits,
        max_bytes=settings.http_max_body_bytes,
        timeout_seconds=settings.http_body_timeout_seconds,
    )
    times = TimeFormat(container.settings.timezone)
    sip_api = sip_http.SipApi(
        Deps(
            auth=container.auth,
            extensions=container.extensions,
            groups=container.groups,
            recordings=container.recordings,
            calls=container.calls,
            tasks=container.tasks,
            times=times,
        ),
        container.clock,
        container.metrics,
    )
    app.include_router(sip_http.router(sip_api))
    app.include_router(
        voice_code_http.router(
            voice_code_http.VoiceCodeApi(
                container.auth, container.voice_codes, container.clock, container.metrics
            )
        )
    )
    distributor = container.distributor
    cti = Cti(
        container.sessions,
        container.auth,
        distributor.waiting if distributor else nobody_waiting,
        container.mid_calls,
    )
    agent_sockets = AgentSockets(cti)
    container.bus.subscribe(agent_sockets.on_bus_event)
    app.include_router(
        vcall_http.router(
            vcall_http.VcallApi(
                container.auth,
                container.groups,
                container.agent_accounts,
                container.agent_calls,
                container.calls,
                container.clock,
                container.metrics,
                cti,
            ),
            agent_sockets,
        )
    )
    app.include_router(
        admin_http.router(
            admin_key,
            companies=container.companies,
            extensions=container.extensions,
            trunks=container.trunks,
            pbx_trunks=container.pbx_trunks,
            numbers=container.numbers,
            cdrs=container.cdrs,
            times=times,
            webhooks=container.webhooks,
            outbox=container.outbox,
            credentials=container.credentials,
            queues=container.queues,
            sessions=container.sessions,
            mid_calls=container.mid_calls,
        )
    )
    app.include_router(recordings_http.router(container.recordings))
    app.include_router(wallboard_http.router(container.wallboard))
    app.include_router(web_http.router())
    app.include_router(
        desktop_http.router(
            AgentDesktop(container.sessions, container.cdrs, container.recordings, container.groups)
        )
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        """200 when the database answers."""
        try:
            async with container.db.transaction() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check failed", extra={"error": str(exc)})
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    app.include_router(
        operations.router(
            app, container.metrics, admin_key, operations.operations_need_key(settings)
        )
    )

    _error_handlers(app)
    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(BodyRefused)
    async def body_refused(_: Request, exc: BodyRefused) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _: ClientDisconnect) -> Response:
        client = request.client.host if request.client else ""
        log.info(
            "client disconnected before its request was read",
            extra={"path": request.url.path, "client": client},
        )
        return Response(status_code=400)  # nobody is left to receive it

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, f"invalid {exc.field}: {exc.reason}")

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"invalid {where or 'request'}: {first.get('msg')}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> PlainTextResponse | JSONResponse:
        log.exception("request failed", extra={"path": request.url.path})
        return _error(500, "internal server error")
