"""`cloudwatch`: per-unit metrics from CloudWatch GetMetricData, one MetricStat per field.

Each unit is one ALB target group. The defaults read what the Application Load Balancer publishes by
itself (namespace AWS/ApplicationELB, dimensions TargetGroup + LoadBalancer):

| field      | metric (stat)                          | becomes                                   |
|------------|----------------------------------------|-------------------------------------------|
| requests   | RequestCount (Sum)                     | rps = Sum / period                        |
| errors     | HTTPCode_Target_5XX_Count (Sum)        | error_rate = errors / requests            |
| p95        | TargetResponseTime (p95)               | p95 seconds                               |
| healthy    | HealthyHostCount (Minimum)             | ready                                     |
| unhealthy  | UnHealthyHostCount (Maximum)           | desired = healthy + unhealthy (registered)|

Only plain MetricStat queries are sent: no metric math, so the arithmetic above happens here.
Percentile statistics exist on AWS but not in emulators such as moto; where a fleet publishes its
own pre-computed p95 (e.g. namespace Accelctl, metric LatencyP95Seconds, dimension Unit=$unit),
point `queries.p95` at it with stat Maximum (the worst replica's p95 in the period). Dimension values
may use `$target_group`, `$load_balancer` and `$unit`. The newest complete period in the last
`lookback_s` counts; ALB publishes request metrics only for periods with traffic (absent -> 0).

A unit's data is as old as the end of the newest period any of its datapoints cover (`as_of`), so a
series that stopped (a deleted target group, a broken publisher) ages and, past
`policy.stale_after_s`, holds the weights with an alarm. CloudWatch publishes a period a minute or
more after it ends: with the default 60 s period, set `stale_after_s` to 180 or more.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal

from pydantic import Field

from accelctl.control.clients import AwsConnection, aws_call, aws_client
from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import InvalidMetrics, MetricsSnapshot, UnitMetrics, finite_count
from accelctl.errors import InputError
from accelctl.schema import Strict

QueryName = Literal["requests", "errors", "p95", "healthy", "unhealthy"]
ALB = "AWS/ApplicationELB"
_ALB_DIMS = {"TargetGroup": "$target_group", "LoadBalancer": "$load_balancer"}
_PLACEHOLDER = re.compile(r"\$(target_group|load_balancer|unit)\b")
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit


class MetricQuery(Strict):
    namespace: str = Field(description="CloudWatch namespace, e.g. AWS/ApplicationELB")
    metric: str = Field(description="metric name, e.g. RequestCount")
    stat: str = Field(description="Sum, Average, Minimum, Maximum, SampleCount or a percentile such as p95")
    dimensions: dict[str, str] = Field(
        default_factory=dict,
        description="dimension name -> value; values may use $target_group, $load_balancer, $unit",
    )


DEFAULT_QUERIES: dict[str, MetricQuery] = {
    "requests": MetricQuery(namespace=ALB, metric="RequestCount", stat="Sum", dimensions=_ALB_DIMS),
    "errors": MetricQuery(
        namespace=ALB, metric="HTTPCode_Target_5XX_Count", stat="Sum", dimensions=_ALB_DIMS
    ),
    "p95": MetricQuery(namespace=ALB, metric="TargetResponseTime", stat="p95", dimensions=_ALB_DIMS),
    "healthy": MetricQuery(namespace=ALB, metric="HealthyHostCount", stat="Minimum", dimensions=_ALB_DIMS),
    "unhealthy": MetricQuery(
        namespace=ALB, metric="UnHealthyHostCount", stat="Maximum", dimensions=_ALB_DIMS
    ),
}


class CloudWatchConfig(AwsConnection):
    load_balancer: str = Field(description="ALB ARN or its dimension value app/<name>/<id>")
    target_groups: dict[str, str] = Field(
        min_length=1, description="unit -> target group ARN or targetgroup/<name>/<id>"
    )
    period_s: int = Field(
        default=60, ge=60, le=86400, multiple_of=60, description="CloudWatch period, seconds"
    )
    lookback_s: int = Field(
        default=300, ge=60, le=86400, description="how far back to look for the newest datapoint, seconds"
    )
    queries: dict[QueryName, MetricQuery | None] = Field(
        default_factory=dict,
        description="per-field MetricQuery overrides (requests, errors, p95, healthy, unhealthy); null: off",
    )


def dimension_value(arn_or_value: str) -> str:
    """ALB dimensions are the ARN's resource part: 'targetgroup/n/id', or 'app/n/id' after 'loadbalancer/'."""
    tail = arn_or_value.split(":", 5)[-1] if arn_or_value.startswith("arn:") else arn_or_value
    return tail.removeprefix("loadbalancer/")


