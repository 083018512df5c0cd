"""Real calls through `callyard serve`: baresip as the agent's phone, SIPp as the carrier.

Everything runs on the loopback of the test run's own network namespace.
"""

from __future__ import annotations

import audioop
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from callyard.switch.digest import expected_response, parse_authorization
from callyard.testing.sip import LOOPBACK, RegistrationFailed, running, wait_until, write_tone_wav
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, RING_SECONDS, SECOND_AGENT, Pbx, make_call
from tests.switch.raw_sip import SipSocket

pytestmark = pytest.mark.sip


def failure_code(reply: dict[str, Any]) -> str:
    assert reply["ret"] == 200, reply
    assert reply["data"]["status"] == 1, reply
    code: str = reply["data"]["errors"]["code"]
    return code


def test_registration_is_reported_and_refusals_look_alike(pbx: Pbx) -> None:
    pbx.cli("extension", "disable", "--company", COMPANY, "10010003")
    # A change made by another process reaches the switch at its next check of the
    # store (every 0.5 s).
    time.sleep(1)
    good = pbx.phone(AGENT)
    wrong = pbx.phone(SECOND_AGENT, password="not-the-password")
    unknown = pbx.phone("55550000", password="whatever1")
    disabled = pbx.phone("10010003")
    with running(good, wrong, unknown, disabled):
        good.wait_registered()
        failures = [p.wait_registration_failed() for p in (wrong, unknown, disabled)]
        status = pbx.api("App.Sip_Status.GetSipRegisterStatus", extnumber=f"{AGENT},{SECOND_AGENT}")
        info = pbx.api("App.Sip_Sipnum.GetSipnumberInfo", status="3", extnumber=AGENT)
    assert {f.status for f in failures} == {403}
    assert all(isinstance(f, RegistrationFailed) for f in failures)
    assert status["data"]["result"] == [
        {"extnumber": AGENT, "code": 1017, "clientip": "127.0.0.1", "serverip": "127.0.0.1"},
        {"extnumber": SECOND_AGENT, "code": 1014, "clientip": None, "serverip": None},
    ]
    assert info["data"]["result"][0]["register"] == "reg"


