"""Offers and answers through the switch: codecs by name, refusals instead of silence,
and sessions that change in the middle of a call (re-INVITE, UPDATE, hold, resume)."""

from __future__ import annotations

import audioop
import time
import wave
from pathlib import Path

import pytest

from callyard.testing.sip import Sipp, running, wait_until, write_tone_wav
from tests.switch.pbx import AGENT, Pbx

pytestmark = pytest.mark.sip

DIALED = "628123456789"


def phone_scenario(pbx: Pbx, scenario: str, **variables: str) -> Sipp:
    """A SIPp phone of extension AGENT (digest credentials) calling DIALED."""
    switch = f"127.0.0.1:{pbx.server.sip_port}"
    return pbx.carrier(
        scenario, remote=switch, service=DIALED, calls=1,
        auth=(AGENT, pbx.password(AGENT)), extra_args=["-auth_uri", f"{DIALED}@{switch}"],
        variables={"caller": AGENT, **variables},
    )  # fmt: skip


def last_second_level(path: Path) -> float:
    """The RMS level (16-bit units) of a WAV's last second."""
    with wave.open(str(path)) as wav:
        frames = wav.getnframes()
        wav.setpos(max(0, frames - wav.getframerate()))
        tail = wav.readframes(wav.getframerate())
        return float(audioop.rms(tail, wav.getsampwidth()))


def media_line(body: str) -> str:
    """The m= line of an SDP body."""
    return next(line.strip() for line in body.splitlines() if line.startswith("m="))


def offered_to(carrier: Sipp) -> str:
    """The SDP of the first INVITE the carrier received."""
    invites = carrier.received("INVITE")
    assert invites, "the carrier got no INVITE"
    return invites[0].body


def test_a_phone_offering_no_codec_the_relay_carries_is_refused(pbx: Pbx) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml")
    pbx.trunk_to(carrier)
    phone = phone_scenario(pbx, "uac_offer_refused_auth.xml", offer_port="40000", offer_types="111")
    with running(carrier, phone):
        assert phone.wait(30).successful == 1  # 488 Not Acceptable Here
    assert carrier.received("INVITE") == []
    pbx.record_with(extnumber=AGENT, hangupcause=10017)


def test_an_answer_with_a_codec_not_offered_is_refused_not_bridged(pbx: Pbx) -> None:
    """The phone offers PCMA alone; the carrier answers PCMU, which nobody offered it:
    the relay cannot transcode, so the phone gets 488 and the carrier a BYE."""
    carrier = pbx.carrier("uas_answer_pcmu.xml", calls=1)
    pbx.trunk_to(carrier)
    phone = phone_scenario(pbx, "uac_offer_refused_auth.xml", offer_port="40000", offer_types="8")
    with running(carrier, phone):
        assert phone.wait(30).successful == 1  # 488 Not Acceptable Here
        assert carrier.wait(30).successful == 1  # answered, ACKed, hung up
    assert media_line(offered_to(carrier)).endswith(" RTP/AVP 8")
    pbx.record_with(extnumber=AGENT, hangupcause=10017)


def test_a_phone_changes_its_session_in_the_middle_of_a_call(pbx: Pbx) -> None:
    """Codec settling, a refused re-offer, hold, resume, session refreshes by UPDATE, an
    UPDATE with an offer and an offerless re-INVITE, each answered as the scenario checks;
    the phone's DTMF payload type (121) is what the carrier is offered."""
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1)
    pbx.trunk_to(carrier)
    phone = phone_scenario(pbx, "uac_reinvite_auth.xml")
    with running(carrier, phone):
        result = phone.wait(60)
        assert result.successful == 1, result.errors
        assert carrier.wait(30).successful == 1
    offer = offered_to(carrier)
    assert "a=rtpmap:121 telephone-event/8000" in offer.splitlines()
    assert media_line(offer).endswith(" RTP/AVP 0 8 121")
    record = pbx.record_with(extnumber=AGENT, destnumber=DIALED)
    assert record["hangupcause"] == 10001


def test_a_carrier_holds_and_resumes_and_media_flows_again(pbx: Pbx) -> None:
    """The carrier's re-INVITEs (a leg the switch placed) are answered, the phone's call
    goes on, and the carrier's echo of the phone is heard again after the resume."""
    carrier = pbx.carrier("uas_reinvites.xml", calls=1)
    pbx.trunk_to(carrier)
    phone = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(carrier, phone):
        phone.wait_registered()
        phone.dial(f"sip:{DIALED}@127.0.0.1:{pbx.server.sip_port}")
        phone.wait_established(timeout=10)

        def resumed() -> bool:
            return len([m for m in carrier.sent() if m.method == "ACK"]) >= 2

        wait_until(resumed, 15, "the carrier's hold and resume to be answered")
        time.sleep(2)  # two seconds of the echo after the resume
        phone.hangup()
        phone.wait_closed()
        assert carrier.wait(30).successful == 1
    assert last_second_level(phone.received_wav()) > 500  # the tone, echoed after the resume
