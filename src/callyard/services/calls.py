"""Calls placed through the API: click-to-call (MakeCall) and two-way calls (DoubleCall).

The service checks everything the seeds document before anything rings, hands the
switch a Bridge command, and turns the switch's events into the call record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from callyard.bus import CallRecorded, CallStateChanged, CallView, EventBus, LegStatus
from callyard.clock import Clock
from callyard.domain.calls import CallKind, Direction
from callyard.domain.hangups import EndReason, Party, q850_cause
from callyard.domain.lines import LineCheck, LinePhase
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.phone_numbers import without_separators
from callyard.services.agents import AgentBoard
from callyard.services.auth import Caller
from callyard.services.call_journal import CallJournal, JournalEntry
from callyard.services.cdrs import CallRecord, CdrService, StoredCallRecord
from callyard.services.directory import Directory
from callyard.services.extensions import OWNERSHIP_CHECKS, owned_extension
from callyard.services.numbers import NumberService
from callyard.services.outbound import OutboundLines
from callyard.services.recordings import RecordingService
from callyard.services.trunks import TrunkService
from callyard.switch.commands import Bridge, Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallBridged,
    CallEnded,
    CallEvent,
    IncomingCall,
    LegAnswered,
    LegCalling,
    LegEnded,
    LegRinging,
    SwitchEvent,
)
from callyard.switch.port import SwitchPort
from callyard.switch.recording import captures_to_wav
from callyard.switch.routing import PHONE_NUMBER
from callyard.timefmt import TimeFormat

log = logging.getLogger("callyard.calls")


def running_switch(switch: SwitchPort | None) -> SwitchPort:
    """The switch, or the API's answer when this process runs none."""
    if switch is None:
        raise BusinessError(Refusal.SWITCH_DOWN, "The switch is not running")
    return switch


def check_phone_number(value: str, field_name: str) -> str:
    """A phone number to dial, written with or without separators, as its digits."""
    value = without_separators(value)
    if not PHONE_NUMBER.match(value):
        raise InvalidInput(field_name, f"{value!r} is not a phone number (3 to 32 digits)")
    return value


@dataclass(frozen=True)
class CustomFields:
    """The API's custom parameters; they travel with the call into events and the record."""

    userid: str = ""
    maturity: str = ""  # how ripe the lead is, as the CRM rates it
    memberid: str = ""
    customuuid: str = ""
    user_data: str = ""  # echoed back in pushes as given
    label: str = ""  # the variant the API named (a two-way call's `type`)


@dataclass(frozen=True)
class CallAgent:
    """The agent a call is placed for, as its record keeps it."""

    number: str
    name: str
    group: str = ""


@dataclass
class LiveCall:
    call_id: str
    caller: Caller
    kind: CallKind
    extnumber: str
    destnumber: str
    disnumber: str
    custom: CustomFields
    started_wall: datetime
    started_at: float
    bridged_at: float | None = None
    answered_at: float | None = None  # predictive calls: when the customer answered
    status: LinePhase = LinePhase.RINGING
    legs: list[str] = field(default_factory=list)  # legs that rang or answered, in order
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # A carrier's call to a company number: `disnumber` is who calls, `destnumber` the
    # number called, `extnumber` the extension rung now, `answered_by` the one that took it.
    answered_by: str = ""
    agent: CallAgent | None = None
    first_number: str = ""  # the number the first leg calls, when it is no extension
    # each leg's progress (monotonic): the first leg is called at `started_at`
    first_ringing_at: float | None = None
    first_answered_at: float | None = None
    second_called_at: float | None = None
    second_ringing_at: float | None = None
    queued_at: float | None = None  # when the caller entered a group's queue
    queued: bool = False  # a queued number's caller: the extension is the agent's leg
    agent_left: bool = False  # the agent's leg left while the call went on (handed over)

    @property
    def extension_leg(self) -> str:
        """A carrier's call's leg that reaches the extension (the hunted party is the
        second leg; the agent a queued caller is put through to, the agent's leg)."""
        return AGENT_LEG if self.queued else CUSTOMER_LEG

    @property
    def queued_ms(self) -> int:
        """When the caller entered a queue, in epoch milliseconds (0: never)."""
        if self.queued_at is None:
            return 0
        wall = self.started_wall.timestamp() + max(0.0, self.queued_at - self.started_at)
        return round(wall * 1000)

    def note_leg(self, event: LegCalling | LegRinging | LegAnswered) -> None:
        """Keep the first time each leg was called, rang and answered."""
        first = event.leg == AGENT_LEG
        if isinstance(event, LegCalling) and not first and self.second_called_at is None:
            self.second_called_at = event.at
        elif isinstance(event, LegRinging):
            if first and self.first_ringing_at is None:
                self.first_ringing_at = event.at
            elif not first and self.second_ringing_at is None:
                self.second_ringing_at = event.at
        elif isinstance(event, LegAnswered) and first and self.first_answered_at is None:
            self.first_answered_at = event.at

    @property
    def inbound(self) -> bool:
        return self.kind.direction is Direction.INBOUND

    def view(self) -> CallView:
        """The call as it stands, for the events of its legs."""
        return CallView(
            call_id=self.call_id,
            company_code=self.caller.company_code,
            kind=self.kind,
            extnumber=self.extnumber,
            destnumber=self.destnumber,
            disnumber=self.disnumber,
            customuuid=self.custom.customuuid,
            started_at=self.started_wall,
        )


