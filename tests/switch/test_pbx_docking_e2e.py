"""SIP-trunk docking (seed 003, M14): a company's own PBX (a SIPp caller) sends calls out
through callyard to a SIPp carrier that answers, is busy or does not answer; each call
is recorded and pushes `HangupCauseEvent` and `SipDockingCallEnd` to a real receiver."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from callyard.testing.receiver import Receiver
from callyard.testing.sip import Sipp, prepare_pcap_dir, running
from tests.switch.pbx import CALLER_ID, COMPANY, RING_SECONDS, Pbx
from tests.switch.test_calls_e2e import stereo_levels

pytestmark = pytest.mark.sip

CUSTOMER = "628123456789"
SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def hook_up(pbx: Pbx, receiver: Receiver) -> None:
    pbx.cli(
        "webhook", "set", "--company", COMPANY,
        "--push", f"HangupCauseEvent={receiver.url}",
        "--push", f"SipDockingCallEnd={receiver.url}",
    )  # fmt: skip


def customer_pbx(pbx: Pbx, caller: str, *, auth: tuple[str, str] | None = None) -> Sipp:
    """The company's PBX calling CUSTOMER once from `caller`, playing a clip for 3 s.
    With credentials it sends from 127.0.0.2, as a machine apart from the carrier's
    (whose host callyard takes carriers' calls from)."""
    workdir = pbx.workdir / f"pbx-{time.monotonic_ns()}"
    prepare_pcap_dir(workdir, seconds=3)
    remote = f"127.0.0.1:{pbx.server.sip_port}"
    return Sipp(
        "uac_g711a_auth.xml" if auth else "uac_pbx.xml",
        workdir,
        remote=remote,
        service=CUSTOMER,
        calls=1,
        duration_ms=3500,
        timeout_s=40,
        auth=auth,
        variables={"caller": caller} if auth else {"caller": caller, "user_data": "crm-ticket-9"},
        extra_args=("-auth_uri", f"{CUSTOMER}@{remote}") if auth else (),
        host="127.0.0.2" if auth else "127.0.0.1",
    )


def pushes(receiver: Receiver, timeout: float = 30) -> dict[str, dict[str, Any]]:
    requests = receiver.wait_for(2, timeout=timeout)
    bodies = {r.headers["x-callyard-event"]: json.loads(r.body) for r in requests}
    assert set(bodies) == {"HangupCauseEvent", "SipDockingCallEnd"}
    return bodies


def test_a_pbx_known_by_its_address_sends_an_answered_call_out(
    pbx: Pbx, receiver: Receiver
) -> None:
    hook_up(pbx, receiver)
    pbx.cli("pbx", "add", "--company", COMPANY, "--name", "office", "--host", "127.0.0.1")
    carrier = pbx.carrier("uas_answer_play.xml", calls=1, rtp_echo=False)
    prepare_pcap_dir(carrier.workdir)
    pbx.trunk_to(carrier)
    time.sleep(1)  # the switch's routing table follows the store within 0.5 s
    caller = customer_pbx(pbx, CALLER_ID)
    with running(carrier, caller):
        found = pushes(receiver)
    cause, record = found["HangupCauseEvent"], found["SipDockingCallEnd"]
    assert list(cause) == [
        "event", "callId", "caller", "called", "callTime", "ringingTime", "hangupTime",
        "hangupGcode", "hangupGname", "userData",
    ]  # fmt: skip
    assert (cause["caller"], cause["called"], cause["userData"]) == (
        CALLER_ID, CUSTOMER, "crm-ticket-9",
    )  # fmt: skip
    epoch_ms = [cause[k] for k in ("callTime", "ringingTime", "hangupTime")]
    assert all(type(t) is int and len(str(t)) == 13 for t in epoch_ms)
    assert cause["callTime"] <= cause["ringingTime"] <= cause["hangupTime"]
    assert (cause["hangupGcode"], cause["hangupGname"]) == (0, "NORMAL_CLEARING")
    assert list(record) == [
        "event", "callId", "caller", "displayCaller", "called", "callTime", "startTime",
        "ringingTime", "answerTime", "hangupTime", "duration", "hangupGcode", "hangupGname",
        "recordUrl",
    ]  # fmt: skip
    assert record["callId"] == cause["callId"]
    # The PBX's caller is one of the company's numbers: shown as it is.
    assert (record["caller"], record["displayCaller"], record["called"]) == (
        CALLER_ID, CALLER_ID, CUSTOMER,
    )  # fmt: skip
    times = [record[k] for k in ("callTime", "ringingTime", "answerTime", "hangupTime")]
    assert all(SECONDS.match(t) for t in times), times
    assert type(record["duration"]) is int
    assert record["duration"] >= 2000
    download = httpx.get(record["recordUrl"])
    assert download.status_code == 200
    saved = pbx.workdir / "docked.wav"
    saved.write_bytes(download.content)
    _duration, pbx_rms, carrier_rms = stereo_levels(saved)
    assert pbx_rms > 300, "the PBX's side of the recording is silent"
    assert carrier_rms > 300, "the carrier's side of the recording is silent"
    invited = carrier.received("INVITE")
    assert CALLER_ID in (invited[0].header("From") or "")


@pytest.mark.parametrize(
    ("scenario", "code", "name"),
    [("uas_busy.xml", 2103, "LINE_BUSY"), ("uas_no_answer.xml", 2102, "RINGING_NOANSWER")],
)
def test_a_pbx_known_by_its_credentials_gets_the_carriers_result(
    pbx: Pbx, receiver: Receiver, scenario: str, code: int, name: str
) -> None:
    hook_up(pbx, receiver)
    pbx.cli(
        "pbx", "add", "--company", COMPANY, "--name", "dialer",
        "--username", "acme-dialer", "--password", "dialer-secret-1",
    )  # fmt: skip
    carrier = pbx.carrier(scenario, calls=1)
    pbx.trunk_to(carrier)
    time.sleep(1)
    # Its caller is no number of the company: one of the company's is shown instead.
    caller = customer_pbx(pbx, "02150009999", auth=("acme-dialer", "dialer-secret-1"))
    with running(carrier, caller):
        found = pushes(receiver, timeout=RING_SECONDS + 30)
    cause, record = found["HangupCauseEvent"], found["SipDockingCallEnd"]
    assert (cause["hangupGcode"], cause["hangupGname"]) == (code, name)
    assert (record["hangupGcode"], record["hangupGname"]) == (code, name)
    assert (record["caller"], record["displayCaller"]) == ("02150009999", CALLER_ID)
    assert (record["answerTime"], record["duration"], record["recordUrl"]) == ("", 0, "")
    if code == 2103:
        assert (cause["ringingTime"], record["ringingTime"]) == (0, "")


def test_a_pbx_with_a_wrong_password_or_from_elsewhere_is_refused(pbx: Pbx) -> None:
    pbx.cli(
        "pbx", "add", "--company", COMPANY, "--name", "dialer",
        "--username", "acme-dialer", "--password", "dialer-secret-1", "--host", "10.9.9.9",
    )  # fmt: skip
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1)
    pbx.trunk_to(carrier)
    time.sleep(1)
    with running(carrier):
        # A wrong password; the right one, but not from the PBX's address.
        for auth in (("acme-dialer", "wrong-password"), ("acme-dialer", "dialer-secret-1")):
            caller = customer_pbx(pbx, CALLER_ID, auth=auth)
            with running(caller):
                result = caller.wait(timeout=30)
            assert (result.successful, result.failed) == (0, 1)
        assert carrier.received("INVITE") == []
    assert pbx.records() == []
