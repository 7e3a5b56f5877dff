"""`prometheus`: per-unit metrics from the Prometheus HTTP API (/api/v1/query), one PromQL per field.

Matching units: every series the server exports carries a `unit` label (accelctl.serve.telemetry), so
the default queries aggregate `by (unit)` and need nothing from the scrape configuration. Where a
scrape config renames it (a target label `unit` turns the exported one into `exported_unit`) or you
would rather match on the Kubernetes Service, set `unit_label` (e.g. `service`, which the
kubernetes-service-endpoints job adds; the Service name is the unit name).

Queries are templates; `$window`, `$unit_label`, `$selector` (extra label matchers, e.g.
`namespace="prod"`) and `$units` (regex alternation of the unit names) are filled in. Override any
field under `queries`; `null` turns a field off (it stays at its UnitMetrics default).

Dead replicas show within one scrape: `ready` counts a replica's last readiness in the window only
while its target's `up` is 1, and `desired` counts every replica that reported in the window, so a
killed replica is ready 0 of desired 1 at the first failed scrape (rate() would keep its traffic for the
whole window). `as_of` is the newest sample timestamp of the unit's readiness gauge: where Prometheus
stopped scraping, the unit's data is seen to age and the loop holds with an alarm past
`policy.stale_after_s`. A query may return a number no fleet produces (NaN counts, +Inf rates): the
reading is then invalid and the loop holds (InvalidMetrics).
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field

from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import InvalidMetrics, MetricsSnapshot, UnitMetrics, finite_count
from accelctl.errors import AccelctlError
from accelctl.schema import Strict
from accelctl.serve import metrics as names

MetricField = Literal["rps", "p95", "error_rate", "ready", "desired", "pending", "as_of"]

_ROUTES = f'route=~"{names.GENIMAGE_ROUTE}|{names.OPENAI_ROUTE}"'
_REQ = f"{names.REQUESTS}{{{_ROUTES},$selector}}"
_REPLICAS = f"max by ($unit_label, instance, job) (last_over_time({names.READY}{{$selector}}[$window]))"

DEFAULT_QUERIES: dict[str, str | None] = {
    "rps": f"sum by ($unit_label) (rate({_REQ}[$window]))",
    "p95": (
        f"histogram_quantile(0.95, sum by ($unit_label, le) "
        f"(rate({names.LATENCY}_bucket{{{_ROUTES},$selector}}[$window])))"
    ),
    # 0/0 (no traffic) is NaN and reads as 0; a unit without 5xx series has no error series at all.
    "error_rate": (
        f'sum by ($unit_label) (rate({names.REQUESTS}{{{_ROUTES},status=~"5..",$selector}}[$window])) '
        f"/ sum by ($unit_label) (rate({_REQ}[$window]))"
    ),
    # One series per replica (target) seen in the window; up is 0 (or gone) for a dead one.
    "ready": f"sum by ($unit_label) ({_REPLICAS} * on (instance, job) group_left () up)",
    "desired": f"count by ($unit_label) ({_REPLICAS})",
    "pending": None,
    "as_of": f"max by ($unit_label) (timestamp({names.READY}{{$selector}}))",
}

# kube-state-metrics knows the Deployment's spec; its `deployment` label is the unit name.
KSM_QUERIES: dict[str, str] = {
    "ready": "label_replace(sum by (deployment) "
    '(kube_deployment_status_replicas_ready{deployment=~"$units"}), '
    '"$unit_label", "$1", "deployment", "(.*)")',
    "desired": 'label_replace(sum by (deployment) (kube_deployment_spec_replicas{deployment=~"$units"}), '
    '"$unit_label", "$1", "deployment", "(.*)")',
}

_PLACEHOLDER = re.compile(r"\$(window|unit_label|selector|units)\b")


class PrometheusConfig(Strict):
    url: str = Field(default="http://prometheus-server.monitoring:80", description="Prometheus base URL")
    unit_label: str = Field(
        default="unit",
        description="label whose value is the unit name (e.g. service with kubernetes-service-endpoints)",
    )
    selector: str = Field(
        default="", description='extra label matchers for accelctl series, e.g. namespace="prod"'
    )
    window: str = Field(
        default="1m",
        pattern=r"^[0-9]+(ms|s|m|h)$",
        description="range of rate() and of the replicas counted in desired; at least 2 scrape intervals",
    )
    kube_state_metrics: bool = Field(
        default=False,
        description="ready/desired from kube-state-metrics (kube_deployment_status_replicas_ready, "
        "kube_deployment_spec_replicas; its deployment label is the unit name) instead of the servers",
    )
    queries: dict[MetricField, str | None] = Field(
        default_factory=dict,
        description="per-field PromQL overrides (rps, p95, error_rate, ready, desired, pending, as_of); "
        "placeholders $window $unit_label $selector $units; null turns a field off",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers, e.g. Authorization"
    )
    timeout_s: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False, description="per query, seconds")

    def effective_queries(self) -> dict[str, str]:
        merged = dict(DEFAULT_QUERIES)
        if self.kube_state_metrics:
            merged.update(KSM_QUERIES)
        merged.update(self.queries)
        return {k: v for k, v in merged.items() if v}


def render(template: str, config: PrometheusConfig, units: list[str]) -> str:
    values = {
        "window": config.window,
        "unit_label": config.unit_label,
        "selector": config.selector,
        "units": "|".join(re.escape(u) for u in units),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


@SOURCES.register("prometheus")
class PrometheusSource(Source):
    config_model = PrometheusConfig

    def __init__(self, config: PrometheusConfig):
        import httpx

        self.config = config
        self._http = httpx.Client(
            base_url=config.url.rstrip("/"), headers=config.headers, timeout=config.timeout_s
        )

    def measures(self) -> frozenset[str]:
        # One query per field; a field whose query is off (null, or no kube-state-metrics) is unmeasured.
        # Pending pods come as a count only: Prometheus does not say since when.
        return frozenset(self.config.effective_queries())

    def query(self, promql: str) -> dict[str, float]:
        """Instant vector -> {unit label value: value}; series without the label are not units."""
        import httpx

        try:
            resp = self._http.get("/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            raise AccelctlError(f"prometheus at {self.config.url}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            raise AccelctlError(
                f"prometheus at {self.config.url}: HTTP {resp.status_code}, not JSON"
            ) from None
        if body.get("status") != "success":
            raise AccelctlError(
                f"prometheus at {self.config.url}: {body.get('errorType', resp.status_code)}: "
                f"{body.get('error', 'query failed')} (query: {promql})"
            )
        data = body["data"]
        if data["resultType"] != "vector":
            raise AccelctlError(
                f"prometheus: query must return an instant vector, got {data['resultType']}: {promql}"
            )
        out = {}
        for item in data["result"]:
            unit = item["metric"].get(self.config.unit_label)
            if unit is not None:
                out[unit] = float(item["value"][1])  # "NaN" and "+Inf" parse too
        return out

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        unit_names = [u.name for u in units]
        results = {
            field: self.query(render(template, self.config, unit_names))
            for field, template in self.config.effective_queries().items()
        }
        snapshot = {}
        for name in unit_names:
            if not any(name in r for r in results.values()):
                continue  # no series at all: the policy sees "no metrics", not a healthy idle unit
            snapshot[name] = _unit_metrics(name, {f: r[name] for f, r in results.items() if name in r})
        return MetricsSnapshot(time=now, units=snapshot)

    def close(self) -> None:
        self._http.close()


def _unit_metrics(unit: str, values: dict[str, float]) -> UnitMetrics:
    """NaN is PromQL's 0/0 (no traffic): the field's default. Anything else out of range (a negative
    rate, an infinite count) is InvalidMetrics, raised by UnitMetrics or finite_count."""

    def value(name: str, default: float) -> float:
        v = values.get(name)
        return default if v is None or math.isnan(v) else v

    def count(name: str) -> int:
        return finite_count(value(name, 0.0), f"{unit}.{name}")

    p95 = values.get("p95")
    as_of = values.get("as_of")
    try:
        return UnitMetrics(
            rps=value("rps", 0.0),
            # NaN: no requests in the window. +Inf stays: p95 is above the top latency bucket.
            p95=None if p95 is None or math.isnan(p95) else p95,
            error_rate=value("error_rate", 0.0),
            ready=count("ready"),
            desired=count("desired"),
            pending=count("pending"),
            as_of=None if as_of is None or math.isnan(as_of) else as_of,
        )
    except InvalidMetrics as exc:
        raise InvalidMetrics(f"prometheus: unit {unit}: {exc.message}") from None
