"""Inbound queues through `callyard serve`: SIPp callers dial a group's number at once,
wait in its queue hearing music, and are offered in order to the group's baresip agents
signed in through the CTI; busy agents are never rung, an agent that misses an offer is
made busy and the next one is tried, callers that hang up while queued or while an agent
rings leave nothing behind, and a full queue overflows."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from callyard.testing.cti import AgentDesk
from callyard.testing.receiver import Receiver
from callyard.testing.server import Server
from callyard.testing.sip import (
    Baresip,
    CallClosed,
    HarnessError,
    Sipp,
    prepare_pcap_dir,
    running,
    write_tone_wav,
)
from tests.switch.pbx import (
    AGENT,
    CALLER_ID,
    COMPANY,
    SECOND_AGENT,
    Pbx,
    metric,
    open_pbx,
    start_server,
)
from tests.switch.test_vcall_calls_e2e import Vcall

pytestmark = pytest.mark.sip

THIRD_AGENT = "10010003"
CALLERS = 24
MOBILE = "628111111111"
PASSWORD = "s3cret-pass"
WORK_NUMBERS = {AGENT: "0001", SECOND_AGENT: "0002", THIRD_AGENT: "0003"}


def staffed_queue(
    pbx: Pbx, receiver: Receiver, mobile: str = "", supervisor: str = "", **queue: object
) -> None:
    """Group `sales` with three agents (the first with `mobile`; the one on extension
    `supervisor` a supervisor), a queue, and the company's number routed to it."""
    vcall = Vcall(pbx, receiver)
    sn = vcall.post(
        "/api/group/open/create", name="sales", policy=2, agentAutoIdle="1", agentAutoIdleTime=0
    )["data"]
    for extension, number in WORK_NUMBERS.items():
        created = vcall.post(
            "/api/agent/open/create",
            agentName=f"Agent {number}", agentNumber=number, password=PASSWORD,
            sipId=extension, groupSn=sn, phone=mobile if extension == AGENT else "",
            type=1 if extension == supervisor else 0,
        )  # fmt: skip
        assert created["code"] == "0", created
    pbx.admin("PUT", "/groups/sales/queue", queue)
    pbx.admin("PUT", f"/numbers/{CALLER_ID}/route", {"group": "sales"})


def desk_of(pbx: Pbx, extension: str, ready: bool, login_type: str = "1") -> AgentDesk:
    desk = AgentDesk(pbx.server.url)
    number = WORK_NUMBERS[extension]
    login = desk.ask(
        "login", companyId=COMPANY, agentNumber=number, password=PASSWORD, loginType=login_type
    )
    assert login["code"] == "0", login
    assert desk.ask("idle" if ready else "busy")["code"] == "0"
    return desk


def callers(pbx: Pbx, calls: int, rate: float, seconds: float = 60.0, trunk: bool = True) -> Sipp:
    """A carrier whose callers dial the group's number and stay `seconds` at most (the
    company's trunk pointed at it, unless the trunk is another carrier on the same host)."""
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
    if trunk:
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
            except (HarnessError, CallClosed):
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


def nothing_left(server_url: str, timeout: float = 10) -> None:
    """No call in progress in the services or the switch, nobody waiting in a queue."""
    deadline = time.monotonic() + timeout
    names = ("callyard_calls_in_progress", "callyard_switch_calls", "callyard_queue_waiting")
    while True:
        text = httpx.get(f"{server_url}/metrics").text
        left = {name: metric(text, name) for name in names}
        if not any(left.values()):
            return
        assert time.monotonic() < deadline, left
        time.sleep(0.5)


def states_before_offers(desk: AgentDesk) -> list[str]:
    """The state each offer (Lock) found the agent in."""
    events = desk.events
    return [events[i - 1]["nowState"] for i, e in enumerate(events) if e["event"] == "Lock"]


