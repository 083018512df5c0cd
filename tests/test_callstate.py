"""Call-state and call-record events on the bus, in the seed's callback shapes.

The switch's events are fed in directly here; real calls produce them in
tests/switch/test_calls_e2e.py.
"""

from __future__ import annotations

import asyncio

from callyard.api.dialects.sip_api.callbacks import record_body, state_body
from callyard.bus import BusEvent, CallRecorded, CallStateChanged
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.domain.hangups import EndReason, Party
from callyard.services.auth import Caller
from callyard.services.calls import CustomFields
from callyard.switch.events import (
    CallBridged,
    CallEnded,
    LegAnswered,
    LegCalling,
    LegRinging,
)
from callyard.timefmt import TimeFormat
from tests.factories import BRIDGED_CALL_STATES, STATE_FIELDS


async def test_a_call_publishes_ring_answer_hangup_and_its_record(container: Container) -> None:
    seen: list[BusEvent] = []
    container.bus.subscribe(seen.append)
    company = await container.companies.create("acme")
    caller = Caller(1, company.companycode, "acme")
    calls = container.calls
    call = calls._track(
        "c-1",
        caller,
        CallKind.CLICK_TO_CALL,
        "10010001",
        "628123",
        "62215",
        CustomFields(customuuid="X1"),
    )
    start = call.started_at
    for event in (
        LegRinging(start + 0.1, "c-1", "agent"),
        LegAnswered(start + 1, "c-1", "agent"),
        LegRinging(start + 1.2, "c-1", "customer"),
        LegAnswered(start + 3, "c-1", "customer"),
        CallBridged(start + 3, "c-1"),
        CallEnded(start + 13, "c-1", EndReason.NORMAL, Party.CALLEE, None, None),
    ):
        calls._on_event(event)
    await asyncio.wait_for(call.finished.wait(), 5)

    states = [state_body(e) for e in seen if isinstance(e, CallStateChanged)]
    assert all(set(p) == STATE_FIELDS for p in states)
    assert all(all(isinstance(v, str) for v in p.values()) for p in states)
    assert [(p["status"], p["isbleg"]) for p in states] == BRIDGED_CALL_STATES
    first = states[0]
    assert (first["caller"], first["callee"], first["disnumber"]) == ("10010001", "628123", "62215")
    assert (first["method"], first["type"], first["direction"]) == ("3", "call", "callout")
    assert (first["uuid"], first["customuuid"]) == ("c-1", "X1")
    assert first["companycode"] == str(company.companycode)
    assert first["buuid"] != first["uuid"]

    times = TimeFormat(container.settings.timezone)
    records = [
        record_body(e.record, times, e.timezone) for e in seen if isinstance(e, CallRecorded)
    ]
    assert len(records) == 1
    record = records[0]
    assert (record["billsec"], record["duration"], record["hangupcause"]) == (10, 13, 10001)
    assert record["uuid"] == "c-1"
    assert isinstance(record["id"], int)


async def test_a_group_call_ends_each_extension_that_rang_out(container: Container) -> None:
    """A carrier's call hunting through a group: the extension that rang out gets its
    hangup before the next one rings, and the record names the one that answered."""
    seen: list[BusEvent] = []
    container.bus.subscribe(seen.append)
    company = await container.companies.create("acme")
    caller = Caller(1, company.companycode, "acme")
    call = container.calls._track("c-2", caller, CallKind.INBOUND_GROUP, "", "622150001", "628999")
    start = call.started_at
    for event in (
        LegCalling(start, "c-2", "customer", "10010001"),
        LegRinging(start + 0.1, "c-2", "customer"),
        LegCalling(start + 30, "c-2", "customer", "10010002"),
        LegRinging(start + 30.1, "c-2", "customer"),
        LegAnswered(start + 33, "c-2", "customer"),
        CallBridged(start + 33, "c-2"),
        CallEnded(start + 43, "c-2", EndReason.NORMAL, Party.CALLER, None, None),
    ):
        container.calls._on_event(event)
    await asyncio.wait_for(call.finished.wait(), 5)
    states = [state_body(e) for e in seen if isinstance(e, CallStateChanged)]
    assert [(s["status"], s["extnumber"]) for s in states] == [
        ("ring", "10010001"),
        ("hangup", "10010001"),
        ("ring", "10010002"),
        ("answer", "10010002"),
        ("hangup", "10010002"),
    ]
    assert {(s["direction"], s["isbleg"], s["caller"]) for s in states} == {
        ("callin", "false", "628999")
    }
    times = TimeFormat(container.settings.timezone)
    [record] = [
        record_body(e.record, times, e.timezone) for e in seen if isinstance(e, CallRecorded)
    ]
    assert (record["type"], record["extnumber"], record["callmethod"]) == ("callin", "10010002", 6)
