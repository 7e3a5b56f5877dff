"""Policy arithmetic against the paper (Kissos & Biran 2025, Tables 1 and 2), step by step.

The five profiles in examples/paper/profiles store T in requests/s (paper figure ÷ 60, see its
README) and C = price/h ÷ (3600·T). The weights do not depend on that unit reading: T/(C·L) =
3600·T²/(price·L), so rescaling T rescales every score by the same factor.
"""

from __future__ import annotations

import math

import pytest
from fake_units import fake_unit
from paper_fleet import NAMES, paper_units, snapshot

from accelctl.control.policy import (
    PolicyContext,
    capacity_scores,
    cost_pool_share,
    cost_scores,
    decide,
    integer_weights,
    replicas_for,
)
from accelctl.control.types import (
    Alarm,
    AlarmCode,
    MetricsSnapshot,
    PolicyState,
    Reason,
    ReasonCode,
    UnitMetrics,
)
from accelctl.errors import InputError
from accelctl.units import PolicySettings

ALL = dict.fromkeys(NAMES, True)


def ctx(snap: MetricsSnapshot, units=None, **settings) -> PolicyContext:
    return PolicyContext(units or paper_units(), snap, PolicySettings(**settings))


def test_cost_mode_gives_the_formula_weights_for_the_five_paper_units():
    units = paper_units()
    # score_i = T_i / (C_i·L_i) with C_i = price_i / (3600·T_i), so score_i = 3600·T_i² / (price_i·L_i):
    #   inf2       T = 105/60 = 1.75      3600·1.75²      / (0.7582·0.67) = 11025   / 0.507994 = 21703.0
    #   trn1       T = 130/60 = 2.16667   3600·2.16667²   / (1.3438·0.51) = 16900   / 0.685338 = 24659.4
    #   g5 triton  T =  90/60 = 1.5       3600·1.5²       / (1.0060·0.68) =  8100   / 0.684080 = 11840.7
    #   g6 triton  T =  61/60 = 1.01667   3600·1.01667²   / (0.8048·0.96) =  3721   / 0.772608 =  4816.2
    #   g5 cuda    T =  60/60 = 1.0       3600·1²         / (1.0060·0.92) =  3600   / 0.925520 =  3889.7
    expected = {
        "inf2-neuron": 11025 / (0.7582 * 0.67),
        "trn1-neuron": 16900 / (1.3438 * 0.51),
        "g5-cuda-compile": 8100 / (1.006 * 0.68),
        "g6-cuda-compile": 3721 / (0.8048 * 0.96),
        "g5-cuda": 3600 / (1.006 * 0.92),
    }
    scores = cost_scores(units, ALL)
    for name in NAMES:
        assert scores[name] == pytest.approx(expected[name], rel=1e-9)
    # Σ = 66909.0; shares: 32.437 %, 36.855 %, 17.697 %, 7.198 %, 5.813 %.
    # Largest remainder: floors 32+36+17+7+5 = 97, 3 points left, to the largest fractions
    # .855 (trn1), .813 (g5 cuda), .697 (g5 triton)  ->  32, 37, 18, 7, 6.
    weights = decide("cost", ctx(snapshot(0.0)), PolicyState())[0].weights
    assert weights == {
        "inf2-neuron": 32,
        "trn1-neuron": 37,
        "g5-cuda-compile": 18,
        "g6-cuda-compile": 7,
        "g5-cuda": 6,
    }


def test_capacity_mode_gives_the_adjusted_throughputs_of_table_2():
    units = paper_units()
    # Target = ΣT_max / N = (105 + 130 + 90 + 61 + 60) / 5 = 446 / 5 = 89.2 per minute;
    # adjusted_i = min(89.2, T_max,i) = 89.2, 89.2, 89.2, 61, 60 (Table 2's last column).
    per_minute = {n: s * 60 for n, s in capacity_scores(units, ALL).items()}
    assert per_minute == pytest.approx(
        {
            "inf2-neuron": 89.2,
            "trn1-neuron": 89.2,
            "g5-cuda-compile": 89.2,
            "g6-cuda-compile": 61.0,
            "g5-cuda": 60.0,
        },
        rel=1e-12,
    )
    # Weights ∝ 89.2, 89.2, 89.2, 61, 60 of Σ 388.6: 22.954 % ×3, 15.697 %, 15.440 %.
    # Floors 22·3 + 15 + 15 = 96; 4 points to .954, .954, .954, .697  ->  23, 23, 23, 16, 15.
    weights = decide("capacity", ctx(snapshot(0.0)), PolicyState())[0].weights
    assert weights == {
        "inf2-neuron": 23,
        "trn1-neuron": 23,
        "g5-cuda-compile": 23,
        "g6-cuda-compile": 16,
        "g5-cuda": 15,
    }


def test_capacity_mode_renormalises_over_the_units_still_available():
    units = paper_units()
    # Without inf2: target = (130 + 90 + 61 + 60) / 4 = 341 / 4 = 85.25 per minute;
    # adjusted = 85.25, 85.25, 61, 60 and 0 for inf2.
    per_minute = {n: s * 60 for n, s in capacity_scores(units, {**ALL, "inf2-neuron": False}).items()}
    assert per_minute == pytest.approx(
        {
            "inf2-neuron": 0.0,
            "trn1-neuron": 85.25,
            "g5-cuda-compile": 85.25,
            "g6-cuda-compile": 61.0,
            "g5-cuda": 60.0,
        }
    )


