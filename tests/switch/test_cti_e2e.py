"""The vcall CTI with real calls through `callyard serve`: an agent's desktop on the
WebSocket and the company's agent-event URL (a real HTTP receiver) see the same events,
in order, with the request's `sequence`, for the agent's own call, a carrier's call
offered to it, a phone that goes away and comes back, a second sign-in, and a server
killed and started again."""

from __future__ import annotations

import json
import signal
from typing import Any

import httpx
import pytest

from callyard.testing.cti import AgentDesk
from callyard.testing.receiver import Receiver
from callyard.testing.sip import running, write_tone_wav
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, Pbx, open_pbx, start_server
from tests.switch.test_inbound_e2e import carrier_calling, route
from tests.switch.test_vcall_calls_e2e import Vcall

pytestmark = pytest.mark.sip

CUSTOMER = "628123456789"
PASSWORD = "s3cret-pass"
OWN_CALL = ["MakeCall", "AgentOriginate", "AgentAnswer", "CalledAnswer", "Conversation", "After"]


def agent_with_group(pbx: Pbx, receiver: Receiver, **group: Any) -> Vcall:
    vcall = Vcall(pbx, receiver)
    pbx.admin(
        "PUT",
        "/webhook",
        {"pushes": {"AgentEvent": receiver.url, "AgentCallEnd": "", "BidirectionalCallEnd": ""}},
    )
    sn = vcall.post("/api/group/open/create", name="sales", **group)["data"]
    created = vcall.post(
        "/api/agent/open/create",
        agentName="Dewi", agentNumber="0001", password=PASSWORD, sipId=AGENT, groupSn=sn,
    )  # fmt: skip
    assert created["code"] == "0", created
    return vcall


def sign_in(pbx: Pbx, login_type: str = "1") -> AgentDesk:
    desk = AgentDesk(pbx.server.url)
    answer = desk.ask(
        "login", companyId=COMPANY, agentNumber="0001", password=PASSWORD, loginType=login_type
    )
    assert answer["code"] == "0", answer
    return desk


def pushed(receiver: Receiver, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.wait_for(count, timeout=timeout)]


def subsequence(names: list[str], wanted: list[str]) -> bool:
    found = iter(names)
    return all(name in found for name in wanted)


def test_an_agents_own_call_on_both_channels(pbx: Pbx, receiver: Receiver) -> None:
    agent_with_group(pbx, receiver, agentAutoIdle="1", agentAutoIdleTime=1)
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=3000)
    pbx.trunk_to(carrier)
    phone = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(carrier, phone):
        phone.wait_registered()
        desk = sign_in(pbx)
        login = desk.event("Login")
        assert login["data"]["registered"] == 1
        assert login["data"]["sipId"] == AGENT
        assert desk.ask("idle")["code"] == "0"
        call = desk.ask("makeCall", called=CUSTOMER, callAgentType="sip", userData="lead-7")
        assert call["code"] == "0", call
        after = desk.event("After", timeout=30, sequence=call["sequence"])
        idle_again = desk.event("Idle", timeout=10, sequence=0)
    seen = desk.events  # as they stand now: the phone's going away may add more
    names = [e["event"] for e in seen]
    assert subsequence(names, ["Login", "Idle", *OWN_CALL, "Idle"]), names
    for event in desk.events:
        if event["event"] in OWN_CALL:
            assert event["sequence"] == call["sequence"], event
    conversation = desk.event("Conversation")
    assert conversation["nowState"] == "Conversation"
    assert conversation["userdata"] == "lead-7"
    assert conversation["data"]["callDirection"] == 2  # the socket's encoding: outbound
    assert conversation["data"]["called"] == CUSTOMER
    assert conversation["data"]["callType"] == "normal"
    data = after["data"]
    assert (data["cause"], data["data"], data["hangupDirection"]) == (0, "NORMAL_CLEARING", 1)
    times = [int(data[k]) for k in ("beginTime", "ringTime", "answerTime", "endTime")]
    assert times == sorted(times)
    assert 2000 <= times[3] - times[2] <= 6000
    assert data["recordPath"].startswith(pbx.server.url + "/recordings/")
    assert httpx.get(data["recordPath"]).status_code == 200
    assert (data["agentAutoIdle"], data["agentAutoIdleTime"]) == (1, 1)
    assert idle_again["eventTime"] - after["eventTime"] >= 900

    # The push: the same events in the same order, rendered for the push channel.
    # (Events after the socket's last, the phone's going away, may have been pushed too.)
    bodies = pushed(receiver, len(desk.events))[: len(names)]
    assert [b["event"] for b in bodies] == names
    assert [b["sequence"] for b in bodies] == [e["sequence"] for e in seen]
    pushed_conversation = next(b for b in bodies if b["event"] == "Conversation")
    assert pushed_conversation["data"]["callDirection"] == 1  # the push's: outbound
    assert pushed_conversation["userData"] == "lead-7"
    assert list(pushed_conversation) == [
        "sequence", "nowState", "event", "type", "eventTime", "userData", "ivrParam",
        "companyId", "agentNumber", "agentId", "data",
    ]  # fmt: skip
    desk.close()


