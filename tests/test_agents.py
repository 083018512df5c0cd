"""One live state per extension, fed by the switch's events and read by every service."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from callyard.container import Container
from callyard.domain.agents import AgentState, Phase
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.services.agents import AgentBoard
from callyard.switch.events import CallBridged, CallEnded, IncomingCall, LegCalling, SwitchEvent
from callyard.switch.port import SwitchPort
from callyard.switch.registrar import Binding
from tests.conftest import Tenant
from tests.factories import caller_of


class Switch:
    """Registrations and calls in progress as the switch would answer them."""

    def __init__(self, registered: set[str]) -> None:
        self.registered = registered
        self.busy: set[str] = set()
        self.listeners: list[Callable[[SwitchEvent], None]] = []

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        self.listeners.append(listener)

    def binding(self, number: str) -> Binding | None:
        return cast(Binding, object()) if number in self.registered else None

    def in_call(self, number: str) -> bool:
        return number in self.busy

    def emit(self, event: SwitchEvent) -> None:
        for listener in self.listeners:
            listener(event)


def board() -> tuple[AgentBoard, Switch]:
    switch = Switch({"1001", "1002", "1003"})
    return AgentBoard(cast(SwitchPort, switch)), switch


def test_a_group_call_answered_by_the_second_member() -> None:
    agents, switch = board()
    switch.busy = {"1001"}
    switch.emit(LegCalling(10.0, "c1", "customer", "1001"))
    assert agents.phase("1001", 10.0) is Phase.IN_CALL
    # 1001 rings out; the call goes on to 1002, which answers.
    switch.busy = {"1002"}
    switch.emit(LegCalling(40.0, "c1", "customer", "1002"))
    switch.emit(CallBridged(42.0, "c1"))
    assert agents.phase("1002", 45.0) is Phase.TALKING
    assert agents.talking_seconds("1002", 45.5) == 3
    assert agents.talking_seconds("1001", 45.5) is None
    assert agents.phase("1001", 45.0) is Phase.IDLE
    switch.busy = set()
    switch.emit(CallEnded(60.0, "c1", EndReason.NORMAL, Party.CALLER, None, None))
    assert agents.idle_seconds("1002", 75.0) == 15
    assert agents.idle_seconds("1001", 75.0) is None  # never talked on that call
    assert agents.talking_seconds("1002", 75.0) is None


def test_a_phones_own_call_and_the_customers_number() -> None:
    agents, switch = board()
    switch.busy = {"1003", "628123"}
    switch.emit(IncomingCall(1.0, "c2", 1, "1003", "628123", CallKind.PHONE_OUTBOUND, "6221"))
    switch.emit(LegCalling(1.0, "c2", "customer", "628123"))
    switch.emit(CallBridged(3.0, "c2"))
    assert agents.talking_seconds("1003", 5.0) == 2
    switch.busy = set()
    switch.emit(CallEnded(9.0, "c2", EndReason.NORMAL, Party.CALLER, None, None))
    assert agents.idle_seconds("1003", 10.0) == 1
    assert "628123" not in agents._seats  # customers are not seats


def test_wrap_up_and_keeping_away_follow_the_clock() -> None:
    agents, _ = board()
    agents.wrap_up("1001", 100.0, 10.0)
    assert agents.phase("1001", 105.0) is Phase.WRAP_UP
    assert agents.phase("1001", 110.0) is Phase.IDLE
    agents.keep_away("1002", 100.0, 30.0)
    assert agents.phase("1002", 129.0) is Phase.AWAY
    assert agents.phase("1002", 130.0) is Phase.IDLE
    assert agents.seat("1002").available_since == 130.0


async def test_an_agent_is_its_extension_its_check_ins_and_its_calls(
    container: Container, tenant: Tenant
) -> None:
    caller = await caller_of(container, tenant.code)
    first, second = tenant.extensions[:2]
    groups, agents = container.groups, container.agents
    await groups.add(caller, "sales", enabled=True)
    await groups.add(caller, "support", enabled=True)
    await groups.check_in(caller, "support", first)
    await groups.check_in(caller, "sales", first)
    await groups.check_in(caller, "sales", second)
    await groups.set_state(caller, "support", first, AgentState.BUSY)

    view = await agents.agent(first, 0.0)
    assert view is not None
    assert (view.enabled, view.registered, view.phase) == (True, False, Phase.IDLE)
    assert [(c.group, c.state) for c in view.check_ins] == [
        ("sales", AgentState.IDLE),
        ("support", AgentState.BUSY),
    ]
    [sales] = [c.group_id for c in view.check_ins if c.group == "sales"]
    assert [c.number for c in await agents.group_members(sales)] == [first, second]

    # What changes through the services is seen at once.
    await groups.check_out(caller, "sales", first)
    await container.extensions.set_enabled(tenant.code, [second], False)
    assert [c.number for c in await agents.group_members(sales)] == []
    view = await agents.agent(first, 0.0)
    assert view is not None
    assert [c.group for c in view.check_ins] == ["support"]
    disabled = await agents.agent(second, 0.0)
    assert disabled is not None
    assert not disabled.enabled
    assert await agents.agent("99999", 0.0) is None


def test_a_call_on_the_agents_mobile_engages_its_extension() -> None:
    agents, switch = board()
    agents.engage("c9", "1001")  # rings the mobile: the switch sees no call on 1001
    assert agents.in_call("1001")
    assert agents.phase("1001", 10.0) is Phase.IN_CALL
    switch.emit(LegCalling(10.0, "c9", "agent", "628111111111"))  # the mobile, then
    switch.emit(LegCalling(12.0, "c9", "customer", "628123456789"))  # the customer
    switch.emit(CallBridged(13.0, "c9"))
    assert agents.phase("1001", 15.0) is Phase.TALKING
    assert agents.talking_seconds("1001", 15.0) == 2
    switch.emit(CallEnded(20.0, "c9", EndReason.NORMAL, Party.CALLEE, None, None))
    assert not agents.in_call("1001")
    assert agents.phase("1001", 21.0) is Phase.IDLE
    assert agents.idle_seconds("1001", 21.0) == 1
