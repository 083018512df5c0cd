"""The agent desktop's own API (`/desktop/`): the signed-in agent with its groups' screen-pop
URLs, and its recent calls with their recordings, each for the agent of a CTI session
token alone; no token, a stranger's token or a company's API token are refused, and no
agent sees another extension's or another company's calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason
from tests.api.conftest import VcallClient
from tests.api.test_vcall_agents import create
from tests.api.test_vcall_cti import Desk, desk, events
from tests.conftest import Tenant
from tests.factories import call_record, caller_of

__all__ = ["desk", "events"]  # the CTI tests' fixtures

POPUP = "https://crm.example.com/customer?source=callyard"
EXTENSION, NEIGHBOUR = "80010101", "80010102"
STARTED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


async def signed_in(desk: Desk, vcall: VcallClient) -> str:
    """Agent 1000101 on extension EXTENSION, in a group with a screen-pop URL, signed in
    on the CTI; its session token."""
    group = await vcall.post("/api/group/open/create", {"name": "sales", "popupWindowUrl": POPUP})
    assert group["code"] == "0", group
    await create(vcall, "1000101", groupSn=group["data"], sipId=EXTENSION)
    await create(vcall, "1000102", groupSn=group["data"], sipId=NEIGHBOUR)
    await desk.login("1000101", "3")
    return desk.token


async def ask(http: httpx.AsyncClient, path: str, token: str | None, **query: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.get(f"/desktop/{path}", headers=headers, params=query)


async def test_the_agent_and_its_groups_screen_pop_url(
    http: httpx.AsyncClient, desk: Desk, vcall: VcallClient, tenant: Tenant
) -> None:
    token = await signed_in(desk, vcall)
    reply = await ask(http, "agent", token)
    assert reply.status_code == 200, reply.text
    agent = reply.json()
    assert (agent["companyId"], agent["agentNumber"], agent["sipId"]) == (
        str(tenant.code), "1000101", EXTENSION,
    )  # fmt: skip
    assert [(g["name"], g["isMaster"], g["popupWindowUrl"]) for g in agent["groups"]] == [
        ("sales", True, POPUP)
    ]


async def test_recent_calls_are_the_agents_own_newest_first_with_recordings(
    http: httpx.AsyncClient,
    container: Container,
    desk: Desk,
    vcall: VcallClient,
    tenant: Tenant,
    other: Tenant,
) -> None:
    token = await signed_in(desk, vcall)
    ours, theirs = await caller_of(container, tenant.code), await caller_of(container, other.code)
    missed = call_record(
        ours, STARTED, kind=CallKind.INBOUND_GROUP, extnumber=EXTENSION, disnumber="628111",
        destnumber="622150001", answertime=None, billsec=0, end_reason=EndReason.CANCELLED,
    )  # fmt: skip
    answered = call_record(
        ours, STARTED + timedelta(minutes=5), extnumber=EXTENSION, destnumber="628222",
        recordfilename="20240506/answered-call.wav",
    )  # fmt: skip
    for record in (
        missed,
        answered,
        call_record(ours, STARTED, extnumber=NEIGHBOUR),  # another agent's
        call_record(theirs, STARTED, extnumber=EXTENSION),  # another company's, same number
    ):
        await container.cdrs.record(record)

    reply = await ask(http, "calls", token)

    assert reply.status_code == 200, reply.text
    calls = reply.json()["calls"]
    assert [c["callId"] for c in calls] == [answered.uuid, missed.uuid]
    first, second = calls
    assert (first["direction"], first["number"], first["outcome"]) == (
        "outbound", "628222", "answered",
    )  # fmt: skip
    assert (first["duration"], first["talkSeconds"]) == (30, 20)
    assert first["startTime"] == int((STARTED + timedelta(minutes=5)).timestamp() * 1000)
    assert (
        first["recordingUrl"]
        .split("?")[0]
        .endswith(f"/recordings/{tenant.code}/20240506/answered-call.wav")
    )
    assert (second["direction"], second["number"], second["outcome"]) == (
        "inbound", "628111", "cancelled",
    )  # fmt: skip
    assert second["recordingUrl"] == ""
    assert [c["callId"] for c in (await ask(http, "calls", token, limit=1)).json()["calls"]] == [
        answered.uuid
    ]


async def test_refused_without_a_signed_in_agents_token(
    http: httpx.AsyncClient, desk: Desk, vcall: VcallClient
) -> None:
    token = await signed_in(desk, vcall)
    for path in ("agent", "calls"):
        for refused in (None, "", "not-a-token", vcall.token):  # the company's API token too
            reply = await ask(http, path, refused)
            assert reply.status_code == 401, (path, refused, reply.text)
            assert reply.headers["www-authenticate"] == "Bearer"
            assert "error" in reply.json()
    assert (await desk.send("1000101", "logout", token=token))["code"] == "0"
    assert (await ask(http, "calls", token)).status_code == 401  # signed out: no longer


async def test_a_limit_out_of_bounds_is_refused(
    http: httpx.AsyncClient, desk: Desk, vcall: VcallClient
) -> None:
    token = await signed_in(desk, vcall)
    for limit in (0, 101):
        assert (await ask(http, "calls", token, limit=limit)).status_code == 422
