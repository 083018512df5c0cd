"""A predictive task run to its end with real calls through `callyard serve`: SIPp as the
carrier (answering, busy or ringing by each number's last digit), baresip phones as the
agents (auto-answer), a pause, and a SIGKILL of the server in the middle.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callyard.testing.receiver import Receiver
from callyard.testing.sip import Baresip, Sipp
from tests.switch.pbx import CALLER_ID, COMPANY, Pbx, open_pbx, start_server
from tests.switch.test_webhooks_e2e import hook_up

pytestmark = pytest.mark.sip

AGENTS = ["10010001", "10010002", "10010003", "10010004", "10010005"]
GROUP = "outbound"
NUMBERS = [f"6281230{n:04d}" for n in range(200)]  # last digit: 0-5 answer, 6-8 busy, 9 rings out
OUTSIDE_WINDOW = "628123999990"


def ok(reply: dict[str, Any]) -> Any:
    assert reply["ret"] == 200, reply
    assert reply["data"]["status"] == 0, reply
    return reply["data"].get("result")


def task_numbers(pbx: Pbx, taskid: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        result = ok(
            pbx.api(
                "App.Sip_Yccall.TaskInfo", taskid=taskid, currentpage=str(page), itemsperpage="100"
            )
        )
        rows += result["result"]
        if len(rows) >= result["totalitems"]:
            return rows
        page += 1


def task_row(pbx: Pbx, taskid: str) -> dict[str, Any]:
    listed = ok(pbx.api("App.Sip_Yccall.TaskList", itemsperpage="100"))
    row: dict[str, Any] = next(t for t in listed["result"] if t["taskid"] == taskid)
    return row


def invites_by_number(carrier: Sipp) -> dict[str, set[str]]:
    """The distinct calls (Call-IDs) the carrier received for each dialed number."""
    calls: dict[str, set[str]] = defaultdict(set)
    for message in carrier.received("INVITE"):
        user = message.first_line.split()[1].removeprefix("sip:").split("@")[0]
        calls[user].add(message.call_id)
    return calls


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text exposition."""
    wanted = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.startswith(name + "{"):
            got = "{" + ",".join(sorted(series[len(name) + 1 : -1].split(","))) + "}"
            if got == wanted:
                return float(value)
    raise AssertionError(f"no {name}{wanted} in /metrics")


def all_records(pbx: Pbx) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{pbx.server.url}/admin/companies/{COMPANY}/cdrs",
        params={"limit": "1000"},
        headers={"Authorization": f"Bearer {pbx.admin_key}"},
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def start_agents(pbx: Pbx) -> list[Baresip]:
    """The agents' phones, started side by side (each takes a while to come up)."""
    phones = [pbx.phone(number) for number in AGENTS]
    with ThreadPoolExecutor(len(phones)) as pool:
        list(pool.map(lambda phone: phone.start().wait_registered(), phones))
    return phones


