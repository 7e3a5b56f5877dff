"""`auto`: failover and fallback between cost and capacity mode, at the thresholds, without flapping.

Shares below come from the paper fleet's cost scores (test_policy.py has the arithmetic):
inf2 short -> 0.6756 of the cost-mode traffic still placeable, g6 short -> 0.9280, g5 cuda short -> 0.9419.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from paper_fleet import NAMES, paper_units, snapshot

from accelctl.control.policy import PolicyContext, cost_pool_share, decide
from accelctl.control.types import PolicyState, Reason, ReasonCode
from accelctl.units import PolicySettings

UNITS = paper_units()
ALL = dict.fromkeys(NAMES, True)


def share_without(*names: str) -> float:
    return cost_pool_share(UNITS, {**ALL, **dict.fromkeys(names, False)})


def step(state: PolicyState, t: float, short=frozenset(), **kw):
    # No capacity hold here: these tests are about the mode thresholds and dwell, with the shortage
    # signal itself switched on and off; the hold is tested in test_policy_safeguards.py.
    kw.setdefault("capacity_hold_s", 0.0)
    ctx = PolicyContext(UNITS, snapshot(t, short=set(short)), PolicySettings(**kw))
    return decide("auto", ctx, state)


def test_failover_happens_exactly_below_the_threshold():
    s = share_without("g5-cuda")  # 0.9419
    # Threshold equal to the share: share < threshold is false, cost mode stays.
    d, st_ = step(PolicyState(), 0.0, {"g5-cuda"}, failover_threshold=s, fallback_threshold=1.0)
    assert d.mode == "cost" and st_.mode == "cost"
    # The next float above the share: now it is below, and the same tick fails over.
    d, st_ = step(
        PolicyState(), 0.0, {"g5-cuda"}, failover_threshold=math.nextafter(s, 1.0), fallback_threshold=1.0
    )
    assert d.mode == "capacity" and st_.mode == "capacity" and st_.mode_since == 0.0
    failover = next(r for r in d.reasons if r.code is ReasonCode.FAILOVER)
    assert round(failover.values["share"], 2) == 0.94


def test_inf2_shortage_fails_over_with_the_default_threshold_and_g5_cuda_does_not():
    # inf2 short: 0.6756 < 0.8 -> capacity mode, weights spread over the other four (85.25, 85.25, 61, 60).
    d, st_ = step(PolicyState(), 30.0, {"inf2-neuron"})
    assert d.mode == "capacity"
    assert d.weights == {
        "inf2-neuron": 0,
        "trn1-neuron": 29,
        "g5-cuda-compile": 29,
        "g6-cuda-compile": 21,
        "g5-cuda": 21,
    }
    # g5 cuda short: 0.9419 >= 0.8 -> cost mode carries on, g5 cuda at 0.
    d, st_ = step(PolicyState(), 30.0, {"g5-cuda"})
    assert d.mode == "cost" and d.weights["g5-cuda"] == 0 and sum(d.weights.values()) == 100


def test_fallback_needs_the_threshold_held_for_the_whole_dwell():
    kw = dict(failover_threshold=0.8, fallback_threshold=0.95, min_dwell_s=120.0)
    state = step(PolicyState(), 0.0, {"inf2-neuron"}, **kw)[1]  # failover at t=0
    assert state.mode == "capacity"
    # inf2 back at t=15 (share 1.0 >= 0.95): healthy since 15, fallback due at 15 + 120 = 135.
    for t in range(15, 135, 15):
        d, state = step(state, float(t), **kw)
        assert state.mode == "capacity", t
        assert any(r.code is ReasonCode.FALLBACK_WAITS and r.values["dwell_s"] == 120 for r in d.reasons)
    d, state = step(state, 135.0, **kw)
    assert state.mode == "cost" and state.mode_since == 135.0
    assert Reason(ReasonCode.FALLBACK, values={"share": 1.0, "held_s": 120.0}) in d.reasons


def test_fallback_happens_exactly_at_its_threshold():
    s = share_without("g6-cuda-compile")  # 0.9280: recovery with g6 still short
    for threshold, expect in ((s, "cost"), (math.nextafter(s, 1.0), "capacity")):
        kw = dict(failover_threshold=0.8, fallback_threshold=threshold, min_dwell_s=60.0)
        state = step(PolicyState(), 0.0, {"inf2-neuron"}, **kw)[1]
        for t in (15.0, 75.0):  # healthy (or not) from 15; 75 − 15 = 60 = dwell
            state = step(state, t, {"g6-cuda-compile"}, **kw)[1]
        assert state.mode == expect, threshold


def test_a_dip_during_the_dwell_restarts_it():
    kw = dict(min_dwell_s=120.0)
    state = step(PolicyState(), 0.0, {"inf2-neuron"}, **kw)[1]
    state = step(state, 15.0, **kw)[1]  # healthy since 15
    state = step(state, 120.0, {"inf2-neuron"}, **kw)[1]  # short again: the clock restarts
    state = step(state, 135.0, **kw)[1]  # healthy since 135
    state = step(state, 250.0, **kw)[1]
    assert state.mode == "capacity"  # 250 − 135 = 115 < 120
    state = step(state, 255.0, **kw)[1]
    assert state.mode == "cost"  # 255 − 135 = 120


def test_a_tick_with_no_unit_available_restarts_the_dwell_too():
    # Every unit short at 122: an alarm tick, weights and mode kept, but the cost pool was not healthy.
    kw = dict(failover_threshold=0.5, fallback_threshold=0.5, min_dwell_s=120.0)
    state = step(PolicyState(), 31.0, {"inf2-neuron", "trn1-neuron"}, **kw)[1]
    state = step(state, 121.0, **kw)[1]  # healthy since 121
    d, state = step(state, 122.0, set(NAMES), **kw)
    assert d.alarm and state.mode == "capacity" and state.healthy_since is None
    state = step(state, 123.0, **kw)[1]  # healthy since 123
    assert step(state, 241.0, **kw)[1].mode == "capacity"  # 241 − 123 = 118 < 120
    assert step(state, 243.0, **kw)[1].mode == "cost"


def test_noise_inside_the_hysteresis_band_never_switches_either_way():
    # g5 cuda and g6 flickering gives shares 0.9419 / 0.9280 / 0.8699 (both), all in [0.8, 0.95).
    noise = [set(), {"g5-cuda"}, {"g6-cuda-compile"}, {"g5-cuda", "g6-cuda-compile"}]
    assert all(0.8 <= share_without(*n) < 0.95 for n in noise[1:])
    state = PolicyState()
    for i in range(200):
        state = step(state, 15.0 * i, noise[(i * 7) % 4] if i % 3 else {"g5-cuda"})[1]
        assert state.mode == "cost"
    state = step(state, 3000.0, {"inf2-neuron"})[1]
    for i in range(1, 200):
        state = step(state, 3000.0 + 15.0 * i, noise[1 + (i * 5) % 3])[1]
        assert state.mode == "capacity"  # never 0.95 or more, so never falls back


@settings(max_examples=200, deadline=None)
@given(
    signal=st.lists(st.frozensets(st.sampled_from(NAMES), max_size=5), min_size=1, max_size=80),
    gaps=st.lists(st.floats(min_value=1.0, max_value=90.0), min_size=80, max_size=80),
    dwell=st.sampled_from([0.0, 30.0, 120.0, 300.0]),
    failover=st.floats(min_value=0.5, max_value=0.99),
    band=st.floats(min_value=0.0, max_value=0.3),
)
def test_property_switches_only_at_the_thresholds_and_never_faster_than_the_dwell(
    signal, gaps, dwell, failover, band
):
    kw = dict(failover_threshold=failover, fallback_threshold=min(failover + band, 1.0), min_dwell_s=dwell)
    state, t = PolicyState(), 0.0
    history: list[tuple[float, float, str]] = []  # (time, share, mode after the tick)
    for short, gap in zip(signal, gaps, strict=False):
        t += gap
        before = state.mode
        d, state = step(state, t, short, **kw)
        share = share_without(*short)
        history.append((t, share, state.mode))
        # Weights: integers summing to 100 in ALB's 0..999, zero for every unavailable unit.
        if len(short) < len(NAMES):
            assert sum(d.weights.values()) == 100
            assert all(0 <= w <= 999 for w in d.weights.values())
        assert all(d.weights[n] == 0 for n in short) or d.alarm
        if before == "cost" and state.mode == "capacity":
            assert share < kw["failover_threshold"]
        if before == "capacity" and state.mode == "cost":
            # Every tick of the last `dwell` seconds saw the cost pool at or above the fallback threshold.
            recent = [s for (tt, s, _) in history if tt >= t - dwell]
            assert all(s >= kw["fallback_threshold"] for s in recent)
            entered = max(
                (
                    tt
                    for (tt, _, m), (_, _, m0) in zip(history[1:], history, strict=False)
                    if m == "capacity" and m0 == "cost"
                ),
                default=history[0][0],
            )
            assert t - entered >= dwell
        if before == "cost" and share >= kw["failover_threshold"]:
            assert state.mode == "cost"


def test_the_worked_example_in_docs_policy_md():
    # Defaults: interval 15 s, failover below 0.8, fallback at 0.95 held for 120 s.
    # inf2's pool reports insufficient capacity from t=7 until t=590 (events age out of the window).
    state, timeline = PolicyState(), {}
    for t in range(0, 900, 15):
        d, state = step(state, float(t), {"inf2-neuron"} if 7 <= t < 590 else set())
        timeline[t] = (d.mode, tuple(d.weights.values()))
    assert timeline[0] == ("cost", (32, 37, 18, 7, 6))
    assert timeline[15] == ("capacity", (0, 29, 29, 21, 21))  # failover 8 s after the signal
    assert timeline[585] == ("capacity", (0, 29, 29, 21, 21))
    assert timeline[600] == ("capacity", (23, 23, 23, 16, 15))  # inf2 back, spread over all five
    assert timeline[705] == ("capacity", (23, 23, 23, 16, 15))  # 105 s healthy: still dwelling
    assert timeline[720] == ("cost", (32, 37, 18, 7, 6))  # 120 s healthy: fallback
    switches = [
        t
        for t, prev in zip(list(timeline)[1:], timeline, strict=False)
        if timeline[t][0] != timeline[prev][0]
    ]
    assert switches == [15, 720]
