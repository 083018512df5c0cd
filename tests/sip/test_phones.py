"""The phones of tests/sip/phones.py prove themselves without callyard: each registers to a
SIPp registrar, answers a SIPp caller, calls a SIPp carrier, holds and resumes, and trades
DTMF and audio with baresip and with another of them, directly on loopback."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from callyard.testing.sip import (
    Baresip,
    SipMessage,
    Sipp,
    analyse_wav,
    prepare_pcap_dir,
    running,
    verify_digest,
    wait_until,
    write_tone_wav,
)
from tests.sip.phones import PHONES, make_phone, tone_frequency

sip = pytest.mark.sip

NEW_PHONES = [pytest.param(name, marks=pytest.mark.phone(name)) for name in PHONES]
ALL_PHONES = [pytest.param("baresip"), *NEW_PHONES]
PAIRS = [
    pytest.param(caller, callee, marks=pytest.mark.phone(caller, callee))
    for caller, callee in (("pjsua", "linphone"), ("linphone", "twinkle"), ("twinkle", "pjsua"))
]


STATIC_PAYLOADS = {"0": "PCMU", "3": "GSM", "4": "G723", "8": "PCMA", "9": "G722", "18": "G729"}


def offered_codecs(invite: SipMessage) -> set[str]:
    """The encoding names of the audio offer: its rtpmap lines, else the static types."""
    media = re.search(r"m=audio \d+ RTP/AVP([ \d]*)", invite.body)
    assert media is not None, invite.body
    names = dict(re.findall(r"a=rtpmap:(\d+) ([^/\s]+)/", invite.body))
    return {names.get(pt, STATIC_PAYLOADS.get(pt, pt)).upper() for pt in media.group(1).split()}


def direction(body: str) -> str:
    """The SDP's media direction (sendrecv when it names none)."""
    found = re.search(r"a=(sendrecv|sendonly|recvonly|inactive)", body)
    return found.group(1) if found else "sendrecv"


@sip
@pytest.mark.parametrize("name", ALL_PHONES)
def test_registers_with_digest_and_unregisters(tmp_path: Path, name: str) -> None:
    registrar = Sipp(
        "uas_register.xml",
        tmp_path / "registrar",
        variables={"password": "s3cret"},
        calls=1,  # exits once the un-REGISTER is answered
    )
    phone = make_phone(
        name, tmp_path / name, user="1001", password="s3cret", port=registrar.port, regint=60
    )
    with running(registrar, phone):
        try:
            phone.wait_registered(10)
            phone.unregister(10)
            result = registrar.wait(10)
        except Exception:
            print(phone.log())
            raise
    assert (result.returncode, result.failed) == (0, 0), result.errors
    first, authenticated, *_, last = registrar.received("REGISTER")
    assert first.header("Authorization") is None
    credentials = authenticated.header("Authorization")
    assert credentials is not None
    assert verify_digest(credentials, "REGISTER", "s3cret")
    contact = last.header("Contact") or last.header("m") or ""
    assert last.header("Expires") == "0" or "expires=0" in contact.replace(" ", "")


@sip
@pytest.mark.parametrize("name", NEW_PHONES)
def test_answers_a_caller_and_hears_it(tmp_path: Path, name: str) -> None:
    phone = make_phone(name, tmp_path / name, user="1001")
    caller_dir = tmp_path / "caller"
    prepare_pcap_dir(caller_dir, seconds=3.0)
    with running(phone):
        caller = Sipp(
            "uac_g711a.xml",
            caller_dir,
            remote=phone.contact.split("@", 1)[1],
            service="1001",
            calls=1,
            duration_ms=4000,
            timeout_s=30,
        )
        with running(caller):
            try:
                phone.wait_incoming(10)
                phone.wait_established(10)
                phone.wait_closed(20)  # the caller hangs up
            except Exception:
                print(phone.log())
                raise
            result = caller.wait(20)
    assert (result.returncode, result.successful) == (0, 1), result.errors
    heard = analyse_wav(phone.received_wav())
    assert heard.active_seconds > 0.5  # SIPp's g711a.pcap is speech


