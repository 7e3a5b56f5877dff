"""Breaking-point search (accelctl.bench.knee) stepped by hand: each case states the arithmetic."""

from __future__ import annotations

import pytest

from accelctl.bench.knee import BUDGET, Criteria, Search, meets, next_load, outcome
from accelctl.units import Probe


def P(offered, achieved, p95, mode="closed", requests=100, errors=0):
    return Probe(
        mode=mode,
        offered=offered,
        achieved_rps=achieved,
        p50=p95,
        p95=p95,
        p99=p95,
        requests=requests,
        errors=errors,
    )


CLOSED = Search(mode="closed")
OPEN = Search(mode="open")


def test_criteria():
    c = Criteria(slo_s=0.9, max_error_rate=0.001, keep_up=0.9)
    assert meets(P(4, 40, 0.9), c)  # p95 == SLO passes
    assert not meets(P(4, 40, 0.91), c)
    # 1 error in 1000 = 0.1 % is within budget; 2 in 1000 is not.
    assert meets(P(4, 40, 0.2, requests=1000, errors=1), c)
    assert not meets(P(4, 40, 0.2, requests=1000, errors=2), c)
    # open loop: 57 of 64 offered = 0.89 < 0.9 keep-up; 58/64 = 0.906 passes.
    assert not meets(P(64, 57, 0.3, mode="open"), c)
    assert meets(P(64, 58, 0.3, mode="open"), c)
    # no successful answer at all: no p95, never a pass
    assert not meets(Probe(mode="closed", offered=1, achieved_rps=0, requests=5, errors=5), c)


def test_start_and_ramp():
    assert next_load([], CLOSED) == 1.0
    assert next_load([], Search(mode="closed", start=2.6)) == 3.0  # concurrency is a whole number
    assert next_load([P(1, 10, 0.1)], CLOSED) == 2.0  # 1 x 2
    assert next_load([P(4, 4.0, 0.2, mode="open")], OPEN) == 8.0


def test_closed_plateau_stops_early():
    # capacity 40/s: 1 -> 10/s, 2 -> 20/s, 4 -> 40/s, 8 -> 40.5/s.
    # 8 >= 2 x 4 and 40.5 < 40 x 1.05 = 42: doubling the clients bought < 5 %, so throughput stopped growing.
    probes = [P(1, 10, 0.1), P(2, 20, 0.1), P(4, 40, 0.1), P(8, 40.5, 0.2)]
    assert next_load(probes[:3], CLOSED) == 8.0
    assert next_load(probes, CLOSED) is None
    out = outcome(probes, CLOSED)
    assert out.breaking_point_rps == 40.5 and out.converged and out.reason == "throughput stopped growing"


def test_closed_bisects_when_slo_fails_before_saturation():
    # throughput still grows at 16 clients (16 -> 20/s) but p95 1.2 s > 0.9 s: bracket [8, 16].
    probes = [P(1, 2, 0.5), P(2, 4, 0.5), P(4, 8, 0.5), P(8, 16, 0.5), P(16, 20, 1.2)]
    # hi achieved 20 > best 16 x 1.05 = 16.8, so bisect: sqrt(8 x 16) = 11.31 -> 11 clients
    assert next_load(probes, CLOSED) == 11.0
    probes.append(P(11, 18, 0.85))
    # best 18, hi 20 > 18.9; load 16 > 11 x 1.05; sqrt(11 x 16) = 13.27 -> 13
    assert next_load(probes, CLOSED) == 13.0
    probes.append(P(13, 19.5, 0.95))
    # hi is now 13 (19.5 > 18.9); 13 - 11 = 2 clients apart; sqrt(11 x 13) = 11.96 -> 12
    assert next_load(probes, CLOSED) == 12.0
    probes.append(P(12, 19, 0.88))
    # best 19, hi 19.5 <= 19 x 1.05 = 19.95: the throughput bracket is within 5 %
    assert next_load(probes, CLOSED) is None
    out = outcome(probes, CLOSED)
    assert (out.breaking_point_rps, out.upper_rps, out.converged) == (19, 19.5, True)
    assert out.reason == "throughput bracket within 5%"


def test_closed_adjacent_clients_end_the_search():
    # passing at 5, failing at 6 with more throughput (30 > 25 x 1.05): no whole number between them.
    probes = [P(4, 20, 0.5), P(5, 25, 0.6), P(6, 30, 1.0)]
    assert next_load(probes, CLOSED) is None
    assert outcome(probes, CLOSED).reason == "load bracket within 5%"


def test_one_client_already_misses_the_slo():
    out = outcome([P(1, 0.5, 2.0)], CLOSED)
    assert next_load([P(1, 0.5, 2.0)], CLOSED) is None
    assert out.breaking_point_rps is None and not out.converged


def test_open_jumps_to_what_the_overloaded_server_delivered():
    # capacity ~40/s: 1..32/s keep up; at 64/s it completes 40/s (< 0.9 x 64 = 57.6): fail.
    probes = [P(r, r, 0.1, mode="open") for r in (1, 2, 4, 8, 16, 32)] + [P(64, 40, 0.4, mode="open")]
    # 40 lies inside (32 x 1.05, 64 / 1.05) = (33.6, 60.95): probe 40/s next, not sqrt(32 x 64) = 45.25
    assert next_load(probes, OPEN) == 40.0
    probes.append(P(40, 39.6, 0.3, mode="open"))
    # best 39.6; upper 40 <= 39.6 x 1.05 = 41.58: done, 8 probes.
    assert next_load(probes, OPEN) is None
    assert outcome(probes, OPEN).breaking_point_rps == 39.6


def test_open_bisects_geometrically_otherwise():
    # failing at 64/s with 62/s delivered (errors): 62 > 64 / 1.05 = 60.95, so no jump; sqrt(32 x 64) = 45.25
    probes = [P(32, 32, 0.1, mode="open"), P(64, 62, 0.5, mode="open", requests=1000, errors=50)]
    assert next_load(probes, OPEN) == pytest.approx(45.2548, abs=1e-4)


def test_open_steps_down_when_the_start_fails():
    s = Search(mode="open", start=1.0, min_load=0.2)
    probes = [P(1, 0.5, 2.0, mode="open")]
    assert next_load(probes, s) == 0.5  # 1 / 2
    probes.append(P(0.5, 0.5, 1.5, mode="open"))
    assert next_load(probes, s) == 0.25
    probes.append(P(0.25, 0.25, 1.4, mode="open"))
    assert next_load(probes, s) is None  # 0.125 < min_load 0.2
    assert "no load met the SLO" in outcome(probes, s).reason


def test_probe_budget():
    s = Search(mode="open", max_probes=3)
    probes = [P(r, r, 0.1, mode="open") for r in (1, 2, 4)]
    assert next_load(probes, s) is None
    out = outcome(probes, s)
    assert out.reason == BUDGET and not out.converged and out.breaking_point_rps == 4


def test_failures_below_the_best_pass_are_noise():
    # a blip failed at 4 clients, yet 8 passed: the bracket starts at 8 and the ramp goes on to 16.
    probes = [P(1, 10, 0.1), P(4, 30, 1.0), P(8, 70, 0.3)]
    assert next_load(probes, CLOSED) == 16.0