def stop_agents(phones: list[Baresip], timeout: float = 5.0) -> None:
    with ThreadPoolExecutor(len(phones) or 1) as pool:
        list(pool.map(lambda phone: phone.stop(timeout), phones))


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_task_runs_to_its_end_through_pause_and_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    receiver = Receiver()
    carrier: Sipp | None = None
    phones: list[Baresip] = []
    server = start_server(data_dir)
    try:
        pbx = open_pbx(server, tmp_path)
        pbx.cli("number", "add", "--company", COMPANY, "--number", CALLER_ID)
        carrier = pbx.carrier("uas_by_last_digit.xml")
        carrier.start()
        pbx.trunk_to(carrier)
        ok(pbx.api("App.Sip_Extgroup.AddExtgroup", name=GROUP, status="1"))
        for number in AGENTS:
            ok(pbx.api("App.Sip_Extgroup.AddExtnumber", name=GROUP, extnumber=number))
        phones = start_agents(pbx)
        receiver.start()
        hook_up(pbx, receiver)

        today = datetime.now().date()
        created = ok(
            pbx.api(
                "App.Sip_Yccall.TaskCreate",
                name="renewals",
                groupname=GROUP,
                numbers=json.dumps(
                    [{"telphone": n, "customuuid": f"c-{n}", "mark": "e2e"} for n in NUMBERS]
                ),
                startdate=str(today - timedelta(days=1)),
                enddate=str(today + timedelta(days=1)),
                windows="00:00-23:59",
                ringtimeout="15",
                wrapup="0",
            )
        )
        taskid = created["taskid"]
        assert created["added"] == len(NUMBERS)
        assert task_row(pbx, taskid)["status"] == 1025
        ok(pbx.api("App.Sip_Yccall.TaskStart", taskid=taskid))
        # A task whose window is closed now is running, but dials nothing.
        closed = ok(
            pbx.api(
                "App.Sip_Yccall.TaskCreate",
                name="later",
                groupname=GROUP,
                numbers=json.dumps([OUTSIDE_WINDOW]),
                startdate=str(today),
                enddate=str(today + timedelta(days=1)),
                windows="13:00-14:00" if datetime.now().hour < 12 else "01:00-02:00",
                ringtimeout="15",
            )
        )["taskid"]
        ok(pbx.api("App.Sip_Yccall.TaskStart", taskid=closed))

        # Pause: dialing stops (calls already placed finish), then resumes. Meanwhile
        # occupancy (agents' time on calls over their staffed time) stays a share.
        occupancies: list[float] = []

        def forty_dialed() -> bool:
            occupancies.append(task_row(pbx, taskid)["occupancy"])
            return len(invites_by_number(carrier)) >= 40

        wait_for(forty_dialed, 60, "40 numbers dialed")
        assert all(0 <= share <= 100 for share in occupancies), occupancies

        # /metrics follows the running task (refreshed every second).
        def metrics_dialed() -> float:
            text = httpx.get(f"{pbx.server.url}/metrics").text
            return metric(text, "callyard_task_calls", taskid=taskid, outcome="dialed")

        wait_for(lambda: metrics_dialed() >= 40, 10, "/metrics to count 40 dialed")
        metrics = httpx.get(f"{pbx.server.url}/metrics").text
        assert metric(metrics, "callyard_task_agents", taskid=taskid, state="staffed") == 5
        ok(pbx.api("App.Sip_Yccall.TaskPause", taskid=taskid))
        time.sleep(1.0)
        paused_at = len(invites_by_number(carrier))
        time.sleep(3.0)
        assert len(invites_by_number(carrier)) == paused_at, "dialing went on while paused"
        assert task_row(pbx, taskid)["status"] == 1027
        ok(pbx.api("App.Sip_Yccall.TaskResume", taskid=taskid))

        # Kill -9 in the middle of the task, then start again on the same data.
        wait_for(lambda: len(invites_by_number(carrier)) >= 110, 120, "110 numbers dialed")
        server.process.kill()
        server.process.wait(10)
        dialed_before_kill = len(invites_by_number(carrier))
        stop_agents(phones, timeout=0.5)  # nobody is left to unregister from
        server.stop()

        server = start_server(data_dir)
        pbx = open_pbx(server, tmp_path)
        phones = start_agents(pbx)
        wait_for(lambda: task_row(pbx, taskid)["status"] == 1028, 180, "the task to end")
        numbers = task_numbers(pbx, taskid)
        waiting = task_numbers(pbx, closed)
        row = task_row(pbx, taskid)
        records = [r for r in all_records(pbx) if r["callmethod"] == 5]
    finally:
        stop_agents(phones)
        if carrier is not None:
            carrier.stop()
        server.stop()
        receiver.stop()

    assert dialed_before_kill < len(NUMBERS)
    invites = invites_by_number(carrier)
    assert OUTSIDE_WINDOW not in invites
    assert [(n["status"], n["calltime"]) for n in waiting] == [(1035, None)]
    # Every number was dialed exactly once: none lost, none twice (no retry rules here).
    assert set(invites) == set(NUMBERS)
    assert {n: len(calls) for n, calls in invites.items() if len(calls) != 1} == {}

    by_number = {r["telphone"]: r for r in numbers}
    assert set(by_number) == set(NUMBERS)
    assert {r["status"] for r in numbers} == {1036}
    records_by_number = Counter(r["destnumber"] for r in records)
    assert records_by_number == Counter(NUMBERS), "one call record per attempt"
    record_of = {r["destnumber"]: r for r in records}

    for number, info in by_number.items():
        record = record_of[number]
        assert info["customuuid"] == record["customuuid"] == f"c-{number}"
        digit = int(number[-1])
        cut_by_kill = record["hangupcause"] == 10007 and record["answertime"] in ("", None)
        if cut_by_kill:
            assert info["answertype"] == "callee"
            continue
        if digit <= 5:
            assert info["answered"] == 1, (number, info, record)
            assert info["answertype"] in ("connected", "caller")
            connected = info["answertype"] == "connected"
            assert (record["extnumber"] in AGENTS) == connected
            if connected:
                assert info["extnumber"] == record["extnumber"]
        else:
            assert (info["answered"], info["answertype"]) == (0, "callee"), (number, info)
            assert record["hangupcause"] == (10006 if digit in (6, 7, 8) else 10016)

    answered = sum(1 for r in records if r["answertime"] not in ("", None))
    connected = sum(1 for r in records if r["extnumber"])
    assert row["dialed"] == len(records) == len(NUMBERS)
    assert row["answered"] == answered
    assert row["connected"] == connected
    assert row["abandoned"] == answered - connected
    assert connected > 0.8 * answered, "most answered customers reached an agent"

    # Webhooks: call states and records of the task's calls carry method 5.
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in receiver.requests:
        by_kind[request.headers["x-callyard-event"]].append(json.loads(request.body))
    task_calls = {r["uuid"] for r in records}
    states = [s for s in by_kind["call_state"] if s["uuid"] in task_calls]
    assert states
    assert {s["method"] for s in states} == {"5"}
    pushed = [r for r in by_kind["call_record"] if r["uuid"] in task_calls]
    assert pushed
    assert {r["callmethod"] for r in pushed} == {5}