def test_callers_wait_in_order_and_reach_free_agents_only(pbx: Pbx, receiver: Receiver) -> None:
    staffed_queue(pbx, receiver, ring_seconds=8, max_wait_seconds=90)
    voice = write_tone_wav(pbx.workdir / "voice.wav", seconds=60)
    phones = [pbx.phone(ext, audio=voice) for ext in (AGENT, SECOND_AGENT, THIRD_AGENT)]
    with running(*phones):
        for phone in phones:
            phone.wait_registered()
        desks = {ext: desk_of(pbx, ext, ready=ext != THIRD_AGENT) for ext in WORK_NUMBERS}
        carrier = callers(pbx, calls=CALLERS, rate=10)
        with answering(phones, talk=1.0) as taken, running(carrier):
            records = inbound_records(pbx, CALLERS, timeout=90)
    assert len(records) == CALLERS, records
    assert taken[THIRD_AGENT] == 0  # busy: never rung
    assert taken[AGENT] + taken[SECOND_AGENT] == CALLERS
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
    metrics = httpx.get(f"{pbx.server.url}/metrics").text
    answered = 'callyard_queue_callers_total{company="1",group="sales",outcome="answered"}'
    assert metric(metrics, answered) == CALLERS
    assert metric(metrics, "callyard_queue_offer_seconds_count") == CALLERS
    nothing_left(pbx.server.url)
    for desk in desks.values():
        desk.close()


def test_a_missed_offer_goes_to_the_next_agent_and_callers_may_hang_up_anywhere(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver, ring_seconds=5, max_wait_seconds=90)
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
            time.sleep(1.5)
            assert second.ask("queueInfo")["code"] == "0"
            queue = second.event("QueueInfo")["data"]
            assert queue["groupWaitNumber"] == 1
            assert queue["data"][0]["called"] == CALLER_ID
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
    nothing_left(pbx.server.url)
    for desk in (first, second):
        desk.close()


def test_a_full_queue_overflows_to_a_message(pbx: Pbx, receiver: Receiver) -> None:
    staffed_queue(
        pbx,
        receiver,
        max_size=1,
        max_wait_seconds=4,
        overflow_message="Please call again later.",
    )
    carrier = callers(pbx, calls=3, rate=10, seconds=10)
    with running(carrier):
        result = carrier.wait(timeout=40)
    # Nobody is signed in: the first waits 4 s and hears the message, the others find
    # the queue full and hear it at once; every call ends, recorded.
    assert result.successful + result.failed == 3
    records = inbound_records(pbx, 3)
    assert len(records) == 3
    assert all(r["duration"] < 15 for r in records), records
    nothing_left(pbx.server.url)


def restarted(pbx: Pbx) -> Server:
    """The killed server started again on its data and SIP port, once its SIP process
    (which stops when it finds its server gone) has let the port go."""
    for _ in range(10):
        try:
            return start_server(pbx.server.data_dir, sip_port=pbx.server.sip_port)
        except RuntimeError:
            time.sleep(1)
    raise RuntimeError("the server did not start again")


def test_an_agent_who_signs_out_while_ringing_gives_the_caller_to_the_next(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver, ring_seconds=20, max_wait_seconds=90)
    voice = write_tone_wav(pbx.workdir / "voice.wav", seconds=60)
    leaving = pbx.phone(AGENT, audio=voice, answermode="manual")
    staying = pbx.phone(SECOND_AGENT, audio=voice)
    with running(leaving, staying):
        leaving.wait_registered()
        staying.wait_registered()
        first = desk_of(pbx, AGENT, ready=True)
        carrier = callers(pbx, calls=1, rate=1, seconds=20)
        with running(carrier):
            leaving.wait_incoming(timeout=10)
            second = desk_of(pbx, SECOND_AGENT, ready=True)
            assert first.ask("logout")["code"] == "0"
            leaving.wait_closed(timeout=5)  # its phone stopped ringing at once
            assert second.event("Conversation", timeout=10)["data"]["called"] == CALLER_ID
            staying.wait_established(timeout=5)
            staying.hangup()
            second.event("After", timeout=10)
    (record,) = inbound_records(pbx, 1)
    assert record["extnumber"] == SECOND_AGENT
    nothing_left(pbx.server.url)
    second.close()


