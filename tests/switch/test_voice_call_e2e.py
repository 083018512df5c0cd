"""Voice code calls through a running switch: the carrier is a baresip softphone that
answers at once and records what it hears; the message is spoken on the answer and the
call hung up after it.

The switch runs in the test's process; everything runs on the loopback of the test
run's own network namespace.
"""

from __future__ import annotations

import asyncio
import audioop
import json
import shutil
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callyard.config import Settings
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.domain.languages import Language
from callyard.services.auth import Caller
from callyard.services.cdrs import StoredCallRecord
from callyard.services.otp import DEFAULT_TEMPLATES, VOICES, render
from callyard.switch.calls import PROMPT_TAIL_SECONDS
from callyard.switch.events import CallEnded, LegAnswered, SwitchEvent
from callyard.switch.relay import prompt_duration
from callyard.testing.receiver import Receiver
from callyard.testing.sip import Baresip, free_udp_port, running
from tests.factories import caller_of

pytestmark = pytest.mark.sip

PHONE, CALLER_ID = "628123456789", "622150001"
# Each language's default message for one code, as POST /api/voiceCode would speak it.
MESSAGES = {VOICES[language]: render(DEFAULT_TEMPLATES[language], "4815") for language in Language}
SPEECH_LEVEL = 300  # RMS of a 20 ms window with speech in it


@dataclass
class Heard:
    """One voice code call as the carrier's phone and the switch saw it."""

    language: str
    call_id: str
    pcm: bytes  # what the phone received: 16-bit mono at 8 kHz
    prompt: Path
    answered_at: float  # the switch's LegAnswered
    established_at: float  # the phone's CALL_ESTABLISHED
    closed_at: float  # the phone's CALL_CLOSED (the switch's BYE)
    ended: CallEnded

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / 8000


@dataclass
class VoiceRig:
    container: Container
    caller: Caller
    events: list[SwitchEvent]
    workdir: Path


@pytest.fixture
async def voice(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[VoiceRig]:
    database = tmp_path / "callyard.db"
    shutil.copy(sqlite_template, database)
    settings = Settings.from_env(
        {"CALLYARD_RING_TIMEOUT": "10"},
        data_dir=tmp_path / "data",
        db_url=f"sqlite+aiosqlite:///{database}",
        sip=f"127.0.0.1:{free_udp_port()}",
        rtp_ports="37000-37999",
    )
    container = await Container.open(settings, with_switch=True, upgrade_schema=False)
    try:
        company = await container.companies.create("otp")
        await container.numbers.add(company.companycode, CALLER_ID)
        assert container.switch is not None
        events: list[SwitchEvent] = []
        container.switch.subscribe(events.append)
        await container.switch.start()
        container.delivery.start()
        caller = await caller_of(container, company.companycode)
        yield VoiceRig(container, caller, events, tmp_path)
    finally:
        await container.close()


def leading_silence(pcm: bytes, rate: int = 8000) -> float:
    """Seconds before the first 20 ms window with speech in it."""
    window = rate // 50 * 2
    for start in range(0, len(pcm) - window + 1, window):
        if audioop.rms(pcm[start : start + window], 2) > SPEECH_LEVEL:
            return start / 2 / rate
    return len(pcm) / 2 / rate


def wav_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        frames: bytes = wav.readframes(wav.getnframes())
        return frames


async def call_and_listen(rig: VoiceRig, phone: Baresip, language: str) -> Heard:
    voice_calls = rig.container.voice_calls
    before = set(voice_calls.prompts)
    await voice_calls.place(rig.caller, PHONE, language, MESSAGES[language], f"otp-{language}")
    (call_id,) = set(voice_calls.prompts) - before
    prompt = voice_calls.prompts[call_id]
    established = await asyncio.to_thread(phone.wait_established)
    closed = await asyncio.to_thread(phone.wait_closed, 30)
    for _ in range(100):  # the switch reports the end once its BYE is answered
        ended = [e for e in rig.events if isinstance(e, CallEnded) and e.call_id == call_id]
        if ended:
            break
        await asyncio.sleep(0.05)
    answered = [
        e
        for e in rig.events
        if isinstance(e, LegAnswered) and e.call_id == call_id and e.leg == "customer"
    ]
    assert answered, f"no answer of {call_id}"
    assert ended, f"no end of {call_id}"
    await asyncio.sleep(0.2)  # the phone closes its recording after the call
    return Heard(
        language,
        call_id,
        wav_pcm(phone.received_wav()),
        prompt,
        answered[0].at,
        established.at,
        closed.at,
        ended[0],
    )


async def records_of(container: Container, code: int, count: int) -> list[StoredCallRecord]:
    for _ in range(100):
        records = await container.cdrs.list_for_company(code)
        if len(records) >= count:
            return records
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} call records expected, got {len(records)}")


async def test_voice_code_calls_speak_the_message_on_answer_then_hang_up(
    voice: VoiceRig,
) -> None:
    receiver = Receiver()
    receiver.start()
    phone = Baresip(voice.workdir / "carrier", user=PHONE)
    try:
        with running(phone):
            await voice.container.trunks.add(
                voice.caller.company_code, "carrier", "127.0.0.1", phone.sip_port
            )
            await voice.container.webhooks.update(voice.caller.company_code, cdr_url=receiver.url)
            heard = [await call_and_listen(voice, phone, language) for language in MESSAGES]
        pushed = await asyncio.to_thread(receiver.wait_for, len(MESSAGES))
    finally:
        receiver.stop()

    for call in heard:
        spoken = prompt_duration(call.prompt)
        assert audioop.rms(call.pcm, 2) > SPEECH_LEVEL, f"{call.language}: silence heard"
        # The whole message, and only it, reached the phone.
        assert abs(call.seconds - spoken) <= 0.5, (call.language, call.seconds, spoken)
        # Speech starts at once on the answer: the phone's recording begins with the first
        # packet, and the time from the answer to the BYE leaves no room for a gap before
        # it.
        assert leading_silence(call.pcm) < 0.3, call.language
        talk = call.closed_at - call.answered_at
        gap = talk - call.seconds - PROMPT_TAIL_SECONDS
        assert gap < 0.3, (call.language, talk, call.seconds)
        assert call.established_at >= call.answered_at - 0.3
        assert (call.ended.cause, call.ended.by) == (
            EndReason.SERVER_HANGUP,
            Party.CALLER,
        )
    # Each language is a different message: a different sound.
    assert len({call.pcm for call in heard}) == len(MESSAGES)
    assert len({call.prompt for call in heard}) == len(MESSAGES)

    records = await records_of(voice.container, voice.caller.company_code, len(MESSAGES))
    by_uuid = {stored.record.uuid: stored.record for stored in records}
    for call in heard:
        record = by_uuid[call.call_id]
        assert record.kind is CallKind.VOICE_MESSAGE
        assert record.customuuid == f"otp-{call.language}"
        assert (record.extnumber, record.destnumber, record.disnumber) == ("", PHONE, CALLER_ID)
        assert record.answertime is not None
        assert record.billsec >= round(call.seconds) - 1
        assert record.end_reason == EndReason.SERVER_HANGUP
    bodies = [json.loads(request.body) for request in pushed]
    assert sorted(body["customuuid"] for body in bodies) == sorted(
        f"otp-{language}" for language in MESSAGES
    )
    assert all(str(body["callmethod"]) == "6" for body in bodies)
    assert voice.container.voice_calls.prompts == {}
