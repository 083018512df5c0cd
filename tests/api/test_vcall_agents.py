"""Agents of the vcall API (seed 003, M6): the catalog's requests and answers field by
field, one record with App.Sip_*'s extension, enablement and reset, bad input, other
companies."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from callyard.container import Container
from callyard.errors import BusinessError
from callyard.security import verify_secret
from callyard.services.agent_accounts import AgentAccounts
from callyard.services.agents import AgentBoard
from callyard.store.models import Agent
from callyard.switch.port import SwitchPort
from callyard.testing.clock import ManualClock
from tests.api.conftest import VcallClient
from tests.conftest import SipClient, Tenant
from tests.factories import caller_of
from tests.test_agents import Switch

SN = re.compile(r"^[0-9a-f]{32}$")
PASSWORD = "s3cret-pass"


async def create(vcall: VcallClient, number: str = "1000101", **fields: Any) -> str:
    body = {"agentName": "Dewi", "agentNumber": number, "password": PASSWORD, **fields}
    reply = await vcall.post("/api/agent/open/create", body)
    assert (reply["code"], reply["msg"]) == ("0", "success"), reply
    sn: str = reply["data"]
    return sn


async def records(vcall: VcallClient, **query: Any) -> list[dict[str, Any]]:
    reply = await vcall.get("/api/agent/open/page", **query)
    assert reply["code"] == "0", reply
    found: list[dict[str, Any]] = reply["data"]["records"]
    return found


async def group(vcall: VcallClient, name: str = "collections") -> str:
    reply = await vcall.post("/api/group/open/create", {"name": name, "policy": 0})
    sn: str = reply["data"]
    return sn


async def test_the_catalogs_create_then_page(
    vcall: VcallClient, sip: SipClient, tenant: Tenant
) -> None:
    group_sn = await group(vcall)
    reply = await vcall.post(
        "/api/agent/open/create",
        {
            "agentName": "Dewi",
            "agentNumber": "1000101",
            "groupSn": group_sn,
            "isSip": 0,
            "password": "******-1",
            "phone": "13800000001",
            "sipId": "210000000",
            "type": 0,
        },
    )
    assert reply == {"code": "0", "msg": "success", "data": reply["data"]}
    assert SN.match(reply["data"])

    page = await vcall.get("/api/agent/open/page", agentNumber="1000101")
    assert page["code"] == "0"
    assert page["data"]["total"] == 1
    (record,) = page["data"]["records"]
    assert record == {
        "sn": reply["data"],
        "agentNumber": "1000101",
        "agentName": "Dewi",
        "type": 0,
        "groupSn": group_sn,
        "groupName": "collections",
        "sipId": "210000000",
        "sipPassword": record["sipPassword"],
        "phone": "13800000001",
        "status": 1,
        "paramsData": "{}",
        "level": 1,
        "workingOffline": 0,
        "agentAutoIdleTime": None,
        "displayCaller": None,
        "offlineCallType": 0,
        "isSip": 0,
        "callMode": 1,
    }
    # One record: the SIP account is an extension App.Sip_* sees, checked in to the group.
    info = await sip.call(
        {
            "service": "App.Sip_Sipnum.GetSipnumberInfo",
            "token": tenant.token,
            "extnumber": "210000000",
        }
    )
    (extension,) = info["data"]["result"]
    assert extension["password"] == record["sipPassword"]
    members = await sip.call(
        {"service": "App.Sip_Extgroup.GetGroupExt", "token": tenant.token, "name": "collections"}
    )
    assert [m["extnumber"] for m in members["data"]] == ["210000000"]


async def test_without_a_sip_id_an_extension_is_made(
    vcall: VcallClient, tenant: Tenant, sip: SipClient
) -> None:
    await create(vcall, "0001")
    (record,) = await records(vcall)
    assert record["sipId"] == f"{tenant.code}0001"  # the company's code and the work number
    await create(vcall, "anna.k")
    second = (await records(vcall, agentNumber="anna.k"))[0]
    assert re.fullmatch(r"[1-9][0-9]{8}", second["sipId"])
    info = await sip.call({"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": tenant.token})
    numbers = {e["extnumber"] for e in info["data"]["result"]}
    assert {record["sipId"], second["sipId"]} <= numbers


async def test_an_existing_extension_becomes_the_agents(vcall: VcallClient, tenant: Tenant) -> None:
    await create(vcall, sipId=tenant.extensions[0])
    (record,) = await records(vcall)
    assert record["sipId"] == tenant.extensions[0]


async def test_the_password_is_kept_as_a_hash_only(
    vcall: VcallClient, container: Container
) -> None:
    await create(vcall)
    async with container.db.transaction() as session:
        agent = await session.get(Agent, 1)
        assert agent is not None
        assert PASSWORD not in agent.password_hash
        assert verify_secret(PASSWORD, agent.password_hash)


async def test_update_changes_what_it_names_only(vcall: VcallClient) -> None:
    first, second = await group(vcall, "north"), await group(vcall, "south")
    sn = await create(vcall, groupSn=first, phone="13800000001", level=3)
    reply = await vcall.post(
        f"/api/agent/open/{sn}",
        {"agentNumber": "1000101", "groupSn": second, "phone": "13800000002", "type": 1},
    )
    assert reply == {"code": "0", "msg": "success", "data": sn}
    (record,) = await records(vcall)
    assert (record["phone"], record["type"], record["level"]) == ("13800000002", 1, 3)
    assert (record["groupSn"], record["groupName"]) == (second, "south")
    # It moved: the old home group no longer has it.
    groups = {g["name"]: g for g in (await vcall.get("/api/group/open/page"))["data"]["records"]}
    assert (groups["north"]["agentSnList"], groups["south"]["agentSnList"]) == ([], [sn])


async def test_page_filters_and_paging(vcall: VcallClient) -> None:
    north = await group(vcall, "north")
    await create(vcall, "1001", agentName="Ana", phone="13800000001", groupSn=north)
    await create(vcall, "1002", agentName="Budi", type=1)
    disabled = await create(vcall, "1003", agentName="Citra")
    assert (await vcall.post_query(f"/api/agent/open/{disabled}/status", status=0))["code"] == "0"

    def numbers(found: list[dict[str, Any]]) -> list[str]:
        return [r["agentNumber"] for r in found]

    assert numbers(await records(vcall)) == ["1001", "1002", "1003"]
    assert numbers(await records(vcall, agentName="ud")) == ["1002"]
    assert numbers(await records(vcall, groupSn=north)) == ["1001"]
    assert numbers(await records(vcall, phone="13800000001")) == ["1001"]
    assert numbers(await records(vcall, status=0)) == ["1003"]
    assert numbers(await records(vcall, status=1, type=0)) == ["1001"]
    assert numbers(await records(vcall, type=1)) == ["1002"]
    page = await vcall.get("/agent/open/page", pageNo=2, pageSize=2)  # without /api
    assert (page["data"]["total"], numbers(page["data"]["records"])) == (3, ["1003"])


async def test_disable_and_enable_the_agent_and_its_extension(
    vcall: VcallClient, sip: SipClient, tenant: Tenant
) -> None:
    sn = await create(vcall, sipId=tenant.extensions[1])
    reply = await vcall.post_query(f"/api/agent/open/{sn}/status", status=0)
    assert reply == {"code": "0", "msg": "success", "data": None}
    info = await sip.call(
        {
            "service": "App.Sip_Sipnum.GetSipnumberInfo",
            "token": tenant.token,
            "status": 2,
            "extnumber": tenant.extensions[1],
        }
    )
    assert info["data"]["result"][0]["status"] == 1013  # disabled, as App.Sip_* sees it
    assert (await records(vcall))[0]["status"] == 0
    # The seed's example path, without /api.
    assert (await vcall.post_query(f"/agent/open/{sn}/status", status=1))["code"] == "0"
    assert (await records(vcall))[0]["status"] == 1


async def test_status_and_reset_are_refused_with_1005009_while_in_a_call(
    container: Container, tenant: Tenant, clock: ManualClock, vcall: VcallClient
) -> None:
    sn = await create(vcall, sipId=tenant.extensions[0])
    switch = Switch({tenant.extensions[0]})
    board = AgentBoard(cast(SwitchPort, switch), container.directory)
    accounts = AgentAccounts(container.db, clock, board, container.directory)
    caller = await caller_of(container, tenant.code)
    switch.busy = {tenant.extensions[0]}
    for attempt in (accounts.set_enabled(caller, sn, False), accounts.reset(caller, sn)):
        with pytest.raises(BusinessError) as refused:
            await attempt
        assert refused.value.desc == f"Agent on extension {tenant.extensions[0]} is in a call"
    assert (await records(vcall))[0]["status"] == 1  # nothing changed
    switch.busy = set()
    await accounts.set_enabled(caller, sn, False)


async def test_reset_puts_the_agent_idle_and_out_of_wrap_up(
    vcall: VcallClient, container: Container, sip: SipClient, tenant: Tenant, clock: ManualClock
) -> None:
    sn = await create(vcall, sipId=tenant.extensions[0], groupSn=await group(vcall))
    await sip.call(
        {
            "service": "App.Sip_Extgroup.EditExtnumber",
            "token": tenant.token,
            "name": "collections",
            "extnumber": tenant.extensions[0],
            "state": "busy",
        }
    )
    container.agents.wrap_up(tenant.extensions[0], clock.monotonic(), 60)
    reply = await vcall.post_query(f"/api/agent/open/{sn}/reset")
    assert reply == {"code": "0", "msg": "success", "data": None}
    members = await sip.call(
        {"service": "App.Sip_Extgroup.GetGroupExt", "token": tenant.token, "name": "collections"}
    )
    assert members["data"][0]["state"] == "idle"
    view = await container.agents.agent(tenant.extensions[0], clock.monotonic())
    assert view is not None
    assert view.phase.value == "idle"


async def test_bad_input_gets_minus_one_with_the_field_and_writes_nothing(
    vcall: VcallClient, other: Tenant, tenant: Tenant, sip: SipClient
) -> None:
    valid = {"agentName": "Dewi", "agentNumber": "1001", "password": PASSWORD}
    bad: list[dict[str, Any]] = [
        {"agentName": "Dewi", "password": PASSWORD},  # no work number
        {**valid, "agentName": ""},
        {**valid, "agentNumber": "10 01"},
        {**valid, "agentNumber": 1001},  # the seed's type is a string
        {**valid, "password": "12345"},
        {k: v for k, v in valid.items() if k != "password"},
        {**valid, "type": 2},
        {**valid, "type": "0"},
        {**valid, "isSip": True},
        {**valid, "level": 100},
        {**valid, "phone": "call me"},
        {**valid, "sipId": "12a"},
        {**valid, "sipId": other.extensions[0]},  # another company's extension
        {**valid, "groupSn": "0" * 32},  # no such group
        {**valid, "displayCaller": "x" * 22},
        {**valid, "callMode": 4},
    ]
    before = await sip.call({"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": tenant.token})
    for body in bad:
        reply = await vcall.post("/api/agent/open/create", body)
        assert reply["code"] == "-1", (body, reply)
        assert reply["data"] is None
        assert reply["msg"]
        assert "Traceback" not in reply["msg"]
    assert await records(vcall) == []
    after = await sip.call({"service": "App.Sip_Sipnum.GetSipnumberInfo", "token": tenant.token})
    assert after == before  # no extension was made for a refused agent

    sn = await create(vcall, "1001", sipId=tenant.extensions[0])
    for body, message in [
        ({**valid, "agentNumber": "1001"}, "Agent 1001 already exists"),
        ({**valid, "agentNumber": "1002", "sipId": tenant.extensions[0]}, "is another agent's"),
    ]:
        reply = await vcall.post("/api/agent/open/create", body)
        assert reply["code"] == "-1"
        assert message in reply["msg"]
    for path in (f"/api/agent/open/{'0' * 32}/status", f"/api/agent/open/{'0' * 32}/reset"):
        reply = await vcall.post_query(path, status=0)
        assert (reply["code"], reply["msg"]) == ("-1", f"No agent {'0' * 32}")
    missing = await vcall.post_query(f"/api/agent/open/{sn}/status")
    assert (missing["code"], missing["msg"]) == ("-1", "status: missing parameter")


async def test_another_companys_agents_are_never_seen_or_changed(
    vcall: VcallClient, vcall_other: VcallClient
) -> None:
    sn = await create(vcall)
    assert await records(vcall_other) == []
    for reply in (
        await vcall_other.post(f"/api/agent/open/{sn}", {"agentName": "taken over"}),
        await vcall_other.post_query(f"/api/agent/open/{sn}/status", status=0),
        await vcall_other.post_query(f"/api/agent/open/{sn}/reset"),
    ):
        assert (reply["code"], reply["msg"]) == ("-1", f"No agent {sn}")
    (record,) = await records(vcall)
    assert (record["agentName"], record["status"]) == ("Dewi", 1)
    # The same work number is free in another company.
    await create(vcall_other)
    expired = await vcall.http.get("/api/agent/open/page", params={"token": "f" * 32})
    assert expired.json()["code"] == "403"
