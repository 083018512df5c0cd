"""The middle of a call, through a running switch: hold and mute carried out by the relay
alone (handing over and mixing more parties are tested end to end, through the CTI, in
test_mid_call_e2e.py).

A carrier's caller (baresip at the trunk's host) reaches a queued number and is put
through to an agent; each party sends its own tone, and what each one hears is told
apart by frequency, phase by phase of the call.
"""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from callyard.switch.commands import Hold, Mute, Resume
from callyard.switch.events import (
    AGENT_LEG,
    CallBridged,
    CallEnded,
)
from callyard.testing.audio import tones_heard
from callyard.testing.sip import Baresip, running
from tests.switch import test_queued_call
from tests.switch.test_queued_call import (
    AGENT_HZ,
    CALLER_HZ,
    MUSIC_HZ,
    Rig,
    held_call,
    write_music,
)

pytestmark = pytest.mark.sip

VOICES = (CALLER_HZ, AGENT_HZ)
rig = test_queued_call.rig  # the queued calls' switch, with its phones
MARGIN = 0.6  # seconds at each end of a phase not judged (jitter buffers, re-INVITEs)


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
