"""decide()'s shared safeguards, tick by tick: the ready-capacity bound and availability's memory
(capacity hold) on the paper fleet. Breaking points T (rps per replica): inf2 1.75, trn1 2.1667,
g5-compile 1.5, g6-compile 1.0167, g5-cuda 1.0. Capacity-mode scores with inf2 out: ΣT/N = 5.6833/4
= 1.4208, so trn1 1.4208, g5-compile 1.4208, g6 1.0167, g5-cuda 1.0 (Σ 4.8583)."""

from __future__ import annotations

import pytest
from paper_fleet import NAMES, paper_units

from accelctl.control.policy import PolicyContext, capacity_scores, decide, ready_bound
from accelctl.control.types import MetricsSnapshot, PolicyState, Reason, ReasonCode, UnitMetrics
from accelctl.units import PolicySettings

UNITS = paper_units(min_replicas=1, max_replicas=20)
WITHOUT_INF2 = {n: n != "inf2-neuron" for n in NAMES}
SHORT = UnitMetrics(ready=1, desired=1, capacity_events=1)


def up(ready: int, rps: float) -> UnitMetrics:
    return UnitMetrics(rps=rps, p95=0.5, ready=ready, desired=ready)


def ctx(t: float, metrics: dict[str, UnitMetrics], **kw) -> PolicyContext:
    return PolicyContext(UNITS, MetricsSnapshot(t, metrics), PolicySettings(**kw))


def test_the_excess_over_ready_capacity_goes_to_units_with_spare_capacity_by_score():
    # 6 rps; ready: trn1 1 (carries 2.1667), g5-compile 1 (1.5), g6 2 (2.0333), g5-cuda 2 (2.0): Σ 7.7 > 6.
    m = {
        "inf2-neuron": SHORT,
        "trn1-neuron": up(1, 3.0),
        "g5-cuda-compile": up(1, 1.0),
        "g6-cuda-compile": up(2, 1.0),
        "g5-cuda": up(2, 1.0),
    }
    bounded, why = ready_bound(capacity_scores(UNITS, WITHOUT_INF2), ctx(0.0, m))
    # Round 1: 6 × 1.4208/4.8583 = 1.7547 for g5-compile > 1.5 -> capped at 1.5 (trn1's 1.7547 <= 2.1667).
    # Round 2: 4.5 rps left over trn1, g6, g5-cuda (Σ 3.4375): 1.86, 1.3309, 1.3091, each within its cap.
    assert bounded["g5-cuda-compile"] == 1.5
    assert bounded["trn1-neuron"] == pytest.approx(1.86)
    assert bounded["g6-cuda-compile"] == pytest.approx(4.5 * 1.0167 / 3.4375, rel=1e-3)
    assert bounded["g5-cuda"] == pytest.approx(4.5 / 3.4375)
    assert bounded["inf2-neuron"] == 0.0 and why == Reason(ReasonCode.READY_BOUND, detail="g5-cuda-compile")
    # As weights: 1.86/6 = 31.0, 1.5/6 = 25.0, 22.18, 21.82 -> 31, 25, 22, 22 (unbounded: 29, 29, 21, 21).
    d, _ = decide("capacity", ctx(0.0, m), PolicyState())
    assert d.weights == {
        "inf2-neuron": 0,
        "trn1-neuron": 31,
        "g5-cuda-compile": 25,
        "g6-cuda-compile": 22,
        "g5-cuda": 22,
    }
    # Replicas are still sized for the unbounded share: g5-compile 6 × 0.29 / (1.5 × 0.8) = 1.45 -> 2.
    assert d.desired_replicas["g5-cuda-compile"] == 2


def test_demand_beyond_all_ready_capacity_is_shared_in_proportion_to_it():
    # 12 rps > 7.7: shares ∝ ready × T = 2.1667, 1.5, 2.0333, 2.0 of 7.7 -> 28.1, 19.5, 26.4, 26.0.
    m = {
        "inf2-neuron": SHORT,
        "trn1-neuron": up(1, 6.0),
        "g5-cuda-compile": up(1, 2.0),
        "g6-cuda-compile": up(2, 2.0),
        "g5-cuda": up(2, 2.0),
    }
    d, _ = decide("capacity", ctx(0.0, m), PolicyState())
    assert d.weights == {
        "inf2-neuron": 0,
        "trn1-neuron": 28,
        "g5-cuda-compile": 20,
        "g6-cuda-compile": 26,
        "g5-cuda": 26,
    }
    assert any(r.code is ReasonCode.OVER_READY_CAPACITY for r in d.reasons)


