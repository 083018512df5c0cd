"""The middle of a call, through a running switch: hold, mute, release to another agent,
and parties mixed into the call (a supervisor listening, whispering, barging in).

A carrier's caller (baresip at the trunk's host) reaches a queued number and is put
through to an agent; each party sends its own tone, and what each one hears is told
apart by frequency, phase by phase of the call.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from callyard.switch.commands import Drop, Hearing, Hold, Invite, Mute, Release, Resume
from callyard.switch.events import (
    AGENT_LEG,
    CallBridged,
    CallEnded,
    LegAnswered,
    LegEnded,
)
from callyard.switch.recording import captures_to_wav
from callyard.switch.switch import Switch
from callyard.testing.audio import tones_heard
from callyard.testing.sip import LOOPBACK, Baresip, free_udp_port, running
from tests.switch.pbx import relay_ports
from tests.switch.test_dial import EventLog
from tests.switch.test_queued_call import (
    AGENT,
    AGENT_HZ,
    CALLER_HZ,
    MUSIC_HZ,
    ROUTES,
    SECOND_AGENT,
    SECOND_AGENT_HZ,
    FixedRoutes,
    Rig,
    channel,
    held_call,
    write_music,
)

pytestmark = pytest.mark.sip

SUPERVISOR = SECOND_AGENT  # the second agent's phone plays the supervisor
SUPERVISOR_HZ = SECOND_AGENT_HZ
VOICES = (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)
SUPERVISOR_LEG = "supervisor"
MARGIN = 0.6  # seconds at each end of a phase not judged (jitter buffers, re-INVITEs)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    switch = Switch(
        FixedRoutes(ROUTES),
        (LOOPBACK, free_udp_port()),
        rtp_ports=tuple(int(port) for port in relay_ports().split("-")),  # type: ignore[arg-type]
        capture_dir=tmp_path / "captures",
    )
    events = EventLog()
    switch.subscribe(events)
    await switch.start()
    try:
        yield Rig(switch, events, tmp_path)
    finally:
        await switch.stop()


@dataclass
class Phases:
    """When each phase of a call began, in seconds since its audio started."""

    start: float = field(default_factory=time.monotonic)
    marks: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        self.marks.append((name, time.monotonic() - self.start))

    def span(self, name: str) -> tuple[float, float]:
        names = [mark for mark, _ in self.marks]
        at = self.marks[names.index(name)][1]
        later = [t for _, t in self.marks[names.index(name) + 1 :]]
        return at + MARGIN, (later[0] if later else at + 2.0) - MARGIN


def heard(path: Path, span: tuple[float, float]) -> set[float]:
    """The voices heard in a WAV between two moments (seconds from its start)."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    start, end = (int(t * rate) for t in span)
    assert end - start >= rate // 2, f"{path} has too little audio in {span}"
    return tones_heard(samples[start:end], (*VOICES, MUSIC_HZ))


async def bridged(rig: Rig, caller: Baresip, agent: Baresip) -> tuple[str, Phases]:
    """A caller put through to the agent; its phases start with the talk."""
    call_id = await held_call(rig, caller)
    rig.switch.attach(call_id, rig.agent())
    await rig.events.wait(CallBridged, call_id)
    await asyncio.to_thread(caller.wait_established)
    await asyncio.to_thread(agent.wait_established)
    phases = Phases()
    phases.mark("talk")
    return call_id, phases


async def phase(phases: Phases, name: str, seconds: float = 2.5) -> None:
    phases.mark(name)
    await asyncio.sleep(seconds)


async def test_hold_plays_music_to_the_caller_and_mute_silences_the_agent(rig: Rig) -> None:
    music = rig.workdir / "music"
    write_music(music)
    caller, agent = rig.caller(), rig.agent_phone()
    with running(agent, caller):
        await asyncio.to_thread(agent.wait_registered)
        call_id, phases = await bridged(rig, caller, agent)
        await asyncio.sleep(2.5)
        rig.switch.control(Hold(call_id, music))
        await phase(phases, "hold")
        rig.switch.control(Resume(call_id))
        await phase(phases, "resumed")
        rig.switch.control(Mute(call_id, AGENT_LEG))
        await phase(phases, "muted")
        rig.switch.control(Mute(call_id, AGENT_LEG, muted=False))
        await phase(phases, "unmuted")
        rig.switch.hangup(call_id)
        ended = await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(caller.wait_closed)
    to_caller, to_agent = caller.received_wav(), agent.received_wav()
    assert heard(to_caller, phases.span("talk")) == {AGENT_HZ}
    assert heard(to_caller, phases.span("hold")) == {MUSIC_HZ}
    assert heard(to_agent, phases.span("hold")) == set(), "the agent heard the held caller"
    assert heard(to_caller, phases.span("resumed")) == {AGENT_HZ}
    assert heard(to_agent, phases.span("resumed")) == {CALLER_HZ}
    assert heard(to_caller, phases.span("muted")) == set(), "the muted agent was heard"
    assert heard(to_agent, phases.span("muted")) == {CALLER_HZ}
    assert heard(to_caller, phases.span("unmuted")) == {AGENT_HZ}
    assert ended.captures is not None


