"""The `local` source's arithmetic: histogram quantiles and counter deltas between two reads (pure)."""

import math

import pytest

from accelctl.control.sources.local import LocalSource, LocalSourceConfig, _Totals, histogram_quantile

INF = math.inf


def test_quantile_interpolates_inside_the_bucket():
    # 100 observations: 50 at <=0.1, 40 more at <=0.5, 10 more at <=1.0. Rank 0.95*100 = 95 falls in
    # (0.5, 1.0] which holds 90..100: 0.5 + 0.5 * (95-90)/(100-90) = 0.75.
    assert histogram_quantile(0.95, [(0.1, 50), (0.5, 90), (1.0, 100), (INF, 100)]) == pytest.approx(0.75)
    # Rank 50 in the first bucket (0, 0.1] holding 0..50: 0 + 0.1 * 50/50 = 0.1.
    assert histogram_quantile(0.5, [(0.1, 50), (0.5, 90), (1.0, 100), (INF, 100)]) == pytest.approx(0.1)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound():
    assert histogram_quantile(0.95, [(0.1, 1), (1.0, 2), (INF, 10)]) == 1.0


def test_quantile_without_observations_is_none():
    assert histogram_quantile(0.95, [(0.1, 0), (INF, 0)]) is None
    assert histogram_quantile(0.95, []) is None


def source(replicas=1):
    return LocalSource(LocalSourceConfig(router_url="http://127.0.0.1:9", replicas=replicas))


def test_first_read_has_no_rates():
    m = source()._metrics(_Totals(requests=10), None, 0.0, ready=1, capacity_short=0)
    assert (m.rps, m.p95, m.error_rate, m.ready, m.desired) == (0.0, None, 0.0, 1, 1)


def test_rates_from_deltas():
    old = _Totals(requests=100, buckets={0.5: 80, 1.0: 100, INF: 100}, attempts=110, failed_attempts=5)
    # 20 more requests in 4 s: 5 rps. Bucket deltas (0.5: 10, 1.0: 20, inf: 20): rank 19 in (0.5, 1.0]
    # holding 10..20 -> 0.5 + 0.5 * 9/10 = 0.95. Attempts +25 of which +5 failed: error rate 0.2.
    new = _Totals(requests=120, buckets={0.5: 90, 1.0: 120, INF: 120}, attempts=135, failed_attempts=10)
    m = source()._metrics(new, old, 4.0, ready=1, capacity_short=1)
    assert m.rps == pytest.approx(5.0)
    assert m.p95 == pytest.approx(0.95)
    assert m.error_rate == pytest.approx(0.2)
    assert m.capacity_events == 1


def test_a_restarted_server_counts_from_zero():
    old = _Totals(requests=500, buckets={1.0: 500, INF: 500})
    # The server restarted: 6 requests since, over 2 s -> 3 rps; p95 inside (0, 1.0]: 1.0 * 5.7/6.
    new = _Totals(requests=6, buckets={1.0: 6, INF: 6})
    m = source()._metrics(new, old, 2.0, ready=1, capacity_short=0)
    assert m.rps == pytest.approx(3.0)
    assert m.p95 == pytest.approx(0.95)
