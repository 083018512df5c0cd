"""Dialed calls through a running switch: the customer first, held, then an agent attached
or a prompt played. SIPp plays carriers and refusing agents, baresip the agent's
registered phone (or a customer that records what it hears).

The switch runs in the test's process; everything runs on the loopback of the test
run's own network namespace.
"""

from __future__ import annotations

import asyncio
import audioop
import math
import shutil
import socket
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from callyard.config import Settings
from callyard.container import Container
from callyard.domain.hangups import EndReason, Party
from callyard.switch.commands import CallStateError, Dial, Target
from callyard.switch.events import (
    CallBridged,
    CallEnded,
    LegAnswered,
    LegFailed,
    LegRinging,
    SwitchEvent,
)
from callyard.switch.recording import captures_to_wav
from callyard.switch.relay import prompt_duration, prompt_file
from callyard.switch.switch import Switch
from callyard.testing.server import free_port
from callyard.testing.sip import (
    Baresip,
    Sipp,
    free_udp_port,
    running,
    wait_until,
    write_tone_wav,
)
from callyard.tts import render_prompt
from callyard.tts.espeak import EspeakSynthesizer

pytestmark = pytest.mark.sip

AGENT, PASSWORD = "70010001", "agent-secret-1"
CUSTOMER, CALLER_ID = "628123456789", "622150001"
Event = TypeVar("Event", bound=SwitchEvent)


class EventLog:
    """Every switch event, in order, with a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[SwitchEvent] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: SwitchEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    def _find(self, kind: type[Event], call_id: str, leg: str | None, since: int) -> Event | None:
        for event in self.events[since:]:
            if (
                isinstance(event, kind)
                and getattr(event, "call_id", None) == call_id
                and (leg is None or getattr(event, "leg", None) == leg)
            ):
                return event
        return None

    async def wait(
        self,
        kind: type[Event],
        call_id: str,
        leg: str | None = None,
        within: float = 15,
        since: int = 0,
    ) -> Event:
        """The first event of `kind` (and `leg`) of the call from the `since`th event on,
        waiting for it if need be."""
        try:
            async with asyncio.timeout(within):
                while (found := self._find(kind, call_id, leg, since)) is None:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            seen = [type(e).__name__ for e in self.of(call_id)]
            raise AssertionError(f"no {kind.__name__} for {call_id}; saw {seen}") from None
        return found

    def of(self, call_id: str) -> list[SwitchEvent]:
        return [e for e in self.events if getattr(e, "call_id", None) == call_id]


@dataclass
class Rig:
    switch: Switch
    events: EventLog
    workdir: Path

    @property
    def sip_port(self) -> int:
        return self.switch.sip_address[1]

    def carrier(self, scenario: str, name: str = "carrier", **options: object) -> Sipp:
        return Sipp(scenario, self.workdir / name, name=name, **options)  # type: ignore[arg-type]

    def agent_phone(self, seconds: float = 60) -> Baresip:
        audio = write_tone_wav(self.workdir / "agent-voice.wav", seconds=seconds)
        return Baresip(
            self.workdir / "agent",
            user=AGENT,
            password=PASSWORD,
            port=self.sip_port,
            regint=600,
            audio=audio,
        )

    def agent(self) -> Target:
        binding = self.switch.binding(AGENT)
        assert binding is not None, "the agent's phone is not registered"
        return Target(binding.target, AGENT, CALLER_ID, ring_timeout=10)


def customer_at(port: int, ring_timeout: float = 10) -> Target:
    return Target(("127.0.0.1", port), CUSTOMER, CALLER_ID, ring_timeout)


def agent_at(port: int, ring_timeout: float = 10) -> Target:
    """An agent's phone at a known address (a SIPp standing in for it)."""
    return Target(("127.0.0.1", port), AGENT, CALLER_ID, ring_timeout)


@pytest.fixture
async def rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Rig]:
    database = tmp_path / "callyard.db"
    shutil.copy(sqlite_template, database)
    settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        db_url=f"sqlite+aiosqlite:///{database}",
        sip=f"127.0.0.1:{free_udp_port()}",
        rtp_ports="36000-36999",
    )
    container = await Container.open(settings, with_switch=True, upgrade_schema=False)
    try:
        company = await container.companies.create("dialer")
        await container.extensions.create(company.companycode, [AGENT], PASSWORD)
        assert container.switch is not None
        events = EventLog()
        container.switch.subscribe(events)
        await container.switch.start()
        yield Rig(container.switch, events, tmp_path)
    finally:
        await container.close()


async def received(sipp: Sipp, method: str) -> None:
    """Wait until SIPp has received a request of `method`."""
    await asyncio.to_thread(
        wait_until, lambda: bool(sipp.received(method)), 10, f"a {method} at {sipp.name}"
    )


