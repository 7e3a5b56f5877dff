"""The `plan` policy tick by tick, with the arithmetic in the comments.

Three units, headroom 0.8, route_utilization 0.9, the `last` forecaster (forecast = the demand just
measured, no spread) so every number below follows from the snapshot alone:

    unit    T (rps/replica)  $/replica-h  $ per rps-h   T × headroom   T × 0.9
    cheap   2.0              1.00         0.50          1.6            1.8
    mid     1.0              0.80         0.80          0.8            0.9
    dear    1.0              1.20         1.20          0.8            0.9
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fake_units import fake_unit
from test_loop import MemoryActuator, ScriptedSource

from accelctl.control.forecast import Forecast, trend_forecast
from accelctl.control.loop import Controller, Hold
from accelctl.control.plan import cheapest_replicas, planned_demand, route
from accelctl.control.policy import PolicyContext, decide
from accelctl.control.sources.base import UnitBinding
from accelctl.control.types import MetricsSnapshot, PlanMemory, PolicyState, UnitMetrics
from accelctl.units import PolicySettings

UNITS = (
    fake_unit("cheap", 2.0, 0.5, 1.0, "c", max_replicas=20),
    fake_unit("mid", 1.0, 0.5, 0.8, "m", max_replicas=20),
    fake_unit("dear", 1.0, 0.5, 1.2, "d", max_replicas=20),
)
SETTINGS = PolicySettings(
    mode="plan", forecaster="last", capacity_hold_s=300.0, interval_s=15.0, deadband=2, pending_window_s=60.0
)


def snap(t: float, demand: float, **units: UnitMetrics) -> MetricsSnapshot:
    """`demand` arrives at the router; the per-unit split does not matter to the plan, the total does."""
    m = {n: units.get(n, UnitMetrics(ready=0, desired=0)) for n in ("cheap", "mid", "dear")}
    m["cheap"] = replace(m["cheap"], rps=demand)
    return MetricsSnapshot(t, m)


def tick(t: float, state: PolicyState, demand: float, settings: PolicySettings = SETTINGS, units=UNITS, **m):
    ctx = PolicyContext(units, snap(t, demand, **m), settings, headroom=0.8, lead_s={}, node_launch_s=60.0)
    return decide("plan", ctx, state)


def ready(n: int, desired: int | None = None, pending: int = 0, events: int = 0) -> UnitMetrics:
    return UnitMetrics(
        ready=n, desired=n if desired is None else desired, pending=pending, capacity_events=events
    )


def test_freeze_not_drain_on_a_capacity_signal():
    # t=0: 8 rps; cheap carries it alone: ceil(8 / 1.6) = 5 replicas, all Ready.
    d0, s = tick(0.0, PolicyState(), 8.0, cheap=ready(5))
    assert d0.planned_replicas == {"cheap": 5, "mid": 0, "dear": 0} and d0.weights["cheap"] == 100
    assert d0.mode == "cost" and all(d0.can_grow.values())
    # t=15: 9 rps wants ceil(9 / 1.6) = 6 cheap replicas, but cheap's pool reports an insufficient-
    # capacity event: 5 Ready, 2 Pending (desired 7) -> it holds 5 and is planned no higher.
    d1, s = tick(15.0, s, 9.0, cheap=ready(5, desired=7, pending=2, events=1))
    assert d1.can_grow["cheap"] is False and d1.mode == "capacity"
    assert d1.planned_replicas["cheap"] == 5  # frozen at what it holds, not drained
    # Its 5 Ready replicas keep serving: 5 × 2 × 0.9 = 9 rps within the cap, so all 9 rps stay on it.
    assert d1.available["cheap"] is True and d1.weights == {"cheap": 100, "mid": 0, "dear": 0}
    # t=30: the event has aged out of the source's window, but the hold (300 s) keeps it frozen.
    d2, s = tick(30.0, s, 9.0, cheap=ready(5))
    assert d2.can_grow["cheap"] is False and d2.planned_replicas["cheap"] == 5 and d2.weights["cheap"] == 100


def test_growth_goes_to_the_next_cheapest_pool_in_the_same_tick():
    _, s = tick(0.0, PolicyState(), 8.0, cheap=ready(5))
    # 9 rps, cheap frozen at 5 (5 × 1.6 = 8 rps at headroom): 1 rps is left, and mid is the next
    # cheapest per rps (0.80 < 1.20): ceil(1 / 0.8) = 2 mid replicas, nothing on dear.
    d, _ = tick(15.0, s, 9.0, cheap=ready(5, desired=7, pending=2, events=1))
    assert d.planned_replicas == {"cheap": 5, "mid": 2, "dear": 0}
    # With mid capped at 1 replica (0.8 rps) the last 0.2 rps goes one further: ceil(0.2 / 0.8) = 1 dear.
    capped = (UNITS[0], replace(UNITS[1], max_replicas=1), UNITS[2])
    _, s = tick(0.0, PolicyState(), 8.0, units=capped, cheap=ready(5))
    d, _ = tick(15.0, s, 9.0, units=capped, cheap=ready(5, desired=7, pending=2, events=1))
    assert d.planned_replicas == {"cheap": 5, "mid": 1, "dear": 1}


def test_make_before_break_at_fallback():
    # During the shortage: cheap frozen at 5 Ready, mid carrying the rest with 3 Ready.
    _, s = tick(0.0, PolicyState(), 8.0, cheap=ready(5))
    _, s = tick(15.0, s, 11.0, cheap=ready(5, desired=7, pending=2, events=1), mid=ready(0, 4, 4))
    assert s.plan.planned == {"cheap": 5, "mid": 4, "dear": 0}  # 11 - 8 = 3 rps: ceil(3 / 0.8) = 4
    # t=330: 315 s since the last signal (hold 300 s): cheap may grow again. Cheapest plan for 11 rps:
    # ceil(11 / 1.6) = 7 cheap, 0 mid. Cheap grows to 7 at once; mid gives up a replica only if the
    # Ready replicas kept carry 11 rps at headroom: min(5, 7) × 1.6 + min(4, 3) × 0.8 = 8 + 2.4 = 10.4
    # < 11, so mid keeps all 4.
    d, s = tick(330.0, s, 11.0, cheap=ready(5, 7, 2), mid=ready(4))
    assert d.planned_replicas == {"cheap": 7, "mid": 4, "dear": 0}
    assert d.can_grow["cheap"] and d.mode == "capacity"  # restoring: cheap has 5 of 7 Ready
    # Routed at equal utilisation over min(ready, planned): cheap 5 × 2 = 10, mid 4 × 1 = 4 rps of
    # capacity; 11 × 10/14 = 7.86 rps (71.4 points) to cheap, 3.14 rps (28.6 points) to mid. Floors
    # 71 + 28; the point left (0.11 rps) goes where it leaves the most room under 0.9 × T: cheap
    # 9.0 - 72 × 0.11 = 1.08 rps, mid 3.6 - 29 × 0.11 = 0.41 rps -> 72 / 28.
    assert d.weights == {"cheap": 72, "mid": 28, "dear": 0}
    # t=345: cheap has 7 Ready: 7 × 1.6 = 11.2 >= 11 on its own, so mid drains to 0 now, and with
    # every planned replica Ready the fallback is done (cost mode).
    d, s = tick(345.0, s, 11.0, cheap=ready(7), mid=ready(4))
    assert d.planned_replicas == {"cheap": 7, "mid": 0, "dear": 0}
    assert d.weights == {"cheap": 100, "mid": 0, "dear": 0} and d.mode == "cost"


def test_a_unit_without_a_ready_replica_gets_no_weight_but_keeps_its_plan():
    # mid has 2 planned replicas starting (0 Ready): it cannot serve, so weight 0, but nothing drains it.
    _, s = tick(0.0, PolicyState(), 8.0, cheap=ready(5))
    d, _ = tick(15.0, s, 9.0, cheap=ready(5, 7, 2, events=1), mid=ready(0, 2, 2))
    assert d.available == {"cheap": True, "mid": False, "dear": False}
    assert d.weights["mid"] == 0 and d.planned_replicas["mid"] == 2


def test_deadband_never_keeps_weights_that_overload_a_unit():
    # 10.2 rps over cheap (5 Ready: 10 rps of T) and mid (2 Ready: 2 rps), planned exactly that.
    # Equal utilisation: cheap 10.2 × 10/12 = 8.5 rps (83.3 points), mid 1.7 rps (16.7 points).
    # Limits at 0.9 × T: cheap 9.0, mid 1.8 rps. One point is 0.102 rps: floors 83 + 16, and the point
    # left goes to the unit with more room after taking it (cheap: 9 - 84 × 0.102 = 0.43; mid:
    # 1.8 - 17 × 0.102 = 0.07): 84 / 16.
    # Live: 82 / 18, two points off (= the deadband), but 18 × 0.102 = 1.84 rps > mid's 1.8 limit.
    def script(t):
        m = {"cheap": ready(5), "mid": ready(2), "dear": ready(0)}
        m["cheap"] = replace(m["cheap"], rps=10.2)
        return MetricsSnapshot(t, m)

    live = {"cheap": 82, "mid": 18, "dear": 0}
    act = MemoryActuator(live)
    c = Controller(
        "plan",
        UNITS,
        [UnitBinding(n) for n in ("cheap", "mid", "dear")],
        ScriptedSource(script),
        act,
        SETTINGS,
    )
    # Planned last tick: 5 cheap + 2 mid. The cheapest plan for 10.2 rps is ceil(10.2 / 1.6) = 7 cheap:
    # cheap grows to 7, and mid keeps its 2 while cheap's new ones are not Ready (make-before-break:
    # 5 × 1.6 + 1 × 0.8 = 8.8 < 10.2), so routing runs over 5 cheap + 2 mid as above.
    c.state = replace(c.state, weights=live, plan=PlanMemory(planned={"cheap": 5, "mid": 2, "dear": 0}))
    r = c.tick(0.0)
    assert r.decision.planned_replicas == {"cheap": 7, "mid": 2, "dear": 0}
    assert r.decision.weights == {"cheap": 84, "mid": 16, "dear": 0}
    assert r.decision.overloads(live, 10.2) == ["mid"]
    assert r.applied and r.held is None and act.weights == r.decision.weights
    # Without the overload the same two-point change is held by the deadband.
    act2 = MemoryActuator({"cheap": 85, "mid": 15, "dear": 0})
    c2 = Controller(
        "plan",
        UNITS,
        [UnitBinding(n) for n in ("cheap", "mid", "dear")],
        ScriptedSource(script),
        act2,
        SETTINGS,
    )
    c2.state = replace(
        c2.state,
        weights={"cheap": 85, "mid": 15, "dear": 0},
        plan=PlanMemory(planned={"cheap": 5, "mid": 2, "dear": 0}),
    )
    r2 = c2.tick(0.0)
    assert r2.held is Hold.DEADBAND and act2.applied == []


def test_planned_replicas_are_recorded_every_tick_even_within_the_deadband():
    recorded = []

    class Recording(MemoryActuator):
        def record_replicas(self, replicas):
            recorded.append(dict(replicas))

    act = Recording({"cheap": 100, "mid": 0, "dear": 0})
    c = Controller(
        "plan",
        UNITS,
        [UnitBinding(n) for n in ("cheap", "mid", "dear")],
        ScriptedSource(lambda t: snap(t, 8.0, cheap=ready(5))),
        act,
        SETTINGS,
    )
    c.state = replace(c.state, weights={"cheap": 100, "mid": 0, "dear": 0})
    results = [c.tick(t) for t in (0.0, 15.0)]
    assert [r.held for r in results] == [Hold.DEADBAND, Hold.DEADBAND]
    assert recorded == [{"cheap": 5, "mid": 0, "dear": 0}] * 2


def test_more_ready_than_planned_within_the_cap_routes_no_unit_past_it():
    # Two Ready, one planned on each: the planned ones cannot carry 60 rps at 0.9 × T, all the Ready ones
    # can (63). No excess, so no unit is the overload sink: none may take the weight points' rounding
    # past its cap (found by test_policy_properties.py's plan property).
    units = (fake_unit("a", 20.0, 1.0, 1.0, "p0", 0, 1), fake_unit("b", 15.0, 1.0, 1.0, "p1", 0, 1))
    rps, limits = route(units, 60.0, {"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 0.9, "b": 0.9})
    assert limits == {"a": 36.0, "b": 27.0}
    assert rps == pytest.approx({"a": 60.0 * 36 / 63, "b": 60.0 * 27 / 63})  # equal use of the Ready ones
    # With an excess, the unit with the least Ready capacity takes it, unbounded.
    rps, limits = route(units, 70.0, {"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 0.9, "b": 0.9})
    assert rps == {"a": 36.0, "b": 34.0} and limits == {"a": 36.0, "b": float("inf")}


def test_a_subnormal_demand_still_routes_to_the_unit_that_serves():
    # Found by the weights property under plan: 5e-324 rps split over one unit underflowed to 0 rps, so
    # no unit was routed and the tick raised "nothing available" with a Ready unit.
    units = (fake_unit("a", 0.5, 1.0, 1.0, "p0", 1, 1),)
    snap = MetricsSnapshot(1000.0, {"a": UnitMetrics(rps=5e-324, ready=1, desired=1)})
    d, _ = decide("plan", PolicyContext(units, snap, PolicySettings()), PolicyState())
    assert d.alarm is None and d.weights == {"a": 100}


def test_cheapest_replicas_fills_by_dollars_per_rps():
    lo = dict.fromkeys(("cheap", "mid", "dear"), 0)
    hi = {"cheap": 3, "mid": 20, "dear": 20}
    # 6 rps: cheap's 3 replicas carry 4.8; 1.2 left -> ceil(1.2 / 0.8) = 2 mid.
    assert cheapest_replicas(UNITS, 6.0, 0.8, lo, hi) == {"cheap": 3, "mid": 2, "dear": 0}
    # More than everything carries: everything.
    assert cheapest_replicas(UNITS, 1e6, 0.8, lo, hi) == {"cheap": 3, "mid": 20, "dear": 20}


def test_margin_covers_only_the_spread_that_routing_cannot_absorb():
    s = PolicySettings(forecast_margin_sd=3.0, route_utilization=0.9)
    # Routing may take 0.9 / 0.8 - 1 = 12.5 % above the plan: 100 rps with sd 3 -> 3 sd = 9 < 12.5: none.
    assert planned_demand(Forecast(100.0, 3.0), 0.8, s) == 100.0
    # sd 6 -> 18 - 12.5 = 5.5 rps of margin.
    assert planned_demand(Forecast(100.0, 6.0), 0.8, s) == 105.5


def test_trend_forecast_reads_the_line_at_the_end_of_the_lead():
    rising = tuple((float(t), 10.0 + 0.01 * t) for t in range(0, 900, 15))
    f = trend_forecast(rising, 885.0, 600.0)
    assert abs(f.rps - (10.0 + 0.01 * 1485)) < 1e-6 and f.sd < 1e-6
    # A falling line is read now: replicas ordered now are not needed later.
    falling = tuple((float(t), 20.0 - 0.01 * t) for t in range(0, 900, 15))
    assert abs(trend_forecast(falling, 885.0, 600.0).rps - (20.0 - 8.85)) < 1e-6


def test_trend_forecast_carries_a_step_at_its_new_level_without_a_trend_or_spread():
    # 10 rps for 600 s, then 20 rps: a line fitted across the window would slope ~+0.02 rps/s and
    # read 10 + 0.02 x 1485 ~ 40 rps at the end of a 600 s lead. Each half is flat (slope 0 in the
    # older half; the recent half's pairs are mostly 20 - 20), so no trend, and the level is the
    # recent half's median: 20. The neighbour differences are 0 but for the one at the step, which
    # the median ignores: sd 0, so the plan buys no margin for a step.
    step = tuple((float(t), 10.0 if t < 600 else 20.0) for t in range(0, 900, 15))
    f = trend_forecast(step, 885.0, 600.0)
    assert f == Forecast(20.0, 0.0)


def test_trend_forecast_spread_reads_the_noise_of_independent_samples():
    # Independent normal noise of sd 2 around 50 rps: the differences of neighbours have sd 2 x sqrt(2),
    # so their robust sd over sqrt(2) reads ~2 (60 samples kept as 30, one 900 s window).
    rng = np.random.default_rng(7)
    reads = [
        trend_forecast(tuple((float(t), 50.0 + rng.normal(0, 2.0)) for t in range(0, 900, 15)), 885.0, 0.0)
        for _ in range(200)
    ]
    assert 1.8 < float(np.median([f.sd for f in reads])) < 2.2
    assert 49.0 < float(np.median([f.rps for f in reads])) < 51.0


def test_trend_forecast_needs_enough_samples_in_each_half():
    # 7 samples: fewer than 4 per half, so the latest sample stands, with no spread.
    few = tuple((float(t), float(t)) for t in range(0, 105, 15))
    assert trend_forecast(few, 90.0, 600.0) == Forecast(90.0, 0.0)


def test_a_queueing_unit_is_routed_at_the_drain_cap_and_the_excess_sinks_on_the_quickest_small_unit():
    # a: 10 Ready × T 2.0; its p95 1.2 s is over the SLO (0.9 s), so its cap is drain 0.6: 12 rps.
    # b: 1 Ready × T 1.0 at 0.9: 0.9 rps; c: 1 Ready × T 1.0 at 0.9: 0.9 rps. Demand 20 rps: excess
    # 20 - 13.8 = 6.2; b and c each hold 0.9 <= 0.2 × 6.2 = 1.24, so both are small: c grows sooner.
    units = (
        fake_unit("a", 2.0, 0.5, 1.0, "p0", 0, 20),
        fake_unit("b", 1.0, 0.5, 1.0, "p1", 0, 20),
        fake_unit("c", 1.0, 0.5, 1.0, "p2", 0, 20),
    )
    m = {
        "a": UnitMetrics(rps=20.0, p95=1.2, ready=10, desired=10),
        "b": UnitMetrics(ready=1, desired=1),
        "c": UnitMetrics(ready=1, desired=1),
    }
    ctx = PolicyContext(
        units,
        MetricsSnapshot(0.0, m),
        PolicySettings(mode="plan", forecaster="last"),
        headroom=0.8,
        lead_s={"a": 900.0, "b": 600.0, "c": 200.0},
        node_launch_s=60.0,
    )
    d, _ = decide("plan", ctx, PolicyState())
    # a gets 12 / 20 = 60 points; b 0.9 / 20 = 4.5 -> 4 or 5; c the rest.
    assert d.weights["a"] == 60
    assert d.weights["c"] > d.weights["b"] >= 4
