"""The demo's summary arithmetic and failover/fallback detection (pure)."""

import pytest

from accelctl.control.timeline import TickRecord, shortage_timeline
from accelctl.demo.load import Outcome
from accelctl.demo.summary import summarize

# A policy that plans no replicas (auto): it stops a unit growing by taking its weight to 0.
TICKS = [
    TickRecord(10.0, "cost", {"cheap": 80, "fast": 20}),
    TickRecord(12.0, "cost", {"cheap": 80, "fast": 20}),  # fault at 12.5
    TickRecord(14.0, "capacity", {"cheap": 0, "fast": 100}),  # failover, 1.5 s after the fault
    TickRecord(16.0, "capacity", {"cheap": 0, "fast": 100}),  # restore at 17.0
    TickRecord(18.0, "capacity", {"cheap": 50, "fast": 50}),  # available again, dwelling
    TickRecord(28.0, "cost", {"cheap": 80, "fast": 20}),  # fallback, 11 s after the restore
]


def test_failover_and_fallback_are_the_first_qualifying_ticks():
    line = shortage_timeline(TICKS, ["cheap"], 12.5, 17.0, 12.5)
    assert (line.failover, line.fallback, line.split_restored) == (14.0, 28.0, 28.0)
    assert line.mode_changes == 2  # cost -> capacity at 14, capacity -> cost at 28
    # No failover (the shortage never reached a decision) means no fallback either.
    assert shortage_timeline(TICKS[:2], ["cheap"], 12.5, 17.0, 12.5).failover is None
    assert shortage_timeline(TICKS[:2], ["cheap"], 12.5, 17.0, 12.5).fallback is None


def test_a_planning_policy_fails_over_when_it_stops_growth_and_falls_back_when_replicas_are_ready():
    def tick(t, mode, cheap_w, grow, planned, ready):
        return TickRecord(
            t, mode, {"cheap": cheap_w, "fast": 100 - cheap_w}, {"cheap": grow, "fast": True}, planned, ready
        )

    ticks = [
        tick(10.0, "cost", 90, True, {"cheap": 9, "fast": 1}, {"cheap": 9, "fast": 1}),
        # Signal at 11: the next decision freezes cheap (still serving at 88) and plans fast up.
        tick(12.0, "capacity", 88, False, {"cheap": 9, "fast": 4}, {"cheap": 9, "fast": 1}),
        tick(20.0, "capacity", 60, False, {"cheap": 9, "fast": 6}, {"cheap": 9, "fast": 6}),
        # Capacity back at 25; cheap may grow at 30 but has 9 of 12 planned replicas Ready.
        tick(30.0, "capacity", 60, True, {"cheap": 12, "fast": 6}, {"cheap": 9, "fast": 6}),
        tick(40.0, "cost", 92, True, {"cheap": 12, "fast": 1}, {"cheap": 12, "fast": 6}),
    ]
    line = shortage_timeline(ticks, ["cheap"], 11.0, 25.0, 11.0, deadband=2)
    assert line.failover == 12.0  # weight never went to 0: it stopped growing
    assert line.fallback == 40.0  # first decision with cheap's 12 planned replicas all Ready
    assert line.split_restored == 40.0  # cost mode, cheap at 92 >= 90 - 2
    assert line.mode_changes == 2


def test_summary_counts_costs_and_times():
    outcomes = [Outcome(0.0, 0.2, 200), Outcome(1.0, 0.4, 200), Outcome(2.0, 1.5, 200), Outcome(3.0, 0.1, 0)]
    s = summarize(
        outcomes,
        slo_s=0.9,
        served_by_unit={"cheap": 2, "fast": 1},
        cost_per_inference={"cheap": 1e-5, "fast": 4e-5},
        replica_price_per_hour={"cheap": 0.25, "fast": 1.0},
        uptime_s={"cheap": 1800.0, "fast": 3600.0},
        fault_at=12.5,
        restored_at=17.0,
        failed_over=14.0,
        fell_back=28.0,
        min_dwell_s=10.0,
    )
    assert (s.requests, s.served, s.failed, s.within_slo) == (4, 3, 1, 2)
    assert s.slo_attainment == 0.5  # 2 of 4 requests answered within 0.9 s
    assert s.p50_s == pytest.approx(0.4)
    assert (s.failover_s, s.fallback_s) == (1.5, 11.0)
    # 2 × 1e-5 + 1 × 4e-5 = 6e-5 $ for 3 inferences: 20 $ per million.
    assert s.cost_usd == pytest.approx(6e-5)
    assert s.cost_per_million_usd == pytest.approx(20.0)
    # 0.25 $/h × 0.5 h + 1.0 $/h × 1 h.
    assert s.fleet_cost_usd == pytest.approx(1.125)


def test_plan_for_ninety_seconds():
    from accelctl.demo.plan import plan

    p = plan(90)
    # interval 90/45 = 2 s; fault at 90/6 = 15 s; restore at 60 s; dwell max(90/9, 3×2) = 10 s;
    # fallback due by 60 + 10 + a tick = 72 s, inside the run; overtime 10 + 6 = 16 s if it is late.
    assert (p.interval_s, p.fault_at, p.restore_at, p.min_dwell_s, p.overtime_s) == (
        2.0,
        15.0,
        60.0,
        10.0,
        16.0,
    )


def test_plan_refuses_a_run_too_short_for_the_story():
    from accelctl.demo.plan import plan
    from accelctl.errors import InputError

    with pytest.raises(InputError, match="--duration 30"):
        plan(30)