@SOURCES.register("cloudwatch")
class CloudWatchSource(Source):
    config_model = CloudWatchConfig

    def __init__(self, config: CloudWatchConfig):
        self.config = config
        self._cw = aws_client("cloudwatch", config)
        merged = {**DEFAULT_QUERIES, **config.queries}
        self.queries = {k: v for k, v in merged.items() if v is not None}

    def measures(self) -> frozenset[str]:
        # The load balancer's metrics: traffic, latency, errors and healthy/unhealthy targets. Pods,
        # pending time and Karpenter's events are the API server's.
        needs = {
            "rps": "requests",
            "p95": "p95",
            "error_rate": "requests",
            "ready": "healthy",
            "desired": "healthy",
        }
        return frozenset(f for f, q in needs.items() if q in self.queries)

    def metric_queries(self, units: list[str]) -> tuple[list[dict], dict[str, tuple[str, str]]]:
        """GetMetricData queries for `units`, and query id -> (unit, field)."""
        cfg = self.config
        lb = dimension_value(cfg.load_balancer)
        out, ids = [], {}
        for unit in units:
            if unit not in cfg.target_groups:
                raise InputError(
                    f"cloudwatch source: field 'target_groups': no target group for unit {unit!r}; add it"
                )
            values = {
                "target_group": dimension_value(cfg.target_groups[unit]),
                "load_balancer": lb,
                "unit": unit,
            }
            for field, q in self.queries.items():
                qid = f"q{len(out)}"
                ids[qid] = (unit, field)
                dims = [
                    {"Name": k, "Value": _PLACEHOLDER.sub(lambda m, values=values: values[m.group(1)], v)}
                    for k, v in q.dimensions.items()
                ]
                out.append(
                    {
                        "Id": qid,
                        "MetricStat": {
                            "Metric": {"Namespace": q.namespace, "MetricName": q.metric, "Dimensions": dims},
                            "Period": cfg.period_s,
                            "Stat": q.stat,
                        },
                        "ReturnData": True,
                    }
                )
        return out, ids

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        cfg = self.config
        queries, ids = self.metric_queries([u.name for u in units])
        # End at the last period boundary: the running period is partial and would undercount Sums.
        end = math.floor(now / cfg.period_s) * cfg.period_s
        start = end - cfg.lookback_s
        latest: dict[str, dict[str, float]] = {}
        as_of: dict[str, float] = {}
        for i in range(0, len(queries), MAX_QUERIES_PER_CALL):
            for r in self._results(queries[i : i + MAX_QUERIES_PER_CALL], start, end):
                if r["Values"]:  # newest first (ScanBy TimestampDescending)
                    unit, field = ids[r["Id"]]
                    latest.setdefault(unit, {})[field] = float(r["Values"][0])
                    # A datapoint is stamped with its period's start; its data runs to the period's end.
                    period_end = r["Timestamps"][0].timestamp() + cfg.period_s
                    as_of[unit] = max(as_of.get(unit, period_end), period_end)
        return MetricsSnapshot(
            time=now,
            units={
                u.name: self._unit_metrics(u.name, latest[u.name], as_of[u.name])
                for u in units
                if u.name in latest
            },
        )

    def _results(self, queries: list[dict], start: float, end: float) -> list[dict]:
        kwargs = {
            "MetricDataQueries": queries,
            "StartTime": dt.datetime.fromtimestamp(start, dt.timezone.utc),
            "EndTime": dt.datetime.fromtimestamp(end, dt.timezone.utc),
            "ScanBy": "TimestampDescending",
        }
        results = []
        while True:
            page = aws_call("cloudwatch GetMetricData", self._cw.get_metric_data, **kwargs)
            results += page["MetricDataResults"]
            if not page.get("NextToken"):
                return results
            kwargs["NextToken"] = page["NextToken"]

    def _unit_metrics(self, unit: str, v: dict[str, float], as_of: float) -> UnitMetrics:
        requests = v.get("requests", 0.0)
        healthy = v.get("healthy", 0.0)
        try:
            return UnitMetrics(
                rps=requests / self.config.period_s,
                p95=v.get("p95"),
                # More 5xx than requests happens across period edges; a share stays a share.
                error_rate=min(1.0, v.get("errors", 0.0) / requests) if requests > 0 else 0.0,
                ready=finite_count(healthy, "healthy"),
                desired=finite_count(healthy + v.get("unhealthy", 0.0), "healthy + unhealthy"),
                as_of=as_of,
            )
        except InvalidMetrics as exc:
            raise InvalidMetrics(f"cloudwatch: unit {unit}: {exc.message}") from None
