"""App.Sip_Yccall.*: predictive tasks through the HTTP API (seed 002, docs/compat.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason
from callyard.services.cdrs import CdrService
from callyard.testing.clock import ManualClock
from tests.conftest import SipClient, Tenant
from tests.factories import call_record, caller_of

Y = "App.Sip_Yccall."
# Seed 002's example of a TaskInfo number, its keys in the seed's order.
SEED_002_NUMBER_KEYS = [
    "taskid", "telphone", "userid", "memberid", "chengshudu", "customuuid", "status",
    "extnumber", "answered", "answertype", "calltime", "duration", "billsec", "createtime",
    "mark",
]  # fmt: skip
SEED_002_PAGE_KEYS = ["totalitems", "currentpage", "itemsperpage", "result"]
TASK_LIST_KEYS = [
    "taskid", "name", "groupname", "status", "createtime", "total", "dialed", "answered",
    "connected", "abandoned", "abandonrate", "occupancy", "holdreason",
]  # fmt: skip


def ok(reply: dict[str, Any]) -> Any:
    """Asserts a success; returns `data.result` (None when there is none)."""
    assert reply["ret"] == 200, reply
    assert reply["msg"] == ""
    assert reply["data"]["status"] == 0, reply
    assert reply["data"]["desc"]
    return reply["data"].get("result")


def failed(reply: dict[str, Any]) -> int:
    """Asserts a business failure; returns its code."""
    assert reply["ret"] == 200, reply
    data = reply["data"]
    assert data["status"] == 1, reply
    assert data["desc"]
    assert data["errors"]["codemsg"]
    return int(data["errors"]["code"])


def invalid(reply: dict[str, Any], field: str) -> None:
    assert reply["ret"] == 400, reply
    assert reply["data"] == []
    assert reply["msg"].startswith("Illegal request: "), reply
    assert f" {field}" in reply["msg"], reply


class Tasks:
    """App.Sip_Yccall.* calls of one tenant."""

    def __init__(self, sip: SipClient, tenant: Tenant) -> None:
        self.sip = sip
        self.tenant = tenant

    async def call(self, service: str, **fields: Any) -> dict[str, Any]:
        return await self.sip.call({"service": Y + service, "token": self.tenant.token, **fields})

    async def create(self, numbers: Any = (), **fields: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": "January renewals",
            "groupname": "sales",
            "startdate": "2026-01-01",
            "enddate": "2026-01-31",
            **fields,
        }
        if numbers is not None:
            values["numbers"] = numbers if isinstance(numbers, str) else json.dumps(numbers)
        return await self.call("TaskCreate", **values)

    async def created(self, numbers: Any = (), **fields: Any) -> str:
        taskid: str = ok(await self.create(numbers, **fields))["taskid"]
        return taskid

    async def info(self, taskid: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = ok(await self.call("TaskInfo", taskid=taskid, **fields))
        return result

    async def listed(self, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = ok(await self.call("TaskList", **fields))
        return result


async def add_group(sip: SipClient, tenant: Tenant, name: str = "sales", status: int = 1) -> None:
    reply = await sip.call(
        {
            "service": "App.Sip_Extgroup.AddExtgroup",
            "token": tenant.token,
            "name": name,
            "status": status,
        }
    )
    assert reply["data"]["status"] == 0, reply


@pytest.fixture
async def tasks(sip: SipClient, tenant: Tenant) -> Tasks:
    await add_group(sip, tenant)
    return Tasks(sip, tenant)


@pytest.fixture
async def others(sip: SipClient, other: Tenant) -> Tasks:
    await add_group(sip, other)
    return Tasks(sip, other)


@pytest.fixture
async def cdrs(container: Container) -> AsyncIterator[CdrService]:
    """Call records whose hook finishes task attempts, as the dialer's records do."""
    service = CdrService(container.db, on_record=container.tasks.record_hook)
    yield service
    await service.close()