def test_an_unavailable_unit_gets_zero_and_the_rest_share_100():
    # inf2 short: cost scores of the other four, Σ = 66909.0 − 21703.0 = 45206.0;
    # trn1 54.549 %, g5 triton 26.193 %, g6 10.654 %, g5 cuda 8.604 % -> floors 54+26+10+8 = 98,
    # 2 points to .654 (g6) and .604 (g5 cuda) -> 54, 26, 11, 9.
    decision, _ = decide("cost", ctx(snapshot(0.0, short={"inf2-neuron"})), PolicyState())
    assert decision.weights == {
        "inf2-neuron": 0,
        "trn1-neuron": 54,
        "g5-cuda-compile": 26,
        "g6-cuda-compile": 11,
        "g5-cuda": 9,
    }
    assert decision.available["inf2-neuron"] is False
    assert Reason(ReasonCode.CAPACITY_EVENTS, "inf2-neuron", {"events": 1}) in decision.reasons


def test_cost_pool_share_is_the_cost_mode_traffic_the_available_units_still_take():
    units = paper_units()
    scores = cost_scores(units, ALL)
    total = math.fsum(scores.values())
    # inf2 short: 1 − 21703.0 / 66909.0 = 0.6756 — below a 0.8 failover threshold.
    assert cost_pool_share(units, {**ALL, "inf2-neuron": False}) == pytest.approx(
        1 - scores["inf2-neuron"] / total
    )
    assert cost_pool_share(units, {**ALL, "inf2-neuron": False}) == pytest.approx(0.6756, abs=1e-4)
    # g5 cuda short: 1 − 3889.7 / 66909.0 = 0.9419 — above it: cost mode carries on without g5 cuda.
    assert cost_pool_share(units, {**ALL, "g5-cuda": False}) == pytest.approx(0.9419, abs=1e-4)
    assert cost_pool_share(units, ALL) == 1.0
    assert cost_pool_share(units, dict.fromkeys(NAMES, False)) == 0.0


def test_largest_remainder_rounding():
    # 1/3 each: 33.33 -> floors 33·3 = 99, the one point left goes to the first name in order.
    assert integer_weights({"b": 1.0, "a": 1.0, "c": 1.0}) == {"a": 34, "b": 33, "c": 33}
    # 2/3 vs 1/3: 66.67 / 33.33 -> 67 / 33.
    assert integer_weights({"x": 2.0, "y": 1.0}) == {"x": 67, "y": 33}
    assert integer_weights({"x": 0.0, "y": 0.0}) == {}
    assert integer_weights({"x": -1.0, "y": 1.0}) == {"x": 0, "y": 100}


def test_desired_replicas_carry_each_units_share_at_the_headroom():
    units = paper_units(min_replicas=1, max_replicas=3)
    # 10 rps total in cost mode (32/37/18/7/6), headroom 0.8: replicas = ceil(10·w/100 / (0.8·T)).
    #   inf2  3.2 / (0.8·1.75 = 1.4)       = 2.29 -> 3
    #   trn1  3.7 / (0.8·2.1667 = 1.7333)  = 2.13 -> 3
    #   g5t   1.8 / (0.8·1.5 = 1.2)        = 1.5  -> 2
    #   g6    0.7 / (0.8·1.0167 = 0.8133)  = 0.86 -> 1
    #   g5c   0.6 / (0.8·1.0 = 0.8)        = 0.75 -> 1
    snap = snapshot(0.0, rps={"inf2-neuron": 10.0})
    decision, _ = decide("cost", ctx(snap, units), PolicyState())
    assert decision.desired_replicas == {
        "inf2-neuron": 3,
        "trn1-neuron": 3,
        "g5-cuda-compile": 2,
        "g6-cuda-compile": 1,
        "g5-cuda": 1,
    }
    # 40 rps would need 10 inf2 replicas: clamped to max_replicas = 3.
    decision, _ = decide("cost", ctx(snapshot(0.0, rps={"inf2-neuron": 40.0}), units), PolicyState())
    assert decision.desired_replicas["inf2-neuron"] == 3
    # No demand: min_replicas = 1 everywhere.
    decision, _ = decide("cost", ctx(snapshot(0.0), units), PolicyState())
    assert set(decision.desired_replicas.values()) == {1}
    assert replicas_for(1.4, units[0], 0.8) == 1  # exactly at headroom·T: one replica, not two


def test_nothing_available_keeps_the_last_good_weights_and_raises_an_alarm():
    last = {"inf2-neuron": 40, "trn1-neuron": 20, "g5-cuda-compile": 15, "g6-cuda-compile": 10, "g5-cuda": 15}
    decision, state = decide("cost", ctx(snapshot(0.0, short=set(NAMES))), PolicyState(weights=last))
    assert decision.alarm == Alarm(AlarmCode.NOTHING_AVAILABLE)
    assert decision.weights == last
    assert state.weights == last
    # Without any last good weights there is nothing to keep; the loop then writes nothing.
    decision, state = decide("cost", ctx(snapshot(0.0, short=set(NAMES))), PolicyState())
    assert decision.alarm == Alarm(AlarmCode.NOTHING_AVAILABLE) and set(decision.weights.values()) == {0}
    assert state.weights == {}


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(InputError, match="auto, capacity, cost, plan"):
        decide("cheapest", ctx(snapshot(0.0)), PolicyState())


def test_capacity_mode_with_one_unit_left_sends_it_everything():
    units = (fake_unit("a", 2.0, 0.5, 1.0, "p"), fake_unit("b", 1.0, 0.5, 1.0, "q"))
    snap = MetricsSnapshot(0.0, {"a": UnitMetrics(ready=1, desired=1), "b": UnitMetrics(ready=0, desired=1)})
    decision, _ = decide("capacity", PolicyContext(units, snap, PolicySettings()), PolicyState())
    assert decision.weights == {"a": 100, "b": 0}
