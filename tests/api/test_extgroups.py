"""App.Sip_Extgroup.*: groups, check-in/out, idle/busy, and GetGroupExt."""

from __future__ import annotations

from typing import Any

import pytest

from callyard.container import Container
from callyard.testing.clock import ManualClock
from tests.conftest import SipClient, Tenant

S = "App.Sip_Extgroup."


def ok(reply: dict[str, Any], desc: str) -> None:
    assert reply["ret"] == 200, reply
    assert reply["msg"] == ""
    assert reply["data"]["status"] == 0, reply
    assert reply["data"]["desc"] == desc
    assert isinstance(reply["data"]["reqtime"], int)
    assert isinstance(reply["data"]["rsptime"], int)


def failed(reply: dict[str, Any], code: int) -> str:
    """Asserts a business failure with `code`; returns its desc."""
    assert reply["ret"] == 200, reply
    assert reply["msg"] == ""
    data = reply["data"]
    assert data["status"] == 1, reply
    assert data["errors"]["code"] == str(code), reply
    assert data["errors"]["codemsg"]
    assert data["desc"]
    desc: str = data["desc"]
    return desc


async def add_group(sip: SipClient, t: Tenant, name: str = "sales", **extra: Any) -> None:
    ok(
        await sip.call({"service": S + "AddExtgroup", "token": t.token, "name": name, **extra}),
        "Extension group added successfully",
    )


async def check_in(sip: SipClient, t: Tenant, name: str, ext: str) -> dict[str, Any]:
    return await sip.call(
        {"service": S + "AddExtnumber", "token": t.token, "name": name, "extnumber": ext}
    )


async def test_add_and_list_groups(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant, "sales")
    await add_group(sip, tenant, "support", status=0)
    reply = await sip.call({"service": S + "GetExtgroupInfo", "token": tenant.token})
    ok(reply, "get success")
    result = reply["data"]["result"]
    assert [(g["name"], g["status"]) for g in result] == [("sales", 1042), ("support", 1043)]
    assert all(isinstance(g["id"], int) for g in result)
    one = await sip.call(
        {"service": S + "GetExtgroupInfo", "token": tenant.token, "name": "support"}
    )
    assert [g["name"] for g in one["data"]["result"]] == ["support"]


async def test_unknown_group_name_is_1211(sip: SipClient, tenant: Tenant) -> None:
    for service, extra in [
        ("DelExtgroup", {}),
        ("AddExtnumber", {"extnumber": tenant.extensions[0]}),
        ("DelExtnumber", {"extnumber": tenant.extensions[0]}),
        ("EditExtnumber", {"extnumber": tenant.extensions[0], "state": "busy"}),
    ]:
        reply = await sip.call(
            {"service": S + service, "token": tenant.token, "name": "nope", **extra}
        )
        assert "nope" in failed(reply, 1211), service


async def test_queries_matching_nothing_keep_their_shape(
    sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    await add_group(sip, tenant, "sales")
    ok(await check_in(sip, tenant, "sales", tenant.extensions[0]), "Added successfully")
    info = await sip.call({"service": S + "GetExtgroupInfo", "token": tenant.token, "name": "nope"})
    ok(info, "get success")
    assert info["data"]["result"] == []
    for extra in [
        {"name": "nope"},
        {"extnumber": "7777"},  # no such extension
        {"extnumber": other.extensions[0]},  # another company's
        {"name": "sales", "extnumber": tenant.extensions[1]},  # not checked in
    ]:
        reply = await sip.call({"service": S + "GetGroupExt", "token": tenant.token, **extra})
        assert reply == {"ret": 200, "data": [], "msg": ""}, extra


async def test_duplicate_group_is_refused(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant, "sales")
    reply = await sip.call({"service": S + "AddExtgroup", "token": tenant.token, "name": "sales"})
    assert "already exists" in failed(reply, 1002)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "missing parameter name"),
        ({"name": "   "}, "missing parameter name"),
        ({"name": "x" * 65}, "invalid parameter name"),
        ({"name": "a", "status": 2}, "invalid parameter status"),
        ({"name": "a", "status": "yes"}, "invalid parameter status"),
    ],
)
async def test_add_group_bad_input_is_400(
    sip: SipClient, tenant: Tenant, fields: dict[str, Any], message: str
) -> None:
    reply = await sip.call({"service": S + "AddExtgroup", "token": tenant.token, **fields})
    assert reply["ret"] == 400
    assert reply["data"] == []
    assert reply["msg"].startswith("Illegal request: " + message), reply


