"""Inbound queue (ACD) benchmark: real calls through callyard, on loopback (see
bench/README.md). bench/acd/run runs this inside a network namespace of its own:

  SIPp UAC (uac_g711a.xml: the carrier's callers, dialing the group's number)
      -> callyard serve (switch, relay, queue, recording, call records)
      -> SIPp UAS (uas_answer_echo.xml: every agent's phone, answering, echoing the media
         and hanging up BENCH_ACD_TALK_MS after answering)

  Every agent signed in through the CTI's WebSocket (callyard.testing.cti.AgentDesk,
  one socket per agent, in this process), ready, with its group's auto-idle at 0 s.

callyard is provisioned through its CLI and the vcall API before the callers start: a
company, a trunk to the caller's SIPp (so that its INVITEs are a carrier's), the group
with a queue and the company's number routed to it, BENCH_ACD_AGENTS agents, each on an
extension registered (digest) from the UAS's address. The UAC places BENCH_ACD_CALLS
calls at BENCH_ACD_RATE per second.

Reported:
- offer latency: from a caller's entry into the queue (its events' `inQueueTime`) to the
  agent's phone ringing (`AgentRinging`'s `eventTime`), both callyard's clock, for the
  calls that found an agent free; p50, p99, max;
- calls per second through the queue (answered by an agent), and the calls abandoned;
- WebSocket events per second and their delivery delay (the event's `eventTime` to its
  arrival here), p50 and p99;
- offers to an agent that was not idle: every `Lock` must follow an `Idle` (goal 0).

There is no reference here: no other ACD runs on this machine.

Settings (environment): BENCH_ACD_AGENTS (200), BENCH_ACD_CALLS (1000), BENCH_ACD_RATE
(50), BENCH_ACD_TALK_MS (2000), BENCH_KEEP (1 keeps the work directory), BENCH_RESULTS
(bench/results/acd.json).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from call_targets import register

from callyard.testing.cti import AgentDesk
from callyard.testing.server import Server, callyard
from callyard.testing.sip import Sipp, free_udp_port, prepare_pcap_dir

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "622150001"
PASSWORD = "s3cret-pass"
GROUP = "sales"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Provisioner:
    """The company, its agents and its queue, through the CLI and the vcall API."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.data = server.data_dir

    def cli(self, *args: str) -> Any:
        return callyard(*args, "--data-dir", str(self.data))

    def company(self, carrier_port: int) -> str:
        code = str(self.cli("company", "create", "--name", "bench-acd")["companycode"])
        self.cli("trunk", "add", "--company", code, "--name", "carrier", "--host", "127.0.0.1",
                 "--port", str(carrier_port))  # fmt: skip
        self.cli("number", "add", "--company", code, "--number", NUMBER)
        return code

    def agents(self, code: str, count: int) -> list[tuple[str, str, str]]:
        """(work number, extension, SIP password) of each new agent, in one group."""
        key = self.cli("credential", "issue", "--company", code, "--kind", "vcall")
        token = httpx.post(
            f"{self.server.url}/api/token",
            json={"accessKeyId": key["key_id"], "accessKeySecret": key["secret"]},
        ).json()["data"]["token"]
        api = httpx.Client(base_url=self.server.url, timeout=30)
        group = api.post(
            "/api/group/open/create",
            json={"token": token, "name": GROUP, "policy": 2, "agentAutoIdle": "1",
                  "agentAutoIdleTime": 0},
        ).json()["data"]  # fmt: skip
        agents = []
        for n in range(count):
            number = f"{n + 1:04d}"
            extension = f"{code}{8000 + n}"
            reply = api.post(
                "/api/agent/open/create",
                json={"token": token, "agentName": f"Agent {number}", "agentNumber": number,
                      "password": PASSWORD, "sipId": extension, "groupSn": group},
            ).json()  # fmt: skip
            assert reply["code"] == "0", reply
            agents.append((number, extension, ""))
        page = api.get("/api/agent/open/page", params={"token": token, "pageSize": 500}).json()[
            "data"
        ]["records"]
        passwords = {r["sipId"]: r["sipPassword"] for r in page}
        self.cli("queue", "set", "--company", code, "--group", GROUP, "--ring-seconds", "10",
                 "--max-wait", "600", "--max-size", "5000")  # fmt: skip
        self.cli("number", "route", "--company", code, "--number", NUMBER, "--group", GROUP)
        return [(n, e, passwords[e]) for n, e, _ in agents]


