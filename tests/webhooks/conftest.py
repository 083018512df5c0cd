"""Fixtures for webhook tests: a receiver, the delivery worker, calls fed as the switch
would (as tests/test_callstate.py does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from callyard.api.dialects.sip_api.callbacks import record_body, state_body
from callyard.bus import BusEvent, CallRecorded, CallStateChanged
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.services.auth import Caller
from callyard.services.calls import CustomFields, LiveCall
from callyard.switch.events import (
    CallBridged,
    CallEnded,
    LegAnswered,
    LegRinging,
    SwitchEvent,
)
from callyard.testing.receiver import Receiver
from callyard.timefmt import TimeFormat
from callyard.webhooks.delivery import DeliveryWorker
from tests.factories import caller_of


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    started.start()
    yield started
    started.stop()


@pytest.fixture
async def worker(container: Container) -> AsyncIterator[DeliveryWorker]:
    container.delivery.start()
    yield container.delivery
    await container.delivery.stop()


class BusLog:
    """Every event the bus carried, in order."""

    def __init__(self, container: Container) -> None:
        self.events: list[BusEvent] = []
        self._times = TimeFormat(container.settings.timezone)
        container.bus.subscribe(self.events.append)

    def payloads(self, call_id: str) -> list[dict[str, object]]:
        """The call's events in the order they were published, as App.Sip_* callbacks."""
        bodies: list[dict[str, object]] = []
        for e in self.events:
            if isinstance(e, CallStateChanged) and e.call_id == call_id:
                bodies.append(dict(state_body(e)))
            elif isinstance(e, CallRecorded) and e.call_id == call_id:
                bodies.append(record_body(e.record, self._times, e.timezone))
        return bodies


@pytest.fixture
def bus_log(container: Container) -> BusLog:
    return BusLog(container)


async def webhook_company(
    container: Container,
    name: str,
    *,
    call_state_url: str | None = None,
    cdr_url: str | None = None,
) -> tuple[Caller, str]:
    """A company with webhooks set; returns its caller and signing secret."""
    created = await container.companies.create(name)
    view = await container.webhooks.update(
        created.companycode, call_state_url=call_state_url, cdr_url=cdr_url
    )
    assert view.secret is not None
    return await caller_of(container, created.companycode), view.secret


def start_call(container: Container, caller: Caller, call_id: str) -> LiveCall:
    return container.calls._track(
        call_id,
        caller,
        CallKind.CLICK_TO_CALL,
        "10010001",
        "628123",
        "62215",
        CustomFields(customuuid=f"cust-{call_id}"),
    )


def ring_and_answer(call: LiveCall) -> list[SwitchEvent]:
    start, call_id = call.started_at, call.call_id
    return [
        LegRinging(start + 0.1, call_id, "agent"),
        LegAnswered(start + 1, call_id, "agent"),
        LegRinging(start + 1.2, call_id, "customer"),
        LegAnswered(start + 3, call_id, "customer"),
        CallBridged(start + 3, call_id),
    ]


def hang_up(call: LiveCall) -> list[SwitchEvent]:
    return [
        CallEnded(call.started_at + 13, call.call_id, EndReason.NORMAL, Party.CALLEE, None, None)
    ]


def feed(container: Container, events: list[SwitchEvent]) -> None:
    for event in events:
        container.calls._on_event(event)


async def place_call(container: Container, caller: Caller, call_id: str) -> LiveCall:
    """A whole answered call: six call-state events (ring, answer, hangup of both legs)
    and its record."""
    call = start_call(container, caller, call_id)
    feed(container, ring_and_answer(call) + hang_up(call))
    await asyncio.wait_for(call.finished.wait(), 10)
    return call
