"""Carriers' calls to a company's numbers through `callyard serve`: a SIPp carrier (the
company's trunk) calls a number routed to an extension or to a group, baresip phones
answer, and the call is recorded (type `callin`) and pushed like any other."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from callyard.testing.receiver import Receiver
from callyard.testing.sip import Sipp, analyse_wav, prepare_pcap_dir, running, write_tone_wav
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, SECOND_AGENT, Pbx
from tests.switch.test_calls_e2e import stereo_levels
from tests.switch.test_webhooks_e2e import hook_up

pytestmark = pytest.mark.sip

THIRD_AGENT = "10010003"


def carrier_calling(pbx: Pbx, number: str, seconds: float = 3.0) -> Sipp:
    """A carrier that calls `number` once, plays speech for `seconds` and hangs up; the
    company's trunk points at it."""
    workdir = pbx.workdir / f"carrier-{number}"
    prepare_pcap_dir(workdir, seconds=seconds)
    carrier = Sipp(
        "uac_g711a.xml",
        workdir,
        remote=f"127.0.0.1:{pbx.server.sip_port}",
        service=number,
        calls=1,
        duration_ms=int(seconds * 1000) + 500,
        timeout_s=40,
    )
    pbx.trunk_to(carrier)
    time.sleep(1)  # the switch's routing table follows the store within 0.5 s
    return carrier


def route(pbx: Pbx, *option: str) -> dict[str, Any]:
    routed: dict[str, Any] = pbx.cli(
        "number", "route", "--company", COMPANY, "--number", CALLER_ID, *option
    )
    time.sleep(1)  # the switch's routing table follows the store within 0.5 s
    return routed


def download(pbx: Pbx, record: dict[str, Any]) -> Path:
    link = pbx.api("App.Sip_Cdr.GetRecodeFile", filename=record["recordfilename"])
    saved = pbx.workdir / "inbound.wav"
    saved.write_bytes(httpx.get(link["data"]["result"]["downurl"]).content)
    return saved


def test_a_carriers_call_to_a_number_rings_its_extension(pbx: Pbx) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        hook_up(pbx, receiver)
        carrier = carrier_calling(pbx, CALLER_ID)
        assert route(pbx, "--extension", AGENT)["route_extension"] == AGENT
        agent = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
        with running(agent):
            agent.wait_registered()
            with running(carrier):
                agent.wait_established(timeout=15)
                result = carrier.wait(30)
            agent.wait_closed(timeout=10)
        assert (result.returncode, result.successful) == (0, 1)
        record = pbx.record_with(type="callin")
        pushed = receiver.wait_for(4)  # the extension's ring, answer, hangup; the record
    finally:
        receiver.stop()
    assert record["callmethod"] == 0
    assert (record["extnumber"], record["destnumber"], record["disnumber"]) == (
        AGENT, CALLER_ID, "sipp",
    )  # fmt: skip
    assert (record["hangupcause"], record["hangupdirection"]) == (10001, 10040)
    assert record["answertime"]
    assert record["billsec"] >= 2
    duration, agent_rms, customer_rms = stereo_levels(download(pbx, record))
    assert duration >= 2
    assert agent_rms > 300, "the agent's side (left) of the recording is silent"
    assert customer_rms > 300, "the caller's side (right) of the recording is silent"
    states = [json.loads(r.body) for r in pushed if r.headers["x-callyard-event"] == "call_state"]
    assert [s["status"] for s in states] == ["ring", "answer", "hangup"]
    for state in states:
        assert (state["direction"], state["isbleg"], state["method"]) == ("callin", "false", "0")
        assert (state["caller"], state["callee"], state["extnumber"]) == (
            "sipp", CALLER_ID, AGENT,
        )  # fmt: skip
        assert state["uuid"] == record["uuid"]
    assert json.loads(pushed[-1].body) == record


