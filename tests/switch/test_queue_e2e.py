"""Inbound queues through `callyard serve`: SIPp callers dial a group's number at once,
wait in its queue hearing music, and are offered in order to the group's baresip agents
signed in through the CTI; busy agents are never rung, an agent that misses an offer is
made busy and the next one is tried, callers that hang up while queued or while an agent
rings leave nothing behind, and a full queue overflows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from callyard.testing.cti import AgentDesk
from callyard.testing.receiver import Receiver
from callyard.testing.sip import (
    Baresip,
    CallClosed,
    Sipp,
    prepare_pcap_dir,
    running,
    write_tone_wav,
)
from tests.switch.pbx import AGENT, CALLER_ID, COMPANY, SECOND_AGENT, Pbx
from tests.switch.test_vcall_calls_e2e import Vcall

pytestmark = pytest.mark.sip

THIRD_AGENT = "10010003"
PASSWORD = "s3cret-pass"
WORK_NUMBERS = {AGENT: "0001", SECOND_AGENT: "0002", THIRD_AGENT: "0003"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def staffed_queue(pbx: Pbx, receiver: Receiver, *queue: str) -> None:
    """Group `sales` with three agents, a queue, and the company's number routed to it."""
    vcall = Vcall(pbx, receiver)
    sn = vcall.post(
        "/api/group/open/create", name="sales", policy=2, agentAutoIdle="1", agentAutoIdleTime=0
    )["data"]
    for extension, number in WORK_NUMBERS.items():
        created = vcall.post(
            "/api/agent/open/create",
            agentName=f"Agent {number}", agentNumber=number, password=PASSWORD,
            sipId=extension, groupSn=sn,
        )  # fmt: skip
        assert created["code"] == "0", created
    pbx.cli("queue", "set", "--company", COMPANY, "--group", "sales", *queue)
    pbx.cli("number", "route", "--company", COMPANY, "--number", CALLER_ID, "--group", "sales")
    time.sleep(1)  # the switch's routing table follows the store within 0.5 s


def desk_of(pbx: Pbx, extension: str, ready: bool) -> AgentDesk:
    desk = AgentDesk(pbx.server.url)
    number = WORK_NUMBERS[extension]
    login = desk.ask(
        "login", companyId=COMPANY, agentNumber=number, password=PASSWORD, loginType="1"
    )
    assert login["code"] == "0", login
    assert desk.ask("idle" if ready else "busy")["code"] == "0"
    return desk


def callers(pbx: Pbx, calls: int, rate: float, seconds: float = 60.0) -> Sipp:
    """A carrier whose callers dial the group's number and stay `seconds` at most."""
    workdir = pbx.workdir / f"callers-{time.monotonic_ns()}"
    prepare_pcap_dir(workdir, seconds=3)
    carrier = Sipp(
        "uac_g711a.xml",
        workdir,
        remote=f"127.0.0.1:{pbx.server.sip_port}",
        service=CALLER_ID,
        calls=calls,
        rate=rate,
        duration_ms=int(seconds * 1000),
        timeout_s=seconds + 60,
    )
    pbx.trunk_to(carrier)
    time.sleep(1)
    return carrier


@contextmanager
def answering(phones: list[Baresip], talk: float) -> Iterator[dict[str, int]]:
    """Each phone hangs up `talk` seconds after each call it answered; counts them."""
    taken = {phone.user: 0 for phone in phones}
    stop = threading.Event()

    def serve(phone: Baresip) -> None:
        while not stop.is_set():
            try:
                phone.wait_established(timeout=1)
            except (TimeoutError, CallClosed):
                continue  # nothing yet, or an offer it let ring out
            taken[phone.user] += 1
            time.sleep(talk)
            phone.hangup()
            phone.wait_closed(timeout=10)

    threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in phones]
    for thread in threads:
        thread.start()
    try:
        yield taken
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)


