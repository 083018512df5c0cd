"""Skill groups of the vcall API (seed 003, M5): the catalog's requests and answers field
by field, one model with App.Sip_*'s extension groups, bad input, other companies."""

from __future__ import annotations

import re
from typing import Any

from callyard.container import Container
from callyard.testing.clock import ManualClock
from tests.api.conftest import VcallClient, vcall_client
from tests.conftest import SipClient, Tenant

SN = re.compile(r"^[0-9a-f]{32}$")


async def create(vcall: VcallClient, **fields: Any) -> str:
    reply = await vcall.post(
        "/api/group/open/create", {"name": "collections", "policy": 0, **fields}
    )
    assert (reply["code"], reply["msg"]) == ("0", "success"), reply
    sn: str = reply["data"]
    return sn


async def records(vcall: VcallClient, **query: Any) -> list[dict[str, Any]]:
    reply = await vcall.get("/api/group/open/page", **query)
    assert reply["code"] == "0", reply
    found: list[dict[str, Any]] = reply["data"]["records"]
    assert reply["data"]["total"] >= len(found)
    return found


async def test_the_catalogs_create_then_page(vcall: VcallClient) -> None:
    reply = await vcall.post(
        "/api/group/open/create", {"name": "collections", "policy": 0, "agentSnList": []}
    )
    assert reply == {"code": "0", "msg": "success", "data": reply["data"]}
    assert SN.match(reply["data"])

    page = await vcall.get("/api/group/open/page")
    assert page["code"] == "0"
    assert page["data"] == {
        "total": 1,
        "records": [
            {
                "sn": reply["data"],
                "name": "collections",
                "deptName": "",
                "policy": 0,
                "agentSnList": [],
                "agentTotal": 0,
                "popupWindowUrl": "",
                "caller": "",
                "agentAutoIdle": 0,
                "agentAutoIdleTime": None,
                "onlyTransferToCurrent": 0,
                "agentMakeCall": 1,
                "remark": "",
            }
        ],
    }


async def test_every_field_is_kept_and_shown_in_its_type(vcall: VcallClient) -> None:
    sn = await create(
        vcall,
        policy=3,
        popupWindowUrl="https://crm.example.com/pop?caller=",
        caller="02150001111",
        agentAutoIdle="1",
        agentAutoIdleTime=15,
        onlyTransferToCurrent=1,
        agentMakeCall=0,
        remark="day shift",
        deptName="recovery",
    )
    (record,) = await records(vcall)
    assert record == {
        "sn": sn,
        "name": "collections",
        "deptName": "recovery",
        "policy": 3,
        "agentSnList": [],
        "agentTotal": 0,
        "popupWindowUrl": "https://crm.example.com/pop?caller=",
        "caller": "02150001111",
        "agentAutoIdle": 1,
        "agentAutoIdleTime": 15,
        "onlyTransferToCurrent": 1,
        "agentMakeCall": 0,
        "remark": "day shift",
    }


async def test_update_changes_what_it_names_only(vcall: VcallClient) -> None:
    sn = await create(vcall, remark="day shift", agentAutoIdleTime=15)
    reply = await vcall.post(f"/api/group/open/{sn}", {"policy": 2, "remark": "night shift"})
    assert reply == {"code": "0", "msg": "success", "data": sn}
    (record,) = await records(vcall)
    assert (record["policy"], record["remark"], record["name"]) == (2, "night shift", "collections")
    assert record["agentAutoIdleTime"] == 15


async def test_one_model_with_app_sip_extension_groups(
    vcall: VcallClient, sip: SipClient, tenant: Tenant
) -> None:
    await create(vcall, name="sales")
    listed = await sip.call({"service": "App.Sip_Extgroup.GetExtgroupInfo", "token": tenant.token})
    assert [g["name"] for g in listed["data"]["result"]] == ["sales"]

    added = await sip.call(
        {"service": "App.Sip_Extgroup.AddExtgroup", "token": tenant.token, "name": "support"}
    )
    assert added["data"]["status"] == 0, added
    checked_in = await sip.call(
        {
            "service": "App.Sip_Extgroup.AddExtnumber",
            "token": tenant.token,
            "name": "support",
            "extnumber": tenant.extensions[0],
        }
    )
    assert checked_in["data"]["status"] == 0, checked_in
    support = (await records(vcall, name="support"))[0]
    assert SN.match(support["sn"])
    # An extension that is no agent's counts among the members, not among the agents.
    assert (support["agentTotal"], support["agentSnList"]) == (1, [])


