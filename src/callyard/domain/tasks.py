"""A predictive task's life, and its numbers'."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    OVER = "over"

    @property
    def live(self) -> bool:
        return self is not TaskState.OVER


class NumberState(StrEnum):
    """Whether a task's number is done with: called for the last time, or still to be
    (first or again)."""

    PENDING = "pending"
    CALLED = "called"
