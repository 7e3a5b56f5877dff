"""The server's Prometheus metrics, in a registry of their own per app (tests build many apps).

Every series carries a `unit` label so one PromQL selector picks a deployment unit's replicas
whatever the scrape configuration adds. Names come from accelctl.serve.metrics (the contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from accelctl.serve import metrics as names

GENERATION_ROUTES = frozenset({names.GENIMAGE_ROUTE, names.OPENAI_ROUTE})


class ServerMetrics:
    def __init__(self, unit: str, model: str, target: str, instance_type: str):
        self.unit = unit
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            names.REQUESTS,
            "HTTP requests answered, by route template and status code.",
            ["unit", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            names.LATENCY,
            "Seconds from request arrival to the last byte of a "
            "successful (2xx) image response, queueing included.",
            ["unit", "route"],
            buckets=names.LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(names.INFLIGHT, "Model calls running now.", ["unit"], registry=r)
        self.queued = Gauge(
            names.QUEUED, "Requests admitted and waiting for a model slot.", ["unit"], registry=r
        )
        self.images = Counter(
            names.IMAGES, "Images generated for clients (warm-up excluded).", ["unit"], registry=r
        )
        self.ready = Gauge(names.READY, "1 once warmed up and not draining, else 0.", ["unit"], registry=r)
        info = Gauge(
            names.UNIT_INFO,
            "Always 1; labels say what this deployment unit is.",
            ["unit", "model", "target", "instance_type"],
            registry=r,
        )
        info.labels(unit, model, target, instance_type).set(1)
        self.ready.labels(unit).set(0)
        self.images.labels(unit)  # exported as 0 from the start, so rate() has a first sample

    def watch(self, running: Callable[[], float], waiting: Callable[[], float]) -> None:
        """Read the gauges from the admission counters at scrape time: they can never drift."""
        self.inflight.labels(self.unit).set_function(running)
        self.queued.labels(self.unit).set_function(waiting)


class MetricsMiddleware:
    """Pure ASGI middleware: counts every answer by route template and times successful images."""

    def __init__(self, app, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            m = self.metrics
            m.requests.labels(m.unit, path, str(status)).inc()
            if path in GENERATION_ROUTES and 200 <= status < 300:
                m.latency.labels(m.unit, path).observe(time.perf_counter() - start)
