"""Carriers' calls to a queued number through a running switch: the caller is held,
ringing, for services' commands: answered, played music, offered to agents in turn,
refused. baresip plays the caller (from a trunk's host, recording what it hears) and the
agents' registered phones; SIPp plays agents that decline or do not answer.

The switch runs in the test's process; everything runs on the loopback of the test
run's own network namespace.
"""

from __future__ import annotations

import asyncio
import audioop
import itertools
import math
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.switch.commands import CallStateError, Target
from callyard.switch.events import (
    AGENT_LEG,
    CUSTOMER_LEG,
    CallBridged,
    CallEnded,
    IncomingCall,
    LegAnswered,
    LegFailed,
    LegRinging,
)
from callyard.switch.recording import captures_to_wav
from callyard.switch.registrar import Account
from callyard.switch.relay import PCMA, PCMU, prompt_file
from callyard.switch.routing import CompanyRoutes, NumberRoute, RoutingTable
from callyard.switch.switch import Switch
from callyard.testing.sip import (
    LOOPBACK,
    Baresip,
    Sipp,
    free_udp_port,
    running,
    write_tone_wav,
)
from tests.switch.test_dial import EventLog, received

pytestmark = pytest.mark.sip

AGENT, SECOND_AGENT, PASSWORD = "70030001", "70030002", "agent-secret-1"
QUEUED, DIRECT, CALLER = "622150020", "622150021", "628123456789"
# Each party's voice, told apart by its frequency.
CALLER_HZ, AGENT_HZ, SECOND_AGENT_HZ, MUSIC_HZ = 1000, 440, 600, 750
ROUTES = RoutingTable(
    accounts={number: Account(number, 1, PASSWORD, True) for number in (AGENT, SECOND_AGENT)},
    # Every caller from the trunk's host that is not an extension is the carrier's.
    companies={1: CompanyRoutes(100, "queues", None, (), frozenset({(LOOPBACK, 5999)}))},
    numbers={
        QUEUED: NumberRoute(1, QUEUED, (), group=True, queued=True),
        DIRECT: NumberRoute(1, DIRECT, (AGENT,), group=False),
    },
)


class FixedRoutes:
    """A routing table that never changes."""

    def __init__(self, table: RoutingTable) -> None:
        self.table = table

    def subscribe(self, listener: Callable[[RoutingTable], None]) -> None:
        pass

    async def reload(self) -> None:
        pass

    async def watch(self) -> None:
        await asyncio.Event().wait()


@dataclass
class Rig:
    switch: Switch
    events: EventLog
    workdir: Path

    @property
    def sip_port(self) -> int:
        return self.switch.sip_address[1]

    def caller(self) -> Baresip:
        """The carrier's caller: a phone at the trunk's host, its voice a tone."""
        voice = write_tone_wav(self.workdir / "caller.wav", seconds=60, frequency=CALLER_HZ)
        return Baresip(self.workdir / "caller", user=CALLER, port=self.sip_port, audio=voice)

    def agent_phone(
        self,
        number: str = AGENT,
        frequency: int = AGENT_HZ,
        answermode: Literal["auto", "manual"] = "auto",
    ) -> Baresip:
        voice = write_tone_wav(self.workdir / f"{number}.wav", seconds=60, frequency=frequency)
        return Baresip(
            self.workdir / number,
            user=number,
            password=PASSWORD,
            port=self.sip_port,
            regint=600,
            audio=voice,
            answermode=answermode,
        )

    def sipp_agent(self, scenario: str, name: str) -> Sipp:
        return Sipp(scenario, self.workdir / name, name=name)

    def agent(self, number: str = AGENT) -> Target:
        binding = self.switch.binding(number)
        assert binding is not None, f"{number}'s phone is not registered"
        return Target(binding.target, number, CALLER, ring_timeout=10)

    async def call_in(self, caller: Baresip, dialed: str = QUEUED) -> IncomingCall:
        """The caller calls `dialed`; the switch's IncomingCall of it."""
        since = len(self.events.events)
        await asyncio.to_thread(caller.dial, f"sip:{dialed}@{LOOPBACK}:{self.sip_port}")
        async with asyncio.timeout(15):
            while True:
                for event in self.events.events[since:]:
                    if isinstance(event, IncomingCall):
                        return event
                await asyncio.sleep(0.02)

    async def forgotten(self, call_id: str) -> None:
        """Nothing of the call is left: no number in a call, no relay session."""
        for number in (CALLER, QUEUED, AGENT, SECOND_AGENT):
            assert not self.switch.in_call(number), number
        assert await self.switch.media_stats(call_id) is None, "the relay session is open"


