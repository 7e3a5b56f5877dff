"""The dashboard and alert rules `accelctl deploy` renders: schema-valid, PromQL that parses (promtool,
where installed), alerts that fire on the series they are about (promtool test rules), and every
metric they name documented in docs/metrics.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from accelctl.deploy import validate
from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "paper-sd21": (REPO / "examples" / "paper-sd21.yaml", REPO / "examples" / "paper" / "profiles"),
    "cpu-fleet": (REPO / "examples" / "cpu-fleet.yaml", REPO / "examples" / "cpu" / "profiles"),
}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian's prometheus package has it)"
)

# PromQL words that are not metric names: functions and aggregations are followed by "(" and are
# skipped that way; these are the rest.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
KEYWORDS |= {"offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside strings, label matchers, grouping
    clauses and range selectors that are not followed by "(" (functions) and are not keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    found = set()
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1) not in KEYWORDS:
            found.add(m.group(1))
    return found


def test_metric_names_reads_promql_as_promql():
    expr = (
        'sum by (unit, le) (rate(a_bucket{unit=~"x|y",le="0.9"}[5m])) / on (unit) group_left '
        'b_total offset 5m > bool 3 and absent(c{ns="by"}) or vector(1) unless label_replace(d, "u", "$1", '
        '"deployment", "(.*)")'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}


@cache
def rendered(example: str, routing: str = "alb") -> dict[str, str]:
    fleet_path, profiles = EXAMPLES[example]
    fleet = load_fleet(fleet_path).model_copy(update={"routing": routing})
    return render(fleet, profiles, where=str(fleet_path)).files


def rule_object(example: str) -> dict:
    return yaml.safe_load(rendered(example)["observability/prometheusrule.yaml"])


def dashboard(example: str) -> dict:
    configmap = yaml.safe_load(rendered(example)["observability/dashboard.yaml"])
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"  # what the Grafana sidecar loads
    [(key, text)] = configmap["data"].items()
    assert key.endswith(".json")
    return json.loads(text)


def documented() -> set[str]:
    """Metric names in docs/metrics.md tables and code (a histogram's series: _bucket, _sum, _count)."""
    names = set(re.findall(r"`([a-z_:][a-z0-9_:]*)`", (REPO / "docs" / "metrics.md").read_text()))
    return names | {f"{n}_{s}" for n in names for s in ("bucket", "sum", "count")}


def all_exprs(example: str) -> list[str]:
    rules = [r["expr"] for g in rule_object(example)["spec"]["groups"] for r in g["rules"]]
    panels = [t["expr"] for p in dashboard(example)["panels"] for t in p["targets"]]
    return rules + panels


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_metric_the_dashboard_and_alerts_query_is_documented(example):
    used = set().union(*(metric_names(e) for e in all_exprs(example)))
    assert {"accelctl_requests_total", "accelctl_controller_weight", "kube_deployment_spec_replicas"} <= used
    assert not used - documented(), f"not in docs/metrics.md: {sorted(used - documented())}"


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_rendered_folder_is_its_own_kustomization_and_validates(example):
    files = rendered(example)
    listed = yaml.safe_load(files["observability/kustomization.yaml"])["resources"]
    assert listed == ["dashboard.yaml", "podmonitor.yaml", "prometheusrule.yaml", "servicemonitor.yaml"]
    # Not in the fleet's own kustomization: a cluster without prometheus-operator still applies that.
    assert not [p for p in yaml.safe_load(files["kustomization.yaml"])["resources"] if "observability" in p]
    for path in listed:
        assert validate.problem(yaml.safe_load(files[f"observability/{path}"])) is None


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_monitors_select_the_controller_service_and_every_server_pod(example):
    """No schema ships for ServiceMonitor/PodMonitor (accelctl/deploy/validate.py), so their fields are
    checked here against the objects they must find."""
    files = rendered(example)
    objects = [yaml.safe_load(t) for t in files.values()]
    service = yaml.safe_load(files["watch/service.yaml"])
    monitor = yaml.safe_load(files["observability/servicemonitor.yaml"])
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    assert set(monitor["spec"]["endpoints"][0]) == {"port", "path", "interval"}

    pods = yaml.safe_load(files["observability/podmonitor.yaml"])
    wanted = pods["spec"]["selector"]["matchLabels"].items()
    [endpoint] = pods["spec"]["podMetricsEndpoints"]
    assert set(endpoint) == {"port", "path", "interval"} and endpoint["path"] == "/metrics"
    templates = {
        (o["kind"], o["metadata"]["name"]): o["spec"]["template"]
        for o in objects
        if o["kind"] in ("Deployment", "Job")
    }
    selected = {k for k, t in templates.items() if wanted <= t["metadata"]["labels"].items()}
    servers = {
        k for k, t in templates.items() if t["metadata"]["labels"]["app.kubernetes.io/component"] == "server"
    }
    assert selected == servers and servers  # every unit's servers, no bench or compile Job, not watch
    for key in servers:
        [container] = templates[key]["spec"]["containers"]
        assert endpoint["port"] in [p["name"] for p in container["ports"]]


def test_the_rule_schema_rejects_a_broken_rule():
    rule = rule_object("paper-sd21")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    assert "for" in validate.problem(rule)
    del rule["spec"]["groups"][0]["rules"][1]["expr"]
    assert validate.problem(rule)


def test_the_alerts_cover_what_an_operator_is_paged_for():
    rules = {r["alert"]: r for r in rule_object("paper-sd21")["spec"]["groups"][0]["rules"]}
    assert {
        "AccelctlControllerDown",
        "AccelctlMetricsStale",
        "AccelctlWeightsHeld",
        "AccelctlSLOBurnFast",
        "AccelctlSLOBurnSlow",
        "AccelctlUnitWithoutReadyReplicas",
    } <= set(rules)
    assert "> 900" in rules["AccelctlWeightsHeld"]["expr"]  # 15 minutes
    assert "> 60" in rules["AccelctlMetricsStale"]["expr"]  # the paper fleet's stale_after_s
    assert 'le="0.9"' in rules["AccelctlSLOBurnFast"]["expr"]  # the paper's 0.9 s SLO bucket
    assert all(r["labels"]["severity"] in ("critical", "warning") for r in rules.values())


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_dashboard_has_every_panel_and_loads_as_grafana_json(example):
    board = dashboard(example)
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = [
        (x, y)
        for p in panels
        for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
        for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)) and max(x for x, _ in cells) < 24  # no overlap, 24 columns
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"])
    text = " ".join(p["title"] for p in panels).lower()
    for topic in ("requests per second", "p95", "slo", "weights", "ready", "desired", "planned", "mode"):
        assert topic in text
    assert "$ per hour" in text and "capacity" in text
    exprs = " ".join(all_exprs(example))
    for series in (
        "accelctl_controller_weight",
        "accelctl_controller_mode",
        "accelctl_controller_planned_cost_per_hour_dollars",
    ):
        assert series in exprs


