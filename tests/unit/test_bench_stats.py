"""Latency statistics and profile assembly (accelctl.bench.stats, accelctl.bench.profiles)."""

from __future__ import annotations

import pytest

from accelctl.bench.profiles import assemble, profile_path, unit
from accelctl.bench.stats import latency_stats, percentiles
from accelctl.errors import InputError
from accelctl.shape import Shape
from accelctl.units import Profile


def test_latency_stats_by_hand():
    s = latency_stats([1.0, 2.0, 3.0, 4.0])
    # mean 2.5; sample sd = sqrt(5/3) = 1.29099, sem = 1.29099 / 2 = 0.645497; t(0.975, 3 df) = 3.182446
    # half width = 3.182446 x 0.645497 = 2.054260 -> [0.445740, 4.554260]
    assert s.n == 4 and s.mean == 2.5
    assert s.ci95_low == pytest.approx(0.445740, abs=1e-6) and s.ci95_high == pytest.approx(
        4.554260, abs=1e-6
    )
    # linear-interpolated percentiles over 1..4: p90 = 1 + 0.9 x 3 = 3.7, p95 = 3.85, p99 = 3.97
    assert (s.p0, s.p50, s.p90, s.p95, s.p99, s.p100) == pytest.approx((1.0, 2.5, 3.7, 3.85, 3.97, 4.0))


def test_one_sample_has_no_interval_and_constant_samples_a_point():
    one = latency_stats([0.3])
    assert one.ci95_low is None and one.ci95_high is None and one.p95 == 0.3
    flat = latency_stats([0.5, 0.5, 0.5])
    assert flat.ci95_low == flat.ci95_high == 0.5
    assert percentiles([]) == [None, None, None]


def test_assemble_recomputes_cost_and_names_the_file(tmp_path):
    u = unit("tiny", "c7i.2xlarge", "cpu")
    p = assemble(
        unit=u,
        shape=Shape(64, 64, 1, "fp32", 5),
        latency=[0.2, 0.2],
        breaking_point_rps=5.0,
        method="in-process estimate",
        price=0.357,
        price_source="manual (--price)",
    )
    # C = 0.357 $/h / 1 replica / (5 rps x 3600 s/h) = 1.9833e-5 $; T/(C.L) = 5 / (1.9833e-5 x 0.2)
    assert p.cost_per_inference == pytest.approx(0.357 / 18000)
    assert p.efficiency == pytest.approx(5 / (0.357 / 18000 * 0.2))
    assert profile_path(tmp_path, p) == tmp_path / "tiny-c7i-2xlarge-cpu.yaml"
    assert Profile.model_validate(p.model_dump(mode="json")).cost_per_inference == p.cost_per_inference


def test_bad_target_names_the_field():
    with pytest.raises(InputError, match="target"):
        unit("tiny", "c7i.2xlarge", "tpu", where="profile add")


def test_endpoint_bench_becomes_a_profile_in_one_place():
    # bench --url and the demo both turn an endpoint run into a profile with endpoint_profile:
    # L is the mean of the one-at-a-time latencies, T the search's breaking point, the probes the curve.
    from accelctl.bench.knee import Outcome
    from accelctl.bench.load import EndpointRun
    from accelctl.bench.profiles import endpoint_profile
    from accelctl.units import DeploymentUnit, Probe

    probe = Probe(mode="closed", offered=2, achieved_rps=1.5, p95=0.8, requests=30)
    run = EndpointRun([0.4, 0.6], [probe], Outcome(1.5, 1.5, 2.0, True, "bracketed"), {})
    p = endpoint_profile(
        run,
        unit=DeploymentUnit(model="tiny", instance_type="c7i.xlarge", target="cpu"),
        shape=Shape(64, 64, 1, "fp32", 2),
        method="endpoint search",
        price=0.18,
        price_source="manual",
        slo_s=0.9,
        env={},
    )
    assert (p.latency.mean, p.breaking_point_rps, p.curve, p.slo_s, p.dtype) == (
        0.5,
        1.5,
        [probe],
        0.9,
        "fp32",
    )
    assert p.cost_per_inference == 0.18 / (1.5 * 3600)