@dataclass(frozen=True)
class CallStatus:
    """GetSipCallStatus of one extension."""

    number: str
    status: LinePhase | LineCheck
    call: LiveCall | None = None
    idle_seconds: int | None = None
    call_seconds: int | None = None


class CallService:
    """MakeCall and DoubleCall."""

    def __init__(
        self,
        switch: SwitchPort | None,
        directory: Directory,
        trunks: TrunkService,
        numbers: NumberService,
        cdrs: CdrService,
        recordings: RecordingService,
        clock: Clock,
        bus: EventBus,
        times: TimeFormat,
        ring_timeout: float = 60.0,
        agent_ring_timeout: float = 30.0,
        agents: AgentBoard | None = None,
        journal: CallJournal | None = None,
    ) -> None:
        self._bus = bus
        self._journal = journal
        self._times = times
        self._switch = switch
        self._ring_timeout = ring_timeout
        self._agent_ring_timeout = agent_ring_timeout
        self._directory = directory
        self._lines = OutboundLines(trunks, numbers)
        self._cdrs = cdrs
        self._recordings = recordings
        self._clock = clock
        self.live: dict[str, LiveCall] = {}
        self._agents = agents or AgentBoard(switch)
        self._tasks: set[asyncio.Task[None]] = set()
        if switch is not None:
            switch.subscribe(self._on_event)

    def _running_switch(self) -> SwitchPort:
        return running_switch(self._switch)

    async def _extension(self, caller: Caller, number: str) -> None:
        entry = owned_extension(await self._directory.extension(number), caller, number)
        if not entry.enabled:
            raise BusinessError(Refusal.EXTENSION_DISABLED, f"Extension {number} is disabled")

    def _busy(self, number: str) -> None:
        """Refused while a call involves the extension (on its phone, or its agent's
        mobile: the agents' board knows both)."""
        if self._agents.in_call(number):
            raise BusinessError(Refusal.EXTENSION_BUSY, f"Extension {number} is already in a call")

    async def make_call(
        self,
        caller: Caller,
        extnumber: str,
        destnumber: str,
        disnumber: str | None,
        custom: CustomFields,
        agent: CallAgent | None = None,
    ) -> str:
        """Ring the agent's phone; when answered, dial `destnumber` through the trunk."""
        destnumber = check_phone_number(destnumber, "destnumber")
        await self._extension(caller, extnumber)
        switch = self._running_switch()
        registration = switch.binding(extnumber)
        if registration is None:
            raise BusinessError(
                Refusal.EXTENSION_NOT_REGISTERED, f"Extension {extnumber} is not registered"
            )
        self._busy(extnumber)
        line = await self._lines.line(caller, disnumber)
        shown = line.caller_id
        order = Bridge(
            call_id=str(uuid.uuid4()),
            first=Target(registration.target, extnumber, destnumber, self._agent_ring_timeout),
            second=line.to(destnumber, self._ring_timeout),
        )
        call = self._track(
            order.call_id, caller, CallKind.CLICK_TO_CALL, extnumber, destnumber, shown, custom
        )
        call.agent = agent
        switch.bridge(order)
        return order.call_id

    async def double_call(
        self,
        caller: Caller,
        extnumber: str,
        anumber: str,
        bnumber: str,
        disnumber: str | None,
        custom: CustomFields,
        *,
        kind: CallKind = CallKind.TWO_WAY,
        agent: CallAgent | None = None,
        fields: tuple[str, str] = ("anumber", "bnumber"),
    ) -> str:
        """Call `anumber` (an employee's or agent's mobile); when answered, call the
        customer `bnumber`. `extnumber` is the extension the call is recorded for ("":
        none); `fields` name the numbers in the request, for its errors."""
        anumber = check_phone_number(anumber, fields[0])
        bnumber = check_phone_number(bnumber, fields[1])
        if extnumber:
            await self._extension(caller, extnumber)
        switch = self._running_switch()
        if extnumber:
            self._busy(extnumber)
        line = await self._lines.line(caller, disnumber)
        shown = line.caller_id
        order = Bridge(
            call_id=str(uuid.uuid4()),
            first=line.to(anumber, self._ring_timeout),
            second=line.to(bnumber, self._ring_timeout),
        )
        call = self._track(order.call_id, caller, kind, extnumber, bnumber, shown, custom)
        call.agent, call.first_number = agent, anumber
        if extnumber:
            self._agents.engage(order.call_id, extnumber)
        switch.bridge(order)
        return order.call_id

    def track_predictive(
        self,
        call_id: str,
        caller: Caller,
        destnumber: str,
        disnumber: str,
        custom: CustomFields,
    ) -> LiveCall:
        """Follow a dialer's call; the dialer sets `extnumber` once an agent
        takes it."""
        return self.track_outbound(
            call_id, caller, CallKind.PREDICTIVE, destnumber, disnumber, custom
        )

    def track_outbound(
        self,
        call_id: str,
        caller: Caller,
        kind: CallKind,
        destnumber: str,
        disnumber: str,
        custom: CustomFields,
    ) -> LiveCall:
        """Follow a call another service dials through the trunk with no extension (a
        predictive call, a voice code call): its state events and its record are written
        here like every other call's, answered when the customer answers."""
        return self._track(call_id, caller, kind, "", destnumber, disnumber, custom)

    def _track(
        self,
        call_id: str,
        caller: Caller,
        kind: CallKind,
        extnumber: str,
        destnumber: str,
        disnumber: str,
        custom: CustomFields = CustomFields(),
    ) -> LiveCall:
        call = LiveCall(
            call_id,
            caller,
            kind,
            extnumber,
            destnumber,
            disnumber,
            custom,
            self._clock.now(),
            self._clock.monotonic(),
        )
        self.live[call_id] = call
        if self._journal is not None:
            self._journal.started(
                JournalEntry(
                    call_id,
                    caller.company_id,
                    caller.company_code,
                    kind.value,
                    extnumber,
                    destnumber,
                    disnumber,
                    call.started_wall.isoformat(),
                    asdict(custom),
                )
            )
        return call

    def _follow_incoming(self, incoming: IncomingCall) -> None:
        """Follow a call routed by the switch: a registered phone's own call to another
        extension of its company or out through the company's trunk, or a carrier's
        call to a company number (to an extension, or a group)."""
        company = self._switch.company(incoming.company_id) if self._switch else None
        if company is None:
            return  # the switch refused it: no company to record it for
        caller = Caller(incoming.company_id, company.code, company.name)
        if incoming.from_carrier:
            call = self._track(
                incoming.call_id, caller, incoming.kind, "", incoming.dialed, incoming.caller
            )
            call.queued = incoming.queued
            return
        if incoming.kind is CallKind.PBX_OUTBOUND:
            # The PBX's own caller is no extension: the call's first number.
            call = self._track(
                incoming.call_id,
                caller,
                incoming.kind,
                "",
                incoming.dialed,
                incoming.caller_id,
                CustomFields(user_data=incoming.user_data),
            )
            call.first_number = incoming.caller
            return
        self._track(
            incoming.call_id,
            caller,
            incoming.kind,
            incoming.caller,
            incoming.dialed,
            incoming.caller_id,
        )

    async def call_status(self, caller: Caller, numbers: list[str]) -> list[CallStatus]:
        """GetSipCallStatus: the line's phase from live state (idle, ringing, answered,
        talking); else not registered, disabled, or not found and another company's for
        numbers not the caller's."""
        result = []
        now = self._clock.monotonic()
        for number in numbers:
            try:
                entry = owned_extension(await self._directory.extension(number), caller, number)
            except BusinessError as exc:
                result.append(CallStatus(number, OWNERSHIP_CHECKS[exc.refusal]))
                continue
            if not entry.enabled:
                result.append(CallStatus(number, LineCheck.DISABLED))
                continue
            call = next((c for c in self.live.values() if c.extnumber == number), None)
            if call is not None:
                talking = int(now - call.bridged_at) if call.bridged_at is not None else 0
                result.append(CallStatus(number, call.status, call, None, talking))
                continue
            registration = self._switch.binding(number) if self._switch else None
            if registration is None:
                result.append(CallStatus(number, LineCheck.NOT_REGISTERED))
                continue
            idle = self._agents.idle_seconds(number, now)
            result.append(CallStatus(number, LinePhase.IDLE, None, idle, None))
        return result

    def _on_event(self, event: SwitchEvent) -> None:
        if isinstance(event, IncomingCall):
            self._follow_incoming(event)
            return
        call = self.live.get(event.call_id) if isinstance(event, CallEvent) else None
        if call is None:
            return
        leg = getattr(event, "leg", None)
        if leg is not None and leg not in (AGENT_LEG, CUSTOMER_LEG):
            return  # a party mixed into the call (consulted, a supervisor): no leg of its
        if isinstance(event, LegEnded):
            self._agent_left(call, event.leg)
            return
        if (
            isinstance(event, LegCalling)
            and event.leg == AGENT_LEG
            and call.agent_left
            and not call.inbound
        ):
            call.extnumber = event.number  # another agent takes the customer over
        if (
            isinstance(event, LegRinging | LegAnswered)
            and call.inbound
            and event.leg != call.extension_leg
        ):
            return  # the caller's own leg (a queued caller answered to hear music)
        if isinstance(event, LegCalling) and call.inbound and event.leg == call.extension_leg:
            if event.leg in call.legs and call.extnumber != event.number:
                # The extension that rang before is done with (rang out or refused): its
                # hangup, before the next one rings.
                self._publish_state(call, event.leg, LegStatus.ENDED)
                call.legs.remove(event.leg)
            call.extnumber = event.number  # the extension rung now
        if isinstance(event, LegAnswered) and call.inbound and event.leg == call.extension_leg:
            call.answered_by = call.extnumber
        if isinstance(event, LegCalling | LegRinging | LegAnswered):
            call.note_leg(event)
        if isinstance(event, LegRinging | LegAnswered):
            if event.leg not in call.legs:
                call.legs.append(event.leg)
            status = LegStatus.RINGING if isinstance(event, LegRinging) else LegStatus.ANSWERED
            self._publish_state(call, event.leg, status)
        if isinstance(event, LegAnswered) and event.leg == AGENT_LEG:
            call.status = LinePhase.ANSWERED
        elif isinstance(event, LegAnswered) and call.kind.answered_before_bridge:
            call.answered_at = event.at
        elif isinstance(event, CallBridged):
            call.bridged_at = event.at
            call.status = LinePhase.TALKING
        elif isinstance(event, CallEnded):
            for leg in call.legs or [AGENT_LEG]:
                self._publish_state(call, leg, LegStatus.ENDED)
            self._spawn(self._finish(event))

    def _agent_left(self, call: LiveCall, leg: str) -> None:
        """The agent's leg left a call that goes on (handed over): its hangup now."""
        if leg in call.legs:
            self._publish_state(call, leg, LegStatus.ENDED)
            call.legs.remove(leg)
        call.agent_left = True

    def handed_over(self, call_id: str, extension: str, agent: CallAgent) -> None:
        """The customer is now handled by `agent` on `extension` (a transfer, a consult
        handed over, a supervisor's intercept): the record names it, and the agent's leg
        is answered there if it was not already."""
        call = self.live.get(call_id)
        if call is None:
            return
        call.agent = agent
        if call.extnumber == extension and AGENT_LEG in call.legs:
            call.answered_by = extension
            return
        call.extnumber = call.answered_by = extension
        if AGENT_LEG not in call.legs:
            call.legs.append(AGENT_LEG)
        self._publish_state(call, AGENT_LEG, LegStatus.ANSWERED)

    def _publish_state(self, call: LiveCall, leg: str, status: LegStatus) -> None:
        event = CallStateChanged(call.caller.company_id, call.call_id, leg, status, call.view())
        self._bus.publish(event)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, ended: CallEnded) -> None:
        call = self.live.get(ended.call_id)
        if call is None:
            return
        try:
            await self._write_record(call, ended)
        except Exception:
            log.exception("writing the call record failed", extra={"call_id": ended.call_id})
        finally:
            call.finished.set()
            self.live.pop(ended.call_id, None)
            if self._journal is not None:
                self._journal.ended(ended.call_id)

    async def recover(self) -> int:
        """Record the calls the journal says were in progress when the server last
        stopped without ending them (killed): cut short by the server, unanswered as far
        as anyone can tell, ended when the journal was last written. How many."""
        if self._journal is None:
            return 0
        entries, last = self._journal.unfinished()
        for entry in entries:
            started = entry.started
            ended = max(started, last)
            record = CallRecord.clipped(
                uuid=entry.call_id,
                company_id=entry.company_id,
                companycode=entry.company_code,
                kind=CallKind(entry.kind),
                extnumber=entry.extnumber,
                destnumber=entry.destnumber,
                disnumber=entry.disnumber,
                crmid=entry.custom.get("userid", ""),
                maturity=entry.custom.get("maturity", ""),
                memberid=entry.custom.get("memberid", ""),
                customuuid=entry.custom.get("customuuid", ""),
                user_data=entry.custom.get("user_data", ""),
                label=entry.custom.get("label", ""),
                starttime=started,
                endtime=ended,
                duration=round((ended - started).total_seconds()),
                billsec=0,
                end_reason=EndReason.SERVER_HANGUP,
                ended_by=Party.CALLEE,
                q850_cause=q850_cause(EndReason.SERVER_HANGUP, None),
            )
            try:
                await self._cdrs.record(record)
            except Exception:
                log.exception(
                    "a cut-short call could not be recorded", extra={"call_id": entry.call_id}
                )
        self._journal.start_over()
        if entries:
            log.info("calls cut short by the last stop recorded", extra={"count": len(entries)})
        return len(entries)

    async def _write_record(self, call: LiveCall, ended: CallEnded) -> None:
        def wall(at: float) -> datetime:
            return call.started_wall + timedelta(seconds=max(0.0, at - call.started_at))

        def wall_or_none(at: float | None) -> datetime | None:
            return None if at is None else min(wall(at), endtime)

        endtime = wall(ended.at)
        # A predictive, voice message or carrier's call is answered before its bridge.
        answered = call.answered_at if call.answered_at is not None else call.bridged_at
        answertime = wall(answered) if answered is not None else None
        recordfilename = ""
        if ended.captures and call.bridged_at is not None:
            path, recordfilename = self._recordings.path_for(
                call.caller.company_code, call.call_id, call.started_wall
            )
            from_agent, from_customer = (Path(p) for p in ended.captures)
            if call.inbound and not call.queued:  # the carrier's caller is the first leg
                from_agent, from_customer = from_customer, from_agent
            seconds = await asyncio.to_thread(captures_to_wav, from_agent, from_customer, path)
            for capture in (from_agent, from_customer):
                with contextlib.suppress(FileNotFoundError):
                    capture.unlink()
            if seconds == 0:
                recordfilename = ""
        record = CallRecord.clipped(
            uuid=call.call_id,
            company_id=call.caller.company_id,
            companycode=call.caller.company_code,
            kind=call.kind,
            extnumber=call.answered_by if call.inbound else call.extnumber,
            destnumber=call.destnumber,
            disnumber=call.disnumber,
            crmid=call.custom.userid,
            maturity=call.custom.maturity,
            memberid=call.custom.memberid,
            customuuid=call.custom.customuuid,
            starttime=call.started_wall,
            answertime=answertime,
            endtime=endtime,
            duration=round((endtime - call.started_wall).total_seconds()),
            billsec=round((endtime - answertime).total_seconds()) if answertime else 0,
            end_reason=ended.cause,
            ended_by=ended.by,
            sip_status=ended.sip_status,
            q850_cause=q850_cause(ended.cause, ended.sip_status),
            recordfilename=recordfilename,
            downloadip=self._recordings.download_host,
            first_ringing_at=wall_or_none(call.first_ringing_at),
            first_answered_at=wall_or_none(call.first_answered_at),
            second_called_at=wall_or_none(call.second_called_at),
            second_ringing_at=wall_or_none(call.second_ringing_at),
            first_number=call.first_number,
            user_data=call.custom.user_data,
            label=call.custom.label,
            agent_number=call.agent.number if call.agent else "",
            agent_name=call.agent.name if call.agent else "",
            group_name=call.agent.group if call.agent else "",
            queued_at=wall_or_none(call.queued_at),
        )
        cdr_id = await self._cdrs.record(record)
        company = await self._directory.company(call.caller.company_id)
        zone = company.timezone if company is not None else None
        stored = StoredCallRecord(cdr_id, record, None)
        self._bus.publish(CallRecorded(call.caller.company_id, call.call_id, stored, zone))