def inbound_records(pbx: Pbx, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in pbx.records() if r["type"] == "callin"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def states_before_offers(desk: AgentDesk) -> list[str]:
    """The state each offer (Lock) found the agent in."""
    events = desk.events
    return [events[i - 1]["nowState"] for i, e in enumerate(events) if e["event"] == "Lock"]


def test_callers_wait_in_order_and_reach_free_agents_only(pbx: Pbx, receiver: Receiver) -> None:
    staffed_queue(pbx, receiver, "--ring-seconds", "8", "--max-wait", "90")
    voice = write_tone_wav(pbx.workdir / "voice.wav", seconds=60)
    phones = [pbx.phone(ext, audio=voice) for ext in (AGENT, SECOND_AGENT, THIRD_AGENT)]
    with running(*phones):
        for phone in phones:
            phone.wait_registered()
        desks = {ext: desk_of(pbx, ext, ready=ext != THIRD_AGENT) for ext in WORK_NUMBERS}
        carrier = callers(pbx, calls=6, rate=4)
        with answering(phones, talk=2.0) as taken, running(carrier):
            records = inbound_records(pbx, 6, timeout=60)
    assert len(records) == 6, records
    assert taken[THIRD_AGENT] == 0  # busy: never rung
    assert taken[AGENT] + taken[SECOND_AGENT] == 6
    assert {r["extnumber"] for r in records} <= {AGENT, SECOND_AGENT}
    # Served in the order they came: answered in the order they entered.
    by_entry = sorted(records, key=lambda r: (r["starttime"], r["answertime"]))
    assert [r["answertime"] for r in by_entry] == sorted(r["answertime"] for r in records)
    for extension in (AGENT, SECOND_AGENT):
        offered = states_before_offers(desks[extension])
        assert offered, "never offered a call"
        assert set(offered) == {"Idle"}, offered
        names = [e["event"] for e in desks[extension].events]
        assert names.count("Conversation") == names.count("After") == taken[extension]
    assert "Lock" not in [e["event"] for e in desks[THIRD_AGENT].events]
    for desk in desks.values():
        desk.close()


def test_a_missed_offer_goes_to_the_next_agent_and_callers_may_hang_up_anywhere(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver, "--ring-seconds", "5", "--max-wait", "90")
    voice = write_tone_wav(pbx.workdir / "voice.wav", seconds=60)
    sleepy = pbx.phone(AGENT, audio=voice, answermode="manual")
    awake = pbx.phone(SECOND_AGENT, audio=voice)
    with running(sleepy, awake):
        sleepy.wait_registered()
        awake.wait_registered()
        first = desk_of(pbx, AGENT, ready=True)
        # The first caller is offered to the only ready agent, who lets it ring out.
        carrier = callers(pbx, calls=1, rate=1, seconds=20)
        with running(carrier):
            missed = first.event("Busy", timeout=15, sequence=0)
            assert missed["data"] == {"currentBusyType": "missed"}
            second = desk_of(pbx, SECOND_AGENT, ready=True)
            conversation = second.event("Conversation", timeout=10)
            assert conversation["data"]["callDirection"] == 1
            awake.wait_established(timeout=5)
            awake.hangup()
            second.event("After", timeout=10)
        # A caller who hangs up while queued: nobody ready, it gives up after 3 s.
        assert second.ask("busy")["code"] == "0"
        quitter = callers(pbx, calls=1, rate=1, seconds=3)
        with running(quitter):
            quitter.wait(timeout=30)
        # A caller who hangs up while an agent rings.
        assert first.ask("idle")["code"] == "0"
        impatient = callers(pbx, calls=1, rate=1, seconds=2.5)
        with running(impatient):
            first.event("Lock", timeout=10)
            impatient.wait(timeout=30)
        idle = first.wait(lambda m: m.get("event") == "Idle" and m.get("sequence") == 0, 10)
        assert idle["nowState"] == "Idle"  # the withdrawn offer gave the agent back
    records = inbound_records(pbx, 3)
    assert len(records) == 3
    answered = [r for r in records if r["answertime"]]
    assert [r["extnumber"] for r in answered] == [SECOND_AGENT]
    for desk in (first, second):
        desk.close()


def test_a_full_queue_overflows_to_a_message(pbx: Pbx, receiver: Receiver) -> None:
    staffed_queue(
        pbx, receiver, "--max-size", "1", "--max-wait", "4",
        "--overflow-message", "Please call again later.",
    )  # fmt: skip
    carrier = callers(pbx, calls=3, rate=10, seconds=20)
    with running(carrier):
        result = carrier.wait(timeout=40)
    # Nobody is signed in: the first waits 4 s and hears the message, the others find
    # the queue full and hear it at once; every call ends, recorded.
    assert result.successful + result.failed == 3
    records = inbound_records(pbx, 3)
    assert len(records) == 3
    assert all(r["duration"] < 15 for r in records), records
