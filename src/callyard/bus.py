"""The in-process event bus: services publish, others (webhooks, metrics) subscribe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("callyard.bus")


@dataclass(frozen=True)
class CallStateChanged:
    """A call-state callback of seed 001: ring, answer or hangup of one leg."""

    company_id: int
    call_id: str
    payload: dict[str, str]


@dataclass(frozen=True)
class CallRecorded:
    """A finished call's record, as the seed's call-record callback."""

    company_id: int
    call_id: str
    payload: dict[str, Any]


BusEvent = CallStateChanged | CallRecorded


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
