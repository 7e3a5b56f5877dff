"""The router's own metric names: a contract, the `local` metric source reads them."""

from __future__ import annotations

REQUESTS = "accelctl_router_requests_total"  # counter{backend, status}: one per upstream attempt
LATENCY = "accelctl_router_request_latency_seconds"  # histogram{backend}: upstream time per attempt
RETRIES = "accelctl_router_retries_total"  # counter{backend}: attempts that failed over to another backend
CLIENT_REQUESTS = "accelctl_router_client_requests_total"  # counter{status}: what clients got back
WEIGHT = "accelctl_router_backend_weight"  # gauge{backend}
HEALTHY = "accelctl_router_backend_healthy"  # gauge{backend}: 1 while /readiness answers 200
CAPACITY = "accelctl_router_capacity_available"  # gauge{backend, pool}: 0 while its pool is marked short

# Status label for an attempt that got no HTTP answer (refused connection, reset, timeout).
NO_RESPONSE = "error"
