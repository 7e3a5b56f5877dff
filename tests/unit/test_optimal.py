"""`optimal`: the MILP against brute force, against cost mode, and on the paper fleet by hand."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from paper_fleet import NAMES, paper_units, snapshot

from accelctl.control.optimal import NEGLIGIBLE_RPS, REL_TOL, plan_cost, solve_min_cost
from accelctl.control.policy import PolicyContext, decide
from accelctl.control.types import MetricsSnapshot, PolicyState, UnitMetrics, UnitModel
from accelctl.units import PolicySettings

HEADROOM = 0.8


def brute_force(units, available, demand, headroom):
    """Cheapest replica vector over every combination in the bounds, or None if none carries demand."""
    ranges = [
        range(
            min(u.min_replicas, u.max_replicas if available[u.name] else 0),
            (u.max_replicas if available[u.name] else 0) + 1,
        )
        for u in units
    ]
    best = None
    for r in itertools.product(*ranges):
        # The solver's semantics: demand below NEGLIGIBLE_RPS is none; REL_TOL of the demand is float noise.
        if demand < NEGLIGIBLE_RPS or sum(
            u.throughput * headroom * n for u, n in zip(units, r, strict=False)
        ) >= demand * (1 - REL_TOL):
            cost = sum(u.price_per_hour * n for u, n in zip(units, r, strict=False))
            best = cost if best is None else min(best, cost)
    return best


@st.composite
def fleets(draw, max_replicas=(1, 4), first_up=False):
    """1–3 units; by default replica bounds small enough to enumerate every plan."""
    units = []
    for i in range(draw(st.integers(1, 3))):
        t, price = draw(st.floats(0.2, 5.0)), draw(st.floats(0.1, 5.0))
        hi = draw(st.integers(*max_replicas))
        lo = draw(st.integers(0, min(hi, 4)))
        units.append(
            UnitModel(f"u{i}", t, draw(st.floats(0.1, 2.0)), price / (3600 * t), price, f"p{i}", lo, hi)
        )
    units = tuple(units)
    available = {u.name: (first_up and i == 0) or draw(st.booleans()) for i, u in enumerate(units)}
    return units, available


@settings(max_examples=200, deadline=None)
@given(fleet=fleets(), demand=st.floats(0.0, 25.0))
def test_property_matches_brute_force(fleet, demand):
    units, available = fleet
    plan = solve_min_cost(units, available, demand, HEADROOM)
    best = brute_force(units, available, demand, HEADROOM)
    if best is None:
        assert plan is None
        return
    assert plan is not None
    rps, replicas = plan
    assert plan_cost(units, replicas) == pytest.approx(best, rel=1e-9, abs=1e-9)
    # The plan carries the demand, each unit within headroom × breaking point per replica,
    # and every replica at the same load (demand ÷ provisioned capacity).
    assert math.fsum(rps.values()) == pytest.approx(demand if demand >= NEGLIGIBLE_RPS else 0.0, abs=1e-9)
    provisioned = {u.name: u.throughput * HEADROOM * replicas[u.name] for u in units}
    for u in units:
        assert rps[u.name] <= provisioned[u.name] * (1 + REL_TOL)
        assert u.min_replicas * available[u.name] <= replicas[u.name] <= u.max_replicas * available[u.name]
        if provisioned[u.name] > 0 and demand >= NEGLIGIBLE_RPS:
            assert rps[u.name] / provisioned[u.name] == pytest.approx(demand / sum(provisioned.values()))


@settings(max_examples=200, deadline=None)
@given(fleet=fleets(max_replicas=(20, 40), first_up=True), demand=st.floats(0.01, 10.0))
def test_property_costs_no_more_than_cost_mode_at_equal_served_demand(fleet, demand):
    units, available = fleet
    rps = {u.name: 0.0 for u in units}
    rps[units[0].name] = demand
    snap = MetricsSnapshot(
        0.0,
        {
            u.name: UnitMetrics(
                rps=rps[u.name], ready=1, desired=1, capacity_events=0 if available[u.name] else 1
            )
            for u in units
        },
    )
    ctx = PolicyContext(units, snap, PolicySettings(), headroom=HEADROOM)
    cost_mode, _ = decide("cost", ctx, PolicyState())
    # Cost mode serves the demand only if every unit's replicas hold its share of it.
    served = all(
        demand * cost_mode.weights[u.name] / 100
        <= u.throughput * HEADROOM * cost_mode.desired_replicas[u.name] + 1e-9
        for u in units
    )
    assume(served)
    optimal, _ = decide("optimal", ctx, PolicyState())
    assert plan_cost(units, optimal.desired_replicas) <= plan_cost(units, cost_mode.desired_replicas) + 1e-9
    assert sum(optimal.weights.values()) == 100
    assert all(optimal.weights[u.name] == 0 for u in units if not available[u.name])


def test_paper_fleet_at_5_rps_by_hand():
    units = paper_units(min_replicas=0, max_replicas=10)
    # $/h per rps of capacity at headroom 0.8, price / (0.8·T):
    #   inf2 0.7582/1.4 = 0.542, trn1 1.3438/1.7333 = 0.775, g5t 1.006/1.2 = 0.838,
    #   g6 0.8048/0.8133 = 0.990, g5c 1.006/0.8 = 1.258.
    # 5 rps: 4 inf2 = 5.6 rps for $3.0328; 3 inf2 + 1 g6 = 5.01 rps for $3.0794; 3 inf2 + 1 trn1 for $3.61.
    snap = snapshot(0.0, rps={"inf2-neuron": 5.0})
    ctx = PolicyContext(units, snap, PolicySettings(), headroom=HEADROOM)
    optimal, _ = decide("optimal", ctx, PolicyState())
    assert optimal.desired_replicas == {
        "inf2-neuron": 4,
        "trn1-neuron": 0,
        "g5-cuda-compile": 0,
        "g6-cuda-compile": 0,
        "g5-cuda": 0,
    }
    assert optimal.weights == {
        "inf2-neuron": 100,
        "trn1-neuron": 0,
        "g5-cuda-compile": 0,
        "g6-cuda-compile": 0,
        "g5-cuda": 0,
    }
    assert plan_cost(units, optimal.desired_replicas) == pytest.approx(4 * 0.7582)
    # Cost mode at 5 rps (32/37/18/7/6 %): 1.6, 1.85, 0.9, 0.35, 0.3 rps ->
    # replicas ceil(1.6/1.4)=2, ceil(1.85/1.7333)=2, 1, 1, 1
    # -> 2·0.7582 + 2·1.3438 + 1.006 + 0.8048 + 1.006 = $7.0208.
    cost_mode, _ = decide("cost", ctx, PolicyState())
    assert cost_mode.desired_replicas == {
        "inf2-neuron": 2,
        "trn1-neuron": 2,
        "g5-cuda-compile": 1,
        "g6-cuda-compile": 1,
        "g5-cuda": 1,
    }
    assert plan_cost(units, cost_mode.desired_replicas) == pytest.approx(7.0208)


def test_paper_fleet_without_inf2_uses_the_next_cheapest_capacity():
    units = paper_units(min_replicas=0, max_replicas=10)
    # inf2 short, 5 rps: trn1 3 = 5.2 rps for $4.0314; trn1 2 + g5t 2 = 5.87 rps for $4.7996;
    # trn1 2 + g5t 1 + g6 1 = 5.48 rps for $4.8404; so 3 trn1.
    snap = snapshot(0.0, short={"inf2-neuron"}, rps={"trn1-neuron": 5.0})
    optimal, _ = decide(
        "optimal", PolicyContext(units, snap, PolicySettings(), headroom=HEADROOM), PolicyState()
    )
    assert optimal.desired_replicas["trn1-neuron"] == 3 and optimal.weights["trn1-neuron"] == 100
    assert optimal.weights["inf2-neuron"] == 0


def test_demand_beyond_every_available_unit_spreads_in_capacity_mode():
    units = paper_units(min_replicas=0, max_replicas=2)
    # Capacity at headroom: 2·0.8·(1.75 + 2.1667 + 1.5 + 1.0167 + 1.0) = 11.89 rps < 20 rps.
    snap = snapshot(0.0, rps={"inf2-neuron": 20.0})
    d, _ = decide("optimal", PolicyContext(units, snap, PolicySettings(), headroom=HEADROOM), PolicyState())
    assert d.mode == "capacity" and "exceeds available capacity" in d.reasons[-1]
    # decide()'s ready bound: 20 rps > every unit's ready capacity (1 replica each: ΣT = 1.75 + 2.1667
    # + 1.5 + 1.0167 + 1.0 = 7.4333 rps), so shares follow ready × T: 23.54, 29.15, 20.18, 13.68, 13.45
    # -> floors 23, 29, 20, 13, 13 (98); the two largest remainders (g6 .68, inf2 .54) get the last 2.
    assert d.weights == {
        "inf2-neuron": 24,
        "trn1-neuron": 29,
        "g5-cuda-compile": 20,
        "g6-cuda-compile": 14,
        "g5-cuda": 13,
    }
    # Replicas are still sized for the capacity-mode share the policy meant (23, 23, 23, 16, 15), at max 2.
    assert d.desired_replicas == dict.fromkeys(d.weights, 2)


def test_no_demand_keeps_min_replicas_and_cost_mode_weights():
    units = paper_units(min_replicas=1, max_replicas=4)
    for demand in (0.0, 5e-7):  # below NEGLIGIBLE_RPS counts as none
        snap = snapshot(0.0, rps={"inf2-neuron": demand})
        d, _ = decide("optimal", PolicyContext(units, snap, PolicySettings()), PolicyState())
        assert d.alarm is None and d.desired_replicas == dict.fromkeys(NAMES, 1)
        assert d.weights == {
            "inf2-neuron": 32,
            "trn1-neuron": 37,
            "g5-cuda-compile": 18,
            "g6-cuda-compile": 7,
            "g5-cuda": 6,
        }