def stereo_rms(path: Path) -> tuple[int, int]:
    """RMS of the agent (left) and customer (right) channels of a call's recording."""
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
    return audioop.rms(audioop.tomono(frames, 2, 1, 0), 2), audioop.rms(
        audioop.tomono(frames, 2, 0, 1), 2
    )


def audible_span(pcm: bytes, rate: int = 8000, level: int = 500) -> float:
    """Seconds from the first to the last 20 ms window louder than `level`."""
    window = rate // 50 * 2
    loud = [
        start
        for start in range(0, len(pcm) - window + 1, window)
        if audioop.rms(pcm[start : start + window], 2) > level
    ]
    return (loud[-1] - loud[0] + window) / 2 / rate if loud else 0.0


def wav_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        frames: bytes = wav.readframes(wav.getnframes())
        return frames


async def test_a_dialed_customer_is_held_then_bridged_to_an_agent(rig: Rig) -> None:
    carrier = rig.carrier("uas_answer_echo.xml")
    phone = rig.agent_phone()
    with running(carrier, phone):
        await asyncio.to_thread(phone.wait_registered)
        rig.switch.dial(Dial("dial-1", customer_at(carrier.port)))
        assert rig.switch.in_call(CUSTOMER)
        with pytest.raises(CallStateError):  # the customer has not answered yet
            rig.switch.attach("dial-1", rig.agent())
        await rig.events.wait(LegAnswered, "dial-1", leg="customer")
        assert not rig.switch.in_call(AGENT)
        rig.switch.attach("dial-1", rig.agent())
        assert rig.switch.in_call(AGENT)
        with pytest.raises(CallStateError):  # one agent at a time
            rig.switch.attach("dial-1", rig.agent())
        await rig.events.wait(CallBridged, "dial-1")
        await asyncio.to_thread(phone.wait_established)
        await asyncio.sleep(2)  # the agent talks, the customer's side echoes
        rig.switch.hangup("dial-1")
        ended = await rig.events.wait(CallEnded, "dial-1")
        await asyncio.to_thread(phone.wait_closed)
    kinds = [(type(e).__name__, getattr(e, "leg", "")) for e in rig.events.of("dial-1")]
    assert kinds == [
        ("LegCalling", "customer"),
        ("LegRinging", "customer"),
        ("LegAnswered", "customer"),
        ("LegCalling", "agent"),
        ("LegRinging", "agent"),
        ("LegAnswered", "agent"),
        ("CallBridged", ""),
        ("CallEnded", ""),
    ]
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLER)
    assert not rig.switch.in_call(AGENT)
    assert not rig.switch.in_call(CUSTOMER)
    assert ended.captures is not None
    from_agent, from_customer = (Path(p) for p in ended.captures)
    captures_to_wav(from_agent, from_customer, rig.workdir / "dial-1.wav")
    agent_rms, customer_rms = stereo_rms(rig.workdir / "dial-1.wav")
    assert agent_rms > 300, "the agent's side of the recording is silent"
    assert customer_rms > 300, "the customer's side of the recording is silent"
    assert carrier.received("BYE"), "the customer got no BYE"


@pytest.mark.parametrize(
    ("scenario", "cause", "status"),
    [
        ("uas_busy.xml", EndReason.BUSY, 486),
        ("uas_no_answer.xml", EndReason.NO_ANSWER, None),
    ],
)
async def test_a_dial_that_is_not_answered_ends_with_its_cause(
    rig: Rig, scenario: str, cause: EndReason, status: int | None
) -> None:
    carrier = rig.carrier(scenario)
    with running(carrier):
        rig.switch.dial(Dial("dial-2", customer_at(carrier.port, ring_timeout=2)))
        ended = await rig.events.wait(CallEnded, "dial-2")
    assert (ended.cause, ended.by, ended.sip_status) == (
        cause,
        Party.CALLEE,
        status,
    )
    assert ended.captures is None
    assert not any(isinstance(e, LegAnswered) for e in rig.events.of("dial-2"))
    assert not rig.switch.in_call(CUSTOMER)
    if status is None:  # rang until the ring timeout, then cancelled
        assert any(isinstance(e, LegRinging) for e in rig.events.of("dial-2"))
        assert carrier.received("CANCEL")


