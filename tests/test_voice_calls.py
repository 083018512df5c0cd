"""VoiceCallService against a switch that only records the commands it is given: what a
voice code call dials, that its message starts in the answer's own event handler, its
call record, and the errors before anything is dialed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, InvalidInput
from callyard.services.auth import Caller
from callyard.services.calls import CallService
from callyard.services.voice_calls import VoiceCallService
from callyard.switch.commands import CallStateError, Dial
from callyard.switch.events import CallEnded, LegAnswered, LegRinging, SwitchEvent
from callyard.switch.port import SwitchPort
from callyard.switch.relay import PCMU, prompt_file
from callyard.testing.clock import ManualClock
from callyard.timefmt import TimeFormat
from callyard.tts.espeak import EspeakSynthesizer
from tests.factories import caller_of

PHONE, CALLER_ID = "628123456789", "622150001"


@dataclass
class RecordingSwitch:
    """Takes Dial, Play and Hangup commands and remembers them; events are sent by hand."""

    listeners: list[Callable[[SwitchEvent], None]] = field(default_factory=list)
    dialed: list[Dial] = field(default_factory=list)
    played: list[tuple[str, Path, bool]] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    refuse_play: bool = False

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        self.listeners.append(listener)

    def dial(self, order: Dial) -> None:
        self.dialed.append(order)

    def play(self, call_id: str, prompt: Path, hangup_after: bool = True) -> None:
        if self.refuse_play:
            raise CallStateError(f"play: {call_id} is not held")
        self.played.append((call_id, prompt, hangup_after))

    def hangup(self, call_id: str) -> None:
        self.hung_up.append(call_id)

    def emit(self, event: SwitchEvent) -> None:
        for listener in self.listeners:
            listener(event)


@dataclass
class Placed:
    switch: RecordingSwitch
    service: VoiceCallService
    calls: CallService
    caller: Caller


@pytest.fixture
async def placed(container: Container, tmp_path: Path) -> Placed:
    switch = RecordingSwitch()
    as_switch = cast(SwitchPort, switch)
    calls = CallService(
        as_switch,
        container.directory,
        container.trunks,
        container.numbers,
        container.cdrs,
        container.recordings,
        container.clock,
        container.bus,
        TimeFormat(container.settings.timezone),
        ring_timeout=45,
    )
    service = VoiceCallService(
        as_switch,
        calls,
        container.trunks,
        container.numbers,
        EspeakSynthesizer(tmp_path / "prompts"),
        ring_timeout=45,
    )
    company = await container.companies.create("otp")
    caller = await caller_of(container, company.companycode)
    return Placed(switch, service, calls, caller)


async def equip(container: Container, caller: Caller) -> None:
    await container.trunks.add(caller.company_code, "carrier", "127.0.0.1", 5070, "u", "p")
    await container.numbers.add(caller.company_code, CALLER_ID)


async def test_a_voice_code_call_dials_the_phone_through_the_trunk(
    container: Container, placed: Placed
) -> None:
    await equip(container, placed.caller)
    await placed.service.place(placed.caller, PHONE, "en", "Your code is 1 2 3.", "otp-1")
    (order,) = placed.switch.dialed
    target = order.target
    assert (target.address, target.user, target.caller_id) == (
        ("127.0.0.1", 5070),
        PHONE,
        "622150001",
    )
    assert (target.ring_timeout, target.username, target.password) == (45, "u", "p")
    assert order.record is False
    live = placed.calls.live[order.call_id]
    assert (live.kind, live.extnumber, live.destnumber) == (CallKind.VOICE_MESSAGE, "", PHONE)
    assert live.custom.customuuid == "otp-1"
    prompt = placed.service.prompts[order.call_id]
    assert prompt_file(prompt, PCMU).is_file()


async def test_the_message_starts_in_the_answers_own_handler_and_the_record_follows(
    container: Container, placed: Placed, clock: ManualClock
) -> None:
    await equip(container, placed.caller)
    await placed.service.place(placed.caller, PHONE, "es", "Su código es 1 2 3.", "otp-2")
    call_id = placed.switch.dialed[0].call_id
    placed.switch.emit(LegRinging(clock.monotonic(), call_id, "customer"))
    assert placed.switch.played == []
    clock.advance(3)
    placed.switch.emit(LegAnswered(clock.monotonic(), call_id, "customer"))
    # No await since the answer: the prompt was handed to the switch synchronously.
    assert placed.switch.played == [(call_id, placed.service.prompts[call_id], True)]
    clock.advance(4)
    placed.switch.emit(
        CallEnded(
            clock.monotonic(),
            call_id,
            EndReason.SERVER_HANGUP,
            Party.CALLER,
            None,
            None,
        )
    )
    for _ in range(100):
        if call_id not in placed.calls.live:
            break
        await asyncio.sleep(0.02)
    assert placed.service.prompts == {}
    (stored,) = await container.cdrs.list_for_company(placed.caller.company_code)
    record = stored.record
    assert (record.uuid, record.kind, record.customuuid) == (
        call_id,
        CallKind.VOICE_MESSAGE,
        "otp-2",
    )
    assert (record.extnumber, record.destnumber, record.disnumber) == ("", PHONE, CALLER_ID)
    assert record.answertime is not None
    assert (record.duration, record.billsec) == (7, 4)
    assert record.end_reason == EndReason.SERVER_HANGUP


async def test_a_message_that_cannot_play_hangs_the_call_up(
    container: Container, placed: Placed, clock: ManualClock
) -> None:
    await equip(container, placed.caller)
    await placed.service.place(placed.caller, PHONE, "en", "Code 9 9.", "otp-3")
    call_id = placed.switch.dialed[0].call_id
    placed.switch.refuse_play = True
    placed.switch.emit(LegAnswered(clock.monotonic(), call_id, "customer"))
    assert placed.switch.hung_up == [call_id]


async def test_other_calls_answers_play_nothing(placed: Placed, clock: ManualClock) -> None:
    placed.switch.emit(LegAnswered(clock.monotonic(), "someone-else", "customer"))
    assert placed.switch.played == []


@pytest.mark.parametrize(
    ("phone", "language", "text", "field"),
    [
        ("12ab", "en", "Code 1.", "phone"),
        (PHONE, "EN US!", "Code 1.", "language"),
        (PHONE, "en", "   ", "text"),
    ],
)
async def test_bad_input_is_refused_before_dialing(
    container: Container, placed: Placed, phone: str, language: str, text: str, field: str
) -> None:
    await equip(container, placed.caller)
    with pytest.raises(InvalidInput) as refused:
        await placed.service.place(placed.caller, phone, language, text, "x")
    assert refused.value.field == field
    assert placed.switch.dialed == []


async def test_no_trunk_no_caller_id_no_switch_are_business_errors(
    container: Container, placed: Placed
) -> None:
    with pytest.raises(BusinessError) as no_trunk:
        await placed.service.place(placed.caller, PHONE, "en", "Code 1.", "x")
    assert no_trunk.value.refusal is Refusal.NO_TRUNK
    await container.trunks.add(placed.caller.company_code, "carrier", "127.0.0.1", 5070)
    with pytest.raises(BusinessError) as no_number:
        await placed.service.place(placed.caller, PHONE, "en", "Code 1.", "x")
    assert no_number.value.refusal is Refusal.NO_NUMBER
    assert placed.switch.dialed == []
    assert placed.calls.live == {}
    with pytest.raises(BusinessError) as no_switch:
        await container.voice_calls.place(placed.caller, PHONE, "en", "Code 1.", "x")
    assert no_switch.value.refusal is Refusal.SWITCH_DOWN


async def test_an_unknown_voice_is_an_operation_failure(
    container: Container, placed: Placed
) -> None:
    await equip(container, placed.caller)
    with pytest.raises(BusinessError) as failed:
        await placed.service.place(placed.caller, PHONE, "zz", "Code 1.", "x")
    assert failed.value.refusal is Refusal.MESSAGE_UNSPEAKABLE
    assert placed.switch.dialed == []
