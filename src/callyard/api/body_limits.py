"""Limits on request bodies: how large one may be and how long it may take to arrive.

`RequestBodyLimits` wraps the app's `receive`, so a body is refused while it is read,
before anything parses it, and never buffered past the limit. The refusal is raised as a
`BodyRefused`, which each API answers in its own envelope.
"""

from __future__ import annotations

import asyncio

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

        try:
            await self.app(scope, body.receive, send_closing_if_unread)
        finally:
            body.done()


class _LimitedBody:
    """One request's `receive`, counting its body against the size and time limits.

    Every request passes here, so the common case (a small body already received) costs
    one timer for the whole body rather than one per read.
    """

    def __init__(self, scope: Scope, receive: Receive, max_bytes: int, seconds: float) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + seconds
        self._declared, chunked = _body_framing(scope)
        self.complete = not chunked and not self._declared
        self._received = 0
        self._timer: asyncio.TimerHandle | None = None
        self._reader: asyncio.Task[object] | None = None  # waiting in `receive` now
        self._late = False

    async def receive(self) -> Message:
        if self.complete:  # the body is in; later calls only wait for a disconnect
            return await self._receive()
        if self._declared is not None and self._declared > self._max_bytes:
            raise BodyTooLarge(self._max_bytes)
        if self._late or self._loop.time() >= self._deadline:
            raise BodyTooSlow(self._seconds)
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._too_late)
        self._reader = asyncio.current_task()
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if self._late and self._reader is not None and self._reader.uncancel() == 0:
                raise BodyTooSlow(self._seconds) from None
            raise
        finally:
            self._reader = None
        if message["type"] != "http.request":
            return message
        self._received += len(message.get("body", b""))
        if self._received > self._max_bytes:
            self._stop_timer()
            raise BodyTooLarge(self._max_bytes)
        self.complete = not message.get("more_body", False)
        if self.complete:
            self._stop_timer()
        return message

    def _too_late(self) -> None:
        self._timer = None
        self._late = True
        if self._reader is not None:
            self._reader.cancel()

    def done(self) -> None:
        """The request is over: no deadline any more."""
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if absent or malformed) and whether the body
    is chunked, read from the raw headers."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.strip()
            declared = int(text) if text.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return declared, chunked