def sipp_agent_at(sipp: Sipp, ring_timeout: float = 10) -> Target:
    """An agent's phone that SIPp stands in for, at its address."""
    return Target((LOOPBACK, sipp.port), AGENT, CALLER, ring_timeout)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    switch = Switch(
        FixedRoutes(ROUTES),
        (LOOPBACK, free_udp_port()),
        rtp_ports=(37000, 37999),
        capture_dir=tmp_path / "captures",
    )
    events = EventLog()
    switch.subscribe(events)
    await switch.start()
    try:
        yield Rig(switch, events, tmp_path)
    finally:
        await switch.stop()


async def held_call(rig: Rig, caller: Baresip) -> str:
    """The caller calls the queued number and is held, ringing and unanswered."""
    incoming = await rig.call_in(caller)
    assert (incoming.kind, incoming.caller, incoming.dialed) == (
        CallKind.INBOUND_GROUP,
        CALLER,
        QUEUED,
    )
    assert incoming.queued
    assert incoming.from_carrier
    await asyncio.to_thread(caller.wait_ringing)
    return incoming.call_id


def still_ringing(caller: Baresip) -> bool:
    """The caller has had its 180 and no answer yet."""
    kinds = {event.type for event in caller.events}
    return "CALL_RINGING" in kinds and not kinds & {"CALL_ESTABLISHED", "CALL_CLOSED"}


def tones(path: Path, level: float = 500.0) -> list[float | None]:
    """Per 20 ms window of a mono WAV: the frequency of its tone (from zero crossings), or
    None when it is quiet."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    window = rate // 50 * 2
    found: list[float | None] = []
    for start in range(0, len(pcm) - window + 1, window):
        chunk = pcm[start : start + window]
        if audioop.rms(chunk, 2) <= level:
            found.append(None)
            continue
        samples = [audioop.getsample(chunk, 2, i) for i in range(window // 2)]
        crossings = sum((a < 0) != (b < 0) for a, b in itertools.pairwise(samples))
        found.append(crossings / 2 * 50)
    return found


def near(frequency: float | None, expected: float, tolerance: float = 60) -> bool:
    return frequency is not None and abs(frequency - expected) <= tolerance


def beeps(windows: list[float | None]) -> int:
    """How many times the music's beep starts in `windows` (of `tones`)."""
    return sum(
        1
        for i, frequency in enumerate(windows)
        if near(frequency, MUSIC_HZ) and (i == 0 or not near(windows[i - 1], MUSIC_HZ))
    )


def heard(path: Path) -> float:
    """The frequency heard most in a mono WAV."""
    loud = [round(f, -1) for f in tones(path) if f is not None]
    assert loud, f"{path} is silent"
    return max(set(loud), key=loud.count)


def channel(stereo: Path, left: bool, mono: Path) -> Path:
    """One channel of a stereo WAV as a mono WAV."""
    with wave.open(str(stereo)) as wav:
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    with wave.open(str(mono), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audioop.tomono(frames, 2, 1 if left else 0, 0 if left else 1))
    return mono


def recorded(rig: Rig, ended: CallEnded) -> tuple[float, float]:
    """The frequencies in the call's recording: its left channel, its right."""
    assert ended.captures is not None
    from_agent, from_caller = (Path(p) for p in ended.captures)
    stereo = rig.workdir / f"{ended.call_id}.wav"
    captures_to_wav(from_agent, from_caller, stereo)
    left = heard(channel(stereo, True, rig.workdir / "left.wav"))
    return left, heard(channel(stereo, False, rig.workdir / "right.wav"))


def write_music(base: Path, seconds_on: float = 0.3, seconds_off: float = 0.3) -> float:
    """A short prompt: a beep, then silence; returns how long it plays."""
    rate = 8000
    beep = [
        int(16000 * math.sin(2 * math.pi * MUSIC_HZ * n / rate))
        for n in range(int(seconds_on * rate))
    ]
    linear = b"".join(sample.to_bytes(2, "little", signed=True) for sample in beep)
    linear += bytes(2 * int(seconds_off * rate))
    prompt_file(base, PCMU).write_bytes(audioop.lin2ulaw(linear, 2))
    prompt_file(base, PCMA).write_bytes(audioop.lin2alaw(linear, 2))
    return seconds_on + seconds_off


