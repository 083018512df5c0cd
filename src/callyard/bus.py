"""The in-process event bus: services publish domain events, others (webhooks, metrics)
subscribe. Events say what happened in callyard's own words; each API dialect renders
the bodies of its own callbacks from them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from callyard.domain.calls import CallKind, Direction

if TYPE_CHECKING:
    from callyard.services.cdrs import StoredCallRecord
    from callyard.services.sessions.model import AgentNotice

log = logging.getLogger("callyard.bus")


class LegStatus(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


@dataclass(frozen=True)
class CallView:
    """A call as it stands when one of its legs changes."""

    call_id: str
    company_code: int
    kind: CallKind  # how the call came to be
    extnumber: str  # the extension on the call ("" when none)
    destnumber: str  # the number called
    disnumber: str  # the number shown (the caller's number for a carrier's call)
    customuuid: str
    started_at: datetime

    @property
    def inbound(self) -> bool:
        """A carrier's call to a company number."""
        return self.kind.direction is Direction.INBOUND


@dataclass(frozen=True)
class CallStateChanged:
    """A leg of a call rang, answered or ended."""

    company_id: int
    call_id: str
    leg: str  # the switch's leg name: "agent" (rung first) or "customer"
    status: LegStatus
    call: CallView


@dataclass(frozen=True)
class CallRecorded:
    """A finished call's record was stored."""

    company_id: int
    call_id: str
    record: StoredCallRecord
    timezone: str | None  # the company's, for wall-clock times; None: the server's


BusEvent: TypeAlias = "CallStateChanged | CallRecorded | AgentNotice"


class EventBus:
    """Synchronous fan-out; a failing subscriber is logged and does not stop the others."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[BusEvent], None]] = []

    def subscribe(self, subscriber: Callable[[BusEvent], None]) -> None:
        self._subscribers.append(subscriber)

    def publish(self, event: BusEvent) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed", extra={"event": type(event).__name__})
