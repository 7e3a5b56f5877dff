"""The simulator's source and actuator, its baselines, and the oracle's LP on hand-sized cases."""

from __future__ import annotations

import numpy as np
import pytest
from fake_units import fake_unit
from paper_fleet import NAMES, paper_units, snapshot
from test_sim_fleet import fleet, unit

from accelctl.control.policy import POLICIES, PolicyContext, decide
from accelctl.control.sources.base import UnitBinding
from accelctl.sim.actuator import SimActuator
from accelctl.sim.baselines import PAPER, PaperState, fixed_weights, paper_policy
from accelctl.sim.oracle import bucket_demand, solve_oracle
from accelctl.sim.scenario import CapacityWindow
from accelctl.sim.source import SimSource, SimSourceConfig, weighted_quantile
from accelctl.units import PolicySettings

DAY = 86400.0


# ---------------------------------------------------------------- source and actuator


def test_source_reads_rates_errors_and_capacity_events_over_its_windows():
    window = CapacityWindow(instance_type="x.large", start=0, end=1000, max_instances=1)
    f = fleet([3.0] * 60, units=[unit(max_replicas=1)], windows=[window], max_queue=0)
    f.advance(60)
    m = SimSource(f, SimSourceConfig(window_s=20, capacity_window_s=300)).read(
        [UnitBinding("a", pool="pool-a")], 60.0
    )
    snap = m.units["a"]
    # 3 rps offered to one replica serving 2 with no queue: 1 of 3 turned away.
    assert snap.rps == pytest.approx(3.0)
    assert snap.error_rate == pytest.approx(1 / 3)
    assert snap.ready == 1 and snap.desired == 1
    assert snap.p95 == pytest.approx(1.0)  # at the plateau: the SLO
    assert snap.capacity_events == 0  # max_replicas 1: nothing to launch, so no event


def test_weighted_quantile_weights_steps_by_requests():
    values = np.array([0.5, 0.6, 5.0, np.nan])
    # Cumulative shares 90 %, 94 %, 100 %: the 95th percentile request was in the 5.0 s step.
    assert weighted_quantile(values, np.array([90.0, 4.0, 6.0, 0.0]), 0.95) == 5.0
    # 90 %, 96 %: it was in the 0.6 s step.
    assert weighted_quantile(values, np.array([90.0, 6.0, 4.0, 0.0]), 0.95) == 0.6
    assert weighted_quantile(values, np.zeros(4), 0.95) is None


def test_actuator_reads_back_what_it_wrote():
    a, b = unit(), unit(name="b")
    act = SimActuator(fleet([1.0], units=[a, b]))
    assert act.read() == {"a": 1, "b": 1}
    act.apply({"a": 70, "b": 30})
    assert act.read() == {"a": 70, "b": 30}


# ---------------------------------------------------------------- baselines


def test_fixed_baselines():
    units = paper_units()
    assert fixed_weights("round-robin", units, {}) == dict.fromkeys(NAMES, 20)
    assert fixed_weights("static", units, {"inf2-neuron": 40, "g5-cuda": 15}) == {
        "inf2-neuron": 40,
        "trn1-neuron": 0,
        "g5-cuda-compile": 0,
        "g6-cuda-compile": 0,
        "g5-cuda": 15,
    }


@pytest.fixture
def paper():
    with POLICIES.registered(PAPER, paper_policy):
        yield
    assert PAPER not in POLICIES  # gone again: watch never lists it


def _paper(state: PaperState, t: float, short: set[str] = frozenset()):
    ctx = PolicyContext(paper_units(), snapshot(t, short), PolicySettings())
    return decide(PAPER, ctx, state)


@pytest.mark.usefixtures("paper")
def test_paper_fails_over_on_a_capacity_event_and_falls_back_only_in_the_next_cycle():
    # Cycles start at the load's trough, 08:00.
    state = PaperState(cycle_s=DAY, cycle_origin=8 * 3600.0)
    d, state = _paper(state, 17 * 3600.0)
    assert d.mode == "cost"
    d, state = _paper(state, 17.5 * 3600, short={"inf2-neuron"})
    assert d.mode == "capacity" and d.weights["inf2-neuron"] == 0
    assert state.failed_over_in == 0
    # Capacity is back at 23:00 of the same cycle: the paper keeps capacity mode ...
    d, state = _paper(state, 23 * 3600.0)
    assert d.mode == "capacity" and d.weights["inf2-neuron"] > 0
    # ... until the next cycle begins at 08:00 the next day.
    d, state = _paper(state, DAY + 7.9 * 3600)
    assert d.mode == "capacity"
    d, state = _paper(state, DAY + 8 * 3600)
    assert d.mode == "cost"