def test_a_task_holds_its_numbers_while_its_carrier_is_unreachable(pbx: Pbx) -> None:
    """Nothing answers where the trunk points: the first dials fail on the line and are
    not counted, the task holds its numbers and says why (TaskList, /metrics, the log),
    and when the carrier answers again the task dials every number once and ends."""
    numbers = [f"6281230{n:04d}" for n in (6, 7, 8, 16, 17, 18)]  # the carrier: busy
    agent = pbx.phone(AGENTS[0])
    carrier = pbx.carrier("uas_by_last_digit.xml", extra_args=("-aa",))  # -aa: OPTIONS 200
    try:
        pbx.trunk_to(carrier)  # not started yet: nothing listens on its port
        ok(pbx.api("App.Sip_Extgroup.AddExtgroup", name=GROUP, status="1"))
        ok(pbx.api("App.Sip_Extgroup.AddExtnumber", name=GROUP, extnumber=AGENTS[0]))
        agent.start().wait_registered()
        today = datetime.now().date()
        taskid = ok(
            pbx.api(
                "App.Sip_Yccall.TaskCreate",
                name="carrier down",
                groupname=GROUP,
                numbers=json.dumps(numbers),
                startdate=str(today - timedelta(days=1)),
                enddate=str(today + timedelta(days=1)),
                windows="00:00-23:59",
                ringtimeout="15",
                wrapup="0",
            )
        )["taskid"]
        ok(pbx.api("App.Sip_Yccall.TaskStart", taskid=taskid))
        wait_for(lambda: task_row(pbx, taskid)["holdreason"], 60, "the task to hold")
        held = task_row(pbx, taskid)
        assert "trunk does not answer" in held["holdreason"]
        assert (held["status"], held["dialed"]) == (1026, 0)  # no attempt counted
        time.sleep(1.5)  # /metrics is refreshed every second
        metrics = httpx.get(f"{pbx.server.url}/metrics").text
        assert metric(metrics, "callyard_task_held", taskid=taskid) == 1
        assert "task holds its numbers" in pbx.server.stderr
        line_failures = [r for r in all_records(pbx) if r["callmethod"] == 5]
        assert line_failures
        assert {r["hangupcause"] for r in line_failures} == {10004}
        assert {n["status"] for n in task_numbers(pbx, taskid)} == {1035}
        # Held: nothing more is dialed.
        failed_so_far = len(line_failures)
        time.sleep(3)
        assert len([r for r in all_records(pbx) if r["callmethod"] == 5]) == failed_so_far

        carrier.start()  # the carrier is back: the next probe finds it
        wait_for(lambda: task_row(pbx, taskid)["status"] == 1028, 90, "the task to end")
        row = task_row(pbx, taskid)
        infos = task_numbers(pbx, taskid)
    finally:
        agent.stop()
        carrier.stop()
    assert (row["holdreason"], row["dialed"]) == ("", len(numbers))
    assert {(n["status"], n["answertype"]) for n in infos} == {(1036, "callee")}
    invites = invites_by_number(carrier)
    assert set(invites) == set(numbers)
    assert all(len(calls) == 1 for calls in invites.values())
