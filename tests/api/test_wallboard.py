"""The supervisors' wallboard: who may watch (HTTP refusals), what the board shows of real
sessions signed in through the CTI, and how the service keeps a watcher up to date from
the bus alone (agents' notices, queued callers, calls, records)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from callyard.bus import CallStateChanged, LegStatus
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.services.auth import Caller
from callyard.services.calls import CustomFields, LiveCall
from callyard.services.queues.settings import QueueSettings
from callyard.services.sessions.model import WaitingCall
from callyard.services.wallboard import (
    CHART_BUCKETS,
    SessionEnded,
    Wallboard,
    WallboardMessage,
    Watch,
)
from callyard.testing.clock import ManualClock
from tests.api.conftest import VcallClient
from tests.api.test_vcall_agents import create
from tests.api.test_vcall_cti import Desk, desk, events, group
from tests.conftest import Tenant

__all__ = ["desk", "events"]  # fixtures

BOARD = "/supervisor/api/wallboard"
AGENT, SUPERVISOR = "1000101", "1000900"


async def floor(desk: Desk, vcall: VcallClient, container: Container, tenant: Tenant) -> str:
    """Group `collections` with a queue, an agent (signed in, ready) and a supervisor
    (signed in); the supervisor's token."""
    sn = await group(vcall)
    await container.queues.set(tenant.code, "collections", QueueSettings())
    await create(vcall, AGENT, groupSn=sn)
    await create(vcall, SUPERVISOR, groupSn=sn, type=1, agentName="Sari")
    await desk.login(AGENT)
    await desk.send(AGENT, "idle", token=desk.token)
    await desk.login(SUPERVISOR)
    return desk.token


async def board(http: httpx.AsyncClient, token: str, **query: str) -> httpx.Response:
    return await http.get(BOARD, params=query, headers={"Authorization": f"Bearer {token}"})


async def test_only_a_signed_in_supervisor_of_the_company_may_watch(
    http: httpx.AsyncClient,
    desk: Desk,
    vcall: VcallClient,
    container: Container,
    tenant: Tenant,
    other: Tenant,
) -> None:
    boss = await floor(desk, vcall, container, tenant)
    await desk.login(AGENT)
    agent = desk.token

    for token, query, status, says in [
        ("", {}, 401, "no token"),
        ("not-a-token", {}, 401, "no signed-in agent's"),
        (vcall.token, {}, 401, "no signed-in agent's"),  # the company's API token
        (agent, {}, 403, f"agent {AGENT} is not a supervisor"),
        (boss, {"companyId": str(other.code)}, 403, "another company's"),
    ]:
        reply = await board(http, token, **query)
        assert reply.status_code == status, (token, reply.text)
        assert says in reply.json()["error"], reply.json()
    in_query = await http.get(BOARD, params={"token": boss, "companyId": str(tenant.code)})
    assert in_query.status_code == 200, in_query.text


async def test_the_board_shows_the_companys_agents_and_queues(
    http: httpx.AsyncClient,
    desk: Desk,
    vcall: VcallClient,
    container: Container,
    tenant: Tenant,
    clock: ManualClock,
) -> None:
    boss = await floor(desk, vcall, container, tenant)
    clock.advance(7)

    reply = await board(http, boss)

    assert reply.status_code == 200, reply.text
    shown: dict[str, Any] = reply.json()
    assert shown["type"] == "snapshot"
    assert shown["company"] == str(tenant.code)
    assert shown["server_ms"] == round(clock.now().timestamp() * 1000)
    agents = {a["number"]: a for a in shown["agents"]}
    assert set(agents) == {AGENT, SUPERVISOR}
    assert agents[AGENT]["status"] == "idle"
    assert agents[AGENT]["groups"] == ["collections"]
    assert shown["server_ms"] - agents[AGENT]["since_ms"] == 7000  # time in state
    assert (agents[SUPERVISOR]["status"], agents[SUPERVISOR]["role"]) == (
        "signed_in",
        "supervisor",
    )
    [queue] = shown["queues"]
    assert (queue["name"], queue["waiting"], queue["oldest_ms"]) == ("collections", 0, 0)
    assert (queue["agents_ready"], queue["agents_signed_in"]) == (1, 2)
    assert shown["calls"] == []
    assert shown["tasks"] == []
    assert len(shown["chart"]) == CHART_BUCKETS
    assert shown["chart_bucket_seconds"] == 300


