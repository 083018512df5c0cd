"""The agent's WebSocket (catalog M9): the desktop's live channel to its session.

`GET /ccs/api/agent/ws` upgrades to a WebSocket. A socket opened with `?token=` (the
session's token) takes the session up at once (a `Reconnect` event); otherwise its
first request is `login`. Messages in are the CTI's requests as JSON objects (`request`,
`sequence` and the request's fields; `companyId` and `agentNumber` may be left out once
the socket has its session); each is answered with
`{"type": "response", "request", "sequence", "code", "msg"}` and its events follow, as
every event of the agent's session does, rendered for the socket (`agent_events.py`).
A session with a socket open stays signed in; when its last socket closes, the grace
period starts. A session signed in elsewhere closes this socket after a `Kick` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from callyard import __version__
from callyard.api.dialects.vcall.agent_events import Channel, render
from callyard.api.dialects.vcall.codes import REFUSALS
from callyard.api.dialects.vcall.cti import ACTIONS, LOGIN, ControlBody, Cti, unknown_request
from callyard.api.dialects.vcall.envelope import NO_AUTH, STRING, code_of
from callyard.api.dialects.vcall.schemas import validated
from callyard.bus import BusEvent
from callyard.domain.refusals import Denial
from callyard.errors import AccessDenied, BusinessError, InvalidInput
from callyard.services.sessions.model import AgentNotice, AgentSession, Notice

log = logging.getLogger("callyard.api.vcall.socket")

SOCKET_PATH = "/ccs/api/agent/ws"
MAX_MESSAGE_BYTES = 16_384
SEND_QUEUE = 1_000  # events waiting for a slow socket before it is closed
KICKED = 4001  # close codes: the session signed in elsewhere
ENDED = 4002  # the session ended


class _Link:
    """One open socket: the session it serves (its agent and the session's key), and
    what waits to be sent to it."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.agent_id: int | None = None
        self.key = ""  # "": joined a signing-in agent, before its session exists
        self.handling = False  # a request of this socket is being carried out
        self.closing: int | None = None  # close with this once the request is answered
        self.outbox: asyncio.Queue[dict[str, Any] | int] = asyncio.Queue(SEND_QUEUE)

    def send(self, message: dict[str, Any] | int) -> None:
        """Queue a message (an int: close with that code after what is queued)."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("agent socket too slow: closed", extra={"agent_id": self.agent_id})
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self.outbox.get_nowait()
            self.outbox.put_nowait(1008)

    def serves(self, notice: AgentNotice) -> bool:
        return not self.key or self.key == notice.agent.key


class AgentSockets:
    """Every open agent socket; each session's events go to its sockets."""

    def __init__(self, cti: Cti) -> None:
        self._cti = cti
        self._links: dict[int, set[_Link]] = {}  # by agent id

    def on_bus_event(self, event: BusEvent) -> None:
        if not isinstance(event, AgentNotice):
            return
        message: dict[str, Any] | None = None
        for link in list(self._links.get(event.agent.agent_id, ())):
            if not link.serves(event):
                continue
            message = message or render(event, Channel.SOCKET)
            link.send(message)
            if event.kind is Notice.KICKED or event.kind is Notice.SIGNED_OUT:
                code = KICKED if event.kind is Notice.KICKED else ENDED
                if link.handling:
                    link.closing = code  # after the answer to its own logout
                else:
                    link.send(code)
                self._forget(link)

    async def serve(self, socket: WebSocket) -> None:
        """One socket, from its upgrade to its close."""
        await socket.accept()
        link = _Link(socket)
        writer = asyncio.get_running_loop().create_task(self._write(link))
        try:
            token = socket.query_params.get("token", "")
            if token:
                self._resume(link, token)
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text")
                if raw is None:  # a binary frame: read as the text it should have been
                    raw = (message.get("bytes") or b"").decode("utf-8", "replace")
                link.handling = True
                try:
                    link.send(await self._handle(link, raw))
                finally:
                    link.handling = False
                if link.closing is not None:
                    link.send(link.closing)
        except WebSocketDisconnect:
            pass
        finally:
            self._leave(link)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _join(self, link: _Link, agent_id: int, key: str) -> None:
        self._forget(link)
        link.agent_id, link.key = agent_id, key
        self._links.setdefault(agent_id, set()).add(link)

    def _forget(self, link: _Link) -> None:
        if link.agent_id is not None:
            links = self._links.get(link.agent_id, set())
            links.discard(link)
            if not links:
                self._links.pop(link.agent_id, None)
        link.agent_id, link.key = None, ""

    def _session(self, link: _Link) -> AgentSession | None:
        """The session the socket serves, while it lasts."""
        agent = self._cti.sessions.by_agent(link.agent_id) if link.agent_id else None
        return agent if agent is not None and agent.token_hash == link.key else None

    def _attach(self, link: _Link, agent: AgentSession) -> None:
        self._join(link, agent.agent_id, agent.token_hash)
        self._cti.sessions.socket_opened(agent)

    def _leave(self, link: _Link) -> None:
        agent = self._session(link)
        if agent is not None:
            self._cti.sessions.socket_closed(agent)
        self._forget(link)

    def _resume(self, link: _Link, token: str) -> None:
        agent = self._cti.sessions.by_token(token)
        if agent is None:
            link.send(_response("reconnect", 0, STRING.no_auth, f"{NO_AUTH}: the session ended"))
            link.send(ENDED)
            return
        self._attach(link, agent)
        self._cti.sessions.resume(token, 0)

    async def _write(self, link: _Link) -> None:
        while True:
            message = await link.outbox.get()
            if isinstance(message, int):
                with contextlib.suppress(Exception):
                    await link.socket.close(message)
                return
            try:
                await link.socket.send_bytes(orjson.dumps(message))
            except Exception:
                return

    async def _handle(self, link: _Link, raw: str) -> dict[str, Any]:
        request, sequence = "", 0
        try:
            data = _message(raw)
        except InvalidInput as exc:
            # No request to answer: the socket's client is told as the SDK tells errors.
            return _exception(f"{exc.field}: {exc.reason}")
        try:
            request = str(data.get("request", ""))
            bound = self._session(link)
            if bound is not None:
                data.setdefault("companyId", str(bound.company_code))
                data.setdefault("agentNumber", bound.number)
            common = validated(ControlBody, data)
            sequence = common.sequence
            if common.request != LOGIN and common.request not in ACTIONS:
                raise InvalidInput("request", unknown_request(common.request))
            if common.request == LOGIN:
                await self._login(link, common, data)
            elif bound is None:
                raise AccessDenied(
                    Denial.TOKEN_INVALID, "sign in first, or open the socket with ?token="
                )
            elif str(bound.company_code) != common.companyId or bound.number != common.agentNumber:
                raise AccessDenied(Denial.TOKEN_INVALID, "this socket serves another agent")
            else:
                await self._cti.perform(bound, common, data)
        except InvalidInput as exc:
            return _response(request, sequence, STRING.failure, f"{exc.field}: {exc.reason}")
        except AccessDenied as exc:
            return _response(request, sequence, STRING.no_auth, f"{NO_AUTH}: {exc.detail or exc}")
        except BusinessError as exc:
            code = REFUSALS.get(exc.refusal)
            value = STRING.failure if code is None else code_of(STRING, code)
            return _response(request, sequence, value, exc.desc)
        except Exception:
            log.exception("agent socket request failed", extra={"request": request})
            return _response(request, sequence, STRING.failure, "server error")
        return _response(request, sequence, STRING.success, "success")

    async def _login(self, link: _Link, common: ControlBody, data: dict[str, Any]) -> None:
        client = link.socket.client.host if link.socket.client else ""
        self._leave(link)

        def joining(agent_id: int) -> None:
            # Before the sign-in publishes its Login event: the event reaches this socket.
            self._join(link, agent_id, "")

        try:
            agent = await self._cti.login(common, data, client, joining=joining)
        except BaseException:
            self._forget(link)
            raise
        self._attach(link, agent)


def _message(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidInput("message", f"longer than {MAX_MESSAGE_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("message", "not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("message", "not a JSON object")
    return data


def _exception(message: str) -> dict[str, Any]:
    return {
        "type": "event",
        "event": "Exception",
        "sequence": 0,
        "eventTime": round(time.time() * 1000),
        "data": {"version": __version__, "message": message},
    }


def _response(request: str, sequence: int, code: int | str, msg: str) -> dict[str, Any]:
    return {"type": "response", "request": request, "sequence": sequence, "code": code, "msg": msg}