@pytest.mark.usefixtures("paper")
def test_paper_waits_for_a_cycle_with_capacity():
    state = PaperState(cycle_s=DAY, cycle_origin=0.0)
    _, state = _paper(state, 100.0, short={"g6-cuda-compile"})
    d, state = _paper(state, DAY + 100, short={"g6-cuda-compile"})  # next cycle, still short
    assert d.mode == "capacity"
    d, state = _paper(state, DAY + 400)
    assert d.mode == "cost"


# ---------------------------------------------------------------- oracle


def _model(
    name: str, t: float, price: float, lo: int = 0, hi: int = 10, *, instance_type: str, startup_s: float
):
    return fake_unit(name, t, 0.5, price, name, lo, hi, instance_type=instance_type, startup_s=startup_s)


def test_bucket_demand_is_the_mean_of_each_bucket():
    assert bucket_demand(np.array([1.0, 3.0, 5.0, 7.0, 9.0]), 5.0, 10.0).tolist() == [2.0, 6.0, 9.0]


def test_oracle_pays_replicas_for_demand_and_for_their_start_up():
    # One unit, T = 1 rps at 100 %, $3.60/h = $0.06 per 60 s bucket; demand 0, 0, 2, 2 rps.
    # 2 replicas are Ready in buckets 2-3 and, with 120 s of start-up (2 buckets), paid from bucket 0:
    # 4 buckets x 2 replicas x $0.06 = $0.48.
    u = _model("a", 1.0, 3.6, instance_type="x.large", startup_s=120.0)
    plan = solve_oracle([u], np.array([0.0, 0.0, 2.0, 2.0]), 60.0, 1.0, [], 10)
    assert plan.bound == pytest.approx(0.48)
    assert plan.paid[:, 0] == pytest.approx([2, 2, 2, 2])
    assert plan.unserved == 0
    no_startup = solve_oracle(
        [_model("a", 1.0, 3.6, instance_type="x.large", startup_s=0.0)],
        np.array([0.0, 0.0, 2.0, 2.0]),
        60.0,
        1.0,
        [],
        10,
    )
    assert no_startup.bound == pytest.approx(0.24)


def test_oracle_uses_the_cheaper_unit_until_a_capacity_window_stops_it_growing():
    # $0.06 per cheap replica-bucket, $0.12 per dear one, both T = 1 rps.
    cheap = _model("cheap", 1.0, 3.6, instance_type="c.large", startup_s=0.0)
    dear = _model("dear", 1.0, 7.2, instance_type="d.large", startup_s=0.0)
    demand = np.array([1.0, 1.0, 1.0, 1.0, 3.0, 3.0])
    assert solve_oracle([cheap, dear], demand, 60.0, 1.0, [], 10).bound == pytest.approx(10 * 0.06)
    # From bucket 2 on no c.large launches. Holding 3 cheap from bucket 1 would cost 1 + 5 x 3 = 16
    # cheap buckets ($0.96); keeping 1 cheap and adding 2 dear in buckets 4-5 costs $0.36 + $0.48.
    window = CapacityWindow(instance_type="c.large", start=120, end=360, max_instances=0)
    plan = solve_oracle([cheap, dear], demand, 60.0, 1.0, [window], 10)
    assert plan.paid == pytest.approx(np.array([[1, 0]] * 4 + [[1, 2]] * 2))
    assert plan.bound == pytest.approx(0.84)


def test_oracle_knows_the_shortage_is_coming_and_holds_instances_through_it():
    cheap = _model("cheap", 1.0, 3.6, instance_type="c.large", startup_s=0.0)
    dear = _model("dear", 1.0, 7.2, instance_type="d.large", startup_s=0.0)
    # No c.large launches from bucket 1: launching 3 cheap in bucket 0 and keeping them ($0.54) beats
    # 1 cheap + 2 dear in buckets 1-2 ($0.66).
    window = CapacityWindow(instance_type="c.large", start=60, end=180, max_instances=0)
    plan = solve_oracle([cheap, dear], np.array([1.0, 3.0, 3.0]), 60.0, 1.0, [window], 10)
    assert plan.paid == pytest.approx(np.array([[3, 0]] * 3))
    assert plan.bound == pytest.approx(0.54)


