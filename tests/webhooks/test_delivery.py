"""Delivery to a real HTTP receiver: payloads, signatures, retries, order, dead events."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta

import orjson
from sqlalchemy import func, select

from callyard import __version__
from callyard.config import Settings
from callyard.container import Container
from callyard.store.models import WebhookAttemptRow
from callyard.testing.clock import ManualClock
from callyard.testing.receiver import Received, Receiver
from callyard.testing.server import free_port
from callyard.webhooks import signing
from callyard.webhooks.delivery import DeliveryWorker
from tests.factories import BRIDGED_CALL_STATES
from tests.webhooks.conftest import (
    BusLog,
    feed,
    hang_up,
    place_call,
    ring_and_answer,
    start_call,
    webhook_company,
)

DAY = 86400.0


async def received(receiver: Receiver, count: int) -> list[Received]:
    return await asyncio.to_thread(receiver.wait_for, count)


async def test_a_call_is_delivered_signed_and_exactly_as_published(
    container: Container,
    worker: DeliveryWorker,
    receiver: Receiver,
    bus_log: BusLog,
    clock: ManualClock,
) -> None:
    caller, secret = await webhook_company(
        container, "acme", call_state_url=receiver.url + "/state", cdr_url=receiver.url + "/cdr"
    )
    await place_call(container, caller, "call-1")
    requests = await received(receiver, 7)

    # In order for each URL (the record to its own URL need not wait for the states).
    by_path = {
        path: [r for r in requests if r.path == path]
        for path in ("/hooks/callyard/state", "/hooks/callyard/cdr")
    }
    published = [orjson.dumps(p) for p in bus_log.payloads("call-1")]
    assert [r.body for r in by_path["/hooks/callyard/state"]] == published[:6]
    assert [r.body for r in by_path["/hooks/callyard/cdr"]] == published[6:]
    states = [orjson.loads(r.body) for r in by_path["/hooks/callyard/state"]]
    assert [(s["status"], s["isbleg"]) for s in states] == BRIDGED_CALL_STATES
    [record_request] = by_path["/hooks/callyard/cdr"]
    record = orjson.loads(record_request.body)
    assert (record["uuid"], record["billsec"], record["customuuid"]) == (
        "call-1",
        10,
        "cust-call-1",
    )
    assert [r.headers["x-callyard-event"] for r in by_path["/hooks/callyard/state"]] == [
        "call_state"
    ] * 6
    assert record_request.headers["x-callyard-event"] == "call_record"

    logged = {d.event_id: d for d in await container.outbox.deliveries(caller.company_code)}
    assert {r.headers["x-callyard-event-id"] for r in requests} == set(logged)
    now = clock.now().timestamp()
    for request in requests:
        headers = request.headers
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"] == f"callyard/{__version__}"
        assert headers["x-callyard-timestamp"] == str(int(now))
        assert headers["x-callyard-signature"].startswith("v1=")
        assert signing.verify(
            secret,
            headers["x-callyard-timestamp"],
            headers["x-callyard-signature"],
            request.body,
            now=now,
        )
        assert not signing.verify(
            "whsec_other",
            headers["x-callyard-timestamp"],
            headers["x-callyard-signature"],
            request.body,
            now=now,
        )

    await worker.idle()
    for delivery in logged.values():
        fresh = next(
            d
            for d in await container.outbox.deliveries(caller.company_code)
            if d.event_id == delivery.event_id
        )
        assert (fresh.status, fresh.attempts, fresh.last_status_code) == ("delivered", 1, 200)
        assert fresh.delivered_at == clock.now()
        assert [a.status_code for a in fresh.history] == [200]


async def test_a_rotated_secret_signs_from_then_on(
    container: Container, worker: DeliveryWorker, receiver: Receiver, clock: ManualClock
) -> None:
    caller, old = await webhook_company(container, "acme", cdr_url=receiver.url)
    new = (await container.webhooks.rotate_secret(caller.company_code)).secret
    assert new is not None
    assert new != old
    await place_call(container, caller, "call-1")
    [request] = await received(receiver, 1)
    args = (request.headers["x-callyard-timestamp"], request.headers["x-callyard-signature"])
    assert signing.verify(new, *args, request.body, now=clock.now().timestamp())
    assert not signing.verify(old, *args, request.body, now=clock.now().timestamp())


async def test_a_failed_attempt_is_retried_once_then_never_again(
    container: Container, worker: DeliveryWorker, receiver: Receiver, clock: ManualClock
) -> None:
    answers = iter([500, 200])
    receiver.respond = lambda _r: next(answers)
    caller, _ = await webhook_company(container, "acme", cdr_url=receiver.url)
    await place_call(container, caller, "call-1")
    [first] = await received(receiver, 1)
    await worker.idle()
    [pending] = await container.outbox.deliveries(caller.company_code)
    assert (pending.status, pending.attempts, pending.last_status_code) == ("pending", 1, 500)
    assert pending.next_attempt_at is not None
    assert 30 <= (pending.next_attempt_at - clock.now()).total_seconds() <= 37.5

    clock.advance(40)
    worker.wake()
    requests = await received(receiver, 2)
    assert requests[1].body == first.body
    assert requests[1].headers["x-callyard-event-id"] == first.headers["x-callyard-event-id"]
    await worker.idle()
    [delivered] = await container.outbox.deliveries(caller.company_code)
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == (
        "delivered",
        2,
        200,
    )
    assert [a.status_code for a in delivered.history] == [500, 200]
    assert delivered.next_attempt_at is None

    for _ in range(3):
        clock.advance(DAY)
        await worker.idle()
    assert len(receiver.requests) == 2


async def test_a_receiver_that_was_down_gets_every_event_in_call_order(
    container: Container, worker: DeliveryWorker, bus_log: BusLog, clock: ManualClock
) -> None:
    port = free_port()
    receiver = Receiver()
    url = f"http://127.0.0.1:{port}/hooks"
    caller, _ = await webhook_company(container, "acme", call_state_url=url, cdr_url=url)
    calls = [start_call(container, caller, f"call-{i}") for i in range(3)]
    steps = [ring_and_answer(call) for call in calls]
    for index in range(5):  # the calls' events interleaved
        for events in steps:
            feed(container, [events[index]])
    for call in reversed(calls):
        feed(container, hang_up(call))
    for call in calls:
        await asyncio.wait_for(call.finished.wait(), 10)
    await container.outbox.flush()

    await worker.idle()  # connection refused: only each call's first event was tried
    tried = [d for d in await container.outbox.deliveries(caller.company_code) if d.attempts]
    assert sorted((d.call_uuid, d.seq) for d in tried) == [(c.call_id, 1) for c in calls]
    assert all(d.last_error and "Connect" in d.last_error for d in tried)
    assert all(d.last_status_code is None for d in tried)
    clock.advance(600)
    await worker.idle()
    tried = await container.outbox.deliveries(caller.company_code, "pending")
    assert sorted(d.attempts for d in tried if d.attempts) == [2, 2, 2]

    receiver.start(port)
    try:
        clock.advance(3600)
        worker.wake()
        requests = await received(receiver, 21)
        for call in calls:
            got = [r.body for r in requests if orjson.loads(r.body)["uuid"] == call.call_id]
            assert got == [orjson.dumps(p) for p in bus_log.payloads(call.call_id)]
        await worker.idle()
        assert len(receiver.requests) == 21
        logged = await container.outbox.deliveries(caller.company_code)
        assert {d.status for d in logged} == {"delivered"}
    finally:
        receiver.stop()


async def test_an_event_dies_after_the_last_attempt_and_can_be_redelivered(
    settings: Settings, clock: ManualClock, receiver: Receiver
) -> None:
    container = await Container.open(
        replace(settings, webhook_max_attempts=3), clock=clock, upgrade_schema=False
    )
    try:
        receiver.respond = lambda _r: 503
        caller, _ = await webhook_company(container, "acme", cdr_url=receiver.url)
        container.delivery.start()
        await place_call(container, caller, "call-1")
        await place_call(container, caller, "call-2")
        await received(receiver, 2)
        for _ in range(2):
            await container.delivery.idle()
            clock.advance(DAY)
        await received(receiver, 6)
        await container.delivery.idle()
        dead = await container.outbox.deliveries(caller.company_code, "dead")
        assert len(dead) == 2
        assert all(d.attempts == 3 and d.next_attempt_at is None for d in dead)
        assert all([a.status_code for a in d.history] == [503] * 3 for d in dead)
        clock.advance(DAY)
        await container.delivery.idle()
        assert len(receiver.requests) == 6

        receiver.respond = lambda _r: 200
        again = await container.outbox.redeliver(dead[0].event_id)
        assert (again.status, again.attempts, len(again.history)) == ("pending", 0, 3)
        requests = await received(receiver, 7)
        assert requests[6].headers["x-callyard-event-id"] == dead[0].event_id
        await container.delivery.idle()
        assert await container.outbox.redeliver_dead(caller.company_code) == 1
        await received(receiver, 8)
        await container.delivery.idle()
        logged = await container.outbox.deliveries(caller.company_code)
        assert [(d.status, d.attempts) for d in logged] == [("delivered", 1)] * 2
        assert await container.outbox.redeliver_dead() == 0
    finally:
        await container.close()


async def test_events_written_while_no_worker_runs_go_out_at_the_next_start(
    settings: Settings, clock: ManualClock
) -> None:
    """Events written while no worker runs (or left by a crash) go out at the next start."""
    first = await Container.open(settings, clock=clock, upgrade_schema=False)
    receiver = Receiver()
    receiver.start()
    try:
        caller, _ = await webhook_company(
            first, "acme", call_state_url=receiver.url, cdr_url=receiver.url
        )
        await place_call(first, caller, "call-1")
    finally:
        await first.close()
    assert receiver.requests == []

    second = await Container.open(settings, clock=clock, upgrade_schema=False)
    try:
        second.delivery.start()
        requests = await received(receiver, 7)
        assert [orjson.loads(r.body)["uuid"] for r in requests] == ["call-1"] * 7
        await second.delivery.idle()
        assert len(receiver.requests) == 7
    finally:
        await second.close()
        receiver.stop()


async def test_stopping_cuts_an_attempt_short_and_the_next_start_sends_it(
    container: Container, worker: DeliveryWorker, receiver: Receiver, clock: ManualClock
) -> None:
    gate = threading.Event()
    receiver.respond = lambda _r: 200 if gate.wait(20) else 500
    caller, _ = await webhook_company(container, "acme", cdr_url=receiver.url)
    await place_call(container, caller, "call-1")
    [first] = await received(receiver, 1)
    await worker.stop()
    gate.set()
    [cut] = await container.outbox.deliveries(caller.company_code)
    assert (cut.status, cut.attempts, cut.next_attempt_at) == ("pending", 0, clock.now())

    worker.start()
    requests = await received(receiver, 2)
    assert requests[1].headers["x-callyard-event-id"] == first.headers["x-callyard-event-id"]
    await worker.idle()
    [sent] = await container.outbox.deliveries(caller.company_code)
    assert (sent.status, sent.attempts) == ("delivered", 1)


async def test_old_delivered_and_dead_events_are_forgotten_pending_ones_kept(
    settings: Settings, clock: ManualClock, receiver: Receiver
) -> None:
    container = await Container.open(
        replace(settings, webhook_max_attempts=1), clock=clock, upgrade_schema=False
    )
    try:
        caller, _ = await webhook_company(container, "acme", cdr_url=receiver.url)
        container.delivery.start()
        await place_call(container, caller, "call-1")  # delivered
        await received(receiver, 1)
        receiver.respond = lambda _r: 503
        await place_call(container, caller, "call-2")  # dead after its only attempt
        await received(receiver, 2)
        await container.delivery.idle()
        await container.delivery.stop()
        await place_call(container, caller, "call-3")  # pending: no worker runs
        await container.outbox.flush()
        clock.advance(31 * DAY)
        await place_call(container, caller, "call-4")  # pending, recent

        cutoff = clock.now() - timedelta(days=30)
        assert await container.outbox.purge(cutoff) == 2
        left = await container.outbox.deliveries(caller.company_code)
        assert sorted((d.call_uuid, d.status) for d in left) == [
            ("call-3", "pending"),
            ("call-4", "pending"),
        ]
        assert await container.outbox.purge(cutoff) == 0
        async with container.db.transaction() as session:
            attempts = await session.scalar(select(func.count()).select_from(WebhookAttemptRow))
        assert attempts == 0
    finally:
        await container.close()