# The service itself, with stand-ins for the switch's side.


async def next_message(watch: Watch) -> WallboardMessage:
    message = await asyncio.wait_for(watch.next(), 5)
    assert isinstance(message, WallboardMessage), message
    return message


@pytest.fixture
def waiting() -> dict[int, tuple[WaitingCall, ...]]:
    return {}


@pytest.fixture
def wallboard(
    container: Container, waiting: dict[int, tuple[WaitingCall, ...]], clock: ManualClock
) -> Wallboard:
    """A wallboard whose queues are `waiting`, fed by the container's bus."""
    made = Wallboard(
        container.db,
        container.directory,
        clock,
        container.sessions,
        container.calls,
        container.tasks,
        waiting=lambda group_id: waiting.get(group_id, ()),
    )
    container.bus.subscribe(made.on_bus_event)
    return made


async def test_a_watcher_gets_the_board_then_only_what_changed(
    desk: Desk,
    vcall: VcallClient,
    container: Container,
    tenant: Tenant,
    wallboard: Wallboard,
    waiting: dict[int, tuple[WaitingCall, ...]],
    clock: ManualClock,
) -> None:
    await floor(desk, vcall, container, tenant)
    supervisor = container.sessions.by_code(tenant.code, SUPERVISOR)
    assert supervisor is not None
    with wallboard.watching(supervisor) as watch:
        first = await next_message(watch)
        assert first.kind == "snapshot"
        assert first.sections.agents is not None
        assert first.sections.queues is not None

        await desk.login(AGENT)  # signing in again: signed in, not ready
        changed = await next_message(watch)
        assert changed.kind == "update"
        assert changed.sections.queues is not None  # one agent fewer ready
        assert changed.sections.tasks is None
        assert changed.sections.chart is None
        assert changed.sections.agents is not None
        statuses = {a.number: a.status for a in changed.sections.agents}
        assert statuses[AGENT] == "signed_in"

        # A caller joins the queue: the switch's event, then the distributor's line.
        [group_id] = [g.group_id for g in supervisor.groups]
        queued_ms = round(clock.now().timestamp() * 1000) - 4000
        waiting[group_id] = (WaitingCall("6281234", "622150001", queued_ms),)
        call = LiveCall(
            "call-1",
            Caller(supervisor.company_id, tenant.code, "acme"),
            CallKind.INBOUND_GROUP,
            "",
            "622150001",
            "6281234",
            CustomFields(),
            clock.now() - timedelta(seconds=4),
            clock.monotonic() - 4,
            queued=True,
        )
        container.calls.live[call.call_id] = call
        container.bus.publish(
            CallStateChanged(
                supervisor.company_id, "call-1", "customer", LegStatus.RINGING, call.view()
            )
        )
        queued = await next_message(watch)
        assert queued.sections.agents is None  # nobody's state changed
        assert queued.sections.queues is not None
        assert queued.sections.calls is not None
        [card] = queued.sections.queues
        assert (card.waiting, card.oldest_ms) == (1, queued_ms)
        [row] = queued.sections.calls
        assert (row.state, row.caller, row.called, row.direction) == (
            "queued",
            "6281234",
            "622150001",
            "inbound",
        )

        # A tick with nothing new sends nothing.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(watch.next(), 1.5)


async def test_the_watch_ends_with_the_supervisors_session(
    desk: Desk,
    vcall: VcallClient,
    container: Container,
    tenant: Tenant,
    wallboard: Wallboard,
) -> None:
    boss = await floor(desk, vcall, container, tenant)
    supervisor = container.sessions.by_code(tenant.code, SUPERVISOR)
    assert supervisor is not None
    with wallboard.watching(supervisor) as watch:
        await next_message(watch)
        await desk.send(SUPERVISOR, "logout", token=boss)
        while not isinstance(message := await asyncio.wait_for(watch.next(), 5), SessionEnded):
            assert message.kind == "update"
