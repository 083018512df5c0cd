"""The vcall CTI (seed 003, M8): agents sign in, go idle and busy, are watched and forced by
supervisors, and every change is an agent event carrying the request's `sequence`.
Requests go through the HTTP app; the events are the ones pushed to the company's
agent-event URL (rendered for the push channel)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callyard.api.dialects.vcall.agent_events import Channel, render
from callyard.container import Container
from callyard.services.sessions.model import AgentNotice
from callyard.store.models import GroupMember
from tests.api.conftest import VcallClient
from tests.api.test_vcall_agents import PASSWORD, create
from tests.conftest import Tenant

CONTROL = "/ccs/api/agent/control"


class Desk:
    """An agent's desktop speaking the CTI over HTTP, and the events pushed for the
    company."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant, events: list[dict[str, Any]]):
        self.http = http
        self.tenant = tenant
        self.events = events
        self.token = ""
        self.sequence = 1689131708000

    async def send(self, number: str, request: str, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        body = {
            "companyId": str(self.tenant.code),
            "agentNumber": number,
            "sequence": self.sequence,
            "request": request,
            **fields,
        }
        response = await self.http.post(CONTROL, json=body)
        assert response.status_code == 200
        reply: dict[str, Any] = response.json()
        assert set(reply) == {"code", "msg", "data"}
        return reply

    async def login(self, number: str, login_type: str = "1") -> dict[str, Any]:
        reply = await self.send(number, "login", password=PASSWORD, loginType=login_type)
        assert reply == {"code": "0", "msg": "success", "data": {"sequence": self.sequence}}
        login = self.last("Login", number)
        self.token = login["data"]["token"]
        return login

    def last(self, event: str, number: str) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == event and e["agentNumber"] == number]
        assert found, f"no {event} for {number} in {[e['event'] for e in self.events]}"
        return found[-1]


@pytest.fixture
def events(container: Container) -> list[dict[str, Any]]:
    pushed: list[dict[str, Any]] = []

    def keep(event: object) -> None:
        if isinstance(event, AgentNotice):
            pushed.append(render(event, Channel.PUSH))

    container.bus.subscribe(keep)
    return pushed


@pytest.fixture
def desk(http: httpx.AsyncClient, tenant: Tenant, events: list[dict[str, Any]]) -> Desk:
    return Desk(http, tenant, events)


async def group(vcall: VcallClient, name: str = "collections") -> str:
    reply = await vcall.post("/api/group/open/create", {"name": name, "agentAutoIdle": "0"})
    assert reply["code"] == "0", reply
    sn: str = reply["data"]
    return sn


async def check_in_states(container: Container, extension: str) -> set[str]:
    async with container.db.transaction() as session:
        from sqlalchemy import select

        from callyard.store.models import Extension

        rows = await session.scalars(
            select(GroupMember.state)
            .join(Extension, Extension.id == GroupMember.extension_id)
            .where(Extension.number == extension)
        )
        return set(rows)


async def test_login_idle_busy_logout_each_an_event_with_the_sequence(
    desk: Desk, vcall: VcallClient, container: Container, tenant: Tenant
) -> None:
    sn = await group(vcall)
    await create(vcall, "1000101", groupSn=sn, sipId="80010101")

    login = await desk.login("1000101")

    assert login["nowState"] == "Login"
    assert login["type"] == "event"
    assert login["sequence"] == desk.sequence
    assert login["companyId"] == str(tenant.code)
    assert login["agentNumber"] == "1000101"
    data = login["data"]
    assert data["sipId"] == "80010101"
    assert data["sipPassword"]
    assert data["token"]
    assert data["agentType"] == 0
    assert data["loginType"] == "1"
    assert data["groupIdList"] == [sn]
    assert data["groupInfoList"] == [{"id": sn, "name": "collections", "isMaster": True}]
    assert data["registered"] == 0
    assert data["agentMakeCall"] == 1
    assert await check_in_states(container, "80010101") == {"busy"}

    reply = await desk.send("1000101", "idle", token=desk.token)
    assert reply["code"] == "0"
    idle = desk.last("Idle", "1000101")
    assert (idle["nowState"], idle["sequence"], idle["data"]) == (
        "Idle",
        desk.sequence,
        {"loginType": "1"},
    )
    assert await check_in_states(container, "80010101") == {"idle"}

    reply = await desk.send("1000101", "busy", token=desk.token, busyType="2")
    busy = desk.last("Busy", "1000101")
    assert reply["code"] == "0"
    assert busy["data"] == {"currentBusyType": "2"}
    assert await check_in_states(container, "80010101") == {"busy"}

    reply = await desk.send("1000101", "logout", token=desk.token)
    assert reply["code"] == "0"
    assert desk.last("Logout", "1000101")["sequence"] == desk.sequence
    after = await desk.send("1000101", "idle", token=desk.token)
    assert after["code"] == "403"
    assert after["msg"].startswith("no auth")