async def test_create_reports_added_duplicates_and_invalid_numbers(tasks: Tasks) -> None:
    numbers = [
        "62811110001",
        {"telphone": "62811110002", "userid": "u2", "memberid": "m2", "mark": "vip"},
        {"telphone": "+62811110003", "chengshudu": "3", "customuuid": "c3"},
        "62811110001",  # again in the same request
        "12",  # too short
        "0812-34a6",  # not digits
        {"userid": "no number"},
        None,
    ]
    result = ok(await tasks.create(numbers))
    assert list(result) == ["taskid", "added", "duplicates", "invalid"]
    assert len(result["taskid"]) == 20
    assert result["taskid"].isdigit()
    assert result["taskid"].startswith("20260101000000")  # the server's time, then 6 random
    assert result["added"] == 3
    assert result["duplicates"] == ["62811110001"]
    assert [n["telphone"] for n in result["invalid"]] == [
        "12",
        "0812-34a6",
        '{"userid":"no number"}',
        "null",
    ]
    assert all(n["reason"] for n in result["invalid"])
    assert "missing telphone" in result["invalid"][2]["reason"]

    info = await tasks.info(result["taskid"])
    assert [n["telphone"] for n in info["result"]] == [
        "62811110001",
        "62811110002",
        "+62811110003",
    ]
    second = info["result"][1]
    assert second == {
        "taskid": result["taskid"],
        "telphone": "62811110002",
        "userid": "u2",
        "memberid": "m2",
        "chengshudu": "",
        "customuuid": "",
        "status": 1035,
        "extnumber": None,
        "answered": None,
        "answertype": None,
        "calltime": None,
        "duration": 0,
        "billsec": 0,
        "createtime": "2026-01-01 00:00:00",
        "mark": "vip",
    }


async def test_append_reports_duplicates_against_the_task(tasks: Tasks) -> None:
    taskid = await tasks.created(["62811110001", "62811110002"])
    reply = await tasks.call(
        "TaskAppend",
        taskid=taskid,
        numbers=json.dumps(["62811110002", "62811110003", "62811110003", "abc", "62811110001"]),
    )
    assert ok(reply) == {
        "added": 1,
        "duplicates": ["62811110002", "62811110003", "62811110001"],
        "invalid": [
            {"telphone": "abc", "reason": "telphone 'abc' is not a phone number (3 to 32 digits)"}
        ],
    }
    info = await tasks.info(taskid)
    assert info["totalitems"] == 3
    assert [n["telphone"] for n in info["result"]] == [
        "62811110001",
        "62811110002",
        "62811110003",
    ]


async def test_a_task_may_be_created_without_numbers(tasks: Tasks) -> None:
    result = ok(await tasks.create(None))
    assert (result["added"], result["duplicates"], result["invalid"]) == (0, [], [])
    empty = ok(await tasks.create(["x1", "y"]))
    assert (empty["added"], len(empty["invalid"])) == (0, 2)
    added = ok(await tasks.call("TaskAppend", taskid=result["taskid"], numbers='["62811"]'))
    assert added["added"] == 1
    assert (await tasks.listed())["totalitems"] == 2


async def test_more_than_10000_numbers_is_400_and_stores_nothing(tasks: Tasks) -> None:
    too_many = [f"628{n:08d}" for n in range(10_001)]
    invalid(await tasks.create(too_many), "numbers")
    assert (await tasks.listed())["totalitems"] == 0

    taskid = await tasks.created(too_many[:10_000])
    assert (await tasks.info(taskid))["totalitems"] == 10_000
    invalid(await tasks.call("TaskAppend", taskid=taskid, numbers=json.dumps(too_many)), "numbers")
    assert (await tasks.info(taskid))["totalitems"] == 10_000


