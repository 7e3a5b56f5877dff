"""The router's own metric names (a contract: the `local` metric source reads them) and collectors.

Each router owns a CollectorRegistry, so several routers in one process (tests) never share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from accelctl.serve.metrics import LATENCY_BUCKETS

REQUESTS = "accelctl_router_requests_total"  # counter{backend, status}: one per upstream attempt
LATENCY = "accelctl_router_request_latency_seconds"  # histogram{backend}: upstream time per attempt
RETRIES = "accelctl_router_retries_total"  # counter{backend}: attempts that failed over to another backend
CLIENT_REQUESTS = "accelctl_router_client_requests_total"  # counter{status}: what clients got back
WEIGHT = "accelctl_router_backend_weight"  # gauge{backend}
HEALTHY = "accelctl_router_backend_healthy"  # gauge{backend}: 1 while /readiness answers 200
CAPACITY = "accelctl_router_capacity_available"  # gauge{backend, pool}: 0 while its pool is marked short

# Status label for an attempt that got no HTTP answer (refused connection, reset, timeout).
NO_RESPONSE = "error"

# Sub-10 ms buckets resolve the router's own overhead and fast stand-in backends; the rest match serve.
ROUTER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025) + LATENCY_BUCKETS


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(REQUESTS, "Upstream attempts by backend and status", ["backend", "status"], registry=r)
        self.latency = Histogram(LATENCY, "Upstream latency per attempt", ["backend"], buckets=ROUTER_BUCKETS, registry=r)
        self.retries = Counter(RETRIES, "Attempts retried on another backend", ["backend"], registry=r)
        self.client = Counter(CLIENT_REQUESTS, "Responses sent to clients by status", ["status"], registry=r)
        self.weight = Gauge(WEIGHT, "Routing weight", ["backend"], registry=r)
        self.healthy = Gauge(HEALTHY, "1 while the backend's /readiness answers 200", ["backend"], registry=r)
        self.capacity = Gauge(CAPACITY, "0 while the backend's capacity pool is marked unavailable", ["backend", "pool"], registry=r)
