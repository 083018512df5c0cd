"""The SIP harness proves itself without callyard: baresip and SIPp talk to each other
directly on loopback (no switch in between)."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import pytest

from callyard.testing.sip import (
    G711A_PCAP,
    SCENARIOS,
    Baresip,
    CallClosed,
    RegistrationFailed,
    Sipp,
    analyse_wav,
    digest_response,
    free_media_port,
    free_sip_port,
    free_udp_port,
    parse_digest,
    parse_sipp_messages,
    pcap_packet_count,
    prepare_pcap_dir,
    running,
    verify_digest,
    write_pcap_clip,
    write_tone_wav,
)

sip = pytest.mark.sip


# -- helpers that need no process -------------------------------------------------------------


def test_tone_wav_is_analysed(tmp_path: Path) -> None:
    tone = analyse_wav(write_tone_wav(tmp_path / "tone.wav", seconds=1.5, amplitude=0.5))
    assert (tone.rate, tone.channels, tone.frames) == (8000, 1, 12000)
    assert tone.duration == pytest.approx(1.5)
    assert tone.rms == pytest.approx(0.5 * 32767 / 2**0.5, rel=0.01)
    assert tone.peak == pytest.approx(0.5 * 32767, rel=0.01)
    assert tone.active_seconds == pytest.approx(1.5)
    assert not tone.is_silent()

    quiet = analyse_wav(write_tone_wav(tmp_path / "quiet.wav", seconds=1, amplitude=0.001))
    assert quiet.is_silent()
    assert quiet.active_seconds == 0


def test_free_ports_are_free_and_distinct() -> None:
    ports = {free_udp_port(), free_sip_port(), free_media_port()}
    assert all(1024 <= port <= 65535 for port in ports)
    assert free_media_port() % 2 == 0


def test_pcap_clips_keep_rtp_continuous(tmp_path: Path) -> None:
    assert pcap_packet_count(G711A_PCAP) > 200  # about 7 s at 30 ms
    short = write_pcap_clip(tmp_path / "short.pcap", 1.0)
    assert 30 <= short <= 36
    long = write_pcap_clip(tmp_path / "long.pcap", 20.0)
    assert 650 <= long <= 680
    data = (tmp_path / "long.pcap").read_bytes()
    offset, seqs = 24, []
    while offset < len(data):
        size = int.from_bytes(data[offset + 8 : offset + 12], "little")
        packet = data[offset + 16 : offset + 16 + size]
        seqs.append(int.from_bytes(packet[44:46], "big"))
        offset += 16 + size
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
    assert prepare_pcap_dir(tmp_path, 2.0) == tmp_path / "pcap" / "g711a.pcap"


def test_digest_matches_rfc_2617_example() -> None:
    header = (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
        'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert parse_digest(header)["nc"] == "00000001"
    assert verify_digest(header, "GET", "Circle Of Life")
    assert not verify_digest(header, "GET", "circle of life")
    assert digest_response(
        username="a", realm="r", password="p", method="INVITE", uri="sip:x", nonce="n"
    ) == digest_response(
        username="a", realm="r", password="p", method="INVITE", uri="sip:x", nonce="n"
    )


def test_sipp_message_trace_is_parsed() -> None:
    trace = (
        "----------------------------------------------- 2026-11-23 01:30:17.535216\n"
        "UDP message received [300] bytes :\n\n"
        "INVITE sip:test@127.0.0.1:5090 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "Call-ID: abc\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Type: application/sdp\r\n\r\n"
        "v=0\r\nm=audio 4000 RTP/AVP 0\r\n\n"
        "----------------------------------------------- 2026-11-23 01:30:17.536633\n"
        "UDP message sent (100 bytes):\n\n"
        "SIP/2.0 486 Busy Here\r\n"
        "Call-ID: abc\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n\n"
    )
    invite, busy = parse_sipp_messages(trace)
    assert (invite.direction, invite.method, invite.call_id) == ("received", "INVITE", "abc")
    assert invite.header("via") == "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1"
    assert "m=audio 4000 RTP/AVP 0" in invite.body
    assert (busy.direction, busy.status, busy.method) == ("sent", 486, "INVITE")


def test_every_scenario_is_shipped() -> None:
    names = {path.name for path in SCENARIOS.glob("*.xml")}
    assert {
        "uas_answer_echo.xml",
        "uas_busy.xml",
        "uas_decline.xml",
        "uas_no_answer.xml",
        "uas_auth.xml",
        "uas_register.xml",
        "uac_g711a.xml",
    } <= names
    for path in SCENARIOS.glob("*.xml"):
        contacts = re.findall(r"^\s*Contact:.*$", path.read_text(), re.MULTILINE)
        for contact in contacts:  # upper-case transport=UDP trips sippy (trap 1)
            assert "transport" not in contact, f"{path.name}: {contact}"


# -- baresip and SIPp on loopback ----------------------------------------------------------------


@sip
def test_call_to_an_echoing_carrier_carries_media_both_ways(tmp_path: Path) -> None:
    carrier = Sipp("uas_answer_echo.xml", tmp_path / "carrier")
    tone = write_tone_wav(tmp_path / "tone.wav", seconds=10)
    softphone = Baresip(tmp_path / "phone", audio=tone)
    with running(carrier, softphone):
        softphone.dial(carrier.uri("echo"))
        softphone.wait_ringing(5)
        established = softphone.wait_established(5)
        assert established.peer == carrier.uri("echo")
        time.sleep(2.0)
        softphone.hangup()
        softphone.wait_closed(5)
        result = carrier.stop()
    assert result.returncode == 0, result.errors
    assert (result.successful, result.failed) == (1, 0)
    assert [m.method for m in carrier.received()] == ["INVITE", "ACK", "BYE"]
    offer = carrier.received("INVITE")[0].body
    assert "c=IN IP4 127.0.0.1" in offer
    assert "RTP/AVP 0 8" in offer  # baresip offers PCMU then PCMA; the carrier picks PCMU
    assert "m=audio" in next(m.body for m in carrier.sent() if m.status == 200)

    heard = analyse_wav(softphone.received_wav())
    said = analyse_wav(softphone.sent_wav())
    assert said.active_seconds > 1.5
    assert not heard.is_silent()
    assert heard.active_seconds > 1.5  # the echo of the tone, through SIPp's -rtp_echo


@sip
def test_carrier_hangs_up(tmp_path: Path) -> None:
    carrier = Sipp("uas_answer_echo.xml", tmp_path / "carrier", recv_timeout_ms=700)
    softphone = Baresip(tmp_path / "phone")
    with running(carrier, softphone):
        softphone.dial(carrier.uri())
        softphone.wait_established(5)
        closed = softphone.wait_closed(5)
        assert closed.param == "Connection reset by peer"  # baresip's text for a BYE
        result = carrier.stop()
    assert result.returncode == 0, result.errors
    assert [m.first_line.split()[0] for m in carrier.sent() if m.is_request] == ["BYE"]
    assert [m.status for m in carrier.received() if not m.is_request] == [200]


@sip
@pytest.mark.parametrize(("scenario", "status"), [("uas_busy.xml", 486), ("uas_decline.xml", 603)])
def test_rejected_call_closes_with_the_carriers_status(
    tmp_path: Path, scenario: str, status: int
) -> None:
    carrier = Sipp(scenario, tmp_path / "carrier")
    softphone = Baresip(tmp_path / "phone")
    with running(carrier, softphone):
        softphone.dial(carrier.uri())
        with pytest.raises(CallClosed) as closed:
            softphone.wait_established(5)
        assert closed.value.status == status
        assert softphone.wait_closed(1).status == status
        result = carrier.stop()
    assert (result.successful, result.failed) == (1, 0)
    assert [m.method for m in carrier.received()] == ["INVITE", "ACK"]


@sip
def test_unanswered_call_is_cancelled(tmp_path: Path) -> None:
    carrier = Sipp("uas_no_answer.xml", tmp_path / "carrier")
    softphone = Baresip(tmp_path / "phone")
    with running(carrier, softphone):
        softphone.dial(carrier.uri())
        softphone.wait_ringing(5)
        time.sleep(0.3)
        softphone.hangup()
        softphone.wait_closed(5)
        result = carrier.stop()
    assert (result.successful, result.failed) == (1, 0)
    assert [m.method for m in carrier.received()] == ["INVITE", "CANCEL", "ACK"]
    assert [m.status for m in carrier.sent()] == [100, 180, 200, 487]


@sip
def test_carrier_challenges_and_the_digest_is_checked(tmp_path: Path) -> None:
    carrier = Sipp("uas_auth.xml", tmp_path / "carrier", variables={"carrier_user": "trunk7"})
    softphone = Baresip(tmp_path / "phone", user="trunk7", password="s3cret")
    with running(carrier, softphone):
        softphone.dial(carrier.uri("5551234"))
        softphone.wait_established(5)
        softphone.hangup()
        softphone.wait_closed(5)
        result = carrier.stop()
    assert (result.successful, result.failed) == (1, 0)
    first, second = carrier.received("INVITE")
    assert first.header("Proxy-Authorization") is None
    assert carrier.sent()[0].status == 407
    credentials = second.header("Proxy-Authorization")
    assert credentials is not None
    assert parse_digest(credentials)["realm"] == "carrier.test"
    # SIPp cannot verify a Proxy-Authorization digest; the harness can.
    assert verify_digest(credentials, "INVITE", "s3cret")
    assert not verify_digest(credentials, "INVITE", "wrong")


@sip
def test_carrier_refuses_another_trunk_user(tmp_path: Path) -> None:
    carrier = Sipp("uas_auth.xml", tmp_path / "carrier", variables={"carrier_user": "trunk7"})
    softphone = Baresip(tmp_path / "phone", user="intruder", password="s3cret")
    with running(carrier, softphone):
        softphone.dial(carrier.uri())
        with pytest.raises(CallClosed) as closed:
            softphone.wait_established(5)
        assert closed.value.status == 403
        result = carrier.stop()
    assert result.failed == 1
    assert result.returncode == 1


@sip
@pytest.mark.parametrize(("password", "registered"), [("s3cret", True), ("wrong", False)])
def test_registration_and_its_failure_are_reported(
    tmp_path: Path, password: str, registered: bool
) -> None:
    registrar = Sipp("uas_register.xml", tmp_path / "registrar", variables={"password": "s3cret"})
    softphone = Baresip(
        tmp_path / "phone", user="1001", password=password, port=registrar.port, regint=60
    )
    with running(registrar, softphone):
        if registered:
            assert softphone.wait_registered(5).status == 200
        else:
            with pytest.raises(RegistrationFailed) as failed:
                softphone.wait_registered(5)
            assert failed.value.status == 403
        softphone.stop()
        result = registrar.stop()
    assert result.returncode == 0, result.errors
    # Challenged, with credentials and, once registered, the un-REGISTER of the stop.
    assert [m.method for m in registrar.received()] == ["REGISTER"] * (3 if registered else 2)


@sip
def test_sipp_caller_with_g711_media_through_an_echo(tmp_path: Path) -> None:
    carrier = Sipp("uas_answer_echo.xml", tmp_path / "carrier", trace_messages=False)
    caller_dir = tmp_path / "caller"
    prepare_pcap_dir(caller_dir, seconds=1.0)
    caller = Sipp(
        "uac_g711a.xml",
        caller_dir,
        remote=carrier.address,
        calls=3,
        rate=10,
        duration_ms=1200,
        trace_rtt=True,
        trace_short_messages=True,
        timeout_s=20,
    )
    with running(carrier, caller):
        result = caller.wait(20)
        carrier.stop()
    assert result.returncode == 0, result.errors
    assert (result.successful, result.failed) == (3, 0)
    times = caller.response_times()
    assert len(times["ring"]) == len(times["answer"]) == 3
    assert all(0 <= ms < 1000 for ms in times["answer"])
    sent = [m for m in caller.short_messages() if m.direction == "S"]
    assert sum(m.first_line.startswith("BYE") for m in sent) == 3
    assert sum(m.cseq == "CSeq:1 INVITE" for m in sent) == 3
    assert carrier.result is not None
    assert carrier.result.successful == 3


@sip
def test_incoming_call_is_answered_by_hand_and_hears_the_caller(tmp_path: Path) -> None:
    softphone = Baresip(tmp_path / "phone", answermode="manual")
    caller_dir = tmp_path / "caller"
    prepare_pcap_dir(caller_dir, seconds=2.0)
    caller = Sipp(
        "uac_g711a.xml",
        caller_dir,
        remote=f"127.0.0.1:{softphone.sip_port}",
        service="1001",
        calls=1,
        duration_ms=2500,
        timeout_s=20,
    )
    with running(softphone, caller):
        incoming = softphone.wait_incoming(5)
        assert incoming.peer.startswith("sip:sipp@127.0.0.1")
        softphone.accept()
        softphone.wait_established(5)
        softphone.send_dtmf("1")
        assert softphone.wait_closed(10).param == "Connection reset by peer"
        result = caller.wait(10)
    assert (result.returncode, result.successful) == (0, 1)
    heard = analyse_wav(softphone.received_wav())
    assert heard.active_seconds > 0.5  # SIPp's g711a.pcap is speech
