"""The calls in progress, by call id (SIP thread only)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from callyard.mixer.client import Mixer
from callyard.switch.calls.base import Referred, RelayedCall, log
from callyard.switch.calls.bridged import BridgedCall
from callyard.switch.calls.dialed import DialedCall
from callyard.switch.calls.held import HeldCall
from callyard.switch.calls.inbound import InboundCall
from callyard.switch.calls.leg import LegState
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
        hold_music: Path | None = None,
    ) -> None:
        self._config = sip_config
        self.relay = relay
        self._router = router
        self._emit = emit
        self._mixer = mixer
        self._hold_music = hold_music
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
        call.replace_with = self._attended
        if isinstance(call, HeldCall):
            call.mixer = self._mixer
            call.hold_music = self._hold_music

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

    def _attended(self, call: RelayedCall, leg: str, replaces: str) -> Referred:
        """A phone's REFER with Replaces (an attended transfer): the phone, in a held
        call as its agent and in another call (its consultation), hands the held call's
        customer to the other call's party, whichever of the two dialogs it referred
        in. 481 when the dialog named is no call's (the Call-ID is what names it); 403
        when there is no customer to hand over, or the target has not answered or is a
        browser."""
        dialog = replaces.split(";", 1)[0].strip()
        found = next(
            (
                (other, name)
                for other in self.calls.values()
                if other is not call
                for name in other.legs()
                if other.dialog_of(name) == dialog
            ),
            None,
        )
        if found is None:
            return 481, "Call/Transaction Does Not Exist", None
        other, other_leg = found
        if isinstance(call, HeldCall) and call.takes_over(leg):
            held, held_leg, consult, referrer = call, leg, other, other_leg
        elif isinstance(other, HeldCall) and other.takes_over(other_leg):
            held, held_leg, consult, referrer = other, other_leg, call, leg
        else:
            return 403, "Forbidden (no held call to hand over)", None
        target = next((name for name in consult.legs() if name != referrer), None)
        if target is None or consult.legs()[target].state is not LegState.ANSWERED:
            return 403, "Forbidden (the transfer's target has not answered)", None
        if consult.legs()[target].browser:
            # Its DTLS session stays with its own call's relay port: it cannot be moved.
            return 403, "Forbidden (the transfer's target is a browser)", None
        return 202, "Accepted", partial(self._hand_over, held, held_leg, consult, target)

    def _hand_over(self, held: HeldCall, leg: str, consult: RelayedCall, target: str) -> None:
        party = consult.give_up(target)
        if party is None:
            return
        log.info(
            "attended transfer",
            extra={"call_id": held.call_id, "from": consult.call_id, "to": party.number},
        )
        held.adopt(leg, party)
        # The target is reported on the held call once its own call has ended, so that
        # whoever follows it sees it leave one call before it joins the other.
        consult.on_ended.append(partial(held.report_adopted, leg))
        consult.hangup()

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
