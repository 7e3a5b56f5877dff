"""The router's collectors, in a CollectorRegistry of its own so routers in one process never share
counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from accelctl.router.metrics import CAPACITY, CLIENT_REQUESTS, HEALTHY, LATENCY, REQUESTS, RETRIES, WEIGHT
from accelctl.serve.metrics import LATENCY_BUCKETS

# Sub-10 ms buckets resolve the router's own overhead and fast stand-in backends; the rest match serve.
ROUTER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025) + LATENCY_BUCKETS


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            REQUESTS, "Upstream attempts by backend and status", ["backend", "status"], registry=r
        )
        self.latency = Histogram(
            LATENCY, "Upstream latency per attempt", ["backend"], buckets=ROUTER_BUCKETS, registry=r
        )
        self.retries = Counter(RETRIES, "Attempts retried on another backend", ["backend"], registry=r)
        self.client = Counter(CLIENT_REQUESTS, "Responses sent to clients by status", ["status"], registry=r)
        self.weight = Gauge(WEIGHT, "Routing weight", ["backend"], registry=r)
        self.healthy = Gauge(HEALTHY, "1 while the backend's /readiness answers 200", ["backend"], registry=r)
        self.capacity = Gauge(
            CAPACITY,
            "0 while the backend's capacity pool is marked unavailable",
            ["backend", "pool"],
            registry=r,
        )
