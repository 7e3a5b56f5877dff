"""`watch --metrics-port`: the controller's own HTTP endpoint (docs/metrics.md, "Controller").

- /metrics: Prometheus text from a registry of its own (never prometheus_client's global one);
- /planned: the planned replicas per unit as JSON, which each unit's ScaledObject reads with KEDA's
  metrics-api scaler (`valueLocation: units.<unit>.planned_replicas`): this is how `plan` actuates
  replicas without patching anything `deploy` applied. Before the first plan, and under a policy that
  plans no replicas, every unit reads 0, so the request-rate trigger alone sizes it (KEDA takes the
  max over triggers);
- /healthz: the loop ticked within 3 intervals; /readyz: the last tick read fresh metrics and wrote
  or held for a known reason (not stale, source error, invalid or missing metrics, actuator error).

`observe` is a Controller.on_tick hook; the server thread only reads what it last stored.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from accelctl.control.loop import Hold, TickResult
from accelctl.units import ResolvedUnit

NOT_READY = {Hold.STALE, Hold.SOURCE_ERROR, Hold.INVALID_METRICS, Hold.NO_METRICS}
ACTUATOR_ERROR = "actuator_error"  # ticks_total outcome of a tick whose write failed
HEALTHY_WITHIN_INTERVALS = 3


class Exporter:
    def __init__(
        self, units: tuple[ResolvedUnit, ...], interval_s: float, clock: Callable[[], float] = time.time
    ):
        self.units = units
        self.interval_s = interval_s
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.mode = Gauge("accelctl_controller_mode", "1 for the current mode", ["mode"], registry=r)
        self.weight = Gauge(
            "accelctl_controller_weight",
            "routing weight 0..100, live and proposed",
            ["unit", "kind"],
            registry=r,
        )
        self.planned_replicas = Gauge(
            "accelctl_controller_planned_replicas", "replicas the policy plans", ["unit"], registry=r
        )
        self.available = Gauge(
            "accelctl_controller_available", "1 while the unit can serve", ["unit"], registry=r
        )
        self.can_grow = Gauge(
            "accelctl_controller_can_grow",
            "0 after a capacity signal: growth is not planned",
            ["unit"],
            registry=r,
        )
        self.ticks = Counter("accelctl_controller_ticks", "ticks by outcome", ["outcome"], registry=r)
        self.alarm = Gauge("accelctl_controller_alarm", "1 while the last tick raised an alarm", registry=r)
        self.last_applied = Gauge(
            "accelctl_controller_last_applied_timestamp_seconds",
            "unix time weights were last written or confirmed unchanged within the deadband",
            registry=r,
        )
        self.last_tick = Gauge(
            "accelctl_controller_last_tick_timestamp_seconds", "unix time of the last tick", registry=r
        )
        self.decision = Histogram(
            "accelctl_controller_decision_seconds", "time from snapshot read to decision", registry=r
        )
        self.source_age = Gauge(
            "accelctl_controller_source_age_seconds",
            "seconds since the newest data the source had about the unit, at scrape time",
            ["unit"],
            registry=r,
        )
        # Aged when scraped, not when a tick sees the unit: a source that fails, or stops reporting
        # a unit, is exactly when no tick would set the gauge, and a frozen age never alerts. A unit
        # never heard from ages from the exporter's start.
        started = clock()
        self._data_time = {u.name: started for u in units}
        for u in units:
            self.source_age.labels(unit=u.name).set_function(lambda n=u.name: self._age(n))
        self.planned_cost = Gauge(
            "accelctl_controller_planned_cost_per_hour_dollars",
            "$ per hour of the planned replicas",
            registry=r,
        )
        for mode in ("cost", "capacity"):
            self.mode.labels(mode=mode).set(0)
        self._lock = threading.Lock()
        self._planned = {"time": None, "units": {u.name: {"planned_replicas": 0} for u in units}}
        self._last: TickResult | None = None
        self._last_tick_wall: float | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _age(self, unit: str) -> float:
        with self._lock:
            return max(0.0, self.clock() - self._data_time[unit])

    # ---------------------------------------------------------------- from the loop

    def observe(self, result: TickResult) -> None:
        now = self.clock()
        d = result.decision
        outcome = "applied" if result.applied else result.held.value if result.held else ACTUATOR_ERROR
        self.ticks.labels(outcome=outcome).inc()
        self.alarm.set(1 if result.alarm else 0)
        self.last_tick.set(now)
        if result.applied or result.held is Hold.DEADBAND:
            self.last_applied.set(now)
        if result.decision_s is not None:
            self.decision.observe(result.decision_s)
        for u in self.units:
            self.weight.labels(unit=u.name, kind="live").set(result.after.get(u.name, 0))
            if result.snapshot is not None and u.name in result.snapshot.units:
                with self._lock:
                    self._data_time[u.name] = result.snapshot.time - result.snapshot.age(u.name)
        if d is not None:
            for mode in ("cost", "capacity"):
                self.mode.labels(mode=mode).set(1 if d.mode == mode else 0)
            for u in self.units:
                self.weight.labels(unit=u.name, kind="proposed").set(d.weights.get(u.name, 0))
                self.available.labels(unit=u.name).set(1 if d.available.get(u.name) else 0)
                self.can_grow.labels(unit=u.name).set(1 if d.can_grow.get(u.name, True) else 0)
            if d.planned_replicas is not None:
                planned = {u.name: int(d.planned_replicas.get(u.name, 0)) for u in self.units}
                for name, n in planned.items():
                    self.planned_replicas.labels(unit=name).set(n)
                self.planned_cost.set(
                    math.fsum(u.replica_price_per_hour * planned[u.name] for u in self.units)
                )
                with self._lock:
                    self._planned = {
                        "time": result.time,
                        "units": {n: {"planned_replicas": v} for n, v in planned.items()},
                    }
        with self._lock:
            self._last, self._last_tick_wall = result, now

    # ---------------------------------------------------------------- what the endpoints answer

    def planned(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._planned))

    def healthy(self) -> bool:
        with self._lock:
            last = self._last_tick_wall
        return last is not None and self.clock() - last <= HEALTHY_WITHIN_INTERVALS * self.interval_s

    def ready(self) -> bool:
        with self._lock:
            r = self._last
        if r is None or r.error:
            return False
        return r.applied or (r.held is not None and r.held not in NOT_READY)

    def metrics_text(self) -> bytes:
        return generate_latest(self.registry)

    # ---------------------------------------------------------------- HTTP

    def serve(self, host: str, port: int) -> int:
        """Serve in a daemon thread; returns the port (an ephemeral one when `port` is 0)."""
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, exporter.metrics_text(), CONTENT_TYPE_LATEST)
                elif path == "/planned":
                    self._send(200, json.dumps(exporter.planned()).encode(), "application/json")
                elif path in ("/healthz", "/readyz"):
                    ok = exporter.healthy() if path == "/healthz" else exporter.ready()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"not ok\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # scrapes every few seconds: not worth a log line each
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="accelctl-exporter", daemon=True
        )
        self._thread.start()
        return self._server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