def test_within_ready_capacity_the_policy_weights_pass_unchanged():
    m = {n: up(4, 1.0) for n in NAMES}  # 5 rps against 4 replicas each: no unit near its bound
    bounded_d, _ = decide("cost", ctx(0.0, m), PolicyState())
    assert bounded_d.weights == {
        "inf2-neuron": 32,
        "trn1-neuron": 37,
        "g5-cuda-compile": 18,
        "g6-cuda-compile": 7,
        "g5-cuda": 6,
    }
    assert not any(r.code is ReasonCode.READY_BOUND for r in bounded_d.reasons)


def test_fallback_onto_a_unit_back_at_one_replica_ramps_with_its_ready_replicas():
    # inf2 back after a shortage with 1 ready replica, 10 rps of demand, others with plenty ready.
    # Cost mode wants 32 % of 10 = 3.2 rps on inf2; one replica carries 1.75 -> inf2 gets 17.5 %, the
    # 1.45 rps excess spread over the other four by cost score (37:18:7:6).
    others = {
        "trn1-neuron": up(5, 4.0),
        "g5-cuda-compile": up(4, 3.0),
        "g6-cuda-compile": up(2, 1.5),
        "g5-cuda": up(2, 1.5),
    }
    d, _ = decide("cost", ctx(0.0, {"inf2-neuron": up(1, 0.0), **others}), PolicyState())
    # 8.25 rps over trn1, g5-compile, g6, g5-cuda by cost score: 4.5003, 2.1609, 0.8789, 0.7099 rps,
    # i.e. 17.5, 45.0, 21.61, 8.79, 7.10 % -> floors 17, 45, 21, 8, 7 (98); remainders .79 and .61 win.
    assert d.weights == {
        "inf2-neuron": 17,
        "trn1-neuron": 45,
        "g5-cuda-compile": 22,
        "g6-cuda-compile": 9,
        "g5-cuda": 7,
    }
    assert d.desired_replicas["inf2-neuron"] == 3  # sized for 3.2 rps: 3.2 / (1.75 × 0.8) = 2.29 -> 3
    # KEDA sees 1.75 rps on one replica, above its 1.75 × 0.8 = 1.4 target, and scales. Next tick demand
    # is 11.75 rps (inf2's 1.75 included); cost mode wants 32 % = 3.76 rps: 2 ready carry 3.5 (still
    # bounded), 3 ready carry 5.25 -> unbounded, inf2 at its full cost-mode weight.
    d, _ = decide("cost", ctx(15.0, {"inf2-neuron": up(2, 1.75), **others}), PolicyState())
    assert d.weights["inf2-neuron"] == 30  # 3.5 / 11.75 = 29.8 %
    d, _ = decide("cost", ctx(30.0, {"inf2-neuron": up(3, 1.75), **others}), PolicyState())
    assert d.weights["inf2-neuron"] == 32 and not any(r.code is ReasonCode.READY_BOUND for r in d.reasons)


def test_a_unit_with_a_capacity_signal_stays_out_for_the_hold_across_ticks():
    # inf2's events are seen from t=0 to t=285; it launches nothing, so they leave the source's window
    # and from t=300 its metrics look healthy. The 900 s hold runs from the last signal: out until
    # 285 + 900 = 1185, re-admitted on that tick, not re-admitted and dropped every window.
    healthy = {n: up(4, 1.0) for n in NAMES if n != "inf2-neuron"}
    kw = dict(capacity_hold_s=900.0)
    d, state = decide("auto", ctx(0.0, {"inf2-neuron": SHORT, **healthy}, **kw), PolicyState())
    assert d.mode == "capacity" and not d.available["inf2-neuron"]
    for t in range(15, 1185, 15):
        inf2 = SHORT if t < 300 else up(1, 0.0)
        d, state = decide("auto", ctx(float(t), {"inf2-neuron": inf2, **healthy}, **kw), state)
        assert not d.available["inf2-neuron"] and d.weights["inf2-neuron"] == 0, t
    assert state.units["inf2-neuron"].last_capacity_signal == 285.0
    hold = {"ago_s": 885.0, "hold_s": 900.0}  # t=1170
    assert Reason(ReasonCode.CAPACITY_HOLD, "inf2-neuron", hold) in d.reasons
    d, state = decide("auto", ctx(1185.0, {"inf2-neuron": up(1, 0.0), **healthy}, **kw), state)
    assert d.available["inf2-neuron"]
