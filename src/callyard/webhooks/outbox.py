"""The webhook outbox: every event to send is a row, written before it is sent.

A call's events are numbered in memory when they happen (`seq`, per call) and delivered
in that order to each destination URL (a failing URL holds back only its own events).
Call-state events have no other database change to ride with, so a writer task stores
them as they come, several per transaction when several are waiting. The
call record's event is written by `record_hook` inside the transaction that stores the
CDR, together with any of the call's state events still waiting for the writer: a record
is never in the store without the events that came before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callyard.bus import BusEvent, CallStateChanged
from callyard.clock import Clock
from callyard.errors import InvalidInput, NotFound
from callyard.services.cdrs import StoredCallRecord
from callyard.services.sessions.model import AgentNotice
from callyard.store.database import Database
from callyard.store.lookups import company_by_code
from callyard.store.models import Company, WebhookAttemptRow, WebhookEventRow
from callyard.webhooks.claiming import CLAIM
from callyard.webhooks.deliveries import (
    MAX_LIST,
    AttemptResult,
    AttemptView,
    Claimed,
    DeliveryStatus,
    DeliveryView,
    delivery_view,
    parse_status,
)
from callyard.webhooks.settings import EventKind, WebhookSettingsService, WebhookTargets

log = logging.getLogger("callyard.webhooks")
PURGE_BATCH = 500  # event ids per DELETE

WRITE_RETRY_SECONDS = 1.0
WRITE_TRIES = 5  # a batch that fails this often is dropped (logged), not retried forever
MAX_TRACKED_CALLS = 100_000  # sequence counters of calls whose record never came
WRITER_WAIT_SECONDS = 30.0
CLOSE_FLUSH_SECONDS = 5.0


@dataclass
class _StateEvent:
    """An event not yet in the store: a call's state, or a push of another kind (an
    agent's event) numbered in its own stream."""

    event_id: str
    company_id: int
    call_id: str  # the call, or the stream, whose events go out in order
    seq: int
    body: bytes
    created_at: datetime
    failures: int = 0
    kind: str = EventKind.CALL_STATE

    def url(self, targets: WebhookTargets | None) -> str | None:
        if targets is None:
            return None
        if self.kind == EventKind.CALL_STATE:
            return targets.url_for(EventKind.CALL_STATE)
        return targets.push_url(self.kind)

    def row(self, url: str) -> WebhookEventRow:
        return _event_row(
            self.event_id,
            self.company_id,
            self.call_id,
            self.seq,
            self.kind,
            url,
            self.body,
            self.created_at,
        )


def _event_row(
    event_id: str,
    company_id: int,
    call_id: str,
    seq: int,
    kind: str,
    url: str,
    body: bytes,
    created_at: datetime,
) -> WebhookEventRow:
    return WebhookEventRow(
        event_id=event_id,
        company_id=company_id,
        call_id=call_id,
        seq=seq,
        kind=kind,
        url=url,
        body=body.decode(),
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=created_at,
        created_at=created_at,
    )


class CallbackBodies(Protocol):
    """What a dialect sends for callyard's events: the request bodies of its callbacks."""

    def state(self, event: CallStateChanged) -> bytes: ...

    def record(self, row: StoredCallRecord, zone: str | None) -> bytes: ...


class NoticeBodies(Protocol):
    """Renders an agent's session notice as a dialect's push: its kind and body (None:
    the dialect pushes nothing for it)."""

    def notice(self, notice: AgentNotice) -> tuple[str, bytes] | None: ...


class PushBodies(Protocol):
    """What a dialect pushes when a call is recorded, each to the company's URL for its
    kind: (kind, body) pairs, none for a call the dialect has no push for."""

    def pushes(self, row: StoredCallRecord, zone: str | None) -> list[tuple[str, bytes]]: ...


