"""The switch as the rest of callyard sees it: started, stopped, asked for presence."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from callyard.clock import Clock
from callyard.codes import HangupCode
from callyard.services.directory import Directory
from callyard.services.presence import Registration
from callyard.store.database import Database
from callyard.switch.accounts import AccountBook
from callyard.switch.commands import Bridge, Connect, Hangup, Reject, Target
from callyard.switch.digest import DigestAuthority
from callyard.switch.events import CallEnded, IncomingCall, SwitchEvent
from callyard.switch.registrar import Registrar
from callyard.switch.relay import MediaRelay
from callyard.switch.sip_stack import SipStack

log = logging.getLogger("callyard.switch")

REALM = "callyard"


class Switch:
    """SIP registrar (and, as it grows, call control) behind the Presence interface."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        clock: Clock,
        sip: tuple[str, int],
        advertise_ip: str | None = None,
        rtp_ports: tuple[int, int] = (20000, 29999),
        capture_dir: Path | None = None,
    ) -> None:
        self.sip_address = sip
        self.advertise_ip = advertise_ip or sip[0]
        self.accounts = AccountBook(db, directory)
        self._listeners: list[Callable[[SwitchEvent], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.registrar = Registrar(
            self.accounts.lookup,
            DigestAuthority(REALM, time.monotonic),
            time.monotonic,
            clock.now,
            self._emit,
        )
        self._stack = SipStack(
            sip[0],
            sip[1],
            self.advertise_ip,
            self.registrar,
            lambda: MediaRelay(
                sip[0], rtp_ports, capture_dir or Path("captures"), self.advertise_ip
            ),
            self._emit,
        )
        self._busy: dict[str, set[str]] = {}  # call id -> the numbers it involves
        self._pending: collections.deque[SwitchEvent] = collections.deque()
        self._drain_scheduled = False
        self._watch: asyncio.Task[None] | None = None

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        """Call `listener` on the event loop for every switch event."""
        self._listeners.append(listener)

    def _emit(self, event: SwitchEvent) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # Events come in bursts (a response often yields two); one wake-up of the loop
        # delivers all that are waiting.
        self._pending.append(event)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False  # before taking: an event added now schedules anew
        while self._pending:
            self._deliver(self._pending.popleft())

    def _deliver(self, event: SwitchEvent) -> None:
        log.info(type(event).__name__.lower(), extra={"event": event.__dict__})
        if isinstance(event, CallEnded):
            self._busy.pop(event.call_id, None)
        elif isinstance(event, IncomingCall):
            self._busy[event.call_id] = {event.caller}
        for listener in self._listeners:
            listener(event)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.accounts.reload()
        self._watch = asyncio.create_task(self.accounts.watch(), name="sip-accounts")
        await asyncio.to_thread(self._stack.start)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await asyncio.to_thread(self._stack.stop)

    def bridge(self, order: Bridge) -> None:
        """Place a two-leg call; its progress arrives as events."""
        self._busy[order.call_id] = {order.first.user, order.second.user}
        self._stack.submit(order)

    def hangup(self, call_id: str) -> None:
        self._stack.submit(Hangup(call_id))

    def connect(self, call_id: str, target: Target, record: bool = True) -> None:
        """Put a phone's incoming call through to `target`."""
        self._busy.setdefault(call_id, set()).add(target.user)
        self._stack.submit(Connect(call_id, target, record))

    def reject(self, call_id: str, status: int, reason: str, cause: HangupCode) -> None:
        self._stack.submit(Reject(call_id, status, reason, cause.value))

    def in_call(self, number: str) -> bool:
        """Whether a call in progress involves this extension (or number)."""
        return any(number in numbers for numbers in self._busy.values())

    # Presence

    def registration(self, number: str) -> Registration | None:
        binding = self.registrar.binding(number)
        if binding is None:
            return None
        return Registration(
            client_ip=binding.source[0],
            client_port=binding.source[1],
            server_ip=self.advertise_ip,
            user_agent=binding.user_agent,
            registered_at=binding.registered_at,
        )

    def is_answered(self, number: str) -> bool:
        return self.in_call(number)