async def test_a_held_caller_rings_until_an_agent_answers_then_both_hear_each_other(
    rig: Rig,
) -> None:
    caller, agent = rig.caller(), rig.agent_phone()
    with running(agent, caller):
        await asyncio.to_thread(agent.wait_registered)
        call_id = await held_call(rig, caller)
        assert rig.switch.in_call(CALLER)
        await asyncio.sleep(1)
        assert still_ringing(caller), "the held caller was answered"
        assert not any(isinstance(e, LegAnswered) for e in rig.events.of(call_id))
        rig.switch.attach(call_id, rig.agent())
        assert rig.switch.in_call(AGENT)
        with pytest.raises(CallStateError):  # one agent at a time
            rig.switch.attach(call_id, rig.agent())
        await rig.events.wait(CallBridged, call_id)
        await asyncio.to_thread(caller.wait_established)
        await asyncio.to_thread(agent.wait_established)
        await asyncio.sleep(3)
        rig.switch.hangup(call_id)
        ended = await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(caller.wait_closed)
        await asyncio.to_thread(agent.wait_closed)
    kinds = [(type(e).__name__, getattr(e, "leg", "")) for e in rig.events.of(call_id)]
    assert kinds == [
        ("IncomingCall", ""),
        ("LegCalling", AGENT_LEG),
        ("LegRinging", AGENT_LEG),
        ("LegAnswered", AGENT_LEG),
        ("LegAnswered", CUSTOMER_LEG),  # the caller, answered as the agent answered
        ("CallBridged", ""),
        ("CallEnded", ""),
    ]
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLEE)
    assert near(heard(caller.received_wav()), AGENT_HZ), "the caller did not hear the agent"
    assert near(heard(agent.received_wav()), CALLER_HZ), "the agent did not hear the caller"
    left, right = recorded(rig, ended)
    assert near(left, AGENT_HZ), "the recording's left channel is not the agent"
    assert near(right, CALLER_HZ), "the recording's right channel is not the caller"
    await rig.forgotten(call_id)


async def test_music_repeats_to_an_answered_caller_until_an_agent_answers(rig: Rig) -> None:
    music = rig.workdir / "music"
    once = write_music(music)
    caller, agent = rig.caller(), rig.agent_phone()
    with running(agent, caller):
        await asyncio.to_thread(agent.wait_registered)
        call_id = await held_call(rig, caller)
        with pytest.raises(CallStateError):  # not answered: nothing to play to
            rig.switch.play(call_id, music, repeat=True)
        rig.switch.answer(call_id)
        rig.switch.answer(call_id)  # answered already: nothing happens
        await rig.events.wait(LegAnswered, call_id, leg=CUSTOMER_LEG)
        await asyncio.to_thread(caller.wait_established)
        rig.switch.play(call_id, music, repeat=True)
        await asyncio.sleep(5 * once)
        rig.switch.attach(call_id, rig.agent())
        await rig.events.wait(CallBridged, call_id)
        await asyncio.to_thread(agent.wait_established)
        await asyncio.sleep(2)
        rig.switch.hangup(call_id)
        ended = await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(caller.wait_closed)
    answered = [e for e in rig.events.of(call_id) if isinstance(e, LegAnswered)]
    assert [e.leg for e in answered] == [CUSTOMER_LEG, AGENT_LEG]  # answered once
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLEE)
    windows = tones(caller.received_wav())
    music_at = [i for i, f in enumerate(windows) if near(f, MUSIC_HZ)]
    agent_at = [i for i, f in enumerate(windows) if near(f, AGENT_HZ)]
    played = beeps(windows)
    assert played >= 4, f"the caller heard the music {played} times"
    assert agent_at, "the caller did not hear the agent"
    assert max(music_at) < min(agent_at), "the music went on once the agent answered"
    assert near(heard(agent.received_wav()), CALLER_HZ), "the agent did not hear the caller"
    left, right = recorded(rig, ended)
    assert (near(left, AGENT_HZ), near(right, CALLER_HZ)) == (True, True)


async def test_commands_given_as_the_call_arrives_are_carried_out_in_order(rig: Rig) -> None:
    """Services may answer and play the moment IncomingCall arrives, perhaps before the
    relay has the call's session: the call carries them out once it holds the caller."""
    music = rig.workdir / "music"
    once = write_music(music)

    def on_arrival(event: object) -> None:
        if isinstance(event, IncomingCall) and event.queued:
            rig.switch.answer(event.call_id)
            rig.switch.play(event.call_id, music, repeat=True)

    rig.switch.subscribe(on_arrival)
    caller = rig.caller()
    with running(caller):
        call_id = (await rig.call_in(caller)).call_id
        await asyncio.to_thread(caller.wait_established)
        await asyncio.sleep(4 * once)
        rig.switch.hangup(call_id, status=486)  # answered: a BYE all the same
        ended = await rig.events.wait(CallEnded, call_id)
        closed = await asyncio.to_thread(caller.wait_closed)
    assert (ended.cause, ended.by, ended.sip_status) == (EndReason.NORMAL, Party.CALLEE, None)
    assert closed.param == "Connection reset by peer"  # the switch's BYE
    played = beeps(tones(caller.received_wav()))
    assert played >= 3, f"the caller heard the music {played} times"


