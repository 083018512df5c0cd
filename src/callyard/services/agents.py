"""One state per extension (an agent's seat), the same for every reader: the status
services, the predictive dialer, the queues and the CTI.

An agent is its extension's enablement and group check-ins (the store, read through the
directory's cache: every change to them goes through `Directory.changing`), its phone's
registration and its calls (the switch stays the authority for what it decides
synchronously), and what follows from the switch's events and from what services decide:
the phase of its call and since when, when its last call ended, its wrap-up, and a time
it is kept away from offered calls (after missing one). `AgentBoard.agent` gives all of
it at once. Monotonic seconds throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.domain.agents import AgentState, Phase
from callyard.services.directory import Directory
from callyard.store.models import Extension, ExtensionGroup, GroupMember
from callyard.switch.events import (
    AGENT_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegCalling,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort


@dataclass
class Seat:
    """The live state of one extension."""

    number: str
    talking_since: float | None = None
    ended_at: float | None = None  # its last call's end (None before its first)
    wrapup_since: float | None = None
    wrapup_until: float | None = None
    away_until: float = 0.0
    available_since: float = 0.0  # when it last became free to be offered a call


@dataclass(frozen=True)
class CheckIn:
    """An extension checked in to a group, taking its calls when idle."""

    group_id: int
    group: str
    number: str
    state: AgentState
    checked_in_at: datetime


@dataclass(frozen=True)
class AgentView:
    """Everything known of one extension now."""

    number: str
    company_id: int
    enabled: bool
    registered: bool
    check_ins: tuple[CheckIn, ...]  # by group id
    phase: Phase
    talking_seconds: int | None  # in an answered call since; None when not
    idle_seconds: int | None  # since its last call ended; None before its first


_CHECK_INS = (
    select(
        ExtensionGroup.id,
        ExtensionGroup.name,
        Extension.number,
        GroupMember.state,
        GroupMember.checked_in_at,
    )
    .join(ExtensionGroup, ExtensionGroup.id == GroupMember.group_id)
    .join(Extension, Extension.id == GroupMember.extension_id)
)


async def _check_ins(session: AsyncSession, *where: object) -> tuple[CheckIn, ...]:
    rows = await session.execute(
        _CHECK_INS.where(*where).order_by(  # type: ignore[arg-type]
            GroupMember.checked_in_at, Extension.number, ExtensionGroup.id
        )
    )
    return tuple(
        CheckIn(group_id, group, number, AgentState(state), at)
        for group_id, group, number, state, at in rows
    )


# The key of an engaged extension among a call's legs: it is none of the call's legs.
_ENGAGED = "engaged"


class AgentBoard:
    """Every extension's state: the store's part read through the directory, the live
    part fed by the switch's events."""

    def __init__(self, switch: SwitchPort | None, directory: Directory | None = None) -> None:
        self._switch = switch
        self._directory = directory
        self._seats: dict[str, Seat] = {}
        # call id -> leg -> the registered extension that leg reaches (customers' numbers
        # are not seats and are not kept)
        self._calls: dict[str, dict[str, str]] = {}
        # extension -> the call on another line it is engaged in (an agent's mobile)
        self._engaged: dict[str, str] = {}
        if switch is not None:
            switch.subscribe(self.on_event)

    def seat(self, number: str) -> Seat:
        return self._seats.setdefault(number, Seat(number))

    # what the switch decides

    def registered(self, number: str) -> bool:
        return self._switch is not None and self._switch.binding(number) is not None

    def in_call(self, number: str) -> bool:
        """Whether a call involves the extension: on its phone, or on another line of
        its agent (its mobile)."""
        if number in self._engaged:
            return True
        return self._switch is not None and self._switch.in_call(number)

    # what the store says

    async def group_members(self, group_id: int) -> tuple[CheckIn, ...]:
        """The enabled extensions checked in to a group, in the order they checked in."""
        directory = self._require_directory()

        async def load(session: AsyncSession) -> tuple[CheckIn, ...]:
            return await _check_ins(
                session, GroupMember.group_id == group_id, Extension.enabled.is_(True)
            )

        return await directory.cached("group-check-ins", group_id, load) or ()

    async def agent(self, number: str, now: float) -> AgentView | None:
        """The extension's whole state; None when there is no such extension."""
        directory = self._require_directory()
        entry = await directory.extension(number)
        if entry is None:
            return None

        async def load(session: AsyncSession) -> tuple[CheckIn, ...]:
            return tuple(
                sorted(
                    await _check_ins(session, Extension.number == number),
                    key=lambda c: c.group_id,
                )
            )

        check_ins = await directory.cached("agent-check-ins", number, load) or ()
        return AgentView(
            number=number,
            company_id=entry.company_id,
            enabled=entry.enabled,
            registered=self.registered(number),
            check_ins=check_ins,
            phase=self.phase(number, now),
            talking_seconds=self.talking_seconds(number, now),
            idle_seconds=self.idle_seconds(number, now),
        )

    def _require_directory(self) -> Directory:
        if self._directory is None:
            raise RuntimeError("this board was built without the directory")
        return self._directory

    # what follows

    def phase(self, number: str, now: float) -> Phase:
        seat = self.seat(number)
        if self.in_call(number):
            return Phase.TALKING if seat.talking_since is not None else Phase.IN_CALL
        if seat.wrapup_until is not None and now < seat.wrapup_until:
            return Phase.WRAP_UP
        if now < seat.away_until:
            return Phase.AWAY
        return Phase.IDLE

    def talking_seconds(self, number: str, now: float) -> int | None:
        """Whole seconds since the extension's call was answered; None when it is in no
        answered call."""
        since = self.seat(number).talking_since
        if since is None or not self.in_call(number):
            return None
        return max(0, int(now - since))

    def idle_seconds(self, number: str, now: float) -> int | None:
        """Whole seconds since the extension's last call ended (None before its first)."""
        ended = self.seat(number).ended_at
        return None if ended is None else int(now - ended)

    # what services decide

    def wrap_up(self, number: str, now: float, seconds: float) -> None:
        """The extension's call ended: it is given `seconds` before it is offered another."""
        seat = self.seat(number)
        seat.wrapup_since, seat.wrapup_until = now, now + seconds
        seat.available_since = now + seconds

    def end_wrap_up(self, number: str, now: float) -> None:
        """The extension's wrap-up is over at `now`: it may be offered calls."""
        seat = self.seat(number)
        seat.wrapup_since = seat.wrapup_until = None
        seat.available_since = max(seat.away_until, now)

    def keep_away(self, number: str, now: float, seconds: float) -> None:
        """The extension did not take an offered call: none is offered for `seconds`."""
        seat = self.seat(number)
        seat.away_until = now + seconds
        seat.available_since = seat.away_until

    def engage(self, call_id: str, number: str) -> None:
        """The call `call_id`, which rings another line of the extension's agent (its
        mobile), is the extension's until it ends: it is in a call, then talking."""
        self._calls.setdefault(call_id, {})[_ENGAGED] = number
        self._engaged[number] = call_id

    def disengage(self, call_id: str, number: str) -> None:
        """The call no longer engages the extension (an offer to its mobile that ended
        while the call goes on)."""
        if self._engaged.get(number) == call_id:
            del self._engaged[number]
            self._calls.get(call_id, {}).pop(_ENGAGED, None)

    def reset(self, number: str, now: float) -> None:
        """The extension is out of wrap-up and no longer kept away: free from `now`."""
        seat = self.seat(number)
        seat.wrapup_since = seat.wrapup_until = None
        seat.away_until = 0.0
        seat.available_since = min(seat.available_since, now)

    def on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, IncomingCall) and not event.from_carrier:
            self._reaches(event.call_id, AGENT_LEG, event.caller)
        elif isinstance(event, LegCalling):
            # A leg that calls another party (a group's next member, a transfer's
            # target) no longer reaches the one before.
            self._calls.get(event.call_id, {}).pop(event.leg, None)
            self._reaches(event.call_id, event.leg, event.number)
        elif isinstance(event, CallBridged):
            for number in self._calls.get(event.call_id, {}).values():
                seat = self.seat(number)
                seat.talking_since = event.at
                seat.wrapup_since = seat.wrapup_until = None
        elif isinstance(event, CallEnded):
            for number in self._calls.pop(event.call_id, {}).values():
                seat = self.seat(number)
                seat.talking_since = None
                seat.ended_at = event.at
                if self._engaged.get(number) == event.call_id:
                    del self._engaged[number]

    def _reaches(self, call_id: str, leg: str, number: str) -> None:
        if self.registered(number):
            self._calls.setdefault(call_id, {})[leg] = number
