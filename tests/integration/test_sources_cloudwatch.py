"""The cloudwatch source against moto's server (tests/integration/moto_endpoint.py).

moto computes Sum/Average/Minimum/Maximum/SampleCount but no percentiles, so p95 here comes from a
pre-computed per-replica p95 metric read with Maximum, the documented alternative to the default
TargetResponseTime p95 (whose request shape tests/unit/test_sources_cloudwatch.py pins).
"""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest
from moto_endpoint import REGION, moto_endpoint

from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.control.types import AlarmCode
from accelctl.errors import AccelctlError, InputError

pytestmark = pytest.mark.timeout(90)

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/fleet/50dc6c495c0c9188"
TG = {
    "sd-g5": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sd-g5/73e2d6bc24d8a067",
    "sd-inf2": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sd-inf2/2453ed029918f21f",
    "sd-trn1": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sd-trn1/a1b2c3d4e5f60718",
}
P95 = {
    "namespace": "Accelctl",
    "metric": "LatencyP95Seconds",
    "stat": "Maximum",
    "dimensions": {"Unit": "$unit"},
}


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


def put(cw, namespace, metric, dims, at, value):
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": dt.datetime.fromtimestamp(at, dt.timezone.utc),
                "Value": value,
            }
        ],
    )


def alb_dims(unit):
    return {"TargetGroup": TG[unit].split(":")[-1], "LoadBalancer": "app/fleet/50dc6c495c0c9188"}


def test_alb_metrics_become_unit_metrics(endpoint):
    import boto3

    cw = boto3.client("cloudwatch", endpoint_url=endpoint, region_name=REGION)
    now = time.time()
    end = math.floor(now / 60) * 60  # the source reads complete 60 s periods up to here
    last, prev, running = (
        end - 30,
        end - 90,
        end + 1,
    )  # inside the last period, the one before, the running one
    g5 = alb_dims("sd-g5")
    for metric, at, value in [
        ("RequestCount", last, 400.0),
        ("RequestCount", last, 200.0),  # Sum 600 in 60 s -> 10 rps
        ("RequestCount", prev, 60.0),  # an older period: not the newest
        ("RequestCount", running, 9999.0),  # the running period is partial: never read
        ("HTTPCode_Target_5XX_Count", last, 30.0),  # 30 / 600 -> 5 % errors
        ("HealthyHostCount", last, 3.0),
        ("HealthyHostCount", last, 2.0),  # Minimum -> 2 ready
        ("UnHealthyHostCount", last, 1.0),  # 2 healthy + 1 unhealthy -> 3 registered
    ]:
        put(cw, "AWS/ApplicationELB", metric, g5, at, value)
    put(cw, "Accelctl", "LatencyP95Seconds", {"Unit": "sd-g5"}, last, 0.41)
    put(cw, "Accelctl", "LatencyP95Seconds", {"Unit": "sd-g5"}, last, 0.72)  # worst replica's p95
    put(cw, "AWS/ApplicationELB", "HealthyHostCount", alb_dims("sd-inf2"), prev, 2.0)  # idle: no requests

    src = SOURCES.create(
        "cloudwatch",
        {
            "region": REGION,
            "endpoint_url": endpoint,
            "load_balancer": LB_ARN,
            "target_groups": TG,
            "queries": {"p95": P95},
        },
    )
    snap = src.read([UnitBinding("sd-g5"), UnitBinding("sd-inf2"), UnitBinding("sd-trn1")], now)

    assert snap.time == now
    assert set(snap.units) == {"sd-g5", "sd-inf2"}  # sd-trn1 has no datapoints: no metrics
    m = snap.units["sd-g5"]
    assert m.rps == pytest.approx(10.0)
    assert m.error_rate == pytest.approx(0.05)
    assert m.p95 == pytest.approx(0.72)
    assert (m.ready, m.desired) == (2, 3)
    idle = snap.units["sd-inf2"]
    assert (idle.rps, idle.p95, idle.error_rate, idle.ready, idle.desired) == (0.0, None, 0.0, 2, 2)


def test_a_unit_without_a_target_group_is_named(endpoint):
    src = SOURCES.create(
        "cloudwatch",
        {
            "region": REGION,
            "endpoint_url": endpoint,
            "load_balancer": LB_ARN,
            "target_groups": {"sd-g5": TG["sd-g5"]},
        },
    )
    with pytest.raises(InputError, match="target_groups.*'sd-x'"):
        src.read([UnitBinding("sd-g5"), UnitBinding("sd-x")], time.time())


def test_unreachable_endpoint_is_one_error_line():
    with moto_endpoint() as url:
        pass  # stopped: nothing listens there now
    src = SOURCES.create(
        "cloudwatch",
        {"region": REGION, "endpoint_url": url, "load_balancer": LB_ARN, "target_groups": TG, "timeout_s": 2},
    )
    with pytest.raises(AccelctlError, match="aws: cloudwatch GetMetricData"):
        src.read([UnitBinding("sd-g5")], time.time())


def test_datapoints_that_stopped_hold_the_weights_with_an_alarm(endpoint):
    """sd-trn1's series stopped 4 minutes ago (a deleted target group, a broken publisher); sd-g5's
    newest minute is complete. sd-trn1 keeps its weight with an alarm; nothing else moved."""
    import boto3
    from fake_units import fake_unit
    from test_loop_prometheus import MemoryActuator

    from accelctl.control.loop import Controller, Hold
    from accelctl.units import PolicySettings

    cw = boto3.client("cloudwatch", endpoint_url=endpoint, region_name=REGION)
    now = time.time()
    end = math.floor(now / 60) * 60
    for unit, at in (("sd-g5", end - 30), ("sd-trn1", end - 270)):
        put(cw, "AWS/ApplicationELB", "RequestCount", alb_dims(unit), at, 60.0)
        put(cw, "AWS/ApplicationELB", "HealthyHostCount", alb_dims(unit), at, 2.0)
    src = SOURCES.create(
        "cloudwatch",
        {
            "region": REGION,
            "endpoint_url": endpoint,
            "load_balancer": LB_ARN,
            "target_groups": {u: TG[u] for u in ("sd-g5", "sd-trn1")},
        },
    )
    units = (
        fake_unit("sd-g5", 50.0, 0.4, 0.18, "p1"),
        fake_unit("sd-trn1", 50.0, 0.4, 0.18, "p2"),
    )
    live = {"sd-g5": 30, "sd-trn1": 70}
    act = MemoryActuator(live)
    settings = PolicySettings(stale_after_s=180.0, deadband=0)
    c = Controller("cost", units, [UnitBinding("sd-g5"), UnitBinding("sd-trn1")], src, act, settings)
    r = c.tick(now)
    # The end of the newest period each covers: sd-g5's ended at `end`; sd-trn1's datapoint lies in the
    # period that started 5 minutes before, so its data ends 4 minutes before.
    assert r.snapshot.units["sd-g5"].as_of == end and r.snapshot.units["sd-trn1"].as_of == end - 240
    assert r.decision.stale == {"sd-trn1": pytest.approx(now - end + 240)}
    assert r.held is Hold.STALE and r.alarm.code is AlarmCode.STALE_METRICS
    assert r.alarm.values == {"limit_s": 180.0} and r.alarm.ages_s == r.decision.stale
    assert act.weights == live