def test_a_carriers_call_is_offered_and_a_lost_phone_makes_the_agent_busy(
    pbx: Pbx, receiver: Receiver
) -> None:
    agent_with_group(pbx, receiver)
    route(pbx, "--extension", AGENT)
    phone = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(phone):
        phone.wait_registered()
        desk = sign_in(pbx)
        desk.ask("idle")
        carrier = carrier_calling(pbx, CALLER_ID)
        with running(carrier):
            conversation = desk.event("Conversation", timeout=15)
            after = desk.event("After", timeout=20)
        assert conversation["data"]["callDirection"] == 1  # the socket's: inbound
        assert conversation["data"]["called"] == CALLER_ID
        assert after["sequence"] == 0
        assert after["data"]["hangupDirection"] == 1
        assert after["nowState"] == "After"
        # Wrap-up without auto idle: the agent stays in After until it asks.
        assert desk.ask("idle")["code"] == "0"
    # The phone went away (baresip unregisters as it stops): the agent is made busy.
    lost = desk.event("SipError", timeout=10)
    busy = desk.event("Busy", timeout=10, sequence=0)
    assert busy["data"] == {"currentBusyType": "phone"}
    assert lost["nowState"] == "Idle"  # told as it happens, then the state follows
    assert desk.events.index(lost) < desk.events.index(busy)
    phone = pbx.phone(AGENT)
    with running(phone):
        phone.wait_registered()
        back = desk.wait(
            lambda m: m.get("event") == "Idle" and m.get("eventTime", 0) > busy["eventTime"], 10
        )
    assert back["nowState"] == "Idle"
    names = [b["event"] for b in pushed(receiver, len(desk.events))]
    assert subsequence(names, ["AgentOriginate", "AgentAnswer", "Conversation", "After"]), names
    desk.close()


def test_a_second_sign_in_kicks_the_first_desktop(pbx: Pbx, receiver: Receiver) -> None:
    agent_with_group(pbx, receiver)
    first = sign_in(pbx, login_type="2")
    second = sign_in(pbx, login_type="2")

    kick = first.event("Kick")
    assert kick["nowState"] == "Logout"
    assert first.wait_closed() == 4001
    assert second.event("Login")["data"]["loginType"] == "2"
    assert second.ask("busy", busyType="1")["code"] == "0"
    second.send_raw("not json")
    exception = second.event("Exception")
    assert exception["data"]["message"] == "message: not JSON"
    second.send_raw(b'{"request": "heartbeat", "sequence": 7}')  # a binary frame
    assert second.wait(lambda m: m.get("sequence") == 7, 5)["code"] == "0"
    assert second.ask("dance")["msg"] == "request: unknown request 'dance'"
    second.close()


def test_a_session_survives_the_server_killed_and_started_again(
    pbx: Pbx, receiver: Receiver
) -> None:
    agent_with_group(pbx, receiver)
    desk = sign_in(pbx, login_type="2")
    token = desk.event("Login")["data"]["token"]
    desk.ask("busy", busyType="4")

    pbx.server.stop(signal.SIGKILL)
    desk.wait_closed()
    server = start_server(pbx.server.data_dir)
    try:
        again = open_pbx(server, pbx.workdir)
        desk = AgentDesk(again.server.url, token=token)
        resumed = desk.event("Reconnect")
        assert resumed["data"]["token"] == token
        assert resumed["nowState"] == "Busy"
        assert resumed["data"]["currentBusyType"] == "4"
        assert desk.ask("idle")["code"] == "0"
        desk.close()
    finally:
        server.stop()
