"""Metric names the server exports. A contract: `watch`, the router and KEDA query these names.

Documented in docs/metrics.md; tests pin them. Every series also carries a `unit` label (the
deployment unit's name), so PromQL can select a unit without help from the scrape configuration.
"""

REQUESTS = (
    "accelctl_requests_total"  # counter{unit, route, status}; route is the template, "unmatched" for 404s
)
# histogram{unit, route}; image routes, 2xx answers only, queueing included
LATENCY = "accelctl_request_latency_seconds"
INFLIGHT = "accelctl_inflight_requests"  # gauge{unit}: model calls running
QUEUED = "accelctl_queued_requests"  # gauge{unit}: admitted, waiting for a model slot
IMAGES = "accelctl_images_generated_total"  # counter{unit}
UNIT_INFO = "accelctl_unit_info"  # gauge{unit, model, target, instance_type}, always 1
READY = "accelctl_ready"  # gauge{unit}: 1 once warmed and not draining

# Buckets resolve the paper's 900 ms SLO and the multi-second latencies of CPU builds.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

# Status label of a request whose client closed the connection before its body arrived (nginx's code):
# counted apart, so slow or vanished clients never read as server errors (5xx) to alerts and KEDA.
CLIENT_CLOSED_STATUS = 499

GENIMAGE_ROUTE = "/genimage"
OPENAI_ROUTE = "/v1/images/generations"