async def test_paging_and_the_name_filter(vcall: VcallClient) -> None:
    for name in ("north", "south", "east", "west north"):
        await create(vcall, name=name)
    page = await vcall.get("/api/group/open/page", pageNo=2, pageSize=3)
    assert page["data"]["total"] == 4
    assert [r["name"] for r in page["data"]["records"]] == ["west north"]
    assert [r["name"] for r in await records(vcall, name="north")] == ["north", "west north"]
    # The path without /api, as the seed's example sends it.
    assert (await vcall.get("/group/open/page", name="south"))["data"]["total"] == 1


async def test_agents_are_members_through_agent_sn_list(
    vcall: VcallClient, sip: SipClient, tenant: Tenant
) -> None:
    agents = []
    for number in ("1001", "1002"):
        reply = await vcall.post(
            "/api/agent/open/create",
            {"agentName": f"agent {number}", "agentNumber": number, "password": "s3cret-pass"},
        )
        assert reply["code"] == "0", reply
        agents.append(reply["data"])
    sn = await create(vcall, agentSnList=agents)
    (record,) = await records(vcall)
    assert (record["agentSnList"], record["agentTotal"]) == (agents, 2)

    await vcall.post(f"/api/group/open/{sn}", {"agentSnList": [agents[1]]})
    (record,) = await records(vcall)
    assert (record["agentSnList"], record["agentTotal"]) == ([agents[1]], 1)
    # App.Sip_* sees the same members: the second agent's extension, checked in.
    members = await sip.call(
        {"service": "App.Sip_Extgroup.GetGroupExt", "token": tenant.token, "name": "collections"}
    )
    agent_page = await vcall.get("/api/agent/open/page", agentNumber="1002")
    sip_id = agent_page["data"]["records"][0]["sipId"]
    assert [m["extnumber"] for m in members["data"]] == [sip_id]


async def test_bad_input_gets_minus_one_with_the_field_and_writes_nothing(
    vcall: VcallClient,
) -> None:
    bad: list[dict[str, Any]] = [
        {"policy": 0},  # no name
        {"name": "", "policy": 0},
        {"name": "x" * 65, "policy": 0},
        {"name": "a", "policy": 5},
        {"name": "a", "policy": "0"},  # the seed's type is an integer
        {"name": "a", "policy": 0, "agentAutoIdle": "yes"},
        {"name": "a", "policy": 0, "agentAutoIdleTime": -1},
        {"name": "a", "policy": 0, "caller": "02-150"},
        {"name": "a", "policy": 0, "popupWindowUrl": "ftp://crm"},
        {"name": "a", "policy": 0, "agentSnList": "abc"},
        {"name": "a", "policy": 0, "agentSnList": ["0" * 32]},  # no such agent
        {"name": "a", "policy": 0, "remark": "r" * 256},
    ]
    for body in bad:
        reply = await vcall.post("/api/group/open/create", body)
        assert reply["code"] == "-1", (body, reply)
        assert reply["data"] is None
        assert reply["msg"]
        assert "Traceback" not in reply["msg"]
    assert await records(vcall) == []

    await create(vcall, name="a")
    duplicate = await vcall.post("/api/group/open/create", {"name": "a", "policy": 1})
    assert (duplicate["code"], duplicate["msg"]) == ("-1", "Group a already exists")
    broken = await vcall.http.post(
        "/api/group/open/create", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.json() == {"code": "-1", "msg": "body: malformed JSON", "data": None}
    paging = await vcall.get("/api/group/open/page", pageSize=0)
    assert paging["code"] == "-1"
    assert paging["msg"].startswith("pageSize")


async def test_a_missing_wrong_expired_or_foreign_token(
    vcall: VcallClient,
    vcall_other: VcallClient,
    container: Container,
    tenant: Tenant,
    clock: ManualClock,
) -> None:
    sn = await create(vcall)
    for token in ("", "0" * 32, tenant.token):  # none, unknown, an App.Sip_* token
        reply = await vcall.http.post(
            "/api/group/open/create", json={"token": token, "name": "b", "policy": 0}
        )
        assert reply.json()["code"] == "403"
        assert reply.json()["msg"].startswith("no auth")
    # Another company's token neither sees nor changes the group.
    assert await records(vcall_other) == []
    reply = await vcall_other.post(f"/api/group/open/{sn}", {"name": "taken over"})
    assert (reply["code"], reply["msg"]) == ("-1", f"No group {sn}")
    assert [r["name"] for r in await records(vcall)] == ["collections"]
    # Two hours later the token has expired: no auth, and nothing is written.
    clock.advance(2 * 3600)
    expired = await vcall.post("/api/group/open/create", {"name": "late", "policy": 0})
    assert (expired["code"], expired["data"]) == ("403", None)
    assert expired["msg"].startswith("no auth")
    assert (await vcall.get("/api/group/open/page"))["code"] == "403"
    fresh = await vcall_client(vcall.http, container, tenant)
    assert [r["name"] for r in await records(fresh)] == ["collections"]