async def test_agents_that_fail_leave_the_caller_held_for_the_next(rig: Rig) -> None:
    declining = rig.sipp_agent("uas_decline.xml", "declining")
    silent = rig.sipp_agent("uas_no_answer.xml", "silent")
    caller, agent = rig.caller(), rig.agent_phone(SECOND_AGENT, SECOND_AGENT_HZ)
    with running(declining, silent, agent, caller):
        await asyncio.to_thread(agent.wait_registered)
        call_id = await held_call(rig, caller)

        rig.switch.attach(call_id, sipp_agent_at(declining))
        declined = await rig.events.wait(LegFailed, call_id)
        assert (declined.leg, declined.cause, declined.sip_status) == (
            AGENT_LEG,
            EndReason.DECLINED,
            603,
        )
        assert not rig.switch.in_call(AGENT)

        mark = len(rig.events.events)
        rig.switch.attach(call_id, sipp_agent_at(silent, ring_timeout=2))
        await rig.events.wait(LegRinging, call_id, leg=AGENT_LEG, since=mark)
        unanswered = await rig.events.wait(LegFailed, call_id, since=mark)
        assert (unanswered.cause, unanswered.sip_status) == (EndReason.NO_ANSWER, None)
        await received(silent, "CANCEL")
        assert not rig.switch.in_call(AGENT)
        assert still_ringing(caller), "the caller was answered or let go"
        assert not any(isinstance(e, CallEnded) for e in rig.events.of(call_id))

        rig.switch.attach(call_id, rig.agent(SECOND_AGENT))
        await rig.events.wait(CallBridged, call_id)
        await asyncio.to_thread(caller.wait_established)
        await asyncio.to_thread(agent.wait_established)
        await asyncio.sleep(2)
        caller.hangup()  # the caller ends the call
        ended = await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(agent.wait_closed)
    assert (ended.cause, ended.by) == (EndReason.NORMAL, Party.CALLER)
    assert near(heard(caller.received_wav()), SECOND_AGENT_HZ)
    assert near(heard(agent.received_wav()), CALLER_HZ)
    await rig.forgotten(call_id)


@pytest.mark.parametrize("while_", ["ringing", "hearing music", "an agent rings"])
async def test_a_caller_who_hangs_up_while_held_ends_the_call(rig: Rig, while_: str) -> None:
    music = rig.workdir / "music"
    write_music(music)
    caller, agent = rig.caller(), rig.agent_phone(answermode="manual")
    with running(agent, caller):
        await asyncio.to_thread(agent.wait_registered)
        call_id = await held_call(rig, caller)
        if while_ == "hearing music":
            rig.switch.answer(call_id)
            await asyncio.to_thread(caller.wait_established)
            rig.switch.play(call_id, music, repeat=True)
        elif while_ == "an agent rings":
            rig.switch.attach(call_id, rig.agent())
            await asyncio.to_thread(agent.wait_incoming)
            await rig.events.wait(LegRinging, call_id, leg=AGENT_LEG)
        await asyncio.sleep(1)
        caller.hangup()
        ended = await rig.events.wait(CallEnded, call_id)
        if while_ == "an agent rings":
            closed = await asyncio.to_thread(agent.wait_closed)
            assert closed.param  # the agent's phone stopped ringing
        await asyncio.to_thread(caller.wait_closed)
        await rig.forgotten(call_id)
        # The SIP process forgot the call too: the agent takes a call again.
        await rig.call_in(caller, DIRECT)
        await asyncio.to_thread(agent.wait_incoming)
        caller.hangup()
    answered = while_ == "hearing music"
    assert ended.cause is (EndReason.NORMAL if answered else EndReason.CANCELLED)
    assert ended.by is Party.CALLER
    assert not any(isinstance(e, (LegFailed, CallBridged)) for e in rig.events.of(call_id))


async def test_a_held_caller_is_refused_with_the_status_services_give(rig: Rig) -> None:
    caller = rig.caller()
    with running(caller):
        call_id = await held_call(rig, caller)
        with pytest.raises(ValueError, match="400 to 699"):
            rig.switch.hangup(call_id, status=200)
        rig.switch.hangup(call_id, status=486)
        closed = await asyncio.to_thread(caller.wait_closed)
        ended = await rig.events.wait(CallEnded, call_id)
    assert closed.status == 486
    assert (ended.cause, ended.by, ended.sip_status) == (EndReason.BUSY, Party.CALLEE, 486)
    assert ended.captures is None
    await rig.forgotten(call_id)
