"""Limits on request bodies: how large one may be and how long it may take to arrive.

`RequestBodyLimits` wraps the app's `receive`, so a body is refused while it is read,
before anything parses it, and never buffered past the limit. The refusal is raised as a
`BodyRefused`, which each API answers in its own envelope.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONNECTION_CLOSE = (b"connection", b"close")


class BodyRefused(Exception):
    """A request body was refused before it was read whole; `status` is the HTTP status
    for APIs that answer with one."""

    status = 400


class BodyTooLarge(BodyRefused):
    """The body declared or sent more bytes than allowed."""

    status = 413

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"request body over {max_bytes} bytes")


class BodyTooSlow(BodyRefused):
    """The body did not arrive whole in time."""

    status = 408

    def __init__(self, seconds: float) -> None:
        super().__init__(f"request body not received within {seconds:g} seconds")


class RequestBodyLimits:
    """ASGI middleware: every request body at most `max_bytes`, received whole within
    `timeout_seconds` of the app starting on the request.

    A declared Content-Length over the limit is refused before a byte of the body is
    asked for; a chunked body is refused as soon as it passes the limit. A response that
    starts before the body was received whole closes the connection, so that the rest of
    the body is never read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _LimitedBody(scope, receive, self.max_bytes, self.timeout_seconds)

        async def send_closing_if_unread(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.complete:
                message = {**message, "headers": [*message.get("headers", []), CONNECTION_CLOSE]}
            await send(message)

        await self.app(scope, body.receive, send_closing_if_unread)


class _LimitedBody:
    """One request's `receive`, counting its body against the size and time limits."""

    def __init__(self, scope: Scope, receive: Receive, max_bytes: int, seconds: float) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._seconds = seconds
        self._deadline = asyncio.get_running_loop().time() + seconds
        headers = Headers(scope=scope)
        self._declared = _declared_length(headers)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.complete = not chunked and not self._declared
        self._received = 0

    async def receive(self) -> Message:
        if self.complete:  # the body is in; later calls only wait for a disconnect
            return await self._receive()
        if self._declared is not None and self._declared > self._max_bytes:
            raise BodyTooLarge(self._max_bytes)
        remaining = self._deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise BodyTooSlow(self._seconds)
        try:
            async with asyncio.timeout(remaining):
                message = await self._receive()
        except TimeoutError:
            raise BodyTooSlow(self._seconds) from None
        if message["type"] != "http.request":
            return message
        self._received += len(message.get("body", b""))
        if self._received > self._max_bytes:
            raise BodyTooLarge(self._max_bytes)
        self.complete = not message.get("more_body", False)
        return message


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None
