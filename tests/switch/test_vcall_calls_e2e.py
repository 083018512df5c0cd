"""The vcall API's calls through the switch (seed 003, M7 and M11): an agent's
click-to-call on its SIP phone and on its mobile, and a two-way call, each with its push
to a real HTTP receiver and a recording that holds both sides."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from callyard.testing.receiver import Received, Receiver
from callyard.testing.sip import Sipp, prepare_pcap_dir, running, write_tone_wav
from tests.switch.pbx import AGENT, CALLER_ID, RING_SECONDS, Pbx
from tests.switch.test_calls_e2e import stereo_levels

pytestmark = pytest.mark.sip

CUSTOMER = "628123456789"
MOBILE = "628111111111"
SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


class Vcall:
    """The demo company as a CRM of the vcall API sees it: its token and pushes."""

    def __init__(self, pbx: Pbx, receiver: Receiver) -> None:
        self.pbx = pbx
        key = pbx.admin("POST", "/credentials", {"kind": "vcall"})
        reply = httpx.post(
            f"{pbx.server.url}/api/token",
            json={"accessKeyId": key["key_id"], "accessKeySecret": key["secret"]},
        ).json()
        self.token = reply["data"]["token"]
        pbx.admin(
            "PUT",
            "/webhook",
            {"pushes": {"AgentCallEnd": receiver.url, "BidirectionalCallEnd": receiver.url}},
        )  # the server that made the change sees it at once

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        reply: dict[str, Any] = httpx.post(
            f"{self.pbx.server.url}{path}", json={"token": self.token, **body}, timeout=10
        ).json()
        return reply


def playing_carrier(pbx: Pbx, calls: int) -> Sipp:
    """A carrier whose every answered party plays a clip, hanging up 3 s after answering."""
    carrier = pbx.carrier("uas_answer_play.xml", calls=calls, recv_timeout_ms=3000, rtp_echo=False)
    prepare_pcap_dir(carrier.workdir)
    return carrier


def pushed(request: Received) -> dict[str, Any]:
    assert request.headers["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(request.body)
    assert request.headers["x-callyard-event"] == body["event"]
    return body


def both_sides_heard(pbx: Pbx, url: str, talk_ms: int) -> None:
    assert url.startswith(pbx.server.url + "/recordings/")
    download = httpx.get(url)
    assert download.status_code == 200
    saved = pbx.workdir / f"pushed-{time.monotonic_ns()}.wav"
    saved.write_bytes(download.content)
    duration, first_rms, second_rms = stereo_levels(saved)
    assert abs(duration * 1000 - talk_ms) <= 1500
    assert first_rms > 300, "the first leg's side of the recording is silent"
    assert second_rms > 300, "the second leg's side of the recording is silent"


def check_agent_call_end(push: dict[str, Any], call_id: str, hung_up_by: str) -> None:
    assert list(push) == [
        "event", "callId", "agentNumber", "agentName", "groupName", "callingNumber",
        "calledNumber", "beginTime", "ringTime", "startTime", "stopTime", "duration",
        "userData", "recordUrl", "hangupGcode", "hangupGname", "hangupDirection",
    ]  # fmt: skip
    assert (push["event"], push["callId"]) == ("AgentCallEnd", call_id)
    assert (push["agentNumber"], push["agentName"], push["groupName"]) == ("0001", "Dewi", "sales")
    assert (push["callingNumber"], push["calledNumber"]) == (CALLER_ID, CUSTOMER)
    times = [push[k] for k in ("beginTime", "ringTime", "startTime", "stopTime")]
    assert all(type(t) is int and len(str(t)) == 13 for t in times)
    assert times == sorted(times)
    assert push["duration"] == push["stopTime"] - push["startTime"]
    assert 2000 <= push["duration"] <= 6000
    assert (push["hangupGcode"], push["hangupGname"]) == (0, "NORMAL_CLEARING")
    assert push["hangupDirection"] == hung_up_by
    assert push["userData"] == "lead-42"


def test_an_agent_call_on_the_sip_phone(pbx: Pbx, receiver: Receiver) -> None:
    vcall = Vcall(pbx, receiver)
    group = vcall.post("/api/group/open/create", name="sales", policy=0)["data"]
    created = vcall.post(
        "/api/agent/open/create",
        agentName="Dewi", agentNumber="0001", password="s3cret-pass", sipId=AGENT, groupSn=group,
    )  # fmt: skip
    assert created["code"] == "0", created
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=3000)
    pbx.trunk_to(carrier)
    agent = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(carrier, agent):
        agent.wait_registered()
        reply = vcall.post(
            "/api/agent/open/call", agentNum="0001", called=CUSTOMER, type="sip", userData="lead-42"
        )
        assert (reply["code"], reply["msg"]) == ("0000", "success"), reply
        call_id = reply["data"]["callId"]
        agent.wait_established(timeout=10)
        # The agent is in a call: its record may not be disabled now.
        sn = created["data"]
        refused = httpx.post(
            f"{pbx.server.url}/api/agent/open/{sn}/status",
            params={"token": vcall.token, "status": 0},
        ).json()
        assert refused["code"] == "1005009", refused
        agent.wait_closed(timeout=15)
        (request,) = receiver.wait_for(1)
    push = pushed(request)
    check_agent_call_end(push, call_id, "2")  # the carrier's customer hung up
    assert push["ringTime"] >= push["beginTime"]
    both_sides_heard(pbx, push["recordUrl"], push["duration"])


def test_an_agent_call_on_the_mobile(pbx: Pbx, receiver: Receiver) -> None:
    vcall = Vcall(pbx, receiver)
    group = vcall.post("/api/group/open/create", name="sales", policy=0)["data"]
    created = vcall.post(
        "/api/agent/open/create",
        agentName="Dewi", agentNumber="0001", password="s3cret-pass", phone=MOBILE, groupSn=group,
    )  # fmt: skip
    assert created["code"] == "0", created
    page = httpx.get(
        f"{pbx.server.url}/api/agent/open/page",
        params={"token": vcall.token, "agentNumber": "0001"},
    ).json()
    sip_id = page["data"]["records"][0]["sipId"]
    # Both legs reach the carrier: first the agent's mobile, then the customer.
    carrier = playing_carrier(pbx, calls=2)
    pbx.trunk_to(carrier)
    with running(carrier):
        # `default` with no phone registered: the mobile.
        reply = vcall.post(
            "/api/agent/open/call", agentNum="0001", called=CUSTOMER, userData="lead-42"
        )
        assert reply["code"] == "0000", reply
        # On its mobile the agent is in a call all the same: no second call, no disabling.
        again = vcall.post("/api/agent/open/call", agentNum="0001", called=CUSTOMER)
        assert (again["code"], again["msg"]) == ("-1", f"Extension {sip_id} is already in a call")
        refused = httpx.post(
            f"{pbx.server.url}/api/agent/open/{created['data']}/status",
            params={"token": vcall.token, "status": 0},
        ).json()
        assert refused["code"] == "1005009", refused
        (request,) = receiver.wait_for(1, timeout=30)
    invited = [m.header("To") or "" for m in carrier.received("INVITE")]
    assert MOBILE in invited[0]
    assert CUSTOMER in invited[1]
    push = pushed(request)
    # The carrier answered the mobile first, so its timer hung that side up first.
    check_agent_call_end(push, reply["data"]["callId"], "1")
    both_sides_heard(pbx, push["recordUrl"], push["duration"])


def test_a_two_way_call(pbx: Pbx, receiver: Receiver) -> None:
    vcall = Vcall(pbx, receiver)
    carrier = playing_carrier(pbx, calls=2)
    pbx.trunk_to(carrier)
    with running(carrier):
        reply = vcall.post(
            "/api/sip/makecall", caller=MOBILE, called=CUSTOMER, type="click", userData="u-7"
        )
        assert (reply["code"], reply["msg"]) == ("0000", "success"), reply
        (request,) = receiver.wait_for(1, timeout=30)
    push = pushed(request)
    assert list(push) == [
        "event", "callId", "type", "displayCaller", "telA", "aCallTime", "aRingingTime",
        "aAnswerTime", "aHangupTime", "telB", "bCallTime", "bRingingTime", "bAnswerTime",
        "bHangupTime", "hangupGcode", "hangupGname", "duration", "hangupDirection",
        "recordPath", "userData",
    ]  # fmt: skip
    assert (push["event"], push["callId"], push["type"]) == (
        "BidirectionalCallEnd", reply["data"]["callId"], "click",
    )  # fmt: skip
    assert (push["telA"], push["telB"], push["displayCaller"]) == (MOBILE, CUSTOMER, CALLER_ID)
    times = [push[k] for k in push if k.endswith("Time")]
    assert all(SECONDS.match(t) for t in times), times
    assert push["aCallTime"] <= push["aAnswerTime"] <= push["bCallTime"] <= push["bAnswerTime"]
    assert push["aHangupTime"] == push["bHangupTime"]
    assert type(push["duration"]) is int
    assert push["duration"] >= 2000
    assert (push["hangupGcode"], push["hangupDirection"]) == (0, 1)  # A, answered first
    assert push["userData"] == "u-7"
    both_sides_heard(pbx, push["recordPath"], push["duration"])


def test_a_two_way_call_to_a_busy_number(pbx: Pbx, receiver: Receiver) -> None:
    vcall = Vcall(pbx, receiver)
    carrier = pbx.carrier("uas_busy.xml", calls=1)
    pbx.trunk_to(carrier)
    with running(carrier):
        reply = vcall.post("/api/sip/makecall", caller=MOBILE, called=CUSTOMER)
        assert reply["code"] == "0000", reply
        (request,) = receiver.wait_for(1, timeout=RING_SECONDS + 20)
    push = pushed(request)
    assert (push["hangupGcode"], push["hangupGname"]) == (2103, "LINE_BUSY")
    assert (push["aAnswerTime"], push["bCallTime"], push["duration"]) == ("", "", 0)
    # A, the first number called, was busy.
    assert (push["recordPath"], push["hangupDirection"], push["type"]) == ("", 1, "default")


def test_bad_calls_are_refused_with_the_documented_envelope(pbx: Pbx, receiver: Receiver) -> None:
    vcall = Vcall(pbx, receiver)
    for path, body, message in [
        ("/api/sip/makecall", {"caller": MOBILE}, "called: missing parameter"),
        ("/api/sip/makecall", {"caller": "x", "called": CUSTOMER}, "caller: 'x' is not"),
        ("/api/sip/makecall", {"caller": MOBILE, "called": CUSTOMER, "type": "cmccbid"}, "type"),
        ("/api/agent/open/call", {"agentNum": "9999", "called": CUSTOMER}, "No agent 9999"),
        ("/api/agent/open/call", {"agentNum": "1", "called": CUSTOMER, "type": "x"}, "type"),
    ]:
        reply = vcall.post(path, **body)
        assert (reply["code"], reply["data"]) == ("-1", None), (body, reply)
        assert reply["msg"].startswith(message), reply
    no_token = httpx.post(f"{pbx.server.url}/sip/makecall", json={"caller": MOBILE}).json()
    assert no_token["code"] == "403"
