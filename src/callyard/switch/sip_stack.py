"""sippy's SIP stack in a thread of its own, adapted to callyard's registrar.

sippy runs its own event loop (a singleton bound to the thread that first imports it,
for the life of the process: its timers signal that very thread), so every sippy import
happens inside one thread, `callyard-sip`, started once and never ended, and nothing else
touches sippy objects. A SipStack opens its socket and calls there and closes them
again, so a process can start and stop switches one after another (tests do).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callyard.switch.calls.conference import MixerStarter
from callyard.switch.commands import (
    MID_CALL,
    Answer,
    Attach,
    Bridge,
    Command,
    Detach,
    Dial,
    Play,
)
from callyard.switch.events import SwitchEvent
from callyard.switch.registrar import RegisterRequest, Registrar, Reply
from callyard.switch.relay import MediaRelay, Schedule
from callyard.switch.routing import Router
from callyard.switch.websocket import WebSocketSettings, start_server

log = logging.getLogger("callyard.switch.sip")

ALLOWED = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO"


def check_port_free(host: str, port: int, kind: int = socket.SOCK_DGRAM) -> None:
    """Fail if the port (UDP, or TCP with `kind`) is taken: sippy binds UDP with
    SO_REUSEPORT and would silently share it, and its WebSocket server fails in its own
    thread."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise OSError(f"SIP address {host}:{port} is in use: {exc.strerror}") from exc