async def test_bad_requests_are_refused_and_change_nothing(
    desk: Desk, vcall: VcallClient, container: Container, http: httpx.AsyncClient
) -> None:
    await create(vcall, "1000101")
    await desk.login("1000101")
    seen = len(desk.events)

    unknown = await desk.send("1000101", "dance", token=desk.token)
    assert unknown["code"] == "-1"
    assert "unknown request" in unknown["msg"]
    assert unknown["data"] == {"sequence": desk.sequence}
    later = await desk.send("1000101", "hold", token=desk.token)
    assert later["code"] == "-1"
    assert "no calls without a switch" in later["msg"]
    no_token = await desk.send("1000101", "idle")
    assert no_token["code"] == "403"
    wrong = await desk.send("1000101", "login", password="wrong-pass", loginType="1")
    assert wrong["code"] == "-1"
    assert "password" in wrong["msg"]
    bad_type = await desk.send("1000101", "login", password=PASSWORD, loginType="7")
    assert bad_type["code"] == "-1"
    assert "loginType" in bad_type["msg"]
    ordinary = await desk.send("1000101", "forceBusy", token=desk.token, beAgentNumber="1000101")
    assert ordinary["code"] == "-1"
    assert "not a supervisor" in ordinary["msg"]
    cancel = await desk.send("1000101", "cancelCall", token=desk.token)
    assert cancel["code"] == "-1"
    assert "no call" in cancel["msg"]
    missing = await http.post(CONTROL, json={"companyId": "1", "request": "idle"})
    assert missing.json()["code"] == "-1"
    assert "agentNumber" in missing.json()["msg"]
    not_json = await http.post(CONTROL, content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.json()["code"] == "-1"

    assert desk.events[seen:] == []  # no event: nothing changed
    session = container.sessions.by_token(desk.token)
    assert session is not None
    assert session.status.value == "signed_in"


async def test_nobody_acts_as_another_companys_agent(
    desk: Desk,
    vcall: VcallClient,
    vcall_other: VcallClient,
    http: httpx.AsyncClient,
    other: Tenant,
) -> None:
    await create(vcall, "1000101")
    await create(vcall_other, "1000101", sipId="90010101")
    await desk.login("1000101")

    theirs = Desk(http, other, desk.events)
    # Their company id with our agent's session token, and our company's API token.
    with_session = await theirs.send("1000101", "idle", token=desk.token)
    assert with_session["code"] == "403"
    with_api_token = await theirs.send("1000101", "idle", token=vcall.token)
    assert with_api_token["code"] == "403"
    # Their own agent is not signed in: their API token cannot act on ours either.
    own = await theirs.send("1000101", "idle", token=vcall_other.token)
    assert own["code"] == "-1"
    assert "not signed in" in own["msg"]
    assert [e["event"] for e in desk.events] == ["Login"]


async def test_a_crm_acts_for_its_agent_with_the_companys_api_token(
    desk: Desk, vcall: VcallClient
) -> None:
    await create(vcall, "1000101")
    await desk.login("1000101")

    reply = await desk.send("1000101", "idle", token=vcall.token)

    assert reply["code"] == "0"
    assert desk.last("Idle", "1000101")["sequence"] == desk.sequence


async def test_a_supervisor_watches_and_forces_agents(desk: Desk, vcall: VcallClient) -> None:
    sn = await group(vcall)
    await create(vcall, "1000101", groupSn=sn)
    await create(vcall, "1000900", groupSn=sn, type=1, agentName="Sari")
    await desk.login("1000101")
    agent_token = desk.token
    await desk.send("1000101", "idle", token=agent_token)
    await desk.login("1000900")
    boss = desk.token

    reply = await desk.send("1000900", "surveillance", token=boss, groupId=sn)
    watched = desk.last("Surveillance", "1000900")
    assert reply["code"] == "0"
    assert watched["sequence"] == desk.sequence
    listed = {a["agentNumber"]: a for a in watched["data"]["agentList"]}
    assert set(listed) == {"1000101", "1000900"}
    assert listed["1000101"]["nowState"] == "Idle"
    assert listed["1000101"]["groupList"] == [{"id": sn, "name": "collections"}]
    assert listed["1000900"]["nowState"] == "Login"

    idle = await desk.send("1000900", "idleAgent", token=boss, groupId=sn)
    assert idle["code"] == "0"
    assert [a["agentNumber"] for a in desk.last("IdleAgent", "1000900")["data"]["agentList"]] == [
        "1000101"
    ]

    forced = await desk.send("1000900", "forceBusy", token=boss, beAgentNumber="1000101")
    assert forced["code"] == "0"
    busy = desk.last("Busy", "1000101")
    assert busy["sequence"] == desk.sequence
    assert busy["nowState"] == "Busy"

    await desk.send("1000900", "forceLogout", token=boss, beAgentNumber="1000101")
    assert desk.last("Logout", "1000101")["sequence"] == desk.sequence
    gone = await desk.send("1000101", "idle", token=agent_token)
    assert gone["code"] == "403"
    absent = await desk.send("1000900", "forceIdle", token=boss, beAgentNumber="1000101")
    assert absent["code"] == "-1"
    assert "not signed in" in absent["msg"]


async def test_signing_in_again_kicks_the_earlier_session(desk: Desk, vcall: VcallClient) -> None:
    await create(vcall, "1000101")
    await desk.login("1000101")
    first = desk.token

    await desk.login("1000101")

    kick = desk.last("Kick", "1000101")
    assert kick["nowState"] == "Logout"
    assert (await desk.send("1000101", "idle", token=first))["code"] == "403"
    assert (await desk.send("1000101", "idle", token=desk.token))["code"] == "0"


async def test_a_session_outlives_a_restart_and_reconnects_with_its_token(
    desk: Desk, vcall: VcallClient, container: Container, settings: Any, clock: Any
) -> None:
    await create(vcall, "1000101")
    await desk.login("1000101")
    await desk.send("1000101", "busy", token=desk.token, busyType="3")

    restarted = await Container.open(settings, clock=clock, upgrade_schema=False)
    try:
        await restarted.sessions.load()
        session = restarted.sessions.by_token(desk.token)
        assert session is not None
        assert (session.status.value, session.busy_type) == ("busy", "3")
        resumed = restarted.sessions.resume(desk.token, 42)
        assert resumed is session
    finally:
        await restarted.close()


async def test_guessing_an_agents_password_is_blocked(desk: Desk, vcall: VcallClient) -> None:
    await create(vcall, "1000101")
    for _ in range(9):  # ten failures from one address block it (CALLYARD_LOGIN_*)
        wrong = await desk.send("1000101", "login", password="guess-1234", loginType="1")
        assert (wrong["code"], wrong["msg"]) == ("-1", "wrong agent number or password")
    unknown = await desk.send("9999999", "login", password="guess-1234", loginType="1")
    assert unknown["msg"] == "wrong agent number or password"  # nobody can be told apart

    blocked = await desk.send("1000101", "login", password=PASSWORD, loginType="1")

    assert blocked["code"] == "-1"
    assert blocked["msg"].startswith("Authorization failed: too many failed attempts")
    assert desk.events == []
