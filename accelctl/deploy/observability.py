"""The fleet's Grafana dashboard and Prometheus alert rules, from the metric names the project exports.

Server series (accelctl/serve/metrics.py) and controller series (`watch --metrics-port`,
accelctl/control/exporter.py) are both documented in docs/metrics.md; a test checks that every name
used here is listed there. Series are selected by the `namespace` label the usual scrape
configurations add (kube-prometheus-stack, the prometheus chart's kubernetes-pods job) and the units'
names; replicas a Deployment wants come from kube-state-metrics. Thresholds come from the fleet spec:
the SLO, the policy's tick interval and staleness limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from prometheus_client.utils import floatToGoString

from accelctl.serve import metrics as names
from accelctl.units import FleetSpec

# The controller's series (docs/metrics.md, "Controller"); the exporter defines them.
MODE = "accelctl_controller_mode"
WEIGHT = "accelctl_controller_weight"
PLANNED = "accelctl_controller_planned_replicas"
AVAILABLE = "accelctl_controller_available"
CAN_GROW = "accelctl_controller_can_grow"
TICKS = "accelctl_controller_ticks_total"
ALARM = "accelctl_controller_alarm"
LAST_APPLIED = "accelctl_controller_last_applied_timestamp_seconds"
LAST_TICK = "accelctl_controller_last_tick_timestamp_seconds"
SOURCE_AGE = "accelctl_controller_source_age_seconds"
COST = "accelctl_controller_planned_cost_per_hour_dollars"
# kube-state-metrics
KSM_DESIRED = "kube_deployment_spec_replicas"
KSM_READY = "kube_deployment_status_replicas_ready"

WEIGHTS_HELD_S = 15 * 60  # weights neither written nor confirmed this long: someone should look
SLO_QUANTILE = 0.95  # the SLO is on p95: 5 % of requests may be slower
# Multi-window burn rates (the Google SRE workbook's): 14.4x burns 2 % of a 30-day budget in an hour.
FAST_BURN, SLOW_BURN = 14.4, 6.0
UNREADY_FOR = "20m"  # the servers' startup probe allows a 20-minute model load
DASHBOARD_KEY_SUFFIX = ".json"


def slo_bucket(slo_s: float) -> str:
    """The `le` label of the largest latency bucket edge at or below the SLO, as the server writes it."""
    edges = [b for b in names.LATENCY_BUCKETS if b <= slo_s] or [names.LATENCY_BUCKETS[0]]
    return floatToGoString(edges[-1])


def _selectors(fleet: FleetSpec, units: Sequence[str]) -> tuple[str, str]:
    ns = f'namespace="{fleet.namespace}"'
    return ns, f'{ns},unit=~"{"|".join(units)}"'


def _routes() -> str:
    return f'route=~"{names.GENIMAGE_ROUTE}|{names.OPENAI_ROUTE}"'


def bad_ratio(fleet: FleetSpec, units: Sequence[str], window: str) -> str:
    """Share of image requests, by unit, answered slower than the SLO or with a 5xx (4xx are the
    client's); the latency histogram counts 2xx answers only, so slow and failed both fall outside it."""
    _, sel = _selectors(fleet, units)
    good = (
        f"sum by (unit) (rate({names.LATENCY}_bucket{{{sel},{_routes()},"
        f'le="{slo_bucket(fleet.slo_s)}"}}[{window}]))'
    )
    total = f'sum by (unit) (rate({names.REQUESTS}{{{sel},{_routes()},status!~"4.."}}[{window}]))'
    return f"(1 - {good} / {total})"


def alert_groups(fleet: FleetSpec, units: Sequence[str]) -> list[dict]:
    ns, sel = _selectors(fleet, units)
    settings = fleet.policy
    budget = 1 - SLO_QUANTILE
    stuck_s = 3 * settings.interval_s

    def alert(name, expr, for_, severity, summary, description):
        return {
            "alert": name,
            "expr": expr,
            "for": for_,
            "labels": {"severity": severity, "fleet": fleet.name},
            "annotations": {"summary": summary, "description": description},
        }

    def burn(window_long: str, window_short: str, factor: float) -> str:
        limit = f"{factor * budget:.6g}"
        return (
            f"{bad_ratio(fleet, units, window_long)} > {limit} "
            f"and {bad_ratio(fleet, units, window_short)} > {limit}"
        )

    rules = [
        alert(
            "AccelctlControllerDown",
            f"absent({LAST_TICK}{{{ns}}})",
            "5m",
            "critical",
            f"accelctl watch for fleet {fleet.name} exports no metrics",
            "No controller series scraped for 5 minutes: the watch pod is down, not scraped, or its "
            "--metrics-port is off. Routing weights stay as last written and nobody adjusts them.",
        ),
        alert(
            "AccelctlControllerStuck",
            f"time() - max({LAST_TICK}{{{ns}}}) > {stuck_s:g}",
            "2m",
            "critical",
            f"accelctl watch for fleet {fleet.name} has not ticked for 3 intervals",
            f"The control loop last ticked {{{{ $value | humanizeDuration }}}} ago (interval "
            f"{settings.interval_s:g}s); its liveness probe restarts it.",
        ),
        alert(
            "AccelctlMetricsStale",
            f"max by (unit) ({SOURCE_AGE}{{{sel}}}) > {settings.stale_after_s:g}",
            "5m",
            "warning",
            "accelctl watch reads stale metrics for {{ $labels.unit }}",
            f"The newest data the metrics source has for the unit is {{{{ $value | humanizeDuration }}}} "
            f"old (limit {settings.stale_after_s:g}s): the controller holds the weights.",
        ),
        alert(
            "AccelctlWeightsHeld",
            f"time() - max({LAST_APPLIED}{{{ns}}}) > {WEIGHTS_HELD_S}",
            "1m",
            "warning",
            f"accelctl watch has held the weights of fleet {fleet.name} for over "
            f"{WEIGHTS_HELD_S // 60} minutes",
            "Weights were last written or confirmed {{ $value | humanizeDuration }} ago; the controller "
            "holds them (stale or missing metrics, a failing actuator, nothing available, standby). "
            f"See sum by (outcome) (increase({TICKS}[15m])).",
        ),
        alert(
            "AccelctlControllerAlarm",
            f"max({ALARM}{{{ns}}}) == 1",
            "5m",
            "warning",
            f"accelctl watch for fleet {fleet.name} raises an alarm",
            "The last ticks raised an alarm (the watch log says why): no unit available, a failing "
            "metrics source or actuator.",
        ),
        alert(
            "AccelctlSLOBurnFast",
            burn("1h", "5m", FAST_BURN),
            "2m",
            "critical",
            "{{ $labels.unit }} burns its latency SLO budget fast",
            f"Over 1h and 5m more than {FAST_BURN * budget:.0%} of requests were slower than "
            f"{slo_bucket(fleet.slo_s)}s or failed (SLO: p95 <= {fleet.slo_s:g}s).",
        ),
        alert(
            "AccelctlSLOBurnSlow",
            burn("6h", "30m", SLOW_BURN),
            "15m",
            "warning",
            "{{ $labels.unit }} burns its latency SLO budget",
            f"Over 6h and 30m more than {SLOW_BURN * budget:.0%} of requests were slower than "
            f"{slo_bucket(fleet.slo_s)}s or failed (SLO: p95 <= {fleet.slo_s:g}s).",
        ),
        alert(
            "AccelctlUnitWithoutReadyReplicas",
            f'({KSM_DESIRED}{{{ns},deployment=~"{"|".join(units)}"}} > 0) '
            f'and on (namespace, deployment) ({KSM_READY}{{{ns},deployment=~"{"|".join(units)}"}} == 0)',
            UNREADY_FOR,
            "warning",
            "{{ $labels.deployment }} wants replicas and has none ready",
            f"The unit's Deployment has wanted replicas for {UNREADY_FOR} with none ready: nodes not "
            "launching (capacity), pods failing their model load, or an image pull error.",
        ),
    ]
    return [{"name": f"accelctl-{fleet.name}", "rules": rules}]


def dashboard(fleet: FleetSpec, units: Sequence[str]) -> dict:
    ns, sel = _selectors(fleet, units)
    routes = _routes()
    desired = (
        f'label_replace({KSM_DESIRED}{{{ns},deployment=~"{"|".join(units)}"}}, '
        '"unit", "$1", "deployment", "(.*)")'
    )
    panels = [
        (
            "Requests per second by unit",
            "reqps",
            [
                (f"sum by (unit) (rate({names.REQUESTS}{{{sel},{routes}}}[1m]))", "{{unit}}"),
            ],
        ),
        (
            f"p95 latency by unit (SLO {fleet.slo_s:g} s)",
            "s",
            [
                (
                    f"histogram_quantile(0.95, sum by (unit, le) "
                    f"(rate({names.LATENCY}_bucket{{{sel},{routes}}}[5m])))",
                    "{{unit}}",
                ),
                (f"vector({fleet.slo_s:g})", "SLO"),
            ],
        ),
        (
            "Routing weights: live and proposed",
            "percent",
            [
                (f"{WEIGHT}{{{sel}}}", "{{unit}} {{kind}}"),
            ],
        ),
        (
            "Replicas: ready, desired, planned",
            "short",
            [
                (f"sum by (unit) ({names.READY}{{{sel}}})", "{{unit}} ready"),
                (desired, "{{unit}} desired"),
                (f"{PLANNED}{{{sel}}}", "{{unit}} planned"),
            ],
        ),
        ("Controller mode", "short", [(f"{MODE}{{{ns}}}", "{{mode}}")]),
        ("Planned cost ($ per hour)", "currencyUSD", [(f"{COST}{{{ns}}}", "$/h")]),
        (
            "Capacity: can grow (launches succeed) and can serve",
            "short",
            [
                (f"{CAN_GROW}{{{sel}}}", "{{unit}} can grow"),
                (f"{AVAILABLE}{{{sel}}}", "{{unit}} can serve"),
            ],
        ),
        (
            "Controller ticks by outcome (5m)",
            "short",
            [
                (f"sum by (outcome) (increase({TICKS}{{{ns}}}[5m]))", "{{outcome}}"),
                (f"max({ALARM}{{{ns}}})", "alarm"),
            ],
        ),
    ]
    source = {"type": "prometheus", "uid": "${datasource}"}
    out = []
    for i, (title, unit, queries) in enumerate(panels):
        out.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": source,
                "gridPos": {"x": 12 * (i % 2), "y": 8 * (i // 2), "w": 12, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + j), "datasource": source, "expr": expr, "legendFormat": legend}
                    for j, (expr, legend) in enumerate(queries)
                ],
            }
        )
    return {
        "uid": f"accelctl-{fleet.name}"[:40],
        "title": f"accelctl fleet {fleet.name}",
        "tags": ["accelctl"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}
            ]
        },
        "annotations": {"list": []},
        "panels": out,
    }


def dashboard_json(fleet: FleetSpec, units: Sequence[str]) -> str:
    return json.dumps(dashboard(fleet, units), indent=2, ensure_ascii=False) + "\n"
