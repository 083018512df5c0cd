"""The vocabulary of webhook deliveries: an event's status, a claimed event and the result
of its attempt, and what the delivery log shows of events and attempts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from callyard.errors import InvalidInput
from callyard.store.models import WebhookEventRow

MAX_LIST = 1000
MAX_ERROR = 512


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Claimed:
    """An event handed to the delivery worker for one attempt."""

    id: int
    event_id: str
    company_id: int
    kind: str  # an EventKind, or a dialect's push kind
    url: str
    body: bytes
    attempts: int  # attempts made before this one
    claimed_until: datetime  # the claim's lease: its next_attempt_at while in flight


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one attempt: delivered, retried at `next_attempt_at`, or dead
    (not delivered and no `next_attempt_at`)."""

    id: int
    claimed_until: datetime
    attempts: int  # attempts made, this one included
    at: datetime
    status_code: int | None
    error: str | None
    elapsed_ms: int
    delivered: bool
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    status_code: int | None
    error: str | None
    elapsed_ms: int


@dataclass(frozen=True)
class DeliveryView:
    """An outbox event as the delivery log shows it."""

    event_id: str
    kind: str
    call_uuid: str
    seq: int
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[AttemptView] = field(default_factory=list)


def delivery_view(row: WebhookEventRow, history: list[AttemptView]) -> DeliveryView:
    pending = row.status == DeliveryStatus.PENDING
    return DeliveryView(
        event_id=row.event_id,
        kind=row.kind,
        call_uuid=row.call_id,
        seq=row.seq,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if pending else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        history=history,
    )


def parse_status(value: str | None) -> DeliveryStatus | None:
    if value is None:
        return None
    try:
        return DeliveryStatus(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in DeliveryStatus)
        raise InvalidInput("status", f"{value!r} is not one of {known}") from None


def clip_error(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