async def test_delete_group_removes_its_check_ins(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant)
    ok(await check_in(sip, tenant, "sales", tenant.extensions[0]), "Added successfully")
    reply = await sip.call({"service": S + "DelExtgroup", "token": tenant.token, "name": "sales"})
    ok(reply, "successfully deleted")
    listed = await sip.call({"service": S + "GetExtgroupInfo", "token": tenant.token})
    assert listed["data"]["result"] == []
    members = await sip.call({"service": S + "GetGroupExt", "token": tenant.token})
    assert members == {"ret": 200, "data": [], "msg": ""}
    # the name is free again, with no members
    await add_group(sip, tenant)
    members = await sip.call({"service": S + "GetGroupExt", "token": tenant.token, "name": "sales"})
    assert members["data"] == []


async def test_check_in_edit_and_list(sip: SipClient, tenant: Tenant, clock: ManualClock) -> None:
    await add_group(sip, tenant)
    first, second, _ = tenant.extensions
    ok(await check_in(sip, tenant, "sales", first), "Added successfully")
    ok(await check_in(sip, tenant, "sales", second), "Added successfully")
    clock.advance(90)
    reply = await sip.call(
        {
            "service": S + "EditExtnumber",
            "token": tenant.token,
            "name": "sales",
            "extnumber": second,
            "state": "busy",
        }
    )
    ok(reply, "Successfully modified")
    members = await sip.call({"service": S + "GetGroupExt", "token": tenant.token, "name": "sales"})
    assert members["ret"] == 200
    assert members["msg"] == ""
    assert members["data"] == [
        {
            "name": "sales",
            "extnumber": first,
            "status": "hangup",
            "priority": 1,
            "linkcount": 0,
            "date": None,  # never set by EditExtnumber
            "state": "idle",
        },
        {
            "name": "sales",
            "extnumber": second,
            "status": "hangup",
            "priority": 1,
            "linkcount": 0,
            "date": "2026-01-01 00:01:30",
            "state": "busy",
        },
    ]
    only = await sip.call(
        {"service": S + "GetGroupExt", "token": tenant.token, "name": "", "extnumber": second}
    )
    assert [m["extnumber"] for m in only["data"]] == [second]


async def test_check_in_twice_is_1218(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant)
    ok(await check_in(sip, tenant, "sales", tenant.extensions[0]), "Added successfully")
    failed(await check_in(sip, tenant, "sales", tenant.extensions[0]), 1218)


async def test_one_extension_in_several_groups(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant, "sales")
    await add_group(sip, tenant, "support")
    ext = tenant.extensions[0]
    ok(await check_in(sip, tenant, "sales", ext), "Added successfully")
    ok(await check_in(sip, tenant, "support", ext), "Added successfully")
    members = await sip.call(
        {"service": S + "GetGroupExt", "token": tenant.token, "extnumber": ext}
    )
    assert [m["name"] for m in members["data"]] == ["sales", "support"]