class SipStack:
    """Listens for SIP on UDP and hands REGISTER to the registrar."""

    def __init__(
        self,
        host: str,
        port: int,
        advertise: str,
        registrar: Registrar,
        router: Router,
        relay_factory: Callable[[Schedule], MediaRelay],
        emit: Callable[[SwitchEvent], None],
        mixer: MixerStarter | None = None,
        hold_music: Path | None = None,
        websocket: WebSocketSettings | None = None,
    ) -> None:
        self.host = host
        self.websocket = websocket
        self.port = port
        self.advertise = advertise
        self._registrar = registrar
        self._router = router
        self._relay_factory = relay_factory
        self._mixer = mixer
        self._hold_music = hold_music
        self._emit = emit
        self._calls: Any = None
        self._config: dict[str, Any] = {}
        self._expiry: Any = None
        self._ed: Any = None

    def start(self, timeout: float = 10.0) -> None:
        check_port_free(self.host, self.port)
        if self.websocket is not None:
            check_port_free(self.host, self.websocket.port, socket.SOCK_STREAM)
        ed = _SippyThread.dispatcher(timeout)
        try:
            ed.callFromThreadSync(self._open)
        except Exception as exc:
            raise RuntimeError(f"SIP stack failed: {exc}") from exc
        self._ed = ed
        log.info("SIP listening", extra={"sip": f"{self.host}:{self.port}"})

    def submit(self, command: Command) -> None:
        """Hand a call-control command to the SIP thread."""
        if self._ed is None or self._calls is None:
            raise RuntimeError("SIP stack is not running")
        if isinstance(command, Bridge):
            self._ed.callFromThread(self._calls.bridge, command)
        elif isinstance(command, Dial):
            self._ed.callFromThread(self._calls.dial, command)
        elif isinstance(command, Answer):
            self._ed.callFromThread(self._calls.answer, command)
        elif isinstance(command, Attach):
            self._ed.callFromThread(self._calls.attach, command)
        elif isinstance(command, Play):
            self._ed.callFromThread(self._calls.play, command)
        elif isinstance(command, Detach):
            self._ed.callFromThread(self._calls.detach, command)
        elif isinstance(command, MID_CALL):
            self._ed.callFromThread(self._calls.in_the_middle, command)
        else:
            self._ed.callFromThread(self._calls.hangup, command.call_id, command.status)

    def probe(self, address: tuple[str, int], answered: Callable[[int | None], None]) -> None:
        """Send OPTIONS to `address`; `answered` gets the status of its response, or None
        when none came (after the transaction's 32 s), on the SIP thread."""
        if self._ed is None:
            answered(None)
            return
        self._ed.callFromThread(self._send_options, address, answered)

    def _send_options(
        self, address: tuple[str, int], answered: Callable[[int | None], None]
    ) -> None:
        from sippy.SipRequest import SipRequest
        from sippy.SipURL import SipURL

        request = SipRequest(
            method="OPTIONS", ruri=SipURL(host=address[0], port=address[1]), user_agent="callyard"
        )
        request.getHFBody("from").genTag()
        transaction: Any = None

        def response(reply: Any) -> None:
            # sippy answers a transaction that timed out with its own 408, this object.
            status = None if reply is transaction.r408 else int(reply.getSCode()[0])
            if status is None or status >= 200:
                answered(status)

        transaction = self._config["_sip_tm"].newTransaction(request, response)

    @property
    def relay(self) -> MediaRelay | None:
        """The running relay (its commands may come from any thread)."""
        return self._calls.relay if self._calls is not None and self._ed is not None else None

    def stop(self) -> None:
        """Hang up every call, then close the socket and the relay."""
        ed, self._ed = self._ed, None
        if ed is not None:
            ed.callFromThreadSync(self._close)

    def _open(self) -> None:
        """Bind the socket and set up calls (in the SIP thread)."""
        from sippy.Core.EventDispatcher import ED2
        from sippy.SipConf import SipConf
        from sippy.SipLogger import SipLogger
        from sippy.SipTransactionManager import SipTransactionManager
        from sippy.Time.Timeout import Timeout

        from callyard.switch.calls import CallTable

        # What goes into From/Contact of the calls the switch places.
        SipConf.my_address = self.advertise
        SipConf.my_port = self.port
        config: dict[str, Any] = {
            "_sip_address": self.host,
            "_sip_port": self.port,
            "_sip_logger": SipLogger("callyard"),
        }
        config["_sip_tm"] = SipTransactionManager(config, self._on_request)
        config["_uaname"] = "callyard"
        try:
            relay = self._relay_factory(ED2.callFromThread)  # answers come back on this thread
            self._calls = CallTable(
                config, relay, self._router, self._emit, self._mixer, self._hold_music
            )
        except BaseException:
            config["_sip_tm"].shutdown()
            raise
        self._config = config
        self._expiry = Timeout(self._registrar.expire, 1.0, -1)
        if self.websocket is not None:
            registrar = self._registrar

            def closed(connection: str) -> None:
                ED2.callFromThread(registrar.connection_closed, connection)

            server = start_server(
                config, (self.host, self.websocket.port), closed, self.websocket.certificate
            )
            config["_wss_server"] = server
            registrar.reconnected = server.moved
            log.info("SIP over WebSocket listening", extra={"port": self.websocket.port})

    def _close(self) -> None:
        """Hang up every call, then close the socket and the relay (in the SIP thread).
        A step that fails is logged, and the others still run."""
        transactions = self._config["_sip_tm"]
        _step("hang up the calls", self._calls.hangup_all)
        _step("stop the bindings' expiry", self._expiry.cancel)
        _step("stop the transactions' timer", transactions.cp_timer.cancel)
        # Each server sends what is queued (the BYEs and CANCELs just made), then closes
        # its socket. The transaction manager itself stays whole: the timers of calls
        # that just ended still run (sending nothing) until they expire.
        for server in list(transactions.l4r.cache_l2s.values()):
            _step("close a SIP socket", server.shutdown)
        if "_wss_server" in self._config:
            _step("close the SIP WebSocket server", self._config["_wss_server"].shutdown)
        _step("stop the relay", self._calls.relay.shutdown)
        if self._mixer is not None:
            _step("stop the mixer", self._mixer.stop)

    def _on_request(self, request: Any, transaction: Any) -> Any:
        method = request.getMethod()
        try:
            if method == "REGISTER":
                return (
                    self._reply(request, self._registrar.register(_register_request(request))),
                    None,
                    None,
                )
            if method in ("BYE", "CANCEL", "INFO", "UPDATE", "PRACK", "REFER", "NOTIFY") or (
                request.getHFBody("to").getTag() is not None
            ):
                # In-dialog requests of a live call are taken by its UA before this point.
                return (
                    self._reply(request, Reply(481, "Call/Transaction Does Not Exist")),
                    None,
                    None,
                )
            if method == "INVITE":
                return self._invite(request, transaction)
            if method == "OPTIONS":
                return self._reply(request, Reply(200, "OK", (("Allow", ALLOWED),))), None, None
            return self._reply(request, Reply(501, "Not Implemented")), None, None
        except Exception:
            log.exception("SIP request failed", extra={"method": method})
            return self._reply(request, Reply(500, "Server Internal Error")), None, None

    def _invite(self, request: Any, transaction: Any) -> Any:
        """A company's PBX sends a call out (known by its address, or by its digest
        credentials), a carrier calls one of a company's numbers (it comes from a trunk's
        host), or a registered phone places a call: authenticate it, then route it."""
        caller = str(request.getHFBody("from").getUrl().username or "")
        host, port = request.getSource()
        source = (str(host), int(port))
        dialed = str(request.getRURI().username or "")
        pbx = self._calls.pbx_at(source[0])
        if pbx is not None:
            return self._calls.from_pbx(request, transaction, pbx, caller, _user_data(request))
        carrier = self._calls.carrier_route(source, dialed, caller)
        if carrier is not None:
            company_id, route = carrier
            return self._calls.from_carrier(request, transaction, company_id, route)
        authorization = (
            str(request.getHFBody("proxy-authorization"))
            if request.countHFs("proxy-authorization")
            else None
        )
        checked = self._registrar.authenticate(
            caller,
            authorization,
            source,
            "INVITE",
            str(request.getRURI()),
            speaks_for_others=self._calls.is_pbx_user,
        )
        if isinstance(checked, Reply):
            return self._reply(request, checked), None, None
        pbx = self._calls.pbx_of(checked.number)
        if pbx is not None:
            if pbx.host is not None and pbx.host != source[0]:
                return self._reply(request, Reply(403, "Forbidden")), None, None
            return self._calls.from_pbx(request, transaction, pbx, caller, _user_data(request))
        return self._calls.incoming(request, transaction, checked)

    @staticmethod
    def _reply(request: Any, reply: Reply) -> Any:
        from sippy.SipGenericHF import SipGenericHF
        from sippy.SipHeader import SipHeader

        response = request.genResponse(reply.status, reply.reason)
        for name, value in reply.headers:
            response.appendHeader(SipHeader(name=name.lower(), body=SipGenericHF(value)))
        return response


