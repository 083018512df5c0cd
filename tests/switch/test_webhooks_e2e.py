"""Webhooks of real calls: the seed's callbacks of a MakeCall through the switch, signed,
and every event of a server killed with SIGKILL delivered after its restart.

The receiver is a real HTTP server on the loopback of the test run's namespace.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from callyard.testing.receiver import Received, Receiver
from callyard.testing.sip import running, write_tone_wav
from callyard.webhooks.signing import verify
from tests.factories import BRIDGED_CALL_STATES, STATE_FIELDS
from tests.switch.pbx import (
    AGENT,
    CALLER_ID,
    COMPANY,
    Pbx,
    make_call,
    open_pbx,
    start_server,
)

pytestmark = pytest.mark.sip


def hook_up(pbx: Pbx, receiver: Receiver) -> str:
    """Point both callbacks of the demo company at the receiver; returns the secret."""
    settings = pbx.cli(
        "webhook", "set", "--company", COMPANY,
        "--call-state-url", receiver.url, "--cdr-url", receiver.url,
    )  # fmt: skip
    secret: str = settings["secret"]
    assert secret
    time.sleep(1)  # the running server reads changed settings within 0.5 s
    return secret


def kind(request: Received) -> str:
    return request.headers["x-callyard-event"]


def payload(request: Received) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_a_make_call_pushes_the_seeds_callbacks_signed(pbx: Pbx) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        secret = hook_up(pbx, receiver)
        carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=3000)
        pbx.trunk_to(carrier)
        agent = pbx.phone(AGENT, audio=write_tone_wav(pbx.workdir / "voice.wav", seconds=30))
        with running(carrier, agent):
            agent.wait_registered()
            assert make_call(pbx, "cust-hook")["data"]["status"] == 0
            agent.wait_established(timeout=10)
            agent.wait_closed(timeout=15)
        record = pbx.record_of("cust-hook")
        # ring and answer of each leg, a hangup per leg, then the call record
        requests = receiver.wait_for(7)
        time.sleep(1.5)
        assert len(receiver.requests) == 7, "an event was delivered more than once"
    finally:
        receiver.stop()

    for request in requests:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("callyard/")
        assert verify(
            secret,
            request.headers["x-callyard-timestamp"],
            request.headers["x-callyard-signature"],
            request.body,
            time.time(),
        )
    assert len({r.headers["x-callyard-event-id"] for r in requests}) == 7
    assert [kind(r) for r in requests] == ["call_state"] * 6 + ["call_record"]

    states = [payload(r) for r in requests[:6]]
    assert all(set(state) == STATE_FIELDS for state in states)
    assert all(isinstance(value, str) for state in states for value in state.values())
    assert [(s["status"], s["isbleg"]) for s in states] == BRIDGED_CALL_STATES
    for state in states:
        assert (state["uuid"], state["customuuid"], state["companycode"]) == (
            record["uuid"], "cust-hook", COMPANY,
        )  # fmt: skip
        assert (state["caller"], state["extnumber"], state["callee"], state["disnumber"]) == (
            AGENT, AGENT, "628123456789", CALLER_ID,
        )  # fmt: skip
        assert (state["method"], state["direction"], state["type"]) == ("3", "callout", "call")
        assert state["buuid"] not in ("", state["uuid"])
        assert state["starttime"].isdigit()
    # The call-record callback is the stored record, field for field.
    assert payload(requests[6]) == record


def test_every_event_is_delivered_after_a_kill_9(tmp_path: Path) -> None:
    """Events pending and in flight when the server is killed are all delivered once it
    is back: at least once, in order per call, no more twice than were in flight."""
    data_dir = tmp_path / "data"
    slow = threading.Event()
    slow.set()

    def respond(_request: Received) -> int:
        if slow.is_set():
            time.sleep(1.5)  # the request stays in flight while the server dies
        return 200

    receiver = Receiver(respond)
    receiver.start()
    server = start_server(data_dir)
    try:
        pbx = open_pbx(server, tmp_path)
        pbx.cli("number", "add", "--company", COMPANY, "--number", CALLER_ID)
        hook_up(pbx, receiver)
        calls = 5
        carrier = pbx.carrier("uas_busy.xml", calls=calls)
        pbx.trunk_to(carrier)
        agent = pbx.phone(AGENT)
        with running(carrier, agent):
            agent.wait_registered()
            for n in range(calls):
                assert make_call(pbx, f"crash-{n}")["data"]["status"] == 0
                agent.wait_closed(timeout=15)
        records = [pbx.record_of(f"crash-{n}") for n in range(calls)]
        receiver.wait_for(3)
        server.process.kill()
        server.process.wait(10)
        seen_before_kill = len(receiver.requests)
        before_kill = {r.headers["x-callyard-event-id"] for r in receiver.requests}
    finally:
        server.stop()

    slow.clear()
    server = start_server(data_dir)
    try:
        pbx = open_pbx(server, tmp_path)
        deadline = time.monotonic() + 60
        while pbx.cli("webhook", "log", "--company", COMPANY, "--status", "pending"):
            assert time.monotonic() < deadline, "events still pending a minute after restart"
            time.sleep(0.5)
        log = pbx.cli("webhook", "log", "--company", COMPANY, "--limit", "1000")
    finally:
        server.stop()
        receiver.stop()

    # 3 call-state events per call (the agent's ring, answer, hangup; the carrier is
    # busy, so the customer's leg never rings) and its record.
    assert len(log) == 4 * calls
    assert {entry["status"] for entry in log} == {"delivered"}
    assert seen_before_kill < len(log), "everything was delivered before the kill"
    received: dict[str, list[int]] = defaultdict(list)
    for index, request in enumerate(receiver.requests):
        received[request.headers["x-callyard-event-id"]].append(index)
    assert set(received) == {entry["event_id"] for entry in log}
    twice = {event for event, arrivals in received.items() if len(arrivals) > 1}
    assert twice <= before_kill, "an event delivered before the kill was sent again later"

    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in log:
        by_call[entry["call_uuid"]].append(entry)
    assert set(by_call) == {record["uuid"] for record in records}
    for entries in by_call.values():
        in_seq = [e["event_id"] for e in sorted(entries, key=lambda e: e["seq"])]
        assert sorted(in_seq, key=lambda e: received[e][0]) == in_seq, "out of order"
        assert [e["kind"] for e in sorted(entries, key=lambda e: e["seq"])][-1] == "call_record"
    for record in records:
        pushed = [
            payload(r)
            for r in receiver.requests
            if kind(r) == "call_record" and payload(r)["uuid"] == record["uuid"]
        ]
        assert pushed
        assert all(p == record for p in pushed)


def test_a_dead_call_state_url_does_not_delay_the_call_record(pbx: Pbx) -> None:
    """Events are ordered per call and destination: the call-state URL refusing every
    request (its first retry is 30 s away) holds back none of the call-record pushes."""
    states = Receiver(lambda _request: 503)
    records = Receiver()
    states.start()
    records.start()
    try:
        pbx.cli(
            "webhook", "set", "--company", COMPANY,
            "--call-state-url", states.url, "--cdr-url", records.url,
        )  # fmt: skip
        time.sleep(1)  # the running server reads changed settings within 0.5 s
        carrier = pbx.carrier("uas_busy.xml", calls=2)
        pbx.trunk_to(carrier)
        agent = pbx.phone(AGENT)
        with running(carrier, agent):
            agent.wait_registered()
            for n in range(2):
                assert make_call(pbx, f"dead-states-{n}")["data"]["status"] == 0
                agent.wait_closed(timeout=15)
        pushed = records.wait_for(2, timeout=10)
    finally:
        states.stop()
        records.stop()
    assert sorted(payload(r)["customuuid"] for r in pushed) == ["dead-states-0", "dead-states-1"]
    assert all(kind(r) == "call_record" for r in pushed)
    # Only the first state event of each call was tried; the rest wait behind its retry.
    assert {payload(r)["status"] for r in states.requests} == {"ring"}
    assert len({payload(r)["uuid"] for r in states.requests}) == 2
