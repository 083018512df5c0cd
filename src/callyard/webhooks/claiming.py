"""Which outbox events are due: one UPDATE ... RETURNING, built once."""

from __future__ import annotations

from sqlalchemy import Executable, Integer, bindparam, select, update
from sqlalchemy.orm import aliased

from callyard.store.models import WebhookEventRow
from callyard.webhooks.deliveries import DeliveryStatus


def claim_statement() -> Executable:
    """UPDATE ... RETURNING that claims due events: pending, next attempt reached, no
    pending event of the same call for the same URL before them (a receiver that fails
    holds back only its own events). Built once: constructing it took most of a delivery
    round's time. Parameters: now, lease, limit, exclude (ids in flight)."""
    candidate = aliased(WebhookEventRow, name="candidate")
    earlier = aliased(WebhookEventRow, name="earlier")
    blocked = (
        select(earlier.id)
        .where(
            earlier.call_id == candidate.call_id,
            earlier.url == candidate.url,
            earlier.seq < candidate.seq,
            earlier.status == DeliveryStatus.PENDING.value,
        )
        .exists()
    )
    due = (
        select(candidate.id)
        .where(
            candidate.status == DeliveryStatus.PENDING.value,
            candidate.next_attempt_at <= bindparam("now"),
            ~blocked,
            candidate.id.not_in(bindparam("exclude", expanding=True)),
        )
        .order_by(candidate.next_attempt_at, candidate.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(of=candidate, skip_locked=True)
    )
    table = WebhookEventRow
    return (
        update(table)
        .where(table.id.in_(due))
        .values(next_attempt_at=bindparam("lease"))
        .returning(
            table.id,
            table.event_id,
            table.company_id,
            table.kind,
            table.url,
            table.body,
            table.attempts,
        )
        .execution_options(synchronize_session=False)
    )


CLAIM = claim_statement()
