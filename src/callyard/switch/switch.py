"""The switch as the rest of callyard sees it: started, stopped, asked for presence."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callyard.clock import Clock
from callyard.codes import HangupCode
from callyard.services.directory import Directory
from callyard.services.presence import Registration
from callyard.store.database import Database
from callyard.switch.accounts import AccountBook
from callyard.switch.commands import (
    Attach,
    Bridge,
    CallStateError,
    Connect,
    Dial,
    Hangup,
    Play,
    Reject,
    Target,
)
from callyard.switch.digest import DigestAuthority
from callyard.switch.events import (
    CUSTOMER_LEG,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegFailed,
    SwitchEvent,
)
from callyard.switch.registrar import Registrar
from callyard.switch.relay import PROMPT_CODECS, MediaRelay, RelayStats, prompt_file
from callyard.switch.sip_stack import SipStack

log = logging.getLogger("callyard.switch")

REALM = "callyard"


@dataclass
class _Dialed:
    """What the event loop knows of a Dial in progress, to refuse commands early."""

    customer: str
    answered: bool = False
    agent: str | None = None  # attached: ringing or bridged
    ending: bool = False  # a prompt plays, then the call hangs up


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
        self._dialed: dict[str, _Dialed] = {}
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
            self._dialed.pop(event.call_id, None)
        elif isinstance(event, LegAnswered) and event.leg == CUSTOMER_LEG:
            if (dialed := self._dialed.get(event.call_id)) is not None:
                dialed.answered = True
        elif isinstance(event, LegFailed):
            dialed = self._dialed.get(event.call_id)
            if dialed is not None and dialed.agent is not None:
                numbers = self._busy.get(event.call_id)
                if numbers is not None and dialed.agent != dialed.customer:
                    numbers.discard(dialed.agent)
                dialed.agent = None
        elif isinstance(event, IncomingCall):
            self._busy[event.call_id] = {event.caller}
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # One listener's failure must not keep the event from the others.
                log.exception("switch event listener failed", extra={"event": event.__dict__})

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

    def dial(self, order: Dial) -> None:
        """Call one party; its progress arrives as events, and once it answers the call is
        held until `attach`, `play` or `hangup`."""
        if order.call_id in self._busy:
            raise CallStateError(f"call {order.call_id} is already in progress")
        self._busy[order.call_id] = {order.target.user}
        self._dialed[order.call_id] = _Dialed(order.target.user)
        self._stack.submit(order)

    def attach(self, call_id: str, target: Target) -> None:
        """Call an agent for a held Dial and bridge them when it answers; if the agent's
        leg fails, LegFailed reports it and the call is held again."""
        dialed = self._held(call_id, "attach")
        dialed.agent = target.user
        self._busy[call_id].add(target.user)
        self._stack.submit(Attach(call_id, target))

    def play(self, call_id: str, prompt: Path, hangup_after: bool = True) -> None:
        """Play a prompt (its base path: `<prompt>.0`, `<prompt>.8`) to a held Dial's
        customer; then hang up (SERVER_HANGUP) when `hangup_after`, else stay held."""
        dialed = self._held(call_id, "play")
        if any(character.isspace() for character in str(prompt)):
            raise ValueError(f"the relay cannot play {str(prompt)!r}: blank in its path")
        if not any(prompt_file(prompt, pt).is_file() for pt in PROMPT_CODECS):
            raise FileNotFoundError(f"no prompt files {prompt}.0 or {prompt}.8")
        dialed.ending = hangup_after
        self._stack.submit(Play(call_id, prompt, hangup_after))

    def _held(self, call_id: str, command: str) -> _Dialed:
        dialed = self._dialed.get(call_id)
        if dialed is None:
            raise CallStateError(f"{command}: {call_id} is not a dialed call in progress")
        if not dialed.answered:
            raise CallStateError(f"{command}: {call_id} has not answered")
        if dialed.agent is not None:
            raise CallStateError(f"{command}: {call_id} already has agent {dialed.agent}")
        if dialed.ending:
            raise CallStateError(f"{command}: {call_id} hangs up after its prompt")
        return dialed

    def hangup(self, call_id: str) -> None:
        self._stack.submit(Hangup(call_id))

    def connect(self, call_id: str, target: Target, record: bool = True) -> None:
        """Put a phone's incoming call through to `target`."""
        self._busy.setdefault(call_id, set()).add(target.user)
        self._stack.submit(Connect(call_id, target, record))

    def reject(self, call_id: str, status: int, reason: str, cause: HangupCode) -> None:
        self._stack.submit(Reject(call_id, status, reason, cause.value))

    def media_stats(self, call_id: str) -> RelayStats | None:
        """Packet counts of a call's relay session; None when it has none (any more)."""
        relay = self._stack.relay
        return relay.stats(call_id) if relay is not None else None

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