def sign_in(server: Server, code: str, agents: list[tuple[str, str, str]]) -> list[AgentDesk]:
    desks = []
    for number, _extension, _password in agents:
        desk = AgentDesk(server.url)
        answer = desk.ask("login", companyId=code, agentNumber=number, password=PASSWORD,
                          loginType="1")  # fmt: skip
        assert answer["code"] == "0", answer
        assert desk.ask("idle")["code"] == "0"
        desks.append(desk)
    return desks


def analyse(desks: list[AgentDesk], seconds: float) -> dict[str, Any]:
    offers: list[float] = []
    deliveries: list[float] = []
    events = not_idle = 0
    for desk in desks:
        desk_events = desk.events
        events += len(desk_events)
        for message, arrived in zip(desk.messages, desk.received_at, strict=True):
            if message.get("type") == "event":
                deliveries.append(arrived * 1000 - message["eventTime"])
        previous = None
        for event in desk_events:
            if event["event"] == "Lock" and previous is not None and previous != "Idle":
                not_idle += 1
            if event["event"] == "AgentRinging" and event["data"]["inQueueTime"]:
                offers.append(event["eventTime"] - event["data"]["inQueueTime"])
            previous = event["nowState"]
    return {
        "offer_ms": {
            "count": len(offers),
            "p50": percentile(offers, 0.5),
            "p99": percentile(offers, 0.99),
            "max": max(offers, default=None),
        },
        "socket_events": events,
        "socket_events_per_second": round(events / seconds, 1),
        "socket_delivery_ms": {
            "p50": percentile(deliveries, 0.5),
            "p99": percentile(deliveries, 0.99),
        },
        "offers_to_agents_not_idle": not_idle,
    }


def main() -> int:
    agents_count = env_int("BENCH_ACD_AGENTS", 200)
    calls = env_int("BENCH_ACD_CALLS", 1000)
    rate = env_int("BENCH_ACD_RATE", 50)
    talk_ms = env_int("BENCH_ACD_TALK_MS", 2000)
    work = Path(tempfile.mkdtemp(prefix="bench-acd-"))
    results = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results" / "acd.json")
    server = Server(work / "data", "--rtp-ports", "20000-29999",
                    env={"CALLYARD_LOG_LEVEL": "warning"})  # fmt: skip
    phones = Sipp("uas_answer_echo.xml", work / "phones", recv_timeout_ms=talk_ms,
                  trace_messages=False, name="phones")  # fmt: skip
    caller_port = free_udp_port()
    provision = Provisioner(server)
    try:
        code = provision.company(caller_port)
        agents = provision.agents(code, agents_count)
        time.sleep(1)  # the routing table follows the store within 0.5 s
        for _number, extension, password in agents:  # from where the phones answer
            register(("127.0.0.1", server.sip_port), phones.port, extension, password)
        phones.start()
        desks = sign_in(server, code, agents)
        callers_dir = work / "callers"
        prepare_pcap_dir(callers_dir, seconds=3)
        callers = Sipp("uac_g711a.xml", callers_dir, remote=f"127.0.0.1:{server.sip_port}",
                       port=caller_port, service=NUMBER, calls=calls, rate=rate,
                       duration_ms=600_000, timeout_s=calls / rate + 600,
                       trace_messages=False, name="callers")  # fmt: skip
        started = time.monotonic()
        callers.start()
        result = callers.wait(timeout=calls / rate + 600)
        seconds = time.monotonic() - started
        time.sleep(2)
        metrics = httpx.get(f"{server.url}/metrics").text
        answered = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("callyard_queue_callers_total") and 'outcome="answered"' in line
        )
        with contextlib.closing(
            sqlite3.connect(f"file:{server.data_dir / 'callyard.db'}?mode=ro", uri=True)
        ) as db:
            records, answered_records, by_agents = db.execute(
                "SELECT count(*), coalesce(sum(answertime IS NOT NULL), 0),"
                " coalesce(sum(extnumber != ''), 0) FROM call_records WHERE kind = ?",
                ("inbound_group",),
            ).fetchone()
        report = {
            "agents": agents_count,
            "calls": calls,
            "rate": rate,
            "talk_ms": talk_ms,
            "seconds": round(seconds, 1),
            # SIPp counts a call as failed when the other side (the agent) hangs up first.
            "sipp": {"successful": result.successful, "failed": result.failed},
            "call_records": {
                "total": records,
                "answered": answered_records,
                "with_agent": by_agents,
            },
            "answered_by_agents": answered,
            "calls_per_second": round(answered / seconds, 1),
            **analyse(desks, seconds),
            "cpu_count": os.cpu_count(),
        }
        for desk in desks:
            desk.close()
    finally:
        phones.stop()
        server.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["offers_to_agents_not_idle"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