class _SippyThread:
    """The one thread of the process that runs sippy's event loop."""

    _lock = threading.Lock()
    _thread: threading.Thread | None = None
    _ed: Any = None
    _error: BaseException | None = None

    @classmethod
    def dispatcher(cls, timeout: float) -> Any:
        """sippy's event dispatcher, running in its thread (started on first use)."""
        with cls._lock:
            if cls._thread is None:
                ready = threading.Event()
                cls._thread = threading.Thread(
                    target=cls._run, args=(ready,), name="callyard-sip", daemon=True
                )
                cls._thread.start()
                if not ready.wait(timeout):
                    raise RuntimeError("SIP stack did not start")
            if cls._error is not None:
                raise RuntimeError(f"SIP stack failed: {cls._error}") from cls._error
            return cls._ed

    @classmethod
    def _run(cls, ready: threading.Event) -> None:
        os.environ.setdefault("SIPLOG_BEND", "none")
        try:
            from sippy.Core.EventDispatcher import ED2
            from sippy.SipConf import SipConf
            from sippy.Udp_server import Udp_server_opts

            from callyard.switch.sippy_clock import use_standard_clocks
            from callyard.switch.sippy_headers import spell_headers_canonically
            from callyard.switch.sippy_log import report_sippy_problems
            from callyard.switch.sippy_loop import wake_reliably
            from callyard.switch.sippy_requests import check_requests
            from callyard.switch.sippy_udp import receive_in_batches, send_directly

            use_standard_clocks()
            spell_headers_canonically()
            wake_reliably()
            send_directly()
            receive_in_batches()
            report_sippy_problems()
            check_requests()
            # One sender thread: sippy's default three reorder messages (an INVITE's
            # ACK after the next INVITE, a 180 after the 200). It also drops
            # SO_REUSEPORT, so a second server cannot silently share the port.
            Udp_server_opts.nworkers = 1
            SipConf.my_uaname = "callyard"
            cls._ed = ED2
        except BaseException as exc:  # reported to dispatcher()
            cls._error = exc
            ready.set()
            return
        ready.set()
        while True:
            ED2.loop()


def _step(what: str, step: Callable[[], None]) -> None:
    try:
        step()
    except Exception:
        log.exception("SIP switch stop step failed", extra={"step": what})


def _register_request(request: Any) -> RegisterRequest:
    contacts = request.getHFBodys("contact")
    contact: str | None = None
    expires: int | None = None
    if contacts:
        first = contacts[0]
        if first.asterisk:
            contact = "*"
        else:
            contact = str(first.getUrl())
            param = first.address.getParam("expires")
            if param is not None and str(param).isdigit():
                expires = int(param)
    if expires is None and request.countHFs("expires"):
        expires = request.getHFBody("expires").getNum()
    authorization = (
        str(request.getHFBody("authorization")) if request.countHFs("authorization") else None
    )
    user_agent = str(request.getHFBody("user-agent")) if request.countHFs("user-agent") else ""
    host, port = request.getSource()
    return RegisterRequest(
        user=str(request.getHFBody("to").getUrl().username or ""),
        contact=contact,
        expires=expires,
        authorization=authorization,
        source=(str(host), int(port)),
        user_agent=user_agent,
        request_uri=str(request.getRURI()),
    )


USER_DATA_HEADER = "x-user-data"
MAX_USER_DATA = 1024


def _user_data(request: Any) -> str:
    """What a PBX's INVITE carries to be echoed back in the call's pushes."""
    if not request.countHFs(USER_DATA_HEADER):
        return ""
    return str(request.getHFBody(USER_DATA_HEADER))[:MAX_USER_DATA]