def test_a_server_killed_mid_calls_records_each_call_once_and_agents_stay_true(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver, ring_seconds=20, max_wait_seconds=90)
    voice = write_tone_wav(pbx.workdir / "voice.wav", seconds=90)
    phone = pbx.phone(AGENT, audio=voice)
    with running(phone):
        phone.wait_registered()
        desk = desk_of(pbx, AGENT, ready=True)
        token = desk.event("Login")["data"]["token"]
        carrier = callers(pbx, calls=3, rate=5, seconds=40)
        with running(carrier):
            desk.event("Conversation", timeout=15)  # one talks, two wait in the queue
            time.sleep(1)
            pbx.server.stop(signal.SIGKILL)
            phone.wait_closed(timeout=15)  # the SIP process hung up as the server died
            carrier.wait(timeout=30)
    server = restarted(pbx)
    try:
        again = open_pbx(server, pbx.workdir)
        records = inbound_records(again, 3)
        assert len(records) == 3, records
        assert len({r["uuid"] for r in records}) == 3
        desk = AgentDesk(again.server.url, token=token)
        resumed = desk.event("Reconnect")
        assert resumed["nowState"] == "Idle"  # ready, as chosen; no call survived
        assert resumed["data"]["registered"] == 0  # its phone has not registered again yet
        phone = again.phone(AGENT, audio=voice)
        with running(phone):
            phone.wait_registered()
            carrier = callers(again, calls=1, rate=1, seconds=6)
            with running(carrier):
                assert desk.event("Conversation", timeout=15)["nowState"] == "Conversation"
                carrier.wait(timeout=30)
        assert len(inbound_records(again, 4)) == 4
        nothing_left(again.server.url)
        desk.close()
    finally:
        server.stop()


def test_an_agent_signed_in_on_its_mobile_takes_queue_calls_there(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver, mobile=MOBILE, ring_seconds=10)
    mobile = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=2000)
    pbx.trunk_to(mobile)  # the carrier that reaches the mobile; callers come from its host
    time.sleep(1)
    desk = desk_of(pbx, AGENT, ready=True, login_type="2")
    carrier = callers(pbx, calls=1, rate=1, seconds=20, trunk=False)
    with running(mobile, carrier):
        conversation = desk.event("Conversation", timeout=15)
        after = desk.event("After", timeout=15)
    assert conversation["data"]["caller"] == "sipp"
    assert after["data"]["hangupDirection"] == 0  # the mobile's side hung up
    assert any(MOBILE in (m.header("To") or "") for m in mobile.received("INVITE"))
    (record,) = inbound_records(pbx, 1)
    assert (record["extnumber"], record["type"]) == (AGENT, "callin")
    nothing_left(pbx.server.url)
    desk.close()


def test_a_caller_who_waited_too_long_overflows_to_another_groups_agent(
    pbx: Pbx, receiver: Receiver
) -> None:
    staffed_queue(pbx, receiver)
    for service, fields in (
        ("App.Sip_Extgroup.AddExtgroup", {"name": "backup"}),
        ("App.Sip_Extgroup.DelExtnumber", {"name": "sales", "extnumber": SECOND_AGENT}),
        ("App.Sip_Extgroup.AddExtnumber", {"name": "backup", "extnumber": SECOND_AGENT}),
    ):
        reply = pbx.api(service, **fields)
        assert reply["data"]["status"] == 0, (service, reply)
    pbx.admin("PUT", "/groups/backup/queue", {"max_wait_seconds": 60})
    pbx.admin(
        "PUT",
        "/groups/sales/queue",
        {"max_wait_seconds": 3, "overflow": "group", "overflow_group": "backup"},
    )
    phone = pbx.phone(SECOND_AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
    with running(phone):
        phone.wait_registered()
        backup = desk_of(pbx, SECOND_AGENT, ready=True)
        carrier = callers(pbx, calls=1, rate=1, seconds=12)
        with running(carrier):
            # Nobody of sales is signed in: after 3 s the caller waits in backup's queue.
            conversation = backup.event("Conversation", timeout=15)
            carrier.wait(timeout=30)
    waited = conversation["eventTime"] - conversation["data"]["inQueueTime"]
    assert waited >= 3000  # it entered sales's queue first, and kept its place in time
    (record,) = inbound_records(pbx, 1)
    assert record["extnumber"] == SECOND_AGENT
    nothing_left(pbx.server.url)
    backup.close()


def test_a_caller_who_waited_too_long_overflows_to_a_number(pbx: Pbx, receiver: Receiver) -> None:
    staffed_queue(pbx, receiver, max_wait_seconds=2, overflow="number", overflow_number=MOBILE)
    elsewhere = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=2000)
    pbx.trunk_to(elsewhere)  # the number is reached through the trunk; callers share its host
    carrier = callers(pbx, calls=1, rate=1, seconds=15, trunk=False)
    with running(elsewhere, carrier):
        carrier.wait(timeout=30)
    invited = [m.header("To") or "" for m in elsewhere.received("INVITE")]
    assert len(invited) == 1
    assert MOBILE in invited[0]
    (record,) = inbound_records(pbx, 1)
    assert record["answertime"]  # the number answered
    nothing_left(pbx.server.url)