class Outbox:
    """Writes webhook events to the store, hands due ones to the delivery worker, and
    answers the delivery log."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: WebhookSettingsService,
        bodies: CallbackBodies,
        pushes: Sequence[PushBodies] = (),
        notices: NoticeBodies | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._bodies = bodies
        self._pushes = pushes
        self._notices = notices
        # Agents' events are numbered per agent and per run of this process: a restart
        # starts new streams instead of guessing where the old ones stood.
        self._run = uuid.uuid4().hex[:12]
        self._listeners: list[Callable[[], None]] = []
        self._seqs: dict[str, int] = {}  # call -> last sequence number given out
        self._unwritten: dict[str, list[_StateEvent]] = {}  # call -> events, by seq
        self._writing: dict[str, asyncio.Future[None]] = {}  # call -> writer's transaction
        self._pending = asyncio.Event()
        self._batches = asyncio.Condition()
        self._writer: asyncio.Task[None] | None = None

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after events were committed or made due again (the worker's wake-up)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def _next_seq(self, call_id: str) -> int:
        seq = self._seqs.pop(call_id, 0) + 1
        self._seqs[call_id] = seq
        if len(self._seqs) > MAX_TRACKED_CALLS:
            del self._seqs[next(iter(self._seqs))]
        return seq

    # Writing events

    def on_bus_event(self, bus_event: BusEvent) -> None:
        """Bus subscriber: number a call-state event or an agent's event and queue it for
        the writer. (The call record's event is written with the CDR, by `record_hook`.)"""
        if isinstance(bus_event, CallStateChanged):
            stream, kind = bus_event.call_id, EventKind.CALL_STATE.value
            company_id, body = bus_event.company_id, self._bodies.state(bus_event)
        elif isinstance(bus_event, AgentNotice) and self._notices is not None:
            rendered = self._notices.notice(bus_event)
            if rendered is None:
                return
            kind, body = rendered
            stream = f"agent-{bus_event.agent.agent_id}-{self._run}"
            company_id = bus_event.agent.company_id
        else:
            return
        state = _StateEvent(
            str(uuid.uuid4()),
            company_id,
            stream,
            self._next_seq(stream),
            body,
            self._clock.now(),
            kind=kind,
        )
        self._unwritten.setdefault(state.call_id, []).append(state)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._pending.set()

    async def record_hook(self, session: AsyncSession, stored: StoredCallRecord) -> None:
        """CdrService's hook, inside the transaction that stores the record: writes the
        call's state events still waiting, then its call-record event."""
        rec = stored.record
        writing = self._writing.get(rec.uuid)
        if writing is not None:
            # The writer is committing some of this call's state events in a transaction
            # of its own (PostgreSQL; on SQLite it cannot be, as both hold the write
            # lock): let it finish, so the record cannot become visible before them.
            try:
                async with asyncio.timeout(WRITER_WAIT_SECONDS):
                    await asyncio.shield(writing)
            except TimeoutError:
                log.warning("call-state events still being written", extra={"call": rec.uuid})
        states = self._unwritten.pop(rec.uuid, [])
        known = rec.uuid in self._seqs
        seq = self._seqs.pop(rec.uuid, 0) + 1
        if not known:
            # A call this process never numbered: one a restart cut short, whose events
            # from before may be stored already.
            stored_seq = await session.scalar(
                select(func.max(WebhookEventRow.seq)).where(WebhookEventRow.call_id == rec.uuid)
            )
            seq = max(seq, (stored_seq or 0) + 1)
        sync_session = session.sync_session

        def rolled_back(_session: object) -> None:
            # The record will be stored again (or not at all): its state events go back
            # to the writer, and it gets the same number next time.
            self._seqs[rec.uuid] = max(self._seqs.get(rec.uuid, 0), seq - 1)
            self._restore(states)

        event.listen(sync_session, "after_rollback", rolled_back, once=True)
        targets = await self._settings.targets(rec.company_id, session)
        rows = _state_rows(states, targets)
        bodies: list[tuple[str, str, bytes]] = []  # kind, url, body
        if targets is not None:
            wanted = targets.url_for(EventKind.CALL_RECORD) is not None or bool(targets.pushes)
            zone = None
            if wanted:
                zone = await session.scalar(
                    select(Company.timezone).where(Company.id == rec.company_id)
                )
            cdr_url = targets.url_for(EventKind.CALL_RECORD)
            if cdr_url:
                bodies.append((EventKind.CALL_RECORD, cdr_url, self._bodies.record(stored, zone)))
            for renderer in self._pushes if wanted else ():
                for kind, body in renderer.pushes(stored, zone):
                    url = targets.push_url(kind)
                    if url:
                        bodies.append((kind, url, body))
        for number, (kind, url, body) in enumerate(bodies):
            rows.append(
                _event_row(
                    str(uuid.uuid4()),
                    rec.company_id,
                    rec.uuid,
                    seq + number,
                    kind,
                    url,
                    body,
                    self._clock.now(),
                )
            )
        if rows:
            session.add_all(rows)
            await session.flush()
            event.listen(sync_session, "after_commit", lambda _s: self._notify(), once=True)

    def _restore(self, states: Iterable[_StateEvent]) -> None:
        """Put back state events whose transaction failed, for the writer to try again."""
        for state in states:
            state.failures += 1
            if state.failures >= WRITE_TRIES:
                log.error(
                    "dropping a call-state webhook event that could not be stored",
                    extra={"call": state.call_id, "event_id": state.event_id},
                )
                continue
            queue = self._unwritten.setdefault(state.call_id, [])
            queue.append(state)
            queue.sort(key=lambda s: s.seq)
        if self._unwritten and self._writer is not None:
            self._pending.set()

    async def _write_loop(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                await self._write_pending()
            except Exception:
                log.exception("writing call-state webhook events failed")
                await asyncio.sleep(WRITE_RETRY_SECONDS)
                self._pending.set()
            async with self._batches:
                self._batches.notify_all()

    async def _write_pending(self) -> None:
        # Settings come from memory (a read at most every poll interval); events that
        # no company wants are dropped here and cost no transaction.
        wanted: dict[int, WebhookTargets | None] = {}
        for company_id in {s.company_id for q in self._unwritten.values() for s in q}:
            wanted[company_id] = await self._settings.targets(company_id)
        for call_id, queue in list(self._unwritten.items()):
            kept = [s for s in queue if s.company_id not in wanted or s.url(wanted[s.company_id])]
            if kept:
                self._unwritten[call_id] = kept
            else:
                del self._unwritten[call_id]
        if not self._unwritten:
            return
        taken: dict[str, list[_StateEvent]] = {}
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        rows: list[WebhookEventRow] = []
        try:
            async with self._db.writing() as session:
                # Taken only now, holding the write transaction: on SQLite the record hook
                # (which holds the write lock) never finds a call's events half-written.
                taken, self._unwritten = self._unwritten, {}
                for call_id in taken:
                    self._writing[call_id] = done
                for queue in taken.values():
                    company_id = queue[0].company_id
                    if company_id not in wanted:
                        wanted[company_id] = await self._settings.targets(company_id, session)
                    rows.extend(_state_rows(queue, wanted[company_id]))
                session.add_all(rows)
        except BaseException:
            self._restore(s for q in taken.values() for s in q)
            raise
        finally:
            for call_id in taken:
                if self._writing.get(call_id) is done:
                    del self._writing[call_id]
            done.set_result(None)
        if rows:
            self._notify()

    async def flush(self) -> None:
        """Wait until every call-state event published so far is stored (or dropped)."""
        if self._writer is None:
            return
        async with self._batches:
            while self._unwritten or self._writing:
                self._pending.set()
                await self._batches.wait()

    async def close(self) -> None:
        """Store what is waiting (for at most a few seconds), then stop the writer."""
        if self._writer is None:
            return
        try:
            async with asyncio.timeout(CLOSE_FLUSH_SECONDS):
                await self.flush()
        except TimeoutError:
            count = sum(len(q) for q in self._unwritten.values())
            log.warning("call-state webhook events lost at shutdown", extra={"count": count})
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    # The delivery worker's side

    async def settle_and_claim(
        self,
        results: list[AttemptResult],
        now: datetime,
        limit: int,
        lease_until: datetime,
        exclude: Iterable[int] = (),
    ) -> list[Claimed]:
        """In one transaction: store the outcome of finished attempts, then claim up to
        `limit` due events. An event is due when it is pending, its next attempt time has
        come, and no event of its call with a lower `seq` is still pending. A claim moves
        the next attempt to `lease_until`, so another server does not send it too, and a
        crashed server's claim runs out."""
        async with self._db.writing() as session:
            if results:
                await self._settle(session, results)
            if limit <= 0:
                return []
            claimed = await self._claim(session, now, limit, lease_until, list(exclude))
        # The next event of a call settled here was claimed just now if it is due: the
        # claim comes after the settling, in the same transaction.
        return claimed

    async def _settle(self, session: AsyncSession, results: list[AttemptResult]) -> None:
        # An event redelivered while its attempt was in flight no longer carries the
        # claim's lease: the outcome is logged but the event stays due for its new send.
        for result in results:
            values: dict[str, object] = {
                "attempts": result.attempts,
                "last_status_code": result.status_code,
                "last_error": result.error,
            }
            if result.delivered:
                values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=result.at)
            elif result.next_attempt_at is None:
                values.update(status=DeliveryStatus.DEAD.value)
            else:
                values.update(next_attempt_at=result.next_attempt_at)
            await session.execute(
                update(WebhookEventRow)
                .where(
                    WebhookEventRow.id == result.id,
                    WebhookEventRow.status == DeliveryStatus.PENDING.value,
                    WebhookEventRow.next_attempt_at == result.claimed_until,
                )
                .values(**values)
            )
        session.add_all(
            WebhookAttemptRow(
                event_id=r.id,
                attempted_at=r.at,
                status_code=r.status_code,
                error=r.error,
                elapsed_ms=r.elapsed_ms,
            )
            for r in results
        )

    async def _claim(
        self,
        session: AsyncSession,
        now: datetime,
        limit: int,
        lease_until: datetime,
        exclude: list[int],
    ) -> list[Claimed]:
        result = await session.execute(
            CLAIM,
            {"now": now, "lease": lease_until, "limit": limit, "exclude": exclude},
        )
        claimed = [
            Claimed(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5].encode(),
                row[6],
                lease_until,
            )
            for row in result
        ]
        return sorted(claimed, key=lambda c: c.id)

    async def release(self, claims: list[Claimed], now: datetime) -> None:
        """Make claimed events due again at once (their attempts were cut short)."""
        if not claims:
            return
        async with self._db.writing() as session:
            for claim in claims:
                await session.execute(
                    update(WebhookEventRow)
                    .where(
                        WebhookEventRow.id == claim.id,
                        WebhookEventRow.status == DeliveryStatus.PENDING.value,
                        WebhookEventRow.next_attempt_at == claim.claimed_until,
                    )
                    .values(next_attempt_at=now)
                )

    # The delivery log

    async def deliveries(
        self, company_code: int, status: str | None = None, limit: int = 100
    ) -> list[DeliveryView]:
        """A company's events, newest first, each with its attempts (oldest first)."""
        wanted = parse_status(status)
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput("limit", f"must be 1 to {MAX_LIST}")
        async with self._db.transaction() as session:
            company = await company_by_code(session, company_code)
            query = select(WebhookEventRow).where(WebhookEventRow.company_id == company.id)
            if wanted is not None:
                query = query.where(WebhookEventRow.status == wanted.value)
            rows = list(
                await session.scalars(query.order_by(WebhookEventRow.id.desc()).limit(limit))
            )
            history = await _histories(session, [row.id for row in rows])
        return [delivery_view(row, history.get(row.id, [])) for row in rows]

    async def purge(self, before: datetime) -> int:
        """Forget delivered and dead events created before `before`, with their attempts;
        pending events stay whatever their age. Returns how many were forgotten."""
        finished = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)
        async with self._db.writing() as session:
            old = list(
                await session.scalars(
                    select(WebhookEventRow.id).where(
                        WebhookEventRow.status.in_(finished), WebhookEventRow.created_at < before
                    )
                )
            )
            for start in range(0, len(old), PURGE_BATCH):
                ids = old[start : start + PURGE_BATCH]
                await session.execute(
                    delete(WebhookAttemptRow).where(WebhookAttemptRow.event_id.in_(ids))
                )
                await session.execute(delete(WebhookEventRow).where(WebhookEventRow.id.in_(ids)))
        return len(old)

    async def redeliver(self, event_id: str) -> DeliveryView:
        """Send an event again, whatever its state: pending now, with a fresh schedule."""
        async with self._db.writing() as session:
            row = await session.scalar(
                select(WebhookEventRow).where(WebhookEventRow.event_id == event_id.strip())
            )
            if row is None:
                raise NotFound(f"no webhook event {event_id!r}")
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.next_attempt_at = self._clock.now()
            row.delivered_at = None
            await session.flush()
            history = await _histories(session, [row.id])
            view = delivery_view(row, history.get(row.id, []))
        self._notify()
        return view

    async def redeliver_dead(self, company_code: int | None = None) -> int:
        """Send every dead event (of one company, or all) again; returns how many."""
        async with self._db.writing() as session:
            query = update(WebhookEventRow).where(
                WebhookEventRow.status == DeliveryStatus.DEAD.value
            )
            if company_code is not None:
                company = await company_by_code(session, company_code)
                query = query.where(WebhookEventRow.company_id == company.id)
            result = await session.execute(
                query.values(
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=self._clock.now(),
                ).execution_options(synchronize_session=False)
            )
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            self._notify()
        return count


def _state_rows(states: list[_StateEvent], targets: WebhookTargets | None) -> list[WebhookEventRow]:
    rows = []
    for state in states:
        url = state.url(targets)
        if url:
            rows.append(state.row(url))
    return rows


async def _histories(session: AsyncSession, ids: list[int]) -> dict[int, list[AttemptView]]:
    if not ids:
        return {}
    attempts = await session.scalars(
        select(WebhookAttemptRow)
        .where(WebhookAttemptRow.event_id.in_(ids))
        .order_by(WebhookAttemptRow.id)
    )
    history: dict[int, list[AttemptView]] = {}
    for attempt in attempts:
        history.setdefault(attempt.event_id, []).append(
            AttemptView(
                attempt.attempted_at, attempt.status_code, attempt.error, attempt.elapsed_ms
            )
        )
    return history
