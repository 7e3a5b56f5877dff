"""Metric names the server exports. A contract: `watch`, the router and KEDA query these names.

Documented in docs/metrics.md; tests pin them.
"""

REQUESTS = "accelctl_requests_total"  # counter{route, status}
LATENCY = "accelctl_request_latency_seconds"  # histogram{route}
INFLIGHT = "accelctl_inflight_requests"  # gauge
QUEUED = "accelctl_queued_requests"  # gauge
IMAGES = "accelctl_images_generated_total"  # counter
UNIT_INFO = "accelctl_unit_info"  # info{unit, model, target, instance_type}
READY = "accelctl_ready"  # gauge: 1 once warmed and not draining

# Buckets resolve the paper's 900 ms SLO and the multi-second latencies of CPU builds.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

GENIMAGE_ROUTE = "/genimage"
OPENAI_ROUTE = "/v1/images/generations"
