"""The HTTP/1.1 protocol `callyard serve` runs: uvicorn's httptools protocol with a
deadline for each request head and a bound on open connections.

The idle time between requests is uvicorn's keep-alive timeout, and the time a body may
take is `RequestBodyLimits`' (`api/body_limits.py`): that one is answered in each API's own
envelope, which only the app can render.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("callyard.http")

_TOO_MANY = b"too many open connections"
SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"\r\n%s" % (len(_TOO_MANY), _TOO_MANY)
)


@dataclass
class ConnectionLimits:
    """The limits of one server's connections, and whether it is refusing some now."""

    header_timeout_seconds: float
    max_connections: int
    refusing: bool = False


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection whose request head has not
    arrived within the header timeout (of connecting, or of the previous response), and
    answers 503 and closes a connection beyond the maximum, leaving the others alone."""

    limits: ClassVar[ConnectionLimits]

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        if self.limits.refusing:
            self.limits.refusing = False
            log.info("accepting connections again", extra={"open": len(self.connections)})
        self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next head, unless one already came (pipelined) or we are closing.
        if self.cycle.response_complete and not self.transport.is_closing():
            self._expect_head()

    def _refuse(self) -> None:
        if not self.limits.refusing:
            self.limits.refusing = True
            log.warning(
                "refusing connections: too many open",
                extra={"max_connections": self.limits.max_connections},
            )
        self.transport.write(SERVICE_UNAVAILABLE)
        self.transport.close()

    def _expect_head(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self._head_timed_out
        )

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        log.debug("closing a connection: no request head in time", extra={"client": self.client})
        self.transport.close()


def limited_protocol(
    header_timeout_seconds: float, max_connections: int
) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for one server (uvicorn's `http=`), with its own limits."""

    class ServerProtocol(LimitedHttpToolsProtocol):
        limits = ConnectionLimits(header_timeout_seconds, max_connections)

    return ServerProtocol
