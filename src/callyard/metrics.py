"""Prometheus metrics, one registry per server so that tests can build many."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The counters and histograms callyard exports at `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.api_requests = Counter(
            "callyard_api_requests",
            "API requests by dialect, service and result code",
            ["dialect", "service", "ret"],
            registry=self.registry,
        )
        self.api_latency = Histogram(
            "callyard_api_request_seconds",
            "Time to answer an API request",
            ["dialect"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

        self.calls_in_progress = Gauge(
            "callyard_calls_in_progress",
            "Calls the call service follows now (each gets its record when it ends)",
            registry=self.registry,
        )
        self.switch_calls = Gauge(
            "callyard_switch_calls",
            "Calls in progress in the SIP switch (relay sessions open), as it last said",
            registry=self.registry,
        )
        self.routing_revision = Gauge(
            "callyard_routing_revision",
            "The store's change counter as the switch's routing table last followed it "
            "(within half a second of a change)",
            registry=self.registry,
        )
        self.queue_callers = Counter(
            "callyard_queue_callers",
            "Callers of a group's queue by outcome: entered, answered, answered within the "
            "service level, abandoned (hung up waiting), overflowed (full or waited too long)",
            ["company", "group", "outcome"],
            registry=self.registry,
        )
        self.queue_waiting = Gauge(
            "callyard_queue_waiting",
            "Callers waiting in a group's queue now",
            ["company", "group"],
            registry=self.registry,
        )
        self.queue_longest_wait = Gauge(
            "callyard_queue_longest_wait_seconds",
            "How long the caller waiting longest in a group's queue has waited",
            ["company", "group"],
            registry=self.registry,
        )
        self.queue_offer_latency = Histogram(
            "callyard_queue_offer_seconds",
            "From a free agent's turn to its phone being called: queue entry or agent "
            "freed to the offer",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.agents_by_state = Gauge(
            "callyard_agents",
            "Signed-in agents by group and state",
            ["company", "group", "state"],
            registry=self.registry,
        )

        self.task_calls = Gauge(
            "callyard_task_calls",
            "Calls of a running predictive task so far, by outcome",
            ["taskid", "outcome"],  # dialed, answered, connected, abandoned
            registry=self.registry,
        )
        self.task_abandon_ratio = Gauge(
            "callyard_task_abandon_ratio",
            "Abandoned over answered calls of a running predictive task",
            ["taskid", "window"],  # life, hour
            registry=self.registry,
        )
        self.task_occupancy = Gauge(
            "callyard_task_agent_occupancy_ratio",
            "Agents' talk time over their staffed time in a running predictive task",
            ["taskid"],
            registry=self.registry,
        )
        self.task_agents = Gauge(
            "callyard_task_agents",
            "Agents of a running predictive task's group: staffed and free now",
            ["taskid", "state"],
            registry=self.registry,
        )
        self.task_calls_in_progress = Gauge(
            "callyard_task_calls_in_progress",
            "A running predictive task's calls now: ringing, waiting for an agent, with an agent",
            ["taskid", "stage"],
            registry=self.registry,
        )

        self.task_held = Gauge(
            "callyard_task_held",
            "1 while a running predictive task holds its numbers (its trunk does not answer,"
            " it has no trunk or caller ID), else 0; the reason is in TaskList and the log",
            ["taskid"],
            registry=self.registry,
        )

    def clear_tasks(self) -> None:
        """Drop every task's series (before setting those of the tasks running now)."""
        for gauge in (
            self.task_calls,
            self.task_abandon_ratio,
            self.task_occupancy,
            self.task_agents,
            self.task_calls_in_progress,
            self.task_held,
        ):
            gauge.clear()

    def render(self) -> bytes:
        return generate_latest(self.registry)
