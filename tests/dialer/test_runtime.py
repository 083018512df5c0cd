"""The dialer runtime: what the pacer reloads after a restart, and what happens to an
answered customer with a switch that only records commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from callyard.container import Container
from callyard.dialer.pacing import PacerHistory, PredictivePacer
from callyard.dialer.runtime import Dialer, DialerConfig, pacer_history
from callyard.domain.hangups import EndReason, Party
from callyard.domain.tasks import NumberState
from callyard.services.auth import Caller
from callyard.services.tasks import (
    AttemptOutcome,
    EndedAttempt,
    NumberInput,
    PageRequest,
    TaskHistory,
    TaskSpec,
    parse_windows,
)
from callyard.switch.commands import Dial, Target
from callyard.switch.events import CallEnded, LegAnswered, LegFailed, SwitchEvent
from callyard.switch.port import SwitchPort
from tests.conftest import Tenant
from tests.factories import caller_of

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def attempt(
    minutes_ago: float, outcome: AttemptOutcome, ring: float, talk: int | None = None
) -> EndedAttempt:
    ended = NOW - timedelta(minutes=minutes_ago)
    answered = outcome in (AttemptOutcome.CONNECTED, AttemptOutcome.ABANDONED)
    started = ended - timedelta(seconds=ring + (talk or 0) + 1)
    return EndedAttempt(
        started_at=started,
        answered_at=started + timedelta(seconds=ring) if answered else None,
        ended_at=ended,
        outcome=outcome,
        ring_seconds=ring,
        talk_seconds=talk,
    )


def test_the_last_hour_of_a_task_becomes_the_pacers_history() -> None:
    history = TaskHistory(
        dialed=40,
        answered=12,
        connected=11,
        abandoned=1,
        talk_seconds=900,
        staffed_seconds=3600.0,
        attempts=(
            attempt(50, AttemptOutcome.CONNECTED, ring=8.0, talk=60),
            attempt(30, AttemptOutcome.ABANDONED, ring=5.0),
            attempt(20, AttemptOutcome.BUSY, ring=2.0),
            attempt(10, AttemptOutcome.NO_ANSWER, ring=30.0),
            attempt(1, AttemptOutcome.CONNECTED, ring=12.0, talk=120),
        ),
    )
    restored = pacer_history(history, NOW, wrapup=10.0)
    assert (restored.dialed, restored.answered, restored.abandoned) == (40, 12, 1)
    assert [round(a) for a in restored.answered_ago] == [3000 + 61, 1800 + 1, 60 + 121]
    assert [round(a) for a in restored.abandoned_ago] == [1800]
    assert list(restored.ring_seconds) == [8.0, 5.0, 12.0]
    assert list(restored.failed_ring_seconds) == [2.0, 30.0]
    assert list(restored.talk_seconds) == [60.0, 120.0]
    assert list(restored.wrapup_seconds) == [10.0, 10.0]


def test_a_restored_pacer_keeps_the_spent_budget() -> None:
    """A task that already abandoned its share paces as one that did, after a restart."""
    answered_ago = tuple(float(60 * n) for n in range(1, 11))
    spent = PacerHistory(
        dialed=100, answered=30, abandoned=3, answered_ago=answered_ago, abandoned_ago=(60.0, 120.0)
    )
    fresh = PacerHistory(dialed=100, answered=30, abandoned=0, answered_ago=answered_ago)
    pacers = []
    for history in (spent, fresh):
        pacer = PredictivePacer()
        pacer.restore(1000.0, history)
        pacers.append(pacer)
    assert pacers[0].statistics.abandon_rate == 0.1
    assert pacers[1].statistics.abandon_rate == 0.0
    assert pacers[0].statistics.abandon_rate_last_hour == 0.2
    assert pacers[1].statistics.abandon_rate_last_hour == 0.0


class FakeSwitch:
    """The switch as the dialer uses it, recording commands; events are fed by the test."""

    def __init__(self, registered: set[str]) -> None:
        self.registered = registered
        self.busy: set[str] = set()
        self.listeners: list[Callable[[SwitchEvent], None]] = []
        self.commands: list[tuple[str, str]] = []

    def binding(self, number: str) -> SimpleNamespace | None:
        return SimpleNamespace(target=("127.0.0.1", 5062)) if number in self.registered else None

    def in_call(self, number: str) -> bool:
        return number in self.busy

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        self.listeners.append(listener)

    def dial(self, order: Dial) -> None:
        self.commands.append(("dial", order.target.user))

    def attach(self, call_id: str, target: Target) -> None:
        self.busy.add(target.user)
        self.commands.append(("attach", target.user))

    def play(self, call_id: str, prompt: Path, hangup_after: bool = True) -> None:
        self.commands.append(("play", call_id))

    def hangup(self, call_id: str) -> None:
        self.commands.append(("hangup", call_id))


@dataclass
class Rig:
    container: Container
    switch: FakeSwitch
    dialer: Dialer
    caller: Caller
    taskid: str
    agent: str

    def emit(self, event: SwitchEvent) -> None:
        """Hand an event to the call service and the dialer, as the switch does."""
        self.container.calls._on_event(event)
        for listener in self.switch.listeners:
            listener(event)


@pytest.fixture
async def rig(container: Container, tenant: Tenant) -> Rig:
    agent = tenant.extensions[0]
    caller = await caller_of(container, tenant.code)
    await container.groups.add(caller, "sales", enabled=True)
    await container.groups.check_in(caller, "sales", agent)
    await container.trunks.add(tenant.code, "carrier", "127.0.0.1", 5070)
    await container.numbers.add(tenant.code, "622150001")
    switch = FakeSwitch({agent})
    container.calls._switch = cast(SwitchPort, switch)
    dialer = Dialer(
        container.tasks,
        container.calls,
        cast(SwitchPort, switch),
        container.groups,
        container.directory,
        container.trunks,
        container.numbers,
        container.cdrs,
        container.clock,
        container.metrics,
        None,  # no abandon message: the call is hung up
        DialerConfig(max_wait=0.2),
    )
    spec = TaskSpec(
        name="renewals",
        groupname="sales",
        startdate=date(2026, 1, 1),
        enddate=date(2026, 1, 31),
        windows=parse_windows("00:00-23:59"),
    )
    created = await container.tasks.create(caller, spec, [NumberInput("628100000001")])
    await container.tasks.start(caller, created.taskid)
    return Rig(container, switch, dialer, caller, created.taskid, agent)


async def test_a_customer_no_agent_takes_within_the_wait_is_abandoned(rig: Rig) -> None:
    """The free agent is dialed for; by the answer they are in another call: after the
    wait the customer is hung up on, and the record and the number say abandoned."""
    await rig.dialer._tick()
    assert rig.switch.commands == [("dial", "628100000001")]
    (call_id,) = rig.container.calls.live
    rig.switch.busy.add(rig.agent)  # taken by a call of its own meanwhile
    now = rig.container.clock.monotonic()
    rig.emit(LegAnswered(now + 5, call_id, "customer"))
    await asyncio.sleep(0.4)
    assert rig.switch.commands[-1] == ("hangup", call_id)  # no agent was offered the call
    rig.emit(CallEnded(now + 6, call_id, EndReason.SERVER_HANGUP, Party.CALLER, None, None))
    for _ in range(100):  # the record is written in the background
        if not rig.container.calls.live:
            break
        await asyncio.sleep(0.05)
    page = await rig.container.tasks.info(rig.caller, rig.taskid, PageRequest(1, 10))
    (number,) = page.items
    assert (number.state, number.answered, number.last_outcome) == (
        NumberState.CALLED,
        True,
        AttemptOutcome.ABANDONED,
    )
    assert number.extnumber is None
    (campaign,) = rig.dialer.campaigns.values()
    assert campaign.pacer.statistics.abandoned == 1


async def test_an_agent_whose_phone_fails_is_not_offered_the_next_call_at_once(
    rig: Rig,
) -> None:
    await rig.dialer._tick()
    (call_id,) = rig.container.calls.live
    agent = rig.agent
    now = rig.container.clock.monotonic()
    rig.emit(LegAnswered(now + 5, call_id, "customer"))
    assert rig.switch.commands[-1] == ("attach", agent)  # at once: the agent was free
    rig.switch.busy.discard(agent)
    rig.emit(LegFailed(now + 5.1, call_id, "agent", EndReason.BUSY, 486))
    await asyncio.sleep(0.4)
    # The only agent missed the call: nobody else to offer it to, so it is abandoned.
    assert rig.switch.commands[-1] == ("hangup", call_id), rig.switch.commands
    (campaign,) = rig.dialer.campaigns.values()
    assert rig.dialer.floor.free(campaign.staffed, now + 6) == []