@pytest.mark.parametrize("ring_timeout", [2, 60])
async def test_a_trunk_that_answers_nothing_is_a_line_failure(
    rig: Rig, ring_timeout: float
) -> None:
    """Nothing listens where the carrier should be: the INVITE gets no answer at all. The
    call is a line failure (not a customer who did not pick up), given up on after the
    INVITE's retransmissions rather than after a long ring timeout."""
    silent = free_port(socket.SOCK_DGRAM)
    rig.switch.dial(Dial("dial-silent", customer_at(silent, ring_timeout=ring_timeout)))
    ended = await rig.events.wait(CallEnded, "dial-silent", within=20)
    assert (ended.cause, ended.by, ended.sip_status) == (
        EndReason.LINE_FAILURE,
        Party.CALLEE,
        408,
    )
    assert not any(isinstance(e, LegRinging) for e in rig.events.of("dial-silent"))
    assert not rig.switch.in_call(CUSTOMER)
    # The INVITE given up on is not sent again: a carrier that comes back now hears
    # nothing of the call (without the switch dropping it, sippy would resend it 1.5 s
    # after a 2 s give-up, and again and again for 32 s).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as back:
        back.bind(("127.0.0.1", silent))
        back.settimeout(4.0)
        with pytest.raises(TimeoutError):
            back.recvfrom(4096)


async def test_a_probe_tells_a_peer_that_answers_from_one_that_does_not(
    rig: Rig,
) -> None:
    phone = Baresip(rig.workdir / "peer", user=CUSTOMER)
    with running(phone):
        # Any final response says the peer is there (this one: 404, no such user).
        status = await rig.switch.probe(("127.0.0.1", phone.sip_port))
        assert status is not None
        assert 200 <= status < 700, status
    assert await rig.switch.probe(("127.0.0.1", free_port(socket.SOCK_DGRAM))) is None


async def test_agents_that_fail_leave_the_customer_held_for_a_prompt(rig: Rig) -> None:
    busy_agent = rig.carrier("uas_busy.xml", name="busy-agent")
    silent_agent = rig.carrier("uas_no_answer.xml", name="silent-agent")
    customer = Baresip(rig.workdir / "customer", user=CUSTOMER)
    synthesizer = EspeakSynthesizer(rig.workdir / "prompts")
    prompt = await render_prompt(
        synthesizer, "All of our agents are busy. We will call you again soon.", "en"
    )
    with running(busy_agent, silent_agent, customer):
        rig.switch.dial(Dial("dial-3", customer_at(customer.sip_port)))
        await rig.events.wait(LegAnswered, "dial-3", leg="customer")
        await asyncio.to_thread(customer.wait_established)

        rig.switch.attach("dial-3", agent_at(busy_agent.port))
        assert rig.switch.in_call(AGENT)
        busy = await rig.events.wait(LegFailed, "dial-3")
        assert (busy.leg, busy.cause, busy.sip_status) == ("agent", EndReason.BUSY, 486)
        assert not rig.switch.in_call(AGENT)
        assert rig.switch.in_call(CUSTOMER)

        mark = len(rig.events.events)
        rig.switch.attach("dial-3", agent_at(silent_agent.port, ring_timeout=2))
        await rig.events.wait(LegRinging, "dial-3", leg="agent")
        assert rig.switch.in_call(AGENT)
        unanswered = await rig.events.wait(LegFailed, "dial-3", since=mark)
        assert (unanswered.cause, unanswered.sip_status) == (EndReason.NO_ANSWER, None)
        assert not rig.switch.in_call(AGENT)
        assert not any(isinstance(e, CallEnded) for e in rig.events.of("dial-3"))

        with pytest.raises(FileNotFoundError):
            rig.switch.play("dial-3", rig.workdir / "no-such-prompt")
        rig.switch.play("dial-3", prompt)
        with pytest.raises(CallStateError):  # the call ends after its prompt
            rig.switch.attach("dial-3", agent_at(busy_agent.port))
        ended = await rig.events.wait(CallEnded, "dial-3", within=30)
        closed = await asyncio.to_thread(customer.wait_closed)
    assert (ended.cause, ended.by) == (EndReason.SERVER_HANGUP, Party.CALLER)
    assert ended.captures is None
    assert closed.param == "Connection reset by peer"  # the switch's BYE
    assert silent_agent.received("CANCEL")
    # The customer heard the whole prompt before the BYE.
    heard = wav_pcm(customer.received_wav())
    played = audioop.ulaw2lin(prompt_file(prompt, 0).read_bytes(), 2)
    heard_span, prompt_span = audible_span(heard), audible_span(played)
    assert audioop.rms(heard, 2) > 300
    assert math.isclose(heard_span, prompt_span, abs_tol=0.3)
    assert prompt_span > 0.8 * prompt_duration(prompt)


async def test_a_held_customer_who_hangs_up_ends_the_call(rig: Rig) -> None:
    carrier = rig.carrier("uas_answer_echo.xml", recv_timeout_ms=1500)
    with running(carrier):
        rig.switch.dial(Dial("dial-4", customer_at(carrier.port)))
        await rig.events.wait(LegAnswered, "dial-4", leg="customer")
        assert await rig.switch.media_stats("dial-4") is not None
        ended = await rig.events.wait(CallEnded, "dial-4")
    assert (ended.cause, ended.by, ended.captures) == (
        EndReason.NORMAL,
        Party.CALLEE,
        None,
    )
    assert not rig.switch.in_call(CUSTOMER)
    assert await rig.switch.media_stats("dial-4") is None, "the relay session was not closed"
    with pytest.raises(CallStateError):
        rig.switch.play("dial-4", rig.workdir / "anything")