def test_a_number_routed_to_a_group_rings_its_idle_members_in_turn(pbx: Pbx) -> None:
    group = {"name": "support"}
    assert pbx.api("App.Sip_Extgroup.AddExtgroup", **group)["data"]["status"] == 0
    # Checked in, in this order: one that does not pick up, one set busy, one that answers.
    for number in (SECOND_AGENT, THIRD_AGENT, AGENT):
        reply = pbx.api("App.Sip_Extgroup.AddExtnumber", **group, extnumber=number)
        assert reply["data"]["status"] == 0, reply
    busy = pbx.api("App.Sip_Extgroup.EditExtnumber", **group, extnumber=THIRD_AGENT, state="busy")
    assert busy["data"]["status"] == 0
    carrier = carrier_calling(pbx, CALLER_ID)
    assert route(pbx, "--group", "support")["route_group"] == "support"
    silent = pbx.phone(SECOND_AGENT, answermode="manual")
    set_busy = pbx.phone(THIRD_AGENT)
    agent = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(silent, set_busy, agent):
        for phone in (silent, set_busy, agent):
            phone.wait_registered()
        with running(carrier):
            silent.wait_incoming(timeout=10)
            silent.wait_closed(timeout=15)  # it rang out (the ring timeout), then...
            agent.wait_established(timeout=10)  # ...the next idle member rang
            result = carrier.wait(30)
        agent.wait_closed(timeout=10)
    assert (result.returncode, result.successful) == (0, 1)
    assert not [e for e in set_busy.events if e.type == "CALL_INCOMING"]
    record = pbx.record_with(type="callin")
    assert (record["callmethod"], record["extnumber"]) == (6, AGENT)
    assert record["answertime"]


def test_calls_to_numbers_without_a_route_are_refused(pbx: Pbx) -> None:
    carrier = carrier_calling(pbx, "622159999")  # not a number of the company
    with running(carrier):
        result = carrier.wait(30)
    assert result.successful == 0
    finals = [m for m in carrier.received() if not m.is_request]
    assert any(m.first_line.startswith("SIP/2.0 404") for m in finals), finals
    unrouted = carrier_calling(pbx, CALLER_ID)  # the company's, but routed nowhere
    with running(unrouted):
        unrouted.wait(30)
    assert any(
        m.first_line.startswith("SIP/2.0 404") for m in unrouted.received() if not m.is_request
    )
    assert [r for r in pbx.records() if r["type"] == "callin"] == []


def test_a_phone_hands_its_call_over_with_refer(pbx: Pbx) -> None:
    """The agent who took a carrier's call transfers it blind (REFER) to another
    extension: the caller and the new agent hear each other, the first agent is off the
    call, the carrier never sees the transfer, and the record says who took the call."""
    carrier = carrier_calling(pbx, CALLER_ID, seconds=10.0)
    route(pbx, "--extension", AGENT)
    first = pbx.phone(AGENT)
    second = pbx.phone(SECOND_AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(first, second):
        first.wait_registered()
        second.wait_registered()
        with running(carrier):
            first.wait_established(timeout=15)
            first.transfer(f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}")
            first.wait_closed(timeout=10)
            second.wait_established(timeout=10)
            result = carrier.wait(40)
        second.wait_closed(timeout=10)
    assert (result.returncode, result.successful) == (0, 1)
    assert [m for m in carrier.received() if m.is_request and m.method == "REFER"] == []
    heard = analyse_wav(second.received_wav())
    assert heard.active_seconds > 2, "the new agent did not hear the caller"
    record = pbx.record_with(type="callin")
    assert (record["extnumber"], record["hangupdirection"]) == (SECOND_AGENT, 10040)
    assert record["recordfilename"]


def test_a_refer_the_phone_could_not_call_is_refused(pbx: Pbx) -> None:
    """A REFER to a party the phone could not call gets that call's final answer (here
    480: the extension is not registered) and changes nothing on the switch. baresip then
    hangs up by itself (its way after a failed transfer): the record says the agent
    ended the call, normally, after the refusal."""
    carrier = carrier_calling(pbx, CALLER_ID, seconds=6.0)
    route(pbx, "--extension", AGENT)
    agent = pbx.phone(AGENT)
    with running(agent):
        agent.wait_registered()
        with running(carrier):
            agent.wait_established(timeout=15)
            time.sleep(1)
            agent.transfer(f"sip:{THIRD_AGENT}@127.0.0.1:{pbx.server.sip_port}")
            refused = agent.wait_event(["TRANSFER_FAILED"], timeout=10)
            carrier.wait(30)
    assert refused.param.startswith("480"), refused
    record = pbx.record_with(type="callin")
    assert (record["extnumber"], record["hangupcause"], record["hangupdirection"]) == (
        AGENT, 10001, 10041,
    )  # fmt: skip
    assert record["billsec"] >= 1