@needs_promtool
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_promtool_parses_every_expression(example, tmp_path):
    rules = tmp_path / "rules.yaml"
    groups = rule_object(example)["spec"]["groups"]
    # The dashboard's queries as recording rules, so promtool parses them too.
    queries = [t["expr"] for p in dashboard(example)["panels"] for t in p["targets"]]
    board = [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(queries)]
    rules.write_text(yaml.safe_dump({"groups": groups + [{"name": "dashboard", "rules": board}]}))
    run = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_the_alerts_fire_on_the_series_they_are_about(tmp_path):
    """promtool test rules: synthetic series in, the alerts that must (and must not) fire out."""
    groups = rule_object("paper-sd21")["spec"]["groups"]
    for rule in groups[0]["rules"]:  # their templates are checked by promtool check rules above
        del rule["annotations"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    ns, unit = 'namespace="sd21"', 'unit="sd21-inf2-neuron"'
    fleet = {"fleet": "sd21"}
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                # The loop ticks every minute (time() in seconds) but last applied 20 minutes ago;
                # its source data is 2 minutes old; one unit wants 2 replicas and has none ready.
                "interval": "1m",
                "input_series": [
                    {
                        "series": f"accelctl_controller_last_tick_timestamp_seconds{{{ns}}}",
                        "values": "0+60x40",
                    },
                    {
                        "series": f"accelctl_controller_last_applied_timestamp_seconds{{{ns}}}",
                        "values": "0x40",
                    },
                    {"series": f"accelctl_controller_source_age_seconds{{{ns},{unit}}}", "values": "120x40"},
                    {"series": f"accelctl_controller_alarm{{{ns}}}", "values": "0x40"},
                    {
                        "series": f'kube_deployment_spec_replicas{{{ns},deployment="sd21-g5-cuda"}}',
                        "values": "2x40",
                    },
                    {
                        "series": f'kube_deployment_status_replicas_ready{{{ns},deployment="sd21-g5-cuda"}}',
                        "values": "0x40",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "AccelctlWeightsHeld", "exp_alerts": []},
                    {
                        "eval_time": "17m",
                        "alertname": "AccelctlWeightsHeld",
                        "exp_alerts": [{"exp_labels": {"severity": "warning", **fleet}}],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "AccelctlMetricsStale",
                        "exp_alerts": [
                            {"exp_labels": {"severity": "warning", "unit": "sd21-inf2-neuron", **fleet}}
                        ],
                    },
                    {"eval_time": "30m", "alertname": "AccelctlControllerStuck", "exp_alerts": []},
                    {"eval_time": "30m", "alertname": "AccelctlControllerDown", "exp_alerts": []},
                    {"eval_time": "30m", "alertname": "AccelctlControllerAlarm", "exp_alerts": []},
                    {"eval_time": "15m", "alertname": "AccelctlUnitWithoutReadyReplicas", "exp_alerts": []},
                    {
                        "eval_time": "25m",
                        "alertname": "AccelctlUnitWithoutReadyReplicas",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "namespace": "sd21",
                                    "deployment": "sd21-g5-cuda",
                                    **fleet,
                                }
                            }
                        ],
                    },
                ],
            },
            {
                # No controller series at all; a unit whose answers are all slower than the SLO.
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'accelctl_requests_total{{{ns},{unit},route="/genimage",status="200"}}',
                        "values": "0+60x120",
                    },
                    {
                        "series": f'accelctl_request_latency_seconds_bucket{{{ns},{unit},route="/genimage",'
                        'le="0.9"}',
                        "values": "0x120",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "AccelctlControllerDown",
                        # absent() keeps the selector's equality matchers as labels
                        "exp_alerts": [
                            {"exp_labels": {"severity": "critical", "namespace": "sd21", **fleet}}
                        ],
                    },
                    {
                        "eval_time": "90m",
                        "alertname": "AccelctlSLOBurnFast",
                        "exp_alerts": [
                            {"exp_labels": {"severity": "critical", "unit": "sd21-inf2-neuron", **fleet}}
                        ],
                    },
                ],
            },
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    run = subprocess.run(
        [PROMTOOL, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
