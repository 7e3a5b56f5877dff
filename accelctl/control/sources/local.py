"""The `local` metric source: the router's and each server's own /metrics and /readiness over HTTP.

Servers are found at each binding's URL, else at the URL the router has for the backend of the same
name (GET /admin/backends), so `watch --source local` needs only the router's address.

Per unit: rps and p95 from the server's request counter and latency histogram (deltas between two
reads, as Prometheus' rate() and histogram_quantile() would compute them), error rate from the router's
per-backend attempts (it also sees the connections a dead server refused), ready from /readiness, and a
capacity event while the router marks the unit's pool unavailable. Every figure is scraped at the
read, so a reading is as of the read (no `as_of`); a server that does not answer reads as not ready.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import Field

from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics
from accelctl.errors import AccelctlError
from accelctl.router import metrics as router_names
from accelctl.schema import Strict
from accelctl.serve import metrics as serve_names


class LocalSourceConfig(Strict):
    router_url: str = Field(default="http://127.0.0.1:8080", description="base URL of `accelctl router`")
    timeout_s: float = Field(default=2.0, gt=0, description="per HTTP read")
    routes: list[str] = Field(
        default=[serve_names.GENIMAGE_ROUTE, serve_names.OPENAI_ROUTE],
        description="server routes that count as inference",
    )
    replicas: int = Field(default=1, ge=0, description="servers each unit is meant to run (desired replicas)")


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) buckets, +Inf last.

    Linear interpolation inside the bucket holding the q-th observation; the highest finite bound
    when it falls in +Inf; None without observations.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    # The first bucket whose cumulative count reaches the rank; the last one always does.
    i = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    bound, count = buckets[i]
    lower_bound, lower_count = buckets[i - 1] if i > 0 else (0.0, 0.0)
    if math.isinf(bound):
        return lower_bound
    return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)


@dataclass
class _Totals:
    """Cumulative counters of one unit at one read."""

    requests: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    attempts: float = 0.0
    failed_attempts: float = 0.0


def _delta(new: float, old: float | None) -> float:
    # A counter that went down was reset (the server restarted): everything since is new.
    if old is None:
        return 0.0
    return new - old if new >= old else new


@SOURCES.register("local")
class LocalSource(Source):
    config_model = LocalSourceConfig

    def __init__(self, config: LocalSourceConfig):
        import httpx

        self.config = config
        self._http = httpx.Client(timeout=config.timeout_s)
        self._last: dict[str, _Totals] = {}
        self._last_time: float | None = None

    def measures(self) -> frozenset[str]:
        # A local fleet has no scheduler: nothing is ever pending.
        return frozenset({"rps", "p95", "error_rate", "ready", "desired", "capacity_events"})

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        router = self._router_totals()
        # A unit's server is where the binding says, else where the router sends its traffic.
        urls = self._backend_urls() if any(u.url is None for u in units) else {}
        out: dict[str, UnitMetrics] = {}
        dt = now - self._last_time if self._last_time is not None else 0.0
        seen: dict[str, _Totals] = {}
        for unit in units:
            r = router.get(unit.name, {})
            totals = _Totals(attempts=r.get("attempts", 0.0), failed_attempts=r.get("failed", 0.0))
            ready = 0
            url = unit.url or urls.get(unit.name)
            if url:
                ready, served = self._server(url)
                if served is not None:
                    totals.requests, totals.buckets = served
            seen[unit.name] = totals
            out[unit.name] = self._metrics(
                totals, self._last.get(unit.name), dt, ready, r.get("capacity_short", 0)
            )
        self._last, self._last_time = seen, now
        return MetricsSnapshot(time=now, units=out)

    def _metrics(
        self, new: _Totals, old: _Totals | None, dt: float, ready: int, capacity_short: int
    ) -> UnitMetrics:
        if old is None or dt <= 0:
            return UnitMetrics(ready=ready, desired=self.config.replicas, capacity_events=capacity_short)
        reset = new.requests < old.requests
        requests = new.requests if reset else new.requests - old.requests
        bounds = sorted(new.buckets)
        deltas = [(b, new.buckets[b] - (0.0 if reset else old.buckets.get(b, 0.0))) for b in bounds]
        attempts = _delta(new.attempts, old.attempts)
        failed = _delta(new.failed_attempts, old.failed_attempts)
        return UnitMetrics(
            rps=requests / dt,
            p95=histogram_quantile(0.95, deltas),
            error_rate=failed / attempts if attempts > 0 else 0.0,
            ready=ready,
            desired=self.config.replicas,
            capacity_events=capacity_short,
        )

    def _router_totals(self) -> dict[str, dict[str, float]]:
        """backend -> attempts, failed (no answer or 5xx) and capacity_short (1 while its pool is out)."""
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        url = self.config.router_url.rstrip("/") + "/metrics"
        try:
            resp = self._http.get(url)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise AccelctlError(f"local source: cannot read {url}: {exc}") from None
        out: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(resp.text):
            for s in family.samples:
                backend = s.labels.get("backend")
                if backend is None:
                    continue
                row = out.setdefault(backend, {"attempts": 0.0, "failed": 0.0, "capacity_short": 0})
                if s.name == router_names.REQUESTS:
                    row["attempts"] += s.value
                    status = s.labels.get("status", "")
                    if status == router_names.NO_RESPONSE or status.startswith("5"):
                        row["failed"] += s.value
                elif s.name == router_names.CAPACITY and s.value == 0:
                    row["capacity_short"] = 1
        return out

    def _backend_urls(self) -> dict[str, str]:
        import httpx

        url = self.config.router_url.rstrip("/") + "/admin/backends"
        try:
            resp = self._http.get(url)
            resp.raise_for_status()
            return {row["name"]: row["url"] for row in resp.json()}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise AccelctlError(f"local source: cannot read {url}: {exc}") from None

    def _server(self, base: str) -> tuple[int, tuple[float, dict[float, float]] | None]:
        """(ready 0/1, (requests, latency buckets) or None when the server does not answer)."""
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        base = base.rstrip("/")
        try:
            ready = 1 if self._http.get(base + "/readiness").status_code == 200 else 0
            resp = self._http.get(base + "/metrics")
            resp.raise_for_status()
        except httpx.HTTPError:
            return 0, None
        routes = set(self.config.routes)
        requests = 0.0
        buckets: dict[float, float] = {}
        for family in text_string_to_metric_families(resp.text):
            for s in family.samples:
                if s.labels.get("route") not in routes:
                    continue
                if s.name == serve_names.REQUESTS:
                    requests += s.value
                elif s.name == serve_names.LATENCY + "_bucket":
                    le = float(s.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + s.value
        return ready, (requests, buckets)

    def close(self) -> None:
        self._http.close()
