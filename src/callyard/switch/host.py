"""The SIP process: sippy's stack, the registrar and the media relay, apart from the server.

`callyard serve` starts it (`python -m callyard.switch.host FD`) so that SIP signalling
and the services (routing, call records, webhooks, the HTTP API) run on separate cores
instead of taking turns under one interpreter lock. It reads its settings, then
commands, routing tables and relay queries from the socket FD, and writes events
and bindings back. It ends on Stop, or when the server process is gone (end of file),
after hanging up every call; SIGINT and SIGTERM are left to the server, which stops it.
"""

from __future__ import annotations

import faulthandler
import logging
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from callyard import logs
from callyard.child import Started, StartFailed, Stop, Stopped, become, receive, send
from callyard.clock import SystemClock
from callyard.switch.calls.conference import MixerStarter, split_ports
from callyard.switch.commands import Command
from callyard.switch.digest import DigestAuthority
from callyard.switch.link import (
    BindingMade,
    ProbeAnswer,
    ProbeQuery,
    RoutesChanged,
    SipSettings,
    StatsAnswer,
    StatsQuery,
)
from callyard.switch.registrar import Account, Binding, Registrar
from callyard.switch.relay import MediaRelay
from callyard.switch.routing import Router
from callyard.switch.sip_stack import SipStack
from callyard.switch.sippy_log import PROBLEMS, PrintedLines

log = logging.getLogger("callyard.switch.host")

REALM = "callyard"
PROCESS_NAME = b"callyard-sip"
STOP_DUMP_SECONDS = 8.0  # before the server gives up on the stop (process.STOP_SECONDS)


class SipHost:
    """The SIP process's side of the link."""

    def __init__(self, link: Connection, settings: SipSettings) -> None:
        self._link = link
        self._sending = threading.Lock()
        self.registrar = Registrar(
            self._lookup,
            DigestAuthority(REALM, time.monotonic),
            time.monotonic,
            SystemClock().now,
            self._send,
            on_binding=self._binding_made,
            limits=settings.limits,
        )
        self.router = Router(
            settings.routes,
            self.registrar.binding,
            settings.ring_timeout,
            settings.agent_ring_timeout,
        )
        relay_ports, mixer_ports = split_ports(settings.rtp_ports)
        self._stack = SipStack(
            settings.host,
            settings.port,
            settings.advertise,
            self.registrar,
            self.router,
            lambda schedule: MediaRelay(
                settings.host,
                relay_ports,
                settings.capture_dir,
                settings.advertise,
                schedule,
            ),
            self._send,
            MixerStarter(settings.host, mixer_ports, settings.advertise),
            settings.hold_music,
            settings.websocket,
        )

    def _lookup(self, number: str) -> Account | None:
        return self.router.account(number)

    def _binding_made(self, binding: Binding) -> None:
        self._send(BindingMade(binding))

    def _send(self, message: object) -> None:
        # The SIP thread (events), the registrar and the reading thread (answers) send.
        try:
            with self._sending:
                send(self._link, message)
        except OSError:
            pass  # the server process is gone; reading notices and stops

    def run(self) -> None:
        """Start the stack, serve the link until Stop or end of file, then stop."""
        try:
            self._stack.start()
        except Exception as exc:
            self._send(StartFailed(str(exc)))
            return
        self._send(Started())
        try:
            self._serve()
        finally:
            # A stop that hangs leaves every thread's stack in the log, to say where.
            faulthandler.dump_traceback_later(STOP_DUMP_SECONDS)
            self._stack.stop()
            faulthandler.cancel_dump_traceback_later()
            self._send(Stopped())

    def _serve(self) -> None:
        while True:
            try:
                message = receive(self._link)
            except (EOFError, OSError):
                log.warning("the server process is gone; stopping the SIP switch")
                return
            if isinstance(message, Stop):
                return
            try:
                self._handle(message)
            except Exception:
                log.exception("SIP switch message failed", extra={"kind": type(message).__name__})

    def _handle(self, message: Any) -> None:
        if isinstance(message, Command):
            self._stack.submit(message)
        elif isinstance(message, RoutesChanged):
            self.router.table = message.routes
        elif isinstance(message, StatsQuery):
            relay = self._stack.relay
            stats = relay.stats(message.call_id) if relay is not None else None
            self._send(StatsAnswer(message.query_id, stats))
        elif isinstance(message, ProbeQuery):
            query_id = message.query_id
            self._stack.probe(
                message.address, lambda status: self._send(ProbeAnswer(query_id, status))
            )
        else:
            log.error("unknown message to the SIP switch", extra={"kind": type(message).__name__})


def main(argv: list[str]) -> int:
    become(PROCESS_NAME)
    link = Connection(int(argv[1]))
    settings = receive(link)
    if not isinstance(settings, SipSettings):
        return 2
    logs.configure(settings.log_level)
    sys.stdout = PrintedLines(PROBLEMS)  # sippy prints here and there
    SipHost(link, settings).run()
    PROBLEMS.flush()
    link.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