def test_oracle_reports_demand_no_plan_can_carry():
    u = _model("a", 1.0, 3.6, hi=2, instance_type="x.large", startup_s=0.0)
    plan = solve_oracle([u], np.array([4.0, 2.0]), 60.0, 1.0, [], 10)
    assert plan.unserved == pytest.approx(2 / 6)
    assert plan.bound == pytest.approx(4 * 0.06)


# ------------------------------------------------------------ failover and fallback, read from the routing


def test_failover_fallback_and_flaps_are_read_from_the_decisions():
    from accelctl.control.timeline import TickRecord
    from accelctl.sim.metrics import shortage_times
    from accelctl.sim.run import PolicyRun, Trace

    a, b = unit(), unit(name="b", pool="pool-b", instance_type="y.large")
    f = fleet([1.0] * 12, units=[a, b])
    # Steps 0..11 at 10 s, one decision each; "a" (x.large) is short from 30 s to 80 s. A policy that
    # plans no replicas: its weight on a: on, on, on, off at 40, back at 50 (a flap), off at 60, back
    # at 90 and on until the end; capacity mode from 40 to 80.
    weights = [50, 50, 50, 50, 0, 50, 0, 0, 0, 50, 50, 50]
    modes = ["cost"] * 4 + ["capacity"] * 5 + ["cost"] * 3
    f.weight_log[:, 0] = weights
    f.weight_log[:, 1] = 50
    f.events["pool-a"] = [35.0, 55.0]
    trace = Trace(np.arange(12) * 10.0, np.ones(12), 0, 10.0)
    ticks = [
        TickRecord(10.0 * k, m, {"a": w, "b": 50})
        for k, (w, m) in enumerate(zip(weights, modes, strict=True))
    ]
    run = PolicyRun("x", f, ticks=ticks)
    window = CapacityWindow(instance_type="x.large", start=30, end=80)
    s = shortage_times(run, trace, window)
    assert s.first_signal_s == 35.0
    assert s.failover_s == 10.0 and s.signal_to_failover_s == 5.0  # off at 40
    assert s.flaps == 2  # left at 40 and again at 60
    assert s.fallback_s == 10.0  # back, in cost mode, at 90: 10 s after the shortage ended at 80
    assert s.mode_changes == 2  # cost -> capacity at 40, back at 90


def test_a_planning_policy_fails_over_by_freezing_the_short_unit():
    from accelctl.control.timeline import TickRecord
    from accelctl.sim.metrics import shortage_times
    from accelctl.sim.run import PolicyRun, Trace

    a, b = unit(), unit(name="b", pool="pool-b", instance_type="y.large")
    f = fleet([1.0] * 12, units=[a, b])
    f.weight_log[:, 0], f.weight_log[:, 1] = 80, 20  # a never stops serving
    f.events["pool-a"] = [35.0]
    trace = Trace(np.arange(12) * 10.0, np.ones(12), 0, 10.0)
    # a may not grow from the decision at 40 to the one at 80; at 90 it may and has 3 of 4 planned
    # replicas Ready; at 100 all 4.
    grow = [True] * 4 + [False] * 5 + [True] * 3
    ready_a = [3] * 10 + [4] * 2
    ticks = [
        TickRecord(10.0 * k, "cost" if g and k != 9 else "capacity", {"a": 80, "b": 20}, {"a": g, "b": True},
                   {"a": 4 if k >= 9 else 3, "b": 1}, {"a": ready_a[k], "b": 1})
        for k, g in enumerate(grow)
    ]  # fmt: skip
    run = PolicyRun("plan", f, ticks=ticks)
    s = shortage_times(run, trace, CapacityWindow(instance_type="x.large", start=30, end=80))
    assert s.signal_to_failover_s == 5.0 and s.flaps == 0
    assert s.fallback_s == 20.0  # 100 s: a's 4 planned replicas Ready
    assert s.mode_changes == 2
