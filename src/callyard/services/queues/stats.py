"""What supervisors watch of the queues: callers by outcome per group, the wait of those
answered, and (read when asked) the callers waiting now and the longest wait."""

from __future__ import annotations

from dataclasses import dataclass

from callyard.metrics import Metrics
from callyard.services.queues.settings import GroupQueueView


@dataclass
class GroupCounts:
    """A group's callers since the server started."""

    entered: int = 0
    answered: int = 0
    answered_in_time: int = 0  # within the queue's service level
    abandoned: int = 0
    overflowed: int = 0
    waited_seconds: float = 0.0  # of the answered ones, in all

    @property
    def service_level(self) -> float | None:
        """Answered within the service level over answered and abandoned."""
        handled = self.answered + self.abandoned
        return None if handled == 0 else self.answered_in_time / handled


class QueueStats:
    """Counts per group, and the Prometheus series they feed."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.groups: dict[int, GroupCounts] = {}

    def _count(self, queue: GroupQueueView, outcome: str) -> GroupCounts:
        labels = (str(queue.company_id), queue.name, outcome)
        self._metrics.queue_callers.labels(*labels).inc()
        return self.groups.setdefault(queue.group_id, GroupCounts())

    def entered(self, queue: GroupQueueView) -> None:
        self._count(queue, "entered").entered += 1

    def offered(self, queue: GroupQueueView, seconds: float) -> None:
        self._metrics.queue_offer_latency.observe(max(0.0, seconds))

    def answered(self, queue: GroupQueueView, waited: float) -> None:
        counts = self._count(queue, "answered")
        counts.answered += 1
        counts.waited_seconds += waited
        if waited <= queue.settings.service_level_seconds:
            self._count(queue, "answered_in_time").answered_in_time += 1

    def abandoned(self, queue: GroupQueueView, waited: float) -> None:
        self._count(queue, "abandoned").abandoned += 1

    def overflowed(self, queue: GroupQueueView, full: bool) -> None:
        self._count(queue, "overflowed_full" if full else "overflowed_wait").overflowed += 1
