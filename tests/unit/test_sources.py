"""Sources without servers: registration, the static file source, PromQL templates and response parsing,
and the CloudWatch request shape (botocore's Stubber checks it against the service model)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys

import httpx
import pytest

from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.control.sources.cloudwatch import dimension_value
from accelctl.control.sources.prometheus import PrometheusConfig, render
from accelctl.control.types import InvalidMetrics
from accelctl.errors import AccelctlError, InputError
from accelctl.serve import metrics as names


def test_every_plugin_is_registered_without_importing_client_libraries():
    code = (
        "import sys, json; from accelctl.control.sources import SOURCES;"
        "from accelctl.control.actuators import ACTUATORS;"
        "print(json.dumps([SOURCES.names(), ACTUATORS.names(),"
        " sorted(m for m in ('boto3', 'botocore', 'kubernetes', 'httpx', 'torch') if m in sys.modules)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    sources, actuators, heavy = json.loads(out)
    assert {"cloudwatch", "kubernetes", "prometheus", "static"} <= set(sources)
    assert {"alb-ingress", "elbv2", "file", "httproute"} <= set(actuators)
    assert heavy == []


def test_unknown_source_and_bad_option_are_input_errors():
    with pytest.raises(
        InputError, match="unknown metrics source 'graphite'; valid: cloudwatch, kubernetes, "
    ):
        SOURCES.create("graphite", {})
    with pytest.raises(InputError, match="field 'window'"):
        SOURCES.create("prometheus", {"window": "five minutes"})


# ---------------------------------------------------------------- static


def test_static_source_reads_the_file_on_every_tick(tmp_path):
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "units:\n  a: {rps: 3.5, p95: 0.4, ready: 2, desired: 3, pending: 1, pending_for_s: 90,"
        " capacity_events: 1}\n  b: {}\n"
    )
    src = SOURCES.create("static", {"path": str(path)})
    snap = src.read([UnitBinding("a"), UnitBinding("b"), UnitBinding("c")], now=1000.0)
    a = snap.units["a"]
    assert (a.rps, a.p95, a.ready, a.desired, a.pending, a.capacity_events) == (3.5, 0.4, 2, 3, 1, 1)
    assert a.pending_since == 910.0  # 90 s before now
    assert snap.units["b"].p95 is None and snap.units["b"].pending_since is None
    assert "c" not in snap.units  # not in the file: no metrics
    path.write_text("units:\n  a: {rps: 7}\n")
    assert src.read([UnitBinding("a")], now=1001.0).units["a"].rps == 7


@pytest.mark.parametrize(
    "text, error, message",
    [
        # A reading no fleet produces is invalid metrics (the loop holds and alarms), named by field.
        ("units:\n  a: {rps: -1}\n", InvalidMetrics, "field 'units.a.rps'"),
        ("units:\n  a: {rps: .inf}\n", InvalidMetrics, "field 'units.a.rps'"),
        ("units:\n  a: {rps: .nan}\n", InvalidMetrics, "field 'units.a.rps'"),
        ("units:\n  a: {error_rate: 1.5}\n", InvalidMetrics, "field 'units.a.error_rate'"),
        ("units:\n  a: {ready: 1e300}\n", InvalidMetrics, "field 'units.a.ready'"),
        ("units:\n  a: {rsp: 1}\n", InvalidMetrics, "field 'units.a.rsp'"),
        ("units: [\n", InvalidMetrics, "not valid YAML"),  # half-written
        # A unit the fleet does not have is a mistake in the setup: an input error.
        (
            "units:\n  typo: {rps: 1}\n",
            InputError,
            "field 'units.typo': not a unit of the fleet; known units: a",
        ),
    ],
)
def test_static_source_errors_name_file_and_field(tmp_path, text, error, message):
    path = tmp_path / "metrics.yaml"
    path.write_text(text)
    with pytest.raises(error, match=f"{path}.*{message}"):
        SOURCES.create("static", {"path": str(path)}).read([UnitBinding("a")], 0.0)


def test_static_source_data_is_as_old_as_its_as_of_else_its_mtime(tmp_path):
    path = tmp_path / "metrics.yaml"
    path.write_text("units:\n  a: {rps: 1}\n  b: {rps: 2, as_of: 1700000000}\n")
    os.utime(path, (1_700_000_500, 1_700_000_500))
    src = SOURCES.create("static", {"path": str(path)})
    snap = src.read([UnitBinding("a"), UnitBinding("b")], now=1_700_000_600.0)
    assert snap.ages() == {"a": 100.0, "b": 600.0}  # a: the file's mtime; b: its own as_of
    path.write_text("as_of: 2023-11-14T22:13:20Z\nunits:\n  a: {rps: 1}\n")  # 1_700_000_000
    assert src.read([UnitBinding("a")], now=1_700_000_060.0).age("a") == 60.0
    path.write_text("as_of: 2023-11-14 22:13:20\nunits:\n  a: {rps: 1}\n")  # no zone: UTC
    assert src.read([UnitBinding("a")], now=1_700_000_060.0).age("a") == 60.0


def test_a_missing_static_file_is_a_source_error_not_invalid_metrics(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        SOURCES.create("static", {"path": str(tmp_path / "gone.yaml")}).read([UnitBinding("a")], 0.0)


# ---------------------------------------------------------------- prometheus


def test_default_promql_uses_the_server_metric_names():
    cfg = PrometheusConfig()
    q = {k: render(v, cfg, ["a", "b"]) for k, v in cfg.effective_queries().items()}
    assert set(q) == {"rps", "p95", "error_rate", "ready", "desired", "as_of"}
    assert q["rps"] == (
        f'sum by (unit) (rate({names.REQUESTS}{{route=~"/genimage|/v1/images/generations",}}[1m]))'
    )
    assert q["p95"].startswith(
        "histogram_quantile(0.95, sum by (unit, le) (rate(accelctl_request_latency_seconds_bucket{"
    )
    assert 'status=~"5.."' in q["error_rate"]
    # A replica counts as ready only while its target is up; every replica seen in the window is desired.
    replicas = "max by (unit, instance, job) (last_over_time(accelctl_ready{}[1m]))"
    assert q["ready"] == f"sum by (unit) ({replicas} * on (instance, job) group_left () up)"
    assert q["desired"] == f"count by (unit) ({replicas})"
    assert q["as_of"] == "max by (unit) (timestamp(accelctl_ready{}))"


def test_promql_options_fill_every_placeholder():
    cfg = PrometheusConfig(
        unit_label="service",
        selector='namespace="prod"',
        window="30s",
        kube_state_metrics=True,
        queries={"p95": None, "pending": "sum by ($unit_label) (x{$selector})"},
    )
    q = {k: render(v, cfg, ["sd-a", "sd.b"]) for k, v in cfg.effective_queries().items()}
    assert set(q) == {"rps", "error_rate", "ready", "desired", "pending", "as_of"}  # p95 turned off
    assert (
        q["rps"] == "sum by (service) (rate(accelctl_requests_total"
        '{route=~"/genimage|/v1/images/generations",namespace="prod"}[30s]))'
    )
    assert q["desired"] == (
        'label_replace(sum by (deployment) (kube_deployment_spec_replicas{deployment=~"sd\\-a|sd\\.b"}), '
        '"service", "$1", "deployment", "(.*)")'
    )  # PromQL's own $1 is left alone
    assert q["pending"] == 'sum by (service) (x{namespace="prod"})'
    assert "$" not in q["rps"] + q["error_rate"] + q["pending"]


def prometheus_answering(results: dict[str, list], status: str = "success"):
    """A prometheus source whose HTTP client answers from `results` by field, via httpx.MockTransport."""
    src = SOURCES.create("prometheus", {"url": "http://prom.invalid"})
    defaults = src.config.effective_queries()

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        field = next(f for f, t in defaults.items() if render(t, src.config, ["a", "b"]) == query)
        if status != "success":
            return httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            )
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": m, "value": [0, v]} for m, v in results.get(field, [])],
                },
            },
        )

    src._http = httpx.Client(base_url="http://prom.invalid", transport=httpx.MockTransport(handler))
    return src


def test_prometheus_response_values_map_onto_unit_metrics():
    src = prometheus_answering(
        {
            "rps": [({"unit": "a"}, "12.5"), ({"unit": "b"}, "0"), ({"job": "no-unit-label"}, "99")],
            "p95": [({"unit": "a"}, "+Inf"), ({"unit": "b"}, "NaN")],
            "error_rate": [({"unit": "a"}, "NaN")],  # 0/0: no traffic, no errors
            "ready": [({"unit": "a"}, "3"), ({"unit": "b"}, "1")],
        }
    )
    snap = src.read([UnitBinding("a"), UnitBinding("b")], now=5.0)
    a, b = snap.units["a"], snap.units["b"]
    assert (a.rps, a.p95, a.error_rate, a.ready) == (
        12.5,
        math.inf,
        0.0,
        3,
    )  # above the top bucket stays +Inf
    assert (b.rps, b.p95, b.ready) == (0.0, None, 1)


def test_prometheus_sample_timestamps_give_each_unit_its_age():
    src = prometheus_answering(
        {
            "rps": [({"unit": "a"}, "1"), ({"unit": "b"}, "1")],
            "as_of": [({"unit": "a"}, "1700000000"), ({"unit": "b"}, "1700000095.5")],
        }
    )
    assert src.read([UnitBinding("a"), UnitBinding("b")], now=1_700_000_100.0).ages() == {
        "a": 100.0,
        "b": 4.5,
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("rps", "+Inf", "rps inf"),
        ("rps", "-3", "rps -3.0"),
        ("ready", "+Inf", "a.ready inf"),
        ("ready", "-1", "ready -1"),
    ],
)
def test_prometheus_numbers_no_fleet_produces_are_invalid_metrics(field, value, message):
    src = prometheus_answering({field: [({"unit": "a"}, value)]})
    with pytest.raises(InvalidMetrics, match=f"prometheus: unit a: invalid metrics: {message}"):
        src.read([UnitBinding("a")], now=5.0)


def test_prometheus_error_answer_is_one_line():
    with pytest.raises(AccelctlError, match="prometheus at http://prom.invalid: bad_data: parse error"):
        prometheus_answering({}, status="error").read([UnitBinding("a")], 0.0)


# ---------------------------------------------------------------- cloudwatch


def test_alb_dimension_values_from_arns():
    assert (
        dimension_value("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/fleet/50dc6c")
        == "app/fleet/50dc6c"
    )
    assert (
        dimension_value("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/sd-g5/73e2d6")
        == "targetgroup/sd-g5/73e2d6"
    )
    assert dimension_value("targetgroup/sd-g5/73e2d6") == "targetgroup/sd-g5/73e2d6"


def test_cloudwatch_default_request_shape_and_arithmetic():
    """The default queries as AWS receives them (p95 is a percentile statistic there), and the
    arithmetic on the answer: Sum 900 per 60 s -> 15 rps, 9/900 errors, 3 healthy + 1 unhealthy."""
    from botocore.stub import Stubber

    src = SOURCES.create(
        "cloudwatch",
        {"region": "eu-west-1", "load_balancer": "app/fleet/1", "target_groups": {"a": "targetgroup/a/2"}},
    )
    now = 1_800_000_075.0  # 75 s into a minute: the running minute is left out
    dims = [
        {"Name": "TargetGroup", "Value": "targetgroup/a/2"},
        {"Name": "LoadBalancer", "Value": "app/fleet/1"},
    ]
    expected = {
        "MetricDataQueries": [
            {
                "Id": f"q{i}",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dims},
                    "Period": 60,
                    "Stat": stat,
                },
            }
            for i, (metric, stat) in enumerate(
                [
                    ("RequestCount", "Sum"),
                    ("HTTPCode_Target_5XX_Count", "Sum"),
                    ("TargetResponseTime", "p95"),
                    ("HealthyHostCount", "Minimum"),
                    ("UnHealthyHostCount", "Maximum"),
                ]
            )
        ],
        "StartTime": dt.datetime.fromtimestamp(1_800_000_060 - 300, dt.timezone.utc),
        "EndTime": dt.datetime.fromtimestamp(1_800_000_060, dt.timezone.utc),
        "ScanBy": "TimestampDescending",
    }
    t = dt.datetime.fromtimestamp(1_800_000_000, dt.timezone.utc)
    answer = {
        "MetricDataResults": [
            {"Id": qid, "Timestamps": [t], "Values": [v], "StatusCode": "Complete"}
            for qid, v in [("q0", 900.0), ("q1", 9.0), ("q2", 0.61), ("q3", 3.0), ("q4", 1.0)]
        ]
    }
    with Stubber(src._cw) as stub:
        stub.add_response("get_metric_data", answer, expected)
        m = src.read([UnitBinding("a")], now).units["a"]
        stub.assert_no_pending_responses()
    assert (m.rps, m.error_rate, m.p95, m.ready, m.desired) == (15.0, 0.01, 0.61, 3, 4)
    assert m.as_of == 1_800_000_060  # the end of the period the datapoints cover: 15 s before now