@pytest.mark.parametrize(
    "numbers",
    ['["62811110001",', '{"telphone": "62811110001"}', "62811110001", "[1, 2"],
)
async def test_numbers_that_are_not_a_json_array_are_400(tasks: Tasks, numbers: str) -> None:
    invalid(await tasks.create(numbers), "numbers")
    assert (await tasks.listed())["totalitems"] == 0
    taskid = await tasks.created(["62811110001"])
    invalid(await tasks.call("TaskAppend", taskid=taskid, numbers=numbers), "numbers")
    assert (await tasks.info(taskid))["totalitems"] == 1


async def test_append_needs_numbers(tasks: Tasks) -> None:
    taskid = await tasks.created()
    reply = await tasks.call("TaskAppend", taskid=taskid)
    assert reply["ret"] == 400
    assert reply["msg"] == "Illegal request: missing parameter numbers"


async def test_the_group_must_be_the_companys_and_enabled(
    sip: SipClient, tasks: Tasks, others: Tasks
) -> None:
    assert failed(await tasks.create(["62811110001"], groupname="nosuchgroup")) == 1211
    await add_group(sip, others.tenant, "globex-only")
    assert failed(await tasks.create(["62811110001"], groupname="globex-only")) == 1211
    await add_group(sip, tasks.tenant, "closed", status=0)
    assert failed(await tasks.create(["62811110001"], groupname="closed")) == 1210
    assert (await tasks.listed())["totalitems"] == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"windows": "10:00-10:00"}, "windows"),
        ({"windows": "18:00-09:00"}, "windows"),
        ({"windows": "9-18"}, "windows"),
        ({"windows": "09:00-12:00,11:00-13:00"}, "windows"),
        ({"windows": "09:00-24:00"}, "windows"),
        ({"startdate": "2026-01-10", "enddate": "2026-01-09"}, "enddate"),
        ({"startdate": "2025-12-01", "enddate": "2025-12-31"}, "enddate"),
        ({"startdate": "2026-02-30"}, "startdate"),
        ({"startdate": "01/02/2026"}, "startdate"),
        ({"ringtimeout": "14"}, "ringtimeout"),
        ({"ringtimeout": "61"}, "ringtimeout"),
        ({"maxattempts": "0"}, "maxattempts"),
        ({"maxattempts": "6"}, "maxattempts"),
        ({"abandonrate": "0.4"}, "abandonrate"),
        ({"abandonrate": "10.5"}, "abandonrate"),
        ({"retrybusy": "0"}, "retrybusy"),
        ({"retrynoanswer": "10,20,30,40,50"}, "retrynoanswer"),
        ({"retrynoanswer": "ten"}, "retrynoanswer"),
        ({"wrapup": "601"}, "wrapup"),
        ({"wrapup": "-1"}, "wrapup"),
        ({"name": "x" * 129}, "name"),
        ({"groupname": ""}, "groupname"),
        ({"enddate": ""}, "enddate"),
    ],
)
async def test_bad_settings_are_400_and_store_nothing(
    tasks: Tasks, fields: dict[str, str], field: str
) -> None:
    invalid(await tasks.create(["62811110001"], **fields), field)
    assert (await tasks.listed())["totalitems"] == 0


async def test_a_task_ending_today_is_accepted(tasks: Tasks) -> None:
    await tasks.created(startdate="2025-12-01", enddate="2026-01-01")


async def test_caller_id_must_be_an_enabled_number_of_the_company(
    container: Container, tasks: Tasks, others: Tasks
) -> None:
    await container.numbers.add(tasks.tenant.code, "02566823420")
    await container.numbers.add(tasks.tenant.code, "02566823421", enabled=False)
    await container.numbers.add(others.tenant.code, "02566823499")
    assert failed(await tasks.create(disnumber="0000111")) == 1020
    assert failed(await tasks.create(disnumber="02566823499")) == 1021
    assert failed(await tasks.create(disnumber="02566823421")) == 1019
    assert (await tasks.listed())["totalitems"] == 0
    await tasks.created(disnumber="02566823420")


