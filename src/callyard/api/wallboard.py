"""The supervisors' wallboard feed: `GET /supervisor/api/wallboard` (the company's board
now) and the WebSocket `/supervisor/api/wallboard/ws` (the board, then each change).

Both take a supervisor's CTI session token (the Login event's `data.token`): in
`Authorization: Bearer`, or the query's `token` (a browser's WebSocket cannot send
headers). `companyId`, when given, must be the token's company. A blank or unknown token
is 401, another company's token or an agent who is no supervisor 403, each with
`{"error": "..."}`; the socket is accepted, sent `{"type": "error", "status", "error"}`
and closed with 4401 or 4403. The socket is closed with 4002 when the supervisor's
session ends. Nothing is read from the socket: the page acts through its CTI session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from callyard.errors import AccessDenied, Forbidden
from callyard.services.sessions.model import AgentSession
from callyard.services.wallboard import (
    BUCKET_SECONDS,
    SECTION_NAMES,
    SessionEnded,
    Wallboard,
    WallboardMessage,
)

PATH = "/supervisor/api/wallboard"
SOCKET_PATH = f"{PATH}/ws"
UNAUTHORIZED, FORBIDDEN = 4401, 4403  # close codes, as the HTTP statuses
SESSION_ENDED = 4002  # as the agent socket's


def message_json(message: WallboardMessage) -> dict[str, Any]:
    """A message as the page reads it: its kind, the server's clock, and its sections."""
    body: dict[str, Any] = {
        "type": message.kind,
        "company": str(message.company_code),
        "server_ms": message.server_ms,
    }
    for name in SECTION_NAMES:
        items = getattr(message.sections, name)
        if items is not None:
            body[name] = [dataclasses.asdict(item) for item in items]
    if message.sections.chart is not None:
        body["chart_bucket_seconds"] = BUCKET_SECONDS
    return body


def _token(authorization: str, query_token: str) -> str:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return query_token


def _refusal(exc: AccessDenied | Forbidden) -> tuple[int, str]:
    return (401 if isinstance(exc, AccessDenied) else 403), str(exc)


def router(wallboard: Wallboard) -> APIRouter:
    """The feed's two routes."""
    routes = APIRouter(tags=["supervisor wallboard"])

    def supervisor(request: Request | WebSocket) -> AgentSession:
        token = _token(
            request.headers.get("authorization", ""), request.query_params.get("token", "")
        )
        return wallboard.supervisor(token, request.query_params.get("companyId", ""))

    @routes.get(
        PATH,
        responses={
            401: {"description": "no token, or no signed-in agent's"},
            403: {"description": "another company's token, or no supervisor's"},
        },
    )
    async def board(request: Request) -> JSONResponse:
        """The supervisor's company now: agents, queues, calls, tasks, the last hour."""
        try:
            session = supervisor(request)
        except (AccessDenied, Forbidden) as exc:
            status, reason = _refusal(exc)
            return JSONResponse({"error": reason}, status_code=status)
        snapshot = await wallboard.snapshot(session.company_id, session.company_code)
        return JSONResponse(message_json(snapshot))

    @routes.websocket(SOCKET_PATH)
    async def feed(socket: WebSocket) -> None:
        """The board, then each change, until the socket or the session closes."""
        await socket.accept()
        try:
            session = supervisor(socket)
        except (AccessDenied, Forbidden) as exc:
            status, reason = _refusal(exc)
            await socket.send_text(
                orjson.dumps({"type": "error", "status": status, "error": reason}).decode()
            )
            await socket.close(UNAUTHORIZED if status == 401 else FORBIDDEN, reason)
            return
        with wallboard.watching(session) as watch:
            reader = asyncio.get_running_loop().create_task(_until_closed(socket))
            try:
                while True:
                    waiting = asyncio.get_running_loop().create_task(watch.next())
                    done, _ = await asyncio.wait(
                        {waiting, reader}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if waiting not in done:
                        waiting.cancel()
                        return
                    message = waiting.result()
                    if isinstance(message, SessionEnded):
                        await socket.close(SESSION_ENDED, message.reason)
                        return
                    await socket.send_text(orjson.dumps(message_json(message)).decode())
            except (WebSocketDisconnect, RuntimeError):
                return
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    return routes


async def _until_closed(socket: WebSocket) -> None:
    """Read (and ignore) what the page sends until it closes."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
