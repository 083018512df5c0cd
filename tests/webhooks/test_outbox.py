"""Webhook settings and the outbox: which events are written, in which transaction, and
the per-call ordering rule of what is due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select

from callyard.bus import CallStateChanged, CallView, LegStatus
from callyard.config import Settings
from callyard.container import Container
from callyard.domain.calls import CallKind
from callyard.errors import InvalidInput, NotFound
from callyard.services.cdrs import StoredCallRecord
from callyard.store.models import WebhookEventRow
from callyard.testing.clock import ManualClock
from callyard.webhooks.deliveries import AttemptResult, Claimed
from callyard.webhooks.settings import EventKind
from tests.factories import call_record
from tests.webhooks.conftest import BusLog, place_call, webhook_company

HOOK = "https://crm.example.com/hooks"
_STATUSES = {"ring": LegStatus.RINGING, "answer": LegStatus.ANSWERED, "hangup": LegStatus.ENDED}


def leg_state(company_id: int, call_id: str, status: str) -> CallStateChanged:
    """The customer leg of an API call changed."""
    view = CallView(call_id, 1001, CallKind.CLICK_TO_CALL, "10010001", "628123", "62215", "", START)
    return CallStateChanged(company_id, call_id, "customer", _STATUSES[status], view)


START = datetime(2026, 1, 1, tzinfo=UTC)


async def _rows(container: Container) -> list[WebhookEventRow]:
    async with container.db.transaction() as session:
        return list(await session.scalars(select(WebhookEventRow).order_by(WebhookEventRow.id)))


async def test_settings(container: Container) -> None:
    code = (await container.companies.create("acme")).companycode
    empty = await container.webhooks.get(code)
    assert (empty.enabled, empty.call_state_url, empty.cdr_url, empty.secret) == (
        False,
        None,
        None,
        None,
    )

    created = await container.webhooks.update(code, cdr_url=HOOK + "/cdr")
    assert created.secret is not None
    assert created.secret.startswith("whsec_")
    assert (created.enabled, created.cdr_url, created.call_state_url) == (True, HOOK + "/cdr", None)
    changed = await container.webhooks.update(code, call_state_url=HOOK + "/state", enabled=False)
    assert changed.secret is None
    assert (changed.enabled, changed.cdr_url, changed.call_state_url) == (
        False,
        HOOK + "/cdr",
        HOOK + "/state",
    )
    shown = await container.webhooks.get(code)
    assert shown.secret is None
    assert shown == replace(changed, updated_at=shown.updated_at)

    rotated = await container.webhooks.rotate_secret(code)
    assert rotated.secret not in (None, created.secret)

    cleared = await container.webhooks.update(code, cdr_url="", enabled=True)
    assert (cleared.cdr_url, cleared.enabled) == (None, True)

    with pytest.raises(InvalidInput) as raised:
        await container.webhooks.update(code, call_state_url="ftp://crm.example.com/x")
    assert raised.value.field == "call_state_url"
    assert (await container.webhooks.get(code)).call_state_url == HOOK + "/state"
    with pytest.raises(NotFound):
        await container.webhooks.update(4242, cdr_url=HOOK)
    with pytest.raises(NotFound):
        await container.webhooks.get(4242)


async def test_another_process_sees_changes_after_the_poll_interval(
    settings: Settings, clock: ManualClock
) -> None:
    """Two containers on one database stand for the server and the CLI."""
    server = await Container.open(settings, clock=clock, upgrade_schema=False)
    cli = await Container.open(settings, clock=clock, upgrade_schema=False)
    try:
        caller, secret = await webhook_company(cli, "acme", cdr_url=HOOK)
        targets = await server.webhooks.targets(caller.company_id)
        assert targets is not None
        assert (targets.cdr_url, targets.secret) == (HOOK, secret)

        await cli.webhooks.update(caller.company_code, enabled=False)
        cached = await server.webhooks.targets(caller.company_id)
        assert cached is not None
        assert cached.enabled
        clock.advance(0.5)
        fresh = await server.webhooks.targets(caller.company_id)
        assert fresh is not None
        assert not fresh.enabled
        assert fresh.url_for(EventKind.CALL_RECORD) is None
    finally:
        await server.close()
        await cli.close()


async def test_events_are_written_for_companies_that_want_them(
    container: Container, bus_log: BusLog
) -> None:
    both, _ = await webhook_company(
        container, "both", call_state_url=HOOK + "/state", cdr_url=HOOK + "/cdr"
    )
    records_only, _ = await webhook_company(container, "records", cdr_url=HOOK + "/cdr")
    disabled, _ = await webhook_company(container, "off", call_state_url=HOOK, cdr_url=HOOK)
    await container.webhooks.update(disabled.company_code, enabled=False)
    none = (await container.companies.create("none")).companycode
    for caller, call_id in (
        (both, "call-both"),
        (records_only, "call-records"),
        (disabled, "call-off"),
    ):
        await place_call(container, caller, call_id)
    await container.outbox.flush()

    rows = await _rows(container)
    assert {r.call_id for r in rows} == {"call-both", "call-records"}
    mine = sorted((r for r in rows if r.call_id == "call-both"), key=lambda r: r.seq)
    assert [r.seq for r in mine] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.kind for r in mine] == ["call_state"] * 6 + ["call_record"]
    assert [r.url for r in mine] == [HOOK + "/state"] * 6 + [HOOK + "/cdr"]
    assert [r.body.encode() for r in mine] == [
        orjson.dumps(p) for p in bus_log.payloads("call-both")
    ]
    assert all((r.status, r.attempts) == ("pending", 0) for r in rows)
    [record] = [r for r in rows if r.call_id == "call-records"]
    assert (record.kind, record.seq) == ("call_record", 7)

    logged = await container.outbox.deliveries(both.company_code)
    assert [d.seq for d in logged] == [7, 6, 5, 4, 3, 2, 1]
    assert len({d.event_id for d in logged}) == 7
    assert [d.seq for d in await container.outbox.deliveries(both.company_code, "pending", 2)] == [
        7,
        6,
    ]
    assert await container.outbox.deliveries(both.company_code, "dead") == []
    assert await container.outbox.deliveries(none) == []
    with pytest.raises(InvalidInput):
        await container.outbox.deliveries(both.company_code, "lost")
    with pytest.raises(InvalidInput):
        await container.outbox.deliveries(both.company_code, limit=0)
    with pytest.raises(NotFound):
        await container.outbox.deliveries(4242)


async def test_the_record_event_is_written_with_the_cdr(container: Container) -> None:
    caller, _ = await webhook_company(container, "acme", call_state_url=HOOK, cdr_url=HOOK)
    # State events not yet stored when the record is: they go into its transaction (or
    # were stored before it), numbered before it.
    container.bus.publish(leg_state(caller.company_id, "c-9", "ring"))
    container.bus.publish(leg_state(caller.company_id, "c-9", "hangup"))
    rec = call_record(caller, START, uuid="c-9")
    cdr_id = await container.cdrs.record(rec)
    rows = await _rows(container)
    assert [(r.seq, r.kind) for r in sorted(rows, key=lambda r: r.seq)] == [
        (1, "call_state"),
        (2, "call_state"),
        (3, "call_record"),
    ]
    assert orjson.loads(max(rows, key=lambda r: r.seq).body)["id"] == cdr_id

    assert await container.cdrs.record(rec) == cdr_id  # a repeat stores nothing
    assert len(await _rows(container)) == 3


async def test_a_record_after_a_restart_is_numbered_after_the_calls_stored_events(
    container: Container, settings: Settings, clock: ManualClock
) -> None:
    """A call cut short by a crash gets its record from the next process, which never
    numbered that call's events: the record comes after those already stored."""
    caller, _ = await webhook_company(container, "acme", call_state_url=HOOK, cdr_url=HOOK)
    container.bus.publish(leg_state(caller.company_id, "c-7", "ring"))
    container.bus.publish(leg_state(caller.company_id, "c-7", "answer"))
    await container.outbox.flush()
    restarted = await Container.open(settings, clock=clock, upgrade_schema=False)
    try:
        await restarted.cdrs.record(call_record(caller, START, uuid="c-7"))
    finally:
        await restarted.close()
    assert [(r.seq, r.kind) for r in sorted(await _rows(container), key=lambda r: r.seq)] == [
        (1, "call_state"),
        (2, "call_state"),
        (3, "call_record"),
    ]