async def test_state_transitions_and_their_refusals(tasks: Tasks) -> None:
    taskid = await tasks.created(["62811110001"])

    async def change(action: str) -> dict[str, Any]:
        return await tasks.call(action, taskid=taskid)

    async def status() -> int:
        listed = await tasks.listed()
        return int(next(t for t in listed["result"] if t["taskid"] == taskid)["status"])

    assert await status() == 1025
    assert failed(await change("TaskPause")) == 1025
    assert failed(await change("TaskResume")) == 1025
    assert ok(await change("TaskStart")) == 1026
    assert failed(await change("TaskStart")) == 1026
    assert failed(await change("TaskResume")) == 1026
    assert ok(await change("TaskPause")) == 1027
    assert failed(await change("TaskPause")) == 1027
    assert failed(await change("TaskStart")) == 1027
    assert await status() == 1027
    assert ok(await change("TaskResume")) == 1026
    assert ok(await change("TaskStop")) == 1028
    for action in ("TaskStart", "TaskPause", "TaskResume", "TaskStop"):
        assert failed(await change(action)) == 1028
    assert await status() == 1028
    appended = await tasks.call("TaskAppend", taskid=taskid, numbers='["62811110002"]')
    assert failed(appended) == 1028
    assert (await tasks.info(taskid))["totalitems"] == 1

    waiting = await tasks.created()
    assert ok(await tasks.call("TaskStop", taskid=waiting)) == 1028


async def test_unknown_and_other_companies_tasks_are_1024(tasks: Tasks, others: Tasks) -> None:
    theirs = await others.created(["62811110001"])
    for taskid in (theirs, "20260101000000123456", "not-a-task"):
        for action in (
            "TaskStart",
            "TaskPause",
            "TaskResume",
            "TaskStop",
            "TaskDelete",
            "TaskInfo",
        ):
            assert failed(await tasks.call(action, taskid=taskid)) == 1024, action
        assert failed(await tasks.call("TaskAppend", taskid=taskid, numbers="[]")) == 1024
    assert (await others.info(theirs))["totalitems"] == 1
    assert [t["status"] for t in (await others.listed())["result"]] == [1025]


async def test_delete_rules(tasks: Tasks) -> None:
    running = await tasks.created(["62811110001"])
    ok(await tasks.call("TaskStart", taskid=running))
    assert failed(await tasks.call("TaskDelete", taskid=running)) == 1026
    ok(await tasks.call("TaskPause", taskid=running))
    assert ok(await tasks.call("TaskDelete", taskid=running)) == []
    assert failed(await tasks.call("TaskInfo", taskid=running)) == 1024

    waiting = await tasks.created(["62811110001"])
    assert ok(await tasks.call("TaskDelete", taskid=waiting)) == []
    stopped = await tasks.created(["62811110001"])
    ok(await tasks.call("TaskStop", taskid=stopped))
    assert ok(await tasks.call("TaskDelete", taskid=stopped)) == []
    assert failed(await tasks.call("TaskDelete", taskid=stopped)) == 1024
    assert (await tasks.listed())["totalitems"] == 0


async def test_task_list_pages_newest_first_and_filters_by_status(
    clock: ManualClock, tasks: Tasks, others: Tasks
) -> None:
    await others.created(["62811110001"])
    ids = []
    for n in range(3):
        ids.append(await tasks.created([f"6281111000{i}" for i in range(n + 1)], name=f"t{n}"))
        clock.advance(60)
    ok(await tasks.call("TaskStart", taskid=ids[0]))

    first = await tasks.listed(itemsperpage="2")
    assert list(first) == SEED_002_PAGE_KEYS
    assert (first["totalitems"], first["currentpage"], first["itemsperpage"]) == (3, 1, 2)
    assert [t["taskid"] for t in first["result"]] == [ids[2], ids[1]]
    assert list(first["result"][0]) == TASK_LIST_KEYS
    assert first["result"][0] == {
        "taskid": ids[2],
        "name": "t2",
        "groupname": "sales",
        "status": 1025,
        "createtime": "2026-01-01 00:02:00",
        "total": 3,
        "dialed": 0,
        "answered": 0,
        "connected": 0,
        "abandoned": 0,
        "abandonrate": 0.0,
        "occupancy": 0.0,
        "holdreason": "",
    }
    second = await tasks.listed(itemsperpage="2", currentpage="2")
    assert [t["taskid"] for t in second["result"]] == [ids[0]]
    assert second["totalitems"] == 3
    beyond = await tasks.listed(currentpage="9")
    assert (beyond["totalitems"], beyond["result"]) == (3, [])

    running = await tasks.listed(status="1026")
    assert [t["taskid"] for t in running["result"]] == [ids[0]]
    assert running["totalitems"] == 1
    assert (await tasks.listed(status="1028"))["totalitems"] == 0
    invalid(await tasks.call("TaskList", status="1035"), "status")
    invalid(await tasks.call("TaskList", itemsperpage="101"), "itemsperpage")
    invalid(await tasks.call("TaskList", currentpage="0"), "currentpage")