async def test_check_in_checks_the_extension(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    await add_group(sip, tenant)
    assert "does not exist" in failed(await check_in(sip, tenant, "sales", "7777"), 1012)
    assert "not owned" in failed(await check_in(sip, tenant, "sales", other.extensions[0]), 1011)
    await container.extensions.set_enabled(tenant.code, [tenant.extensions[1]], False)
    assert "disabled" in failed(await check_in(sip, tenant, "sales", tenant.extensions[1]), 1013)


async def test_check_in_to_a_disabled_group_is_refused(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant, "paused", status=0)
    assert "disabled" in failed(await check_in(sip, tenant, "paused", tenant.extensions[0]), 1210)


async def test_check_out(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant)
    ext = tenant.extensions[0]
    ok(await check_in(sip, tenant, "sales", ext), "Added successfully")
    out = {"service": S + "DelExtnumber", "token": tenant.token, "name": "sales", "extnumber": ext}
    ok(await sip.call(out), "successfully deleted")
    assert "not checked in" in failed(await sip.call(out), 1210)
    members = await sip.call({"service": S + "GetGroupExt", "token": tenant.token})
    assert members["data"] == []


async def test_edit_requires_check_in_and_a_valid_state(sip: SipClient, tenant: Tenant) -> None:
    await add_group(sip, tenant)
    ext = tenant.extensions[0]
    edit = {
        "service": S + "EditExtnumber",
        "token": tenant.token,
        "name": "sales",
        "extnumber": ext,
    }
    failed(await sip.call({**edit, "state": "idle"}), 1210)
    ok(await check_in(sip, tenant, "sales", ext), "Added successfully")
    reply = await sip.call({**edit, "state": "away"})
    assert reply["ret"] == 400
    assert "invalid parameter state" in reply["msg"]
    reply = await sip.call(edit)
    assert reply["ret"] == 400
    assert reply["msg"].endswith("missing parameter state")


@pytest.mark.parametrize("service", ["AddExtnumber", "DelExtnumber", "EditExtnumber"])
async def test_malformed_extension_number_is_400(
    sip: SipClient, tenant: Tenant, service: str
) -> None:
    reply = await sip.call(
        {
            "service": S + service,
            "token": tenant.token,
            "name": "sales",
            "extnumber": "abcdefg",
            "state": "idle",
        }
    )
    assert reply["ret"] == 400
    assert reply["msg"].startswith("Illegal request: invalid parameter extnumber")


async def test_companies_cannot_touch_each_others_groups(
    sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    await add_group(sip, tenant, "sales")
    ok(await check_in(sip, tenant, "sales", tenant.extensions[0]), "Added successfully")
    # The other company sees no group, cannot delete, join, edit or read it...
    listed = await sip.call({"service": S + "GetExtgroupInfo", "token": other.token})
    assert listed["data"]["result"] == []
    members = await sip.call({"service": S + "GetGroupExt", "token": other.token})
    assert members["data"] == []
    failed(
        await sip.call({"service": S + "DelExtgroup", "token": other.token, "name": "sales"}), 1211
    )
    failed(await check_in(sip, other, "sales", other.extensions[0]), 1211)
    edit = {
        "service": S + "EditExtnumber",
        "token": other.token,
        "name": "sales",
        "extnumber": tenant.extensions[0],
        "state": "busy",
    }
    failed(await sip.call(edit), 1211)
    # ...and may use the same group name for its own group.
    await add_group(sip, other, "sales")
    failed(await check_in(sip, other, "sales", tenant.extensions[0]), 1011)
    failed(await sip.call(edit), 1011)
    mine = await sip.call({"service": S + "GetGroupExt", "token": tenant.token, "name": "sales"})
    assert [(m["extnumber"], m["state"]) for m in mine["data"]] == [(tenant.extensions[0], "idle")]
    theirs = await sip.call({"service": S + "GetExtgroupInfo", "token": other.token})
    assert [g["name"] for g in theirs["data"]["result"]] == ["sales"]
    assert (
        theirs["data"]["result"][0]["id"]
        != (await sip.call({"service": S + "GetExtgroupInfo", "token": tenant.token}))["data"][
            "result"
        ][0]["id"]
    )