async def test_a_failed_cdr_transaction_keeps_the_state_events(container: Container) -> None:
    caller, _ = await webhook_company(container, "acme", call_state_url=HOOK, cdr_url=HOOK)
    container.bus.publish(leg_state(caller.company_id, "c-5", "ring"))
    container.bus.publish(leg_state(caller.company_id, "c-5", "hangup"))
    stored = StoredCallRecord(1, call_record(caller, START, uuid="c-5"), None)

    async def store_and_fail() -> None:
        async with container.db.writing() as session:
            await container.outbox.record_hook(session, stored)
            raise RuntimeError("the CDR could not be stored")

    with pytest.raises(RuntimeError):
        await store_and_fail()
    await container.outbox.flush()
    rows = await _rows(container)
    assert [(r.seq, r.kind, orjson.loads(r.body)["status"]) for r in rows] == [
        (1, "call_state", "ring"),
        (2, "call_state", "hangup"),
    ]
    await container.cdrs.record(stored.record)  # stored again: the same number as before
    assert [(r.seq, r.kind) for r in await _rows(container)] == [
        (1, "call_state"),
        (2, "call_state"),
        (3, "call_record"),
    ]


def _failed(item: Claimed, at: datetime, retry_at: datetime | None) -> AttemptResult:
    return AttemptResult(
        item.id, item.claimed_until, item.attempts + 1, at, 500, None, 3, False, retry_at
    )