async def _run_calls(
    container: Container, cdrs: CdrService, tenant: Tenant, taskid: str
) -> datetime:
    """Dial the task's four numbers once: connected (20 s talk), abandoned, busy, no answer."""
    caller = await caller_of(container, tenant.code)
    plan = next(p for p in await container.tasks.running() if p.taskid == taskid)
    now = container.clock.now()
    orders = await container.tasks.claim(plan.id, 4, now)
    assert len(orders) == 4
    outcomes: list[dict[str, Any]] = [
        {"extnumber": tenant.extensions[0], "billsec": 20},
        {"extnumber": "", "billsec": 5},
        {"answertime": None, "billsec": 0, "end_reason": EndReason.BUSY},
        {"answertime": None, "billsec": 0, "end_reason": EndReason.NO_ANSWER},
    ]
    for order, changes in zip(orders, outcomes, strict=True):
        await cdrs.record(
            call_record(
                caller,
                now,
                uuid=order.call_id,
                kind=CallKind.PREDICTIVE,
                destnumber=order.telphone,
                **changes,
            )
        )
    # The dialer counts both on its clock: 20 s talking of 80 agent-seconds staffed.
    await container.tasks.add_staffed_seconds(plan.id, 80.0, talking=20.0)
    return now


async def test_task_list_counters(container: Container, cdrs: CdrService, tasks: Tasks) -> None:
    taskid = await tasks.created([f"6281111000{i}" for i in range(4)], retrybusy="10")
    ok(await tasks.call("TaskStart", taskid=taskid))
    await _run_calls(container, cdrs, tasks.tenant, taskid)
    [row] = (await tasks.listed())["result"]
    assert {k: row[k] for k in TASK_LIST_KEYS[5:]} == {
        "total": 4,
        "dialed": 4,
        "answered": 2,
        "connected": 1,
        "abandoned": 1,
        "abandonrate": 50.0,  # of answered calls
        "occupancy": 25.0,  # 20 s talking of 80 agent-seconds staffed
        "holdreason": "",
    }
    assert row["status"] == 1026  # the busy number is due again in 10 minutes


