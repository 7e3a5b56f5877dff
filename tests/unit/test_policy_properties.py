"""Properties every policy keeps on any fleet and any metrics (hypothesis)."""

from __future__ import annotations

import math

from fake_units import fake_unit
from hypothesis import given, settings
from hypothesis import strategies as st

from accelctl.control.policy import POLICIES, PolicyContext, decide, ready_bound
from accelctl.control.types import MetricsSnapshot, PolicyState, UnitMetrics
from accelctl.units import PolicySettings

NOW = 1000.0


@st.composite
def fleet_and_metrics(draw):
    n = draw(st.integers(1, 6))
    units, metrics = [], {}
    for i in range(n):
        t, price = draw(st.floats(0.05, 50.0)), draw(st.floats(0.05, 40.0))
        hi = draw(st.integers(1, 20))
        units.append(
            fake_unit(
                f"u{i}",
                t,
                draw(st.floats(0.01, 5.0)),
                price,
                f"p{i % 3}",
                draw(st.integers(0, hi)),
                hi,
            )
        )
        if draw(st.booleans()) or i == 0:
            ready = draw(st.integers(0, 5))
            metrics[f"u{i}"] = UnitMetrics(
                rps=draw(st.floats(0.0, 200.0)),
                p95=draw(st.none() | st.floats(0.01, 3.0)),
                error_rate=draw(st.floats(0.0, 1.0)),
                ready=ready,
                desired=ready + draw(st.integers(0, 3)),
                pending=draw(st.integers(0, 3)),
                pending_since=draw(st.none() | st.floats(0.0, NOW)),
                capacity_events=draw(st.integers(0, 2)),
            )
    return tuple(units), MetricsSnapshot(NOW, metrics)