def stereo_levels(path: Path) -> tuple[float, int, int]:
    """Duration, and the RMS of the agent (left) and customer (right) channels."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        frames = wav.readframes(wav.getnframes())
        duration = wav.getnframes() / 8000
    left, right = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    return duration, audioop.rms(left, 2), audioop.rms(right, 2)


def test_make_call_is_bridged_recorded_and_billed(pbx: Pbx) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=3000)
    pbx.trunk_to(carrier)
    agent = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(carrier, agent):
        agent.wait_registered()
        reply = make_call(pbx, "cust-answer")
        assert reply["data"]["desc"] == "Call command sent successfully"
        agent.wait_established(timeout=10)
        # While the call is up, the extension is busy.
        time.sleep(1)
        assert failure_code(make_call(pbx, "cust-again")) == "1204"
        status = pbx.api("App.Sip_Status.GetSipCallStatus", extnumber=AGENT)["data"]["result"][0]
        assert status["status"] == 1204
        assert (status["caller"], status["callee"], status["disnumber"]) == (
            AGENT, "628123456789", CALLER_ID,
        )  # fmt: skip
        agent.wait_closed(timeout=15)
    record = pbx.record_of("cust-answer")
    assert record["callmethod"] == 3
    assert (record["hangupcause"], record["hangupdirection"]) == (10001, 10041)
    assert 2 <= record["billsec"] <= 5
    assert record["duration"] >= record["billsec"]
    assert (record["extnumber"], record["destnumber"], record["disnumber"]) == (
        AGENT, "628123456789", CALLER_ID,
    )  # fmt: skip
    assert (record["crmid"], record["chengshudu"], record["memberid"]) == ("emp-7", "90", "m-1")
    assert record["answertime"]
    assert record["recordfilename"].endswith(".wav")

    link = pbx.api("App.Sip_Cdr.GetRecodeFile", filename=record["recordfilename"])
    assert link["data"]["status"] == 0, link
    url = link["data"]["result"]["downurl"]
    assert link["data"]["result"]["expiredtime"].startswith("Expiration time:")
    download = httpx.get(url)
    assert download.status_code == 200
    saved = pbx.workdir / "downloaded.wav"
    saved.write_bytes(download.content)
    duration, agent_rms, customer_rms = stereo_levels(saved)
    assert abs(duration - record["billsec"]) <= 1.5
    assert agent_rms > 300, "the agent's side of the recording is silent"
    assert customer_rms > 300, "the customer's side of the recording is silent"
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403
    # Nothing of the call is left behind in the relay's capture directory.
    assert not list((pbx.server.data_dir / "captures").glob("*"))


@pytest.mark.parametrize(
    ("scenario", "cause"),
    [("uas_busy.xml", 10006), ("uas_decline.xml", 10003), ("uas_no_answer.xml", 10016)],
)
def test_unanswered_calls_get_their_hangup_cause(pbx: Pbx, scenario: str, cause: int) -> None:
    carrier = pbx.carrier(scenario, calls=1)
    pbx.trunk_to(carrier)
    agent = pbx.phone(AGENT)
    with running(carrier, agent):
        agent.wait_registered()
        assert make_call(pbx, f"cust-{cause}")["data"]["status"] == 0
        agent.wait_established(timeout=10)
        agent.wait_closed(timeout=RING_SECONDS + 10)
    record = pbx.record_of(f"cust-{cause}")
    assert (record["hangupcause"], record["hangupdirection"]) == (cause, 10041)
    assert (record["billsec"], record["answertime"], record["recordfilename"]) == (0, "", "")


def test_a_trunk_that_demands_digest_auth(pbx: Pbx) -> None:
    carrier = pbx.carrier(
        "uas_auth.xml", calls=1, recv_timeout_ms=1000, variables={"carrier_user": "trunkuser"}
    )
    pbx.trunk_to(carrier, username="trunkuser", password="trunkpass")
    agent = pbx.phone(AGENT)
    with running(carrier, agent):
        agent.wait_registered()
        assert make_call(pbx, "cust-auth")["data"]["status"] == 0
        agent.wait_closed(timeout=15)
    record = pbx.record_of("cust-auth")
    assert record["hangupcause"] == 10001
    assert record["billsec"] >= 1
    authorized = [m for m in carrier.received("INVITE") if m.header("Proxy-Authorization")]
    assert authorized, "the second INVITE carried no credentials"
    creds = parse_authorization(authorized[0].header("Proxy-Authorization") or "")
    assert creds is not None
    assert creds.username == "trunkuser"
    # The carrier cannot check the digest itself; check it here against the password.
    assert creds.response == expected_response(creds, "trunkpass", "INVITE")


def test_double_call_bridges_two_numbers(pbx: Pbx) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=2, recv_timeout_ms=2000)
    pbx.trunk_to(carrier)
    with running(carrier):
        reply = pbx.api(
            "App.Sip_Call.DoubleCall",
            extnumber=AGENT,
            anumber="628111111111",
            bnumber="628222222222",
            customuuid="cust-double",
        )
        assert reply["data"]["desc"] == "The double call command is sent successfully"
        record = pbx.record_of("cust-double")
    assert record["callmethod"] == 4
    assert record["destnumber"] == "628222222222"
    assert record["hangupcause"] == 10001
    invited = [m.header("To") or "" for m in carrier.received("INVITE")]
    assert any("628111111111" in to for to in invited)
    assert any("628222222222" in to for to in invited)


def test_call_errors_have_their_documented_codes(pbx: Pbx) -> None:
    # Unregistered extension.
    assert failure_code(make_call(pbx, "e1")) == "1014"
    agent = pbx.phone(AGENT)
    with running(agent):
        agent.wait_registered()
        # No trunk yet.
        assert failure_code(make_call(pbx, "e2")) == "1003"
        pbx.cli(
            "trunk", "add", "--company", COMPANY, "--name", "t",
            "--host", "127.0.0.1", "--port", "9",
        )  # fmt: skip
        # A caller ID that is not the company's, unknown, or disabled.
        other = pbx.cli("company", "create", "--name", "other")
        pbx.cli("number", "add", "--company", str(other["companycode"]), "--number", "7770001")
        assert failure_code(make_call(pbx, "e3", disnumber="7770001")) == "1021"
        assert failure_code(make_call(pbx, "e4", disnumber="7770002")) == "1020"
        pbx.cli("number", "add", "--company", COMPANY, "--number", "622150009", "--disabled")
        assert failure_code(make_call(pbx, "e5", disnumber="622150009")) == "1019"


def test_phones_call_each_other_and_out_through_the_trunk(pbx: Pbx) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=2000)
    pbx.trunk_to(carrier)
    caller = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "caller.wav", seconds=3))
    callee = pbx.phone(SECOND_AGENT)
    with running(carrier, caller, callee):
        caller.wait_registered()
        callee.wait_registered()
        # Method 1: extension to extension.
        caller.dial(f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}")
        callee.wait_established(timeout=10)
        caller.wait_established(timeout=10)
        caller.wait_closed(timeout=15)
        # Method 2: an outside number, through the trunk with the pool's caller ID.
        caller.dial(f"sip:628777000111@127.0.0.1:{pbx.server.sip_port}")
        caller.wait_established(timeout=10)
        caller.wait_closed(timeout=15)
        # An extension that is not registered: the phone hears "unavailable".
        pbx.cli("extension", "create", "--company", COMPANY, "--number", "10010099")
        time.sleep(1.0)  # the switch routes by the store's state of up to 0.5 s ago
        caller.dial(f"sip:10010099@127.0.0.1:{pbx.server.sip_port}")
        closed = caller.wait_closed(timeout=10)
    assert closed.status == 480
    deadline = time.monotonic() + 10
    while len(rows := pbx.records()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    by_destination = {row["destnumber"]: row for row in rows}
    local = by_destination[SECOND_AGENT]
    assert (local["callmethod"], local["type"], local["extnumber"]) == (1, "local", AGENT)
    assert local["hangupcause"] == 10001
    assert local["billsec"] >= 1
    outside = by_destination["628777000111"]
    assert (outside["callmethod"], outside["type"], outside["disnumber"]) == (
        2,
        "callout",
        CALLER_ID,
    )
    assert outside["billsec"] >= 1
    invite = carrier.received("INVITE")[0]
    assert CALLER_ID in (invite.header("From") or "")
    missing = by_destination["10010099"]
    assert (missing["hangupcause"], missing["billsec"]) == (10008, 0)


def test_a_malformed_offer_is_refused_and_leaves_no_call_behind(pbx: Pbx) -> None:
    """A registered phone's authenticated INVITE offering audio at a port of thousands
    of digits (more than int() takes)."""
    switch = f"127.0.0.1:{pbx.server.sip_port}"
    password = pbx.password(AGENT)
    phone = pbx.carrier(
        "uac_offer_refused_auth.xml", remote=switch, service=SECOND_AGENT, calls=1,
        auth=(AGENT, password), extra_args=["-auth_uri", f"{SECOND_AGENT}@{switch}"],
        variables={"caller": AGENT, "offer_port": "9" * 4400, "offer_types": "8"},
    )  # fmt: skip
    with SipSocket((LOOPBACK, pbx.server.sip_port), (LOOPBACK, phone.port)) as registering:
        assert registering.register(AGENT, password).status == 200
    with running(phone):
        assert phone.wait(30).successful == 1  # 488 Not Acceptable Here
    pbx.record_with(extnumber=AGENT, hangupcause=10017)

    def call_status() -> int:
        reply = pbx.api("App.Sip_Status.GetSipCallStatus", extnumber=AGENT)
        status: int = reply["data"]["result"][0]["status"]
        return status

    wait_until(lambda: call_status() == 1201, 10, "the extension to be idle")  # not ringing
    agent, other = pbx.phone(AGENT), pbx.phone(SECOND_AGENT)
    with running(agent, other):
        agent.wait_registered()
        other.wait_registered()
        pbx.call(agent, other)
        agent.hangup()
        agent.wait_closed()
        other.wait_closed()
        pbx.call(other, agent)
        # The switch stops with that call up: it hangs the call up and exits cleanly.
        assert pbx.server.stop() == 0
        agent.wait_closed()
        other.wait_closed()
    assert "Traceback" not in pbx.server.stderr


def test_a_number_longer_than_any_is_refused_as_incomplete_and_recorded(pbx: Pbx) -> None:
    dialed = "1" * 100
    agent = pbx.phone(AGENT)
    with running(agent):
        agent.wait_registered()
        agent.dial(f"sip:{dialed}@127.0.0.1:{pbx.server.sip_port}")
        closed = agent.wait_closed()
    assert closed.status == 484
    record = pbx.record_with(extnumber=AGENT)
    assert (record["destnumber"], record["hangupcause"], record["billsec"]) == (
        dialed[:64], 10017, 0,
    )  # fmt: skip
