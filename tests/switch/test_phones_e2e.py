"""The SIP phones agents bring, through callyard: Linphone, pjsua2 and Twinkle each
register as an agent's extension, answer MakeCall and hear the carrier, are heard in the
recording, call another of them (pjsua2 settles its codec with a re-INVITE), hold and
resume, send DTMF that reaches the other phone, and unregister."""

from __future__ import annotations

import audioop
import statistics
import time
import wave
from pathlib import Path

import httpx
import pytest

from callyard.testing.sip import analyse_wav, running, wait_until, write_tone_wav
from tests.sip.phones import Phone, make_phone, tone_frequency
from tests.switch.pbx import AGENT, SECOND_AGENT, Pbx, make_call

pytestmark = pytest.mark.sip

# Each phone, and the phone it calls.
PAIRS = [
    pytest.param(caller, callee, marks=pytest.mark.phone(caller, callee), id=caller)
    for caller, callee in (("linphone", "pjsua"), ("pjsua", "twinkle"), ("twinkle", "linphone"))
]
AGENT_TONE, OTHER_TONE = 1000.0, 400.0


def gaps(recording: Path, channel: int) -> int:
    """Holes in one channel of a stereo recording of a steady tone: 20 ms windows of its
    middle 60 % far quieter than the tone's usual level (a packet placed wrong or lost)."""
    with wave.open(str(recording)) as wav:
        frames = wav.readframes(wav.getnframes())
    mono = audioop.tomono(frames, 2, 1 - channel, channel)
    windows = [audioop.rms(mono[i : i + 320], 2) for i in range(0, len(mono) - 319, 320)]
    middle = windows[len(windows) // 5 : len(windows) * 4 // 5]
    assert middle, "the recording is too short"
    usual = statistics.median(middle)
    assert usual > 1000, "the channel is silent"
    return sum(level < usual / 4 for level in middle)


def registered(pbx: Pbx, number: str) -> bool:
    reply = pbx.api("App.Sip_Status.GetSipRegisterStatus", extnumber=number)
    return bool(reply["data"]["result"][0]["code"] == 1017)


def phone_of(pbx: Pbx, name: str, number: str, tone: float) -> Phone:
    workdir = pbx.workdir / f"{name}-{number}"
    workdir.mkdir(parents=True, exist_ok=True)
    return make_phone(
        name,
        workdir,
        user=number,
        password=pbx.password(number),
        port=pbx.server.sip_port,
        regint=600,
        audio=write_tone_wav(workdir / "voice.wav", seconds=60, frequency=tone),
    )


@pytest.mark.parametrize(("name", "other_name"), PAIRS)
def test_a_phone_serves_as_an_agents_phone(pbx: Pbx, name: str, other_name: str) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=4000)
    pbx.trunk_to(carrier)
    phone = phone_of(pbx, name, AGENT, AGENT_TONE)
    other = phone_of(pbx, other_name, SECOND_AGENT, OTHER_TONE)
    with running(carrier, phone, other):
        phone.wait_registered(15)
        other.wait_registered(15)
        wait_until(lambda: registered(pbx, AGENT), 10, "the registration to be reported")

        # MakeCall: the phone answers by itself, the carrier echoes it, then hangs up.
        assert make_call(pbx, f"phones-{name}")["data"]["status"] == 0
        phone.wait_established(15)
        phone.wait_closed(20)
        assert analyse_wav(phone.received_wav()).active_seconds > 1.0  # the carrier

        # A call to the other phone: re-INVITEs (codec settling, hold, resume) and DTMF.
        time.sleep(1)  # a line is free a moment after its call ended (Twinkle ignores a dial)
        phone.dial(f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}")
        other.wait_established(15)
        phone.wait_established(15)
        time.sleep(1)
        phone.hold()
        time.sleep(1)
        phone.resume()
        time.sleep(1)  # keys pressed a moment after the resume (Twinkle restarts its media)
        phone.send_dtmf("159#")
        wait_until(lambda: "159#" in other.received_dtmf(), 30, "the DTMF to reach the other")
        time.sleep(2)  # the phone's voice, after the resume
        phone.hangup()
        other.wait_closed(15)
        phone.wait_closed(15)
        heard = tone_frequency(other.received_wav())
        assert abs(heard - AGENT_TONE) < 50, heard

        phone.unregister()
        wait_until(lambda: not registered(pbx, AGENT), 10, "the unregistration")
    assert carrier.wait(30).successful == 1

    record = pbx.record_of(f"phones-{name}")
    assert record["hangupcause"] == 10001
    link = pbx.api("App.Sip_Cdr.GetRecodeFile", filename=record["recordfilename"])
    recording = pbx.workdir / f"{name}.wav"
    recording.write_bytes(httpx.get(link["data"]["result"]["downurl"]).content)
    assert gaps(recording, channel=0) == 0  # the agent's phone, heard without holes
    local = pbx.record_with(extnumber=AGENT, destnumber=SECOND_AGENT)
    assert local["hangupcause"] == 10001