async def test_task_info_pages_and_filters_in_seed_002s_shape(
    container: Container, cdrs: CdrService, tasks: Tasks
) -> None:
    numbers = [
        {"telphone": f"6281111000{i}", "userid": f"u{i}", "customuuid": f"c{i}", "mark": "m"}
        for i in range(4)
    ]
    taskid = await tasks.created([*numbers, "62822220000"], retrybusy="10")
    ok(await tasks.call("TaskStart", taskid=taskid))
    started = await _run_calls(container, cdrs, tasks.tenant, taskid)

    info = await tasks.info(taskid, itemsperpage="2", currentpage="1")
    assert list(info) == SEED_002_PAGE_KEYS
    assert (info["totalitems"], info["currentpage"], info["itemsperpage"]) == (5, 1, 2)
    for item in info["result"]:
        assert list(item) == SEED_002_NUMBER_KEYS
    connected, abandoned = info["result"]
    calltime = started.strftime("%Y-%m-%d %H:%M:%S")
    assert connected == {
        "taskid": taskid,
        "telphone": "62811110000",
        "userid": "u0",
        "memberid": "",
        "chengshudu": "",
        "customuuid": "c0",
        "status": 1036,
        "extnumber": tasks.tenant.extensions[0],
        "answered": 1,
        "answertype": "connected",
        "calltime": calltime,
        "duration": 30,
        "billsec": 20,
        "createtime": "2026-01-01 00:00:00",
        "mark": "m",
    }
    assert (abandoned["status"], abandoned["answered"], abandoned["answertype"]) == (
        1036,
        1,
        "caller",
    )
    assert abandoned["extnumber"] is None
    last = await tasks.info(taskid, itemsperpage="2", currentpage="3")
    assert [n["telphone"] for n in last["result"]] == ["62822220000"]
    assert last["result"][0]["calltime"] is None

    called = await tasks.info(taskid, status="1036")
    assert [n["telphone"] for n in called["result"]] == [
        "62811110000",
        "62811110001",
        "62811110003",
    ]
    waiting = await tasks.info(taskid, status="1035")
    assert [(n["telphone"], n["answertype"]) for n in waiting["result"]] == [
        ("62811110002", "callee"),  # busy: a retry is due in 10 minutes
        ("62822220000", None),
    ]
    callee = await tasks.info(taskid, answertype="callee")
    assert [n["telphone"] for n in callee["result"]] == ["62811110002", "62811110003"]
    assert [n["answered"] for n in callee["result"]] == [0, 0]
    both = await tasks.info(taskid, answertype="callee", status="1036")
    assert (both["totalitems"], [n["telphone"] for n in both["result"]]) == (1, ["62811110003"])
    assert (await tasks.info(taskid, answertype="caller"))["totalitems"] == 1

    invalid(await tasks.call("TaskInfo", taskid=taskid, status="1025"), "status")
    invalid(await tasks.call("TaskInfo", taskid=taskid, answertype="agent"), "answertype")
    invalid(await tasks.call("TaskInfo", taskid=taskid, itemsperpage="0"), "itemsperpage")
    reply = await tasks.call("TaskInfo")
    assert reply["msg"] == "Illegal request: missing parameter taskid"


async def test_the_yccall_module_can_be_unlicensed(container: Container, tasks: Tasks) -> None:
    await container.companies.set_capabilities(tasks.tenant.code, enable=[], disable=["campaigns"])
    assert (await tasks.create())["ret"] == 603
    assert (await tasks.call("TaskList"))["ret"] == 603


async def test_task_info_pages_up_to_1000_numbers(tasks: Tasks) -> None:
    taskid = await tasks.created([f"62811{i:06d}" for i in range(1001)])
    page = await tasks.info(taskid, itemsperpage="1000")
    assert (page["totalitems"], page["itemsperpage"], len(page["result"])) == (1001, 1000, 1000)
    last = await tasks.info(taskid, itemsperpage="1000", currentpage="2")
    assert [n["telphone"] for n in last["result"]] == ["62811001000"]
    invalid(await tasks.call("TaskInfo", taskid=taskid, itemsperpage="1001"), "itemsperpage")


async def test_numbers_written_with_separators_are_dialed_as_digits(tasks: Tasks) -> None:
    written = ["+62 (812) 345-6789", "0812.345.678", {"telphone": " 62-811-111 "}, "62 81x"]
    created = ok(await tasks.create(written))
    assert created["added"] == 3
    assert [entry["telphone"] for entry in created["invalid"]] == ["62 81x"]
    info = await tasks.info(created["taskid"])
    assert [n["telphone"] for n in info["result"]] == ["+628123456789", "0812345678", "62811111"]
    # The same number written two ways is one number.
    again = ok(await tasks.call("TaskAppend", taskid=created["taskid"], numbers='["0812 345 678"]'))
    assert (again["added"], again["duplicates"]) == (0, ["0812345678"])