async def test_a_released_caller_hears_music_and_is_put_through_to_another_agent(
    rig: Rig,
) -> None:
    music = rig.workdir / "music"
    write_music(music)
    caller, first = rig.caller(), rig.agent_phone()
    second = rig.agent_phone(SECOND_AGENT, SECOND_AGENT_HZ)
    with running(first, second, caller):
        await asyncio.to_thread(first.wait_registered)
        await asyncio.to_thread(second.wait_registered)
        call_id, phases = await bridged(rig, caller, first)
        await asyncio.sleep(2.5)
        rig.switch.control(Release(call_id, music))
        await rig.events.wait(LegEnded, call_id, leg=AGENT_LEG)
        await asyncio.to_thread(first.wait_closed)
        assert not rig.switch.in_call(AGENT), "the first agent is still in the call"
        await phase(phases, "released")
        since = len(rig.events.events)
        rig.switch.attach(call_id, rig.agent(SECOND_AGENT))
        await rig.events.wait(LegAnswered, call_id, leg=AGENT_LEG, since=since)
        await asyncio.to_thread(second.wait_established)
        await phase(phases, "second", 3.0)
        rig.switch.hangup(call_id)
        ended = await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(caller.wait_closed)
    to_caller = caller.received_wav()
    assert heard(to_caller, phases.span("talk")) == {AGENT_HZ}
    assert heard(to_caller, phases.span("released")) == {MUSIC_HZ}
    assert heard(to_caller, phases.span("second")) == {SECOND_AGENT_HZ}
    assert heard(second.received_wav(), (MARGIN, 2.0)) == {CALLER_HZ}
    bridges = [e for e in rig.events.of(call_id) if isinstance(e, CallBridged)]
    assert len(bridges) == 1, "a call handed over is bridged (and recorded) once"
    # One recording: the caller throughout, the first agent then the second on the left.
    assert ended.captures is not None
    stereo = rig.workdir / "call.wav"
    from_agent, from_caller = (Path(path) for path in ended.captures)
    captures_to_wav(from_agent, from_caller, stereo)
    left = channel(stereo, True, rig.workdir / "left.wav")
    assert heard(left, phases.span("talk")) == {AGENT_HZ}
    assert heard(left, phases.span("second")) == {SECOND_AGENT_HZ}


NOBODY, THE_AGENT = frozenset[str](), frozenset({AGENT_LEG})


async def test_a_supervisor_listens_whispers_and_barges_in(rig: Rig) -> None:
    caller, agent = rig.caller(), rig.agent_phone()
    supervisor = rig.agent_phone(SUPERVISOR, SUPERVISOR_HZ)
    with running(agent, supervisor, caller):
        await asyncio.to_thread(agent.wait_registered)
        await asyncio.to_thread(supervisor.wait_registered)
        call_id, phases = await bridged(rig, caller, agent)
        await asyncio.sleep(2.5)
        target = rig.agent(SUPERVISOR)
        rig.switch.control(Invite(call_id, SUPERVISOR_LEG, target, heard_by=NOBODY))
        await rig.events.wait(LegAnswered, call_id, leg=SUPERVISOR_LEG)
        await asyncio.to_thread(supervisor.wait_established)
        supervisor_start = time.monotonic() - phases.start
        await phase(phases, "listen", 3.0)
        rig.switch.control(Hearing(call_id, SUPERVISOR_LEG, THE_AGENT))
        await phase(phases, "whisper")
        rig.switch.control(Hearing(call_id, SUPERVISOR_LEG, None))
        await phase(phases, "barge")
        rig.switch.control(Drop(call_id, SUPERVISOR_LEG))
        await rig.events.wait(LegEnded, call_id, leg=SUPERVISOR_LEG)
        await asyncio.to_thread(supervisor.wait_closed)
        await phase(phases, "alone again")
        rig.switch.hangup(call_id)
        await rig.events.wait(CallEnded, call_id)
        await asyncio.to_thread(caller.wait_closed)
    to_caller, to_agent = caller.received_wav(), agent.received_wav()
    to_supervisor = supervisor.received_wav()

    def supervisors(name: str) -> tuple[float, float]:
        start, end = phases.span(name)
        return start - supervisor_start, end - supervisor_start

    assert heard(to_caller, phases.span("listen")) == {AGENT_HZ}
    assert heard(to_agent, phases.span("listen")) == {CALLER_HZ}
    assert heard(to_supervisor, supervisors("listen")) == {CALLER_HZ, AGENT_HZ}
    assert heard(to_caller, phases.span("whisper")) == {AGENT_HZ}
    assert heard(to_agent, phases.span("whisper")) == {CALLER_HZ, SUPERVISOR_HZ}
    assert heard(to_caller, phases.span("barge")) == {AGENT_HZ, SUPERVISOR_HZ}
    assert heard(to_agent, phases.span("barge")) == {CALLER_HZ, SUPERVISOR_HZ}
    assert heard(to_supervisor, supervisors("barge")) == {CALLER_HZ, AGENT_HZ}
    assert heard(to_caller, phases.span("alone again")) == {AGENT_HZ}
    assert heard(to_agent, phases.span("alone again")) == {CALLER_HZ}
