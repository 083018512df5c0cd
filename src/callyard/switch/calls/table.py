"""The calls in progress, by call id (SIP thread only)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from callyard.mixer.client import Mixer
from callyard.switch.calls.base import RelayedCall, log
from callyard.switch.calls.bridged import BridgedCall
from callyard.switch.calls.dialed import DialedCall
from callyard.switch.calls.held import HeldCall
from callyard.switch.calls.inbound import InboundCall
from callyard.switch.calls.queued import QueuedCall
from callyard.switch.calls.taken import Caller, TakenCall
from callyard.switch.commands import (
    Answer,
    Attach,
    Bridge,
    Detach,
    Dial,
    Hearing,
    Hold,
    Invite,
    MidCall,
    Mute,
    Play,
    Release,
    Resume,
)
from callyard.switch.events import (
    SwitchEvent,
)
from callyard.switch.registrar import Account
from callyard.switch.relay import (
    MediaRelay,
)
from callyard.switch.routing import PbxRoute, Queue, Route, Router


def _unanswered(transaction: Any) -> bool:
    """Whether a server transaction has sent no final response yet."""
    from sippy.SipTransactionManager import RINGING, TRYING

    return transaction.state in (TRYING, RINGING)


class CallTable:
    """The calls in progress, by call id (SIP thread only)."""

    def __init__(
        self,
        sip_config: dict[str, Any],
        relay: MediaRelay,
        router: Router,
        emit: Callable[[SwitchEvent], None],
        mixer: Callable[[], Mixer] | None = None,
    ) -> None:
        self._config = sip_config
        self.relay = relay
        self._router = router
        self._emit = emit
        self._mixer = mixer
        self.calls: dict[str, RelayedCall] = {}

    def bridge(self, order: Bridge) -> None:
        call = BridgedCall(order, self._config, self.relay, self._emit, self._forget)
        self._add(call)
        call.start()

    def dial(self, order: Dial) -> None:
        call = DialedCall(order, self._config, self.relay, self._emit, self._forget)
        self._add(call)
        call.start()

    def _add(self, call: RelayedCall) -> None:
        self.calls[call.call_id] = call
        call.route_transfer = self._transfer_route
        if isinstance(call, HeldCall):
            call.mixer = self._mixer

    def _held(self, call_id: str) -> HeldCall | None:
        call = self.calls.get(call_id)
        if isinstance(call, HeldCall):
            return call
        if call is not None:
            log.warning("mid-call command to a call that takes none", extra={"call_id": call_id})
        return None

    def in_the_middle(self, command: MidCall) -> None:
        """A command for a bridged call: hold, resume, mute, release, invite, hearing, drop."""
        call = self._held(command.call_id)
        if call is None:
            return
        if isinstance(command, Hold):
            call.hold(command.music)
        elif isinstance(command, Resume):
            call.resume()
        elif isinstance(command, Mute):
            call.mute(command.leg, command.muted)
        elif isinstance(command, Release):
            call.release(command.music)
        elif isinstance(command, Invite):
            call.invite(command.leg, command.target, command.heard_by)
        elif isinstance(command, Hearing):
            call.set_hearing(command.leg, command.heard_by)
        else:
            call.drop(command.leg)

    def answer(self, command: Answer) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, QueuedCall):
            call.answer()

    def attach(self, command: Attach) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, HeldCall):
            call.attach(command.target)

    def detach(self, command: Detach) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, HeldCall):
            call.detach()

    def play(self, command: Play) -> None:
        call = self.calls.get(command.call_id)
        if isinstance(call, HeldCall):
            call.play(command.prompt, command.hangup_after, command.repeat)

    def incoming(self, request: Any, transaction: Any, caller: Account) -> Any:
        """A phone's INVITE: answered by a UA of its own, routed by the table."""

        def route(dialed: str) -> Route:
            return self._router.route(caller, dialed, self.in_call)

        return self._take(request, transaction, Caller(caller.company_id, caller.number), route)

    def from_carrier(self, request: Any, transaction: Any, company_id: int, route: Route) -> Any:
        """A carrier's INVITE to a company's number, already routed: held for services
        when the number is queued."""
        caller = Caller(company_id, route.caller_id, from_carrier=True)
        queued = isinstance(route.destination, Queue)
        return self._take(request, transaction, caller, lambda _: route, queued)

    def from_pbx(
        self, request: Any, transaction: Any, pbx: PbxRoute, calling: str, user_data: str
    ) -> Any:
        """A company's PBX's INVITE, already authenticated: out through the trunk."""

        def route(dialed: str) -> Route:
            return self._router.route_pbx(pbx, dialed, calling)

        caller = Caller(pbx.company_id, calling, user_data=user_data)
        return self._take(request, transaction, caller, route)

    def pbx_at(self, host: str) -> PbxRoute | None:
        """The PBX known by its address alone that sends from `host`."""
        return self._router.table.pbx_at(host)

    def pbx_of(self, username: str) -> PbxRoute | None:
        return self._router.table.pbx_of(username)

    def is_pbx_user(self, username: str) -> bool:
        """Whether `username` is a PBX's digest username."""
        return self._router.table.pbx_of(username) is not None

    def carrier_route(
        self, source: tuple[str, int], dialed: str, calling: str
    ) -> tuple[int, Route] | None:
        """The company (0: none) and route of a carrier's call, or None if the call
        from `source` is no carrier's."""
        return self._router.from_carrier(source, dialed, calling, self.in_call)

    def _take(
        self,
        request: Any,
        transaction: Any,
        caller: Caller,
        route: Callable[[str], Route],
        queued: bool = False,
    ) -> Any:
        kind: type[TakenCall] = QueuedCall if queued else InboundCall
        call = kind(
            str(uuid.uuid4()), caller, route, self._config, self.relay, self._emit, self._forget
        )
        self._add(call)
        try:
            return call.take(request, transaction)
        except Exception:
            log.exception("phone's call failed", extra={"call_id": call.call_id})
            call.fail()
            if _unanswered(transaction):
                raise  # the stack answers 500
            return None

    def in_call(self, number: str) -> bool:
        """Whether a call in progress involves this extension (or number)."""
        return any(number in call.numbers for call in self.calls.values())

    def hangup(self, call_id: str, status: int | None = None) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.hangup(status)

    def hangup_all(self) -> None:
        """End every call; one that fails to end is logged and dropped, and the others
        still end."""
        for call in list(self.calls.values()):
            try:
                call.hangup()
            except Exception:
                log.exception("call not hung up", extra={"call_id": call.call_id})
                self.calls.pop(call.call_id, None)

    def _transfer_route(self, referrer: str, dialed: str) -> Route | None:
        """Where a phone's REFER goes: where its own call to `dialed` would (None when
        the referrer is no extension, e.g. a carrier)."""
        account = self._router.account(referrer)
        if account is None or not account.enabled:
            return None
        return self._router.route(account, dialed, self.in_call)

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