@sip
@pytest.mark.parametrize("name", NEW_PHONES)
def test_calls_an_echoing_carrier_with_g711_only_and_hears_itself(
    tmp_path: Path, name: str
) -> None:
    carrier = Sipp("uas_answer_echo.xml", tmp_path / "carrier")
    phone = make_phone(name, tmp_path / name)
    with running(carrier, phone):
        try:
            phone.dial(carrier.uri("echo"))
            phone.wait_established(10)
            time.sleep(3)
            phone.hangup()
            phone.wait_closed(10)
        except Exception:
            print(phone.log())
            raise
        result = carrier.stop()
    assert (result.returncode, result.successful, result.failed) == (0, 1, 0), result.errors
    invite = carrier.received("INVITE")[0]
    assert "c=IN IP4 127.0.0.1" in invite.body
    assert offered_codecs(invite) <= {"PCMU", "PCMA", "TELEPHONE-EVENT"}
    assert {"PCMU", "PCMA", "TELEPHONE-EVENT"} <= offered_codecs(invite)
    heard = analyse_wav(phone.received_wav())
    assert heard.active_seconds > 1.0  # its own tone, echoed


@sip
@pytest.mark.parametrize("name", ALL_PHONES)
def test_holds_and_resumes(tmp_path: Path, name: str) -> None:
    carrier = Sipp("uas_answer_reinvite.xml", tmp_path / "carrier")
    phone = make_phone(name, tmp_path / name)
    with running(carrier, phone):
        try:
            phone.dial(carrier.uri("echo"))
            phone.wait_established(10)
            time.sleep(1)
            phone.hold()
            time.sleep(1)
            phone.resume()
            time.sleep(3)
            phone.hangup()
            phone.wait_closed(10)
        except Exception:
            print(phone.log())
            raise
        result = carrier.stop()
    assert (result.returncode, result.successful, result.failed) == (0, 1, 0), result.errors
    offers = [direction(invite.body) for invite in carrier.received("INVITE")]
    answers = [direction(m.body) for m in carrier.sent() if m.status == 200 and m.body]
    assert offers[0] == "sendrecv"
    held = next(i for i, offer in enumerate(offers) if offer in ("sendonly", "inactive"))
    assert "sendrecv" in offers[held + 1 :]
    assert answers[held] in ("recvonly", "inactive")
    assert answers[-1] == "sendrecv"
    heard = analyse_wav(phone.received_wav())
    assert not heard.is_silent()  # the echo came back after the resume


@sip
@pytest.mark.parametrize("name", NEW_PHONES)
def test_trades_dtmf_and_audio_with_baresip(tmp_path: Path, name: str) -> None:
    baresip = Baresip(tmp_path / "baresip", user="2002")
    phone = make_phone(name, tmp_path / name, user="2001")
    with running(baresip, phone):
        try:
            phone.dial(baresip.contact)
            phone.wait_established(10)
            baresip.wait_established(10)
            time.sleep(1)
            phone.send_dtmf("159#")
            wait_until(lambda: baresip.received_dtmf() == "159#", 20, "baresip's DTMF")
            baresip.send_dtmf("*7")
            wait_until(lambda: phone.received_dtmf() == "*7", 20, f"{name}'s DTMF")
            time.sleep(1.5)  # a stretch of talk after the digits, for the audio checked
            phone.hangup()
            phone.wait_closed(10)
            baresip.wait_closed(10)
        except Exception:
            print(phone.log())
            raise
    assert analyse_wav(phone.received_wav()).active_seconds > 1.0
    assert analyse_wav(baresip.received_wav()).active_seconds > 1.0


@sip
@pytest.mark.parametrize(("caller_name", "callee_name"), PAIRS)
def test_two_phones_call_each_other_directly(
    tmp_path: Path, caller_name: str, callee_name: str
) -> None:
    caller = make_phone(
        caller_name,
        tmp_path / "caller",
        user="2001",
        audio=write_tone_wav(tmp_path / "low.wav", seconds=5, frequency=400),
    )
    callee = make_phone(
        callee_name,
        tmp_path / "callee",
        user="2002",
        answermode="manual",
        audio=write_tone_wav(tmp_path / "high.wav", seconds=5, frequency=1000),
    )
    with running(callee, caller):
        try:
            caller.dial(callee.contact)
            callee.wait_incoming(10)
            callee.accept()
            caller.wait_established(10)
            callee.wait_established(10)
            time.sleep(1)
            caller.send_dtmf("42")
            wait_until(lambda: callee.received_dtmf() == "42", 20, "the callee's DTMF")
            time.sleep(2)
            caller.hangup()
            caller.wait_closed(10)
            callee.wait_closed(10)
        except Exception:
            print(caller.log(), callee.log(), sep="\n")
            raise
    # Each heard the other's tone: 1000 Hz at the caller, 400 Hz at the callee.
    assert tone_frequency(caller.received_wav()) == pytest.approx(1000, rel=0.1)
    assert tone_frequency(callee.received_wav()) == pytest.approx(400, rel=0.1)
