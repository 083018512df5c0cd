"""The switch as the rest of callyard sees it: started, stopped, asked for presence.

The SIP stack, the registrar and the media relay run in a process of their own
(`switch.host`); this side sends it commands and routing tables, receives its events
on the event loop, and keeps what services ask synchronously: the registrations (from
the bindings the SIP process reports) and which numbers are in a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callyard.switch.call_numbers import CallNumbers
from callyard.switch.commands import (
    Answer,
    Attach,
    Bridge,
    CallStateError,
    Command,
    Detach,
    Dial,
    Hangup,
    MidCall,
    Play,
    Release,
    Target,
)
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegCalling,
    LegEnded,
    LegFailed,
    SwitchEvent,
    Unregistered,
)
from callyard.switch.link import (
    BindingMade,
    ProbeAnswer,
    ProbeQuery,
    RoutesChanged,
    SipSettings,
    StatsAnswer,
    StatsQuery,
)
from callyard.switch.process import SipProcess
from callyard.switch.registrar import Binding, Registration, SipLimits
from callyard.switch.relay import PROMPT_CODECS, RelayStats, prompt_file
from callyard.switch.routing import CompanyRoutes, RoutesSource, RoutingTable
from callyard.switch.websocket import WebSocketSettings

log = logging.getLogger("callyard.switch")

QUERY_SECONDS = 5.0
PROBE_SECONDS = 8.0  # a peer that answers OPTIONS at all does so within a second


@dataclass
class _Held:
    """What the event loop knows of a call it holds for services (a Dial, a caller to a
    queued number), to refuse commands early."""

    customer: str
    queued: bool = False  # a queued number's caller: services answer it
    answered: bool = False  # the customer answered, or was answered (or asked to be)
    agent: str | None = None  # attached: ringing or bridged
    ending: bool = False  # a prompt plays, then the call hangs up


class Switch:
    """Call control and presence over the SIP process."""

    def __init__(
        self,
        routing: RoutesSource,
        sip: tuple[str, int],
        advertise_ip: str | None = None,
        rtp_ports: tuple[int, int] = (20000, 29999),
        capture_dir: Path | None = None,
        ring_timeout: float = 60.0,
        agent_ring_timeout: float = 30.0,
        limits: SipLimits | None = None,
        hold_music: Path | None = None,
        websocket: WebSocketSettings | None = None,
    ) -> None:
        self.sip_address = sip
        self.websocket = websocket
        self._hold_music = hold_music
        self.advertise_ip = advertise_ip or sip[0]
        self._rtp_ports = rtp_ports
        self._capture_dir = capture_dir or Path("captures")
        self._ring_timeouts = (ring_timeout, agent_ring_timeout)
        self._limits = limits or SipLimits()
        self.routing = routing
        routing.subscribe(self._routes_changed)
        self._listeners: list[Callable[[SwitchEvent], None]] = []
        self._process = SipProcess(self._received, self._lost)
        self._running = False
        self._failed: asyncio.Future[int | None] | None = None
        self._bindings: dict[str, Binding] = {}
        self._answers: dict[int, asyncio.Future[object]] = {}  # query id -> its answer
        self._query_ids = itertools.count(1)
        self._busy = CallNumbers()  # call id -> the numbers it involves
        self._leg_numbers: dict[str, dict[str, str]] = {}  # call id -> leg -> number
        self._held_calls: dict[str, _Held] = {}
        self._watch: asyncio.Task[None] | None = None

    @property
    def sip_pid(self) -> int | None:
        """The SIP process's id while it runs."""
        return self._process.pid

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        """Call `listener` on the event loop for every switch event."""
        self._listeners.append(listener)

    def _routes_changed(self, routes: RoutingTable) -> None:
        if self._running:
            self._process.send(RoutesChanged(routes))

    def company(self, company_id: int) -> CompanyRoutes | None:
        """A company as the routing table knows it (phones' calls are routed by it)."""
        return self.routing.table.companies.get(company_id)

    def _received(self, message: object) -> None:
        if isinstance(message, BindingMade):
            self._bindings[message.binding.number] = message.binding
        elif isinstance(message, StatsAnswer | ProbeAnswer):
            answer = self._answers.pop(message.query_id, None)
            if answer is not None and not answer.done():
                answer.set_result(
                    message.stats if isinstance(message, StatsAnswer) else message.status
                )
        elif isinstance(message, SwitchEvent):
            self._deliver(message)
        else:
            log.error("unknown message from the SIP switch", extra={"kind": type(message).__name__})

    def _lost(self, status: int | None) -> None:
        self._running = False
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(status)

    async def ended(self) -> int | None:
        """Wait until the SIP process ends without being stopped; its exit status."""
        assert self._failed is not None, "the switch was not started"
        return await self._failed

    def _deliver(self, event: SwitchEvent) -> None:
        log.info(type(event).__name__.lower(), extra={"event": event.__dict__})
        if isinstance(event, CallEnded):
            self._busy.pop(event.call_id)
            self._held_calls.pop(event.call_id, None)
            self._leg_numbers.pop(event.call_id, None)
        elif isinstance(event, LegCalling):
            # The leg now reaches this number (a group's next member, a transfer's
            # target): the one it reached before is free.
            self._leg_gone(event.call_id, event.leg)
            self._busy.add(event.call_id, event.number)
            self._leg_numbers.setdefault(event.call_id, {})[event.leg] = event.number
        elif isinstance(event, LegAnswered) and event.leg == CUSTOMER_LEG:
            if (held := self._held_calls.get(event.call_id)) is not None:
                held.answered = True
        elif isinstance(event, LegFailed | LegEnded):
            held = self._held_calls.get(event.call_id)
            if held is not None and event.leg == AGENT_LEG and held.agent is not None:
                if held.agent != held.customer:
                    self._busy.discard(event.call_id, held.agent)
                held.agent = None
            self._leg_gone(event.call_id, event.leg)
        elif isinstance(event, IncomingCall):
            self._busy.set(event.call_id, (event.caller, event.dialed))
            if event.queued:
                self._held_calls[event.call_id] = _Held(event.caller, queued=True)
        elif isinstance(event, Unregistered):
            self._bindings.pop(event.number, None)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # One listener's failure must not keep the event from the others.
                log.exception("switch event listener failed", extra={"event": event.__dict__})

    def _leg_gone(self, call_id: str, leg: str) -> None:
        """The number leg `leg` of a call reached is free, unless another leg (or the
        call's caller or called number) still involves it."""
        legs = self._leg_numbers.get(call_id, {})
        number = legs.pop(leg, None)
        held = self._held_calls.get(call_id)
        keep = set(legs.values()) | ({held.customer} if held is not None else set())
        if number is not None and number not in keep:
            self._busy.discard(call_id, number)

    async def start(self) -> None:
        """Start the SIP process with the routing table; returns once it listens."""
        await self.routing.reload()
        self._failed = asyncio.get_running_loop().create_future()
        await self._process.start(
            SipSettings(
                host=self.sip_address[0],
                port=self.sip_address[1],
                advertise=self.advertise_ip,
                rtp_ports=self._rtp_ports,
                capture_dir=self._capture_dir,
                routes=self.routing.table,
                hold_music=self._hold_music,
                ring_timeout=self._ring_timeouts[0],
                agent_ring_timeout=self._ring_timeouts[1],
                log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                limits=self._limits,
                websocket=self.websocket,
            )
        )
        self._running = True
        self._watch = asyncio.create_task(self.routing.watch(), name="sip-routing")

    async def stop(self) -> None:
        """Hang up every call and stop the SIP process."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self._running = False
        await self._process.stop()
        for answer in self._answers.values():
            answer.cancel()
        self._answers.clear()

    def _submit(self, command: Command) -> None:
        self._process.send(command)

    def bridge(self, order: Bridge) -> None:
        """Place a two-leg call; its progress arrives as events. Once bridged, its
        customer (the second party) may be held and released like any held call's."""
        self._busy.set(order.call_id, (order.first.user, order.second.user))
        self._held_calls[order.call_id] = _Held(order.second.user, agent=order.first.user)
        self._submit(order)

    def dial(self, order: Dial) -> None:
        """Call one party; its progress arrives as events, and once it answers the call is
        held until `attach`, `play` or `hangup`."""
        if order.call_id in self._busy:
            raise CallStateError(f"call {order.call_id} is already in progress")
        self._busy.set(order.call_id, (order.target.user,))
        self._held_calls[order.call_id] = _Held(order.target.user)
        self._submit(order)

    def answer(self, call_id: str) -> None:
        """Answer a caller held on a queued number (LegAnswered follows); one answered
        already stays as it is."""
        held = self._held_calls.get(call_id)
        if held is None or not held.queued:
            raise CallStateError(f"answer: {call_id} is not a queued call in progress")
        if held.answered:
            return
        held.answered = True
        self._submit(Answer(call_id))

    def attach(self, call_id: str, target: Target) -> None:
        """Call an agent for a held customer (a Dial's once answered, a queued caller
        answered or not) and bridge them when it answers; if the agent's leg fails,
        LegFailed reports it and the call is held again."""
        held = self._held(call_id, "attach")
        if not (held.answered or held.queued):
            raise CallStateError(f"attach: {call_id} has not answered")
        held.agent = target.user
        self._busy.add(call_id, target.user)
        self._submit(Attach(call_id, target))

    def detach(self, call_id: str) -> None:
        """Withdraw the offer ringing an agent for a held customer (LegFailed follows)."""
        if call_id not in self._held_calls:
            raise CallStateError(f"detach: {call_id} is not a held call in progress")
        self._submit(Detach(call_id))

    def play(
        self, call_id: str, prompt: Path, hangup_after: bool = True, repeat: bool = False
    ) -> None:
        """Play a prompt (its base path: `<prompt>.0`, `<prompt>.8`) to a held, answered
        customer: once, then hang up (SERVER_HANGUP) when `hangup_after`, else stay held;
        or, with `repeat`, over and over (held) until an agent answers, another prompt
        or a hangup."""
        held = self._held(call_id, "play")
        if not held.answered:
            raise CallStateError(f"play: {call_id} has not answered")
        if any(character.isspace() for character in str(prompt)):
            raise ValueError(f"the relay cannot play {str(prompt)!r}: blank in its path")
        if not any(prompt_file(prompt, pt).is_file() for pt in PROMPT_CODECS):
            raise FileNotFoundError(f"no prompt files {prompt}.0 or {prompt}.8")
        held.ending = hangup_after and not repeat
        self._submit(Play(call_id, prompt, hangup_after, repeat))

    def _held(self, call_id: str, command: str) -> _Held:
        """The held call `command` is for, with nobody attached and no end coming."""
        held = self._held_calls.get(call_id)
        if held is None:
            raise CallStateError(f"{command}: {call_id} is not a held call in progress")
        if held.agent is not None:
            raise CallStateError(f"{command}: {call_id} already has agent {held.agent}")
        if held.ending:
            raise CallStateError(f"{command}: {call_id} hangs up after its prompt")
        return held

    def control(self, command: MidCall) -> None:
        """A command in the middle of a bridged call (hold, resume, mute, release, invite,
        hearing, drop); what follows arrives as events. The SIP process ignores (and
        logs) one the call is not in a state to take."""
        if command.call_id not in self._busy:
            raise CallStateError(f"{type(command).__name__.lower()}: no call {command.call_id}")
        if isinstance(command, Release) and (held := self._held_calls.get(command.call_id)):
            held.agent = None  # an agent may be attached once the others have left
        self._submit(command)

    def hangup(self, call_id: str, status: int | None = None) -> None:
        """End a call; a held caller never answered is refused with `status` (a SIP
        final response, 400 to 699; 480 when None)."""
        if status is not None and not 400 <= status <= 699:
            raise ValueError(f"a caller is refused with 400 to 699, not {status}")
        self._submit(Hangup(call_id, status))

    async def media_stats(self, call_id: str) -> RelayStats | None:
        """Packet counts of a call's relay session; None when it has none (any more, or
        the switch is stopped and its relay with it)."""
        if not self._running:
            return None
        stats = await self._ask(lambda query_id: StatsQuery(query_id, call_id), QUERY_SECONDS)
        assert stats is None or isinstance(stats, RelayStats)
        return stats

    async def probe(self, address: tuple[str, int], within: float = PROBE_SECONDS) -> int | None:
        """Send OPTIONS to a SIP peer (a carrier trunk): the status it answered with, or
        None when it answered nothing `within` seconds (or the switch is not running)."""
        if not self._running:
            return None
        try:
            status = await self._ask(lambda query_id: ProbeQuery(query_id, address), within)
        except TimeoutError:
            return None
        assert status is None or isinstance(status, int)
        return status

    async def _ask(self, query: Callable[[int], object], within: float) -> object:
        """Send the SIP process a query (made with a new query id) and wait `within`
        seconds for its answer (TimeoutError)."""
        query_id = next(self._query_ids)
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._answers[query_id] = answer
        try:
            self._process.send(query(query_id))
            return await asyncio.wait_for(answer, within)
        finally:
            self._answers.pop(query_id, None)

    def in_call(self, number: str) -> bool:
        """Whether a call in progress involves this extension (or number)."""
        return self._busy.involves(number)

    @property
    def call_count(self) -> int:
        """Calls in progress, as last heard from the SIP process."""
        return len(self._busy)

    # Presence

    def binding(self, number: str) -> Binding | None:
        """The live registration of an extension: unexpired, of an enabled extension."""
        binding = self._bindings.get(number)
        if binding is None or binding.expires_at <= time.monotonic():
            return None
        account = self.routing.table.accounts.get(number)
        if account is None or not account.enabled:
            return None
        return binding

    def registration(self, number: str) -> Registration | None:
        binding = self.binding(number)
        if binding is None:
            return None
        return Registration(
            client_ip=binding.source[0],
            client_port=binding.source[1],
            server_ip=self.advertise_ip,
            user_agent=binding.user_agent,
            registered_at=binding.registered_at,
        )
