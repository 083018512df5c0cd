"""What supervisors watch of the queues: callers by outcome per group, the wait of those
answered, and (read when asked) the callers waiting now and the longest wait."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from callyard.metrics import Metrics
from callyard.services.queues.settings import GroupQueueView
from callyard.services.sessions.model import SessionView


class Waiting(Protocol):
    """A caller waiting in a queue, as the numbers need it."""

    @property
    def group(self) -> GroupQueueView: ...
    @property
    def entered_at(self) -> float: ...


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
        self._queues: dict[int, GroupQueueView] = {}  # every queue that had a caller

    def refresh(self, waiting: Mapping[int, Sequence[Waiting]], now: float) -> None:
        """The callers waiting now and the longest wait, per queue."""
        for group_id, callers in waiting.items():
            if callers:
                self._queues[group_id] = callers[0].group
        for group_id, queue in self._queues.items():
            callers = waiting.get(group_id, ())
            labels = (str(queue.company_id), queue.name)
            self._metrics.queue_waiting.labels(*labels).set(len(callers))
            longest = max((now - c.entered_at for c in callers), default=0.0)
            self._metrics.queue_longest_wait.labels(*labels).set(longest)

    def count_agents(self, agents: Iterable[SessionView]) -> None:
        """Signed-in agents by group and state."""
        counts: dict[tuple[str, str, str], int] = {}
        for agent in agents:
            for group in agent.groups:
                key = (str(agent.company_id), group.name, agent.status.value)
                counts[key] = counts.get(key, 0) + 1
        gauge = self._metrics.agents_by_state
        gauge.clear()
        for labels, count in counts.items():
            gauge.labels(*labels).set(count)

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