async def test_a_customer_who_hangs_up_while_the_agent_rings_cancels_the_agent(rig: Rig) -> None:
    carrier = rig.carrier("uas_answer_echo.xml", recv_timeout_ms=2000)
    silent_agent = rig.carrier("uas_no_answer.xml", name="silent-agent")
    with running(carrier, silent_agent):
        rig.switch.dial(Dial("dial-5", customer_at(carrier.port)))
        await rig.events.wait(LegAnswered, "dial-5", leg="customer")
        rig.switch.attach("dial-5", agent_at(silent_agent.port, ring_timeout=30))
        await rig.events.wait(LegRinging, "dial-5", leg="agent")
        ended = await rig.events.wait(CallEnded, "dial-5")
        await received(silent_agent, "CANCEL")
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLEE)
    assert not any(isinstance(e, LegFailed) for e in rig.events.of("dial-5"))
    assert silent_agent.received("CANCEL")
    assert not rig.switch.in_call(AGENT)
    assert not rig.switch.in_call(CUSTOMER)


async def test_hangup_ends_a_dial_ringing_or_held(rig: Rig) -> None:
    ringing = rig.carrier("uas_no_answer.xml", name="ringing")
    answering = rig.carrier("uas_answer_echo.xml", name="answering")
    with running(ringing, answering):
        rig.switch.dial(Dial("dial-6", customer_at(ringing.port, ring_timeout=30)))
        await rig.events.wait(LegRinging, "dial-6", leg="customer")
        rig.switch.hangup("dial-6")
        cancelled = await rig.events.wait(CallEnded, "dial-6")
        rig.switch.dial(Dial("dial-7", customer_at(answering.port)))
        await rig.events.wait(LegAnswered, "dial-7", leg="customer")
        rig.switch.hangup("dial-7")
        hung_up = await rig.events.wait(CallEnded, "dial-7")
        await received(answering, "BYE")
    assert (cancelled.cause, cancelled.by) == (
        EndReason.CANCELLED,
        Party.CALLER,
    )
    assert ringing.received("CANCEL")
    assert (hung_up.cause, hung_up.by) == (EndReason.NORMAL, Party.CALLER)
    assert answering.received("BYE")


async def test_a_prompt_that_does_not_hang_up_stops_when_an_agent_answers(rig: Rig) -> None:
    # Thirty seconds of silence: if it still played to the customer once bridged, the
    # customer would echo silence instead of the agent's voice.
    hold = rig.workdir / "hold"
    prompt_file(hold, 0).write_bytes(b"\xff" * 8000 * 30)
    prompt_file(hold, 8).write_bytes(b"\xd5" * 8000 * 30)
    carrier = rig.carrier("uas_answer_echo.xml")
    phone = rig.agent_phone()
    with running(carrier, phone):
        await asyncio.to_thread(phone.wait_registered)
        rig.switch.dial(Dial("dial-8", customer_at(carrier.port)))
        await rig.events.wait(LegAnswered, "dial-8", leg="customer")
        rig.switch.play("dial-8", hold, hangup_after=False)
        await asyncio.sleep(1)
        rig.switch.attach("dial-8", rig.agent())
        await rig.events.wait(CallBridged, "dial-8")
        await asyncio.to_thread(phone.wait_established)
        await asyncio.sleep(2)
        rig.switch.hangup("dial-8")
        ended = await rig.events.wait(CallEnded, "dial-8")
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLER)
    assert ended.captures is not None
    from_agent, from_customer = (Path(p) for p in ended.captures)
    captures_to_wav(from_agent, from_customer, rig.workdir / "dial-8.wav")
    agent_rms, customer_rms = stereo_rms(rig.workdir / "dial-8.wav")
    assert agent_rms > 300
    assert customer_rms > 300, "the customer still heard the prompt, not the agent"


async def test_stopping_the_switch_hangs_up_its_calls(rig: Rig) -> None:
    carrier = rig.carrier("uas_answer_echo.xml")
    with running(carrier):
        rig.switch.dial(Dial("dial-9", customer_at(carrier.port)))
        await rig.events.wait(LegAnswered, "dial-9", leg="customer")
        await rig.switch.stop()
        ended = await rig.events.wait(CallEnded, "dial-9")
        await received(carrier, "BYE")
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLER)
    assert await rig.switch.media_stats("dial-9") is None