async def test_an_event_is_due_only_after_every_earlier_event_of_its_call(
    container: Container, clock: ManualClock
) -> None:
    caller, _ = await webhook_company(container, "acme", call_state_url=HOOK, cdr_url=HOOK)
    await place_call(container, caller, "call-a")
    await place_call(container, caller, "call-b")
    await container.outbox.flush()
    outbox = container.outbox
    now = clock.now()
    lease = now + timedelta(days=1)
    ids = {(r.call_id, r.seq): r.id for r in await _rows(container)}

    heads = await outbox.settle_and_claim([], now, 100, lease)
    assert [c.id for c in heads] == [ids["call-a", 1], ids["call-b", 1]]
    assert await outbox.settle_and_claim([], now, 100, lease) == []  # claimed: not due

    head_a, head_b = heads
    later = now + timedelta(hours=1)
    claimed = await outbox.settle_and_claim(
        [_failed(head_a, now, later), _failed(head_b, now, None)], now, 100, lease
    )
    # call-b's first event is dead, so its second is due; call-a waits for its retry.
    assert [c.id for c in claimed] == [ids["call-b", 2]]

    clock.advance(3600)
    claimed = await outbox.settle_and_claim([], clock.now(), 1, clock.now())
    assert [(c.id, c.attempts) for c in claimed] == [(ids["call-a", 1], 1)]
    delivered = replace(_failed(claimed[0], clock.now(), None), status_code=204, delivered=True)
    claimed = await outbox.settle_and_claim([delivered], clock.now(), 100, lease)
    assert [c.id for c in claimed] == [ids["call-a", 2]]

    async with container.db.transaction() as session:
        statuses = dict(
            (await session.execute(select(WebhookEventRow.id, WebhookEventRow.status))).all()
        )
    assert statuses[ids["call-a", 1]] == "delivered"
    assert statuses[ids["call-b", 1]] == "dead"


async def test_release_makes_a_claim_due_again(container: Container, clock: ManualClock) -> None:
    caller, _ = await webhook_company(container, "acme", cdr_url=HOOK)
    await place_call(container, caller, "call-a")
    now = clock.now()
    [claimed] = await container.outbox.settle_and_claim([], now, 10, now + timedelta(hours=1))
    assert await container.outbox.settle_and_claim([], now, 10, now) == []
    await container.outbox.release([claimed], now)
    assert [c.id for c in await container.outbox.settle_and_claim([], now, 10, now)] == [claimed.id]


async def test_a_redelivery_during_an_attempt_is_not_lost(
    container: Container, clock: ManualClock
) -> None:
    caller, _ = await webhook_company(container, "acme", cdr_url=HOOK)
    await place_call(container, caller, "call-a")
    now = clock.now()
    [claimed] = await container.outbox.settle_and_claim([], now, 10, now + timedelta(hours=1))
    await container.outbox.redeliver(claimed.event_id)  # the admin, meanwhile
    sent = replace(_failed(claimed, now, None), status_code=200, delivered=True)
    [again] = await container.outbox.settle_and_claim([sent], now, 10, now + timedelta(hours=1))
    assert again.id == claimed.id
    [view] = await container.outbox.deliveries(caller.company_code)
    assert (view.status, view.attempts, [a.status_code for a in view.history]) == (
        "pending",
        0,
        [200],
    )


async def test_a_failing_url_holds_back_only_its_own_events(
    container: Container, clock: ManualClock
) -> None:
    """Order is kept per call and destination: a call-state URL that keeps failing does
    not hold back the call record sent to another URL."""
    records = "https://crm.example.com/records"
    caller, _ = await webhook_company(container, "acme", call_state_url=HOOK, cdr_url=records)
    await place_call(container, caller, "call-a")
    await container.outbox.flush()
    rows = await _rows(container)
    assert [r.url for r in rows] == [HOOK] * 6 + [records]
    now = clock.now()
    lease = now + timedelta(days=1)
    heads = await container.outbox.settle_and_claim([], now, 100, lease)
    # The first state event and the record are both due at once.
    assert [c.id for c in heads] == [rows[0].id, rows[6].id]
    retry = now + timedelta(hours=1)
    failed_state = _failed(heads[0], now, retry)
    delivered = replace(_failed(heads[1], now, None), status_code=200, delivered=True)
    # While the state URL fails, nothing more of its events is due, and the record is
    # delivered.
    assert await container.outbox.settle_and_claim([failed_state, delivered], now, 100, lease) == []
    async with container.db.transaction() as session:
        status = await session.scalar(
            select(WebhookEventRow.status).where(WebhookEventRow.id == rows[6].id)
        )
    assert status == "delivered"
