"""Prometheus metrics, one registry per server so that tests can build many."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


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

    def render(self) -> bytes:
        return generate_latest(self.registry)