@settings(max_examples=150, deadline=None)
@given(
    case=fleet_and_metrics(),
    policy=st.sampled_from(POLICIES.names()),
    mode=st.sampled_from(["cost", "capacity"]),
    last=st.booleans(),
)
def test_property_weights_are_whole_sum_to_100_and_skip_unavailable_units(case, policy, mode, last):
    units, snap = case
    last_good = (
        {u.name: 100 // len(units) + (i < 100 % len(units)) for i, u in enumerate(units)} if last else {}
    )
    ctx = PolicyContext(units, snap, PolicySettings())
    d, state = decide(policy, ctx, PolicyState(mode=mode, weights=last_good))
    assert set(d.weights) == {u.name for u in units}
    assert all(isinstance(w, int) and 0 <= w <= 999 for w in d.weights.values())
    unknown = set(d.stale) | set(d.missing)  # units without a reading: they keep their weight
    assert unknown == {u.name for u in units} - set(snap.units)
    if d.alarm:
        # Nothing to route to: the last good weights and mode, unchanged; never a new all-zero plan.
        assert state.weights == last_good and state.mode == d.mode == mode
        assert d.weights == (last_good or {u.name: 0 for u in units})
        held = sum(last_good.get(n, 0) for n in unknown)
        assert not any(ok for n, ok in d.available.items() if n not in unknown) or held == 100
    else:
        assert sum(d.weights.values()) == 100 and state.weights == d.weights
        if any(w for n, w in d.weights.items() if n not in unknown):
            assert all(d.weights[n] == last_good.get(n, 0) for n in unknown)
        else:  # no unit with fresh data can take traffic: the unknown ones take the others' share
            assert all(d.weights[n] >= last_good.get(n, 0) for n in unknown)
        assert all(d.weights[n] == 0 for n, ok in d.available.items() if not ok and n not in unknown)
    for u in units:
        # A planning policy (plan) keeps a unit that cannot grow at what it holds, even under min_replicas.
        low = 0 if d.planned_replicas is not None else u.min_replicas
        assert low <= d.desired_replicas[u.name] <= u.max_replicas
    assert d.mode in ("cost", "capacity")


@settings(max_examples=150, deadline=None)
@given(case=fleet_and_metrics(), seed=st.lists(st.floats(0.0, 10.0), min_size=6, max_size=6))
def test_property_the_ready_bound_keeps_demand_and_floods_no_unit(case, seed):
    units, snap = case
    scores = {u.name: s for u, s in zip(units, seed, strict=False)}
    bounded, _ = ready_bound(scores, PolicyContext(units, snap, PolicySettings()))
    demand = snap.total_rps()
    routed = [n for n, v in scores.items() if v > 0]
    if demand <= 0 or not routed:
        assert bounded == scores
        return
    # Every routed unit's bound: its ready replicas (at least one) at the breaking point.
    carried = {
        u.name: max(snap.units[u.name].ready if u.name in snap.units else 0, 1) * u.throughput_rps
        for u in units
        if u.name in routed
    }
    assert all(bounded[n] == 0 for n, v in scores.items() if v <= 0)  # unscored units stay out
    # Scores are relative: unchanged ones are any scale, so compare each unit's share of the demand.
    total = sum(bounded.values())
    rps = {n: demand * bounded[n] / total for n in routed}
    if sum(carried.values()) > demand:
        assert all(rps[n] <= carried[n] * (1 + 1e-9) for n in routed)  # nobody over its bound
    else:
        # More demand than ready capacity: shares ∝ ready × T.
        assert all(math.isclose(rps[n], demand * carried[n] / sum(carried.values())) for n in routed)


def test_the_ready_bound_keeps_its_arithmetic_on_subnormal_scores():
    # Found by the property above: scores of 5e-324 (subnormal) lost their precision in the water-filling
    # sums and products, and routed a unit past its ready replicas.
    units = tuple(fake_unit(n, t, 1.0, 1.0, "p") for n, t in (("a", 1.8), ("b", 17.0)))
    snap = MetricsSnapshot(NOW, {"a": UnitMetrics(rps=18.6)})  # no replica Ready: each counts as one
    for scores in ({"a": 5e-324, "b": 0.5}, {"a": 5e-324, "b": 1e-320}, {"a": 1e-320, "b": 1e-320}):
        bounded, _ = ready_bound(scores, PolicyContext(units, snap, PolicySettings()))
        total = sum(bounded.values())
        rps = {n: 18.6 * v / total for n, v in bounded.items()}
        assert rps["a"] <= 1.8 * (1 + 1e-9) and rps["b"] <= 17.0 * (1 + 1e-9), scores
        assert math.isclose(sum(rps.values()), 18.6)


@settings(max_examples=150, deadline=None)
@given(case=fleet_and_metrics(), previous=st.lists(st.integers(0, 25), min_size=6, max_size=6))
def test_property_plan_routes_no_unit_past_its_ready_capacity_and_never_grows_a_short_pool(case, previous):
    """Under `plan`, for any fleet, metrics and previous plan:
    - a unit that cannot grow is planned no higher than the pods it holds (Ready + placed);
    - while the Ready replicas can carry the demand within their cap (route_utilization × T, or
      drain_utilization × T on a unit whose p95 is over the SLO), no unit is routed more than its
      Ready replicas carry there (plus one weight point of rounding);
    - a unit with no Ready replica, or no metrics, gets weight 0."""
    from accelctl.control.plan import held, routing_cap
    from accelctl.control.types import PlanMemory

    units, snap = case
    s = PolicySettings(mode="plan")
    memory = PlanMemory(planned={u.name: p for u, p in zip(units, previous, strict=False)})
    ctx = PolicyContext(
        units, snap, s, headroom=0.8, lead_s={u.name: 300.0 for u in units}, node_launch_s=60.0
    )
    d, _ = decide("plan", ctx, PolicyState(weights={}, plan=memory))
    for u in units:
        m = snap.units.get(u.name)
        if not d.can_grow.get(u.name, True):
            assert d.planned_replicas[u.name] <= max(held(m), 0) if m else True
        if m is None or m.ready == 0:
            assert d.weights.get(u.name, 0) == 0
    demand = snap.total_rps()
    cap = {u.name: routing_cap(snap.units.get(u.name), u.profile.slo_s, s) for u in units}
    ready_cap = math.fsum(
        snap.units[u.name].ready * u.throughput_rps * cap[u.name] for u in units if u.name in snap.units
    )
    if d.weights and demand > 0 and ready_cap >= demand:
        for u in units:
            m = snap.units.get(u.name)
            routed = demand * d.weights.get(u.name, 0) / 100
            ready = m.ready if m else 0
            assert routed <= ready * u.throughput_rps * cap[u.name] + demand / 100 + 1e-6, u.name
