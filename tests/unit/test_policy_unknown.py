"""Absence is unknown, not gone: units without fresh data keep their weight (control/availability.py),
only a positive reading takes a unit out, and no unexplained tick moves more than max_unconfirmed_shift.
Pure decide() on the paper fleet, the clock in the snapshot."""

from __future__ import annotations

from dataclasses import replace

from paper_fleet import NAMES, paper_units, snapshot

from accelctl.control.policy import PolicyContext, decide, shift
from accelctl.control.types import AlarmCode, MetricsSnapshot, PolicyState, Reason, ReasonCode, UnitMetrics
from accelctl.units import PolicySettings

COST = {"inf2-neuron": 32, "trn1-neuron": 37, "g5-cuda-compile": 18, "g6-cuda-compile": 7, "g5-cuda": 6}
NO_INF2 = {"inf2-neuron": 0, "trn1-neuron": 54, "g5-cuda-compile": 26, "g6-cuda-compile": 11, "g5-cuda": 9}


def tick(snap: MetricsSnapshot, state: PolicyState, policy: str = "cost", **settings):
    return decide(policy, PolicyContext(paper_units(), snap, PolicySettings(**settings)), state)


def steady() -> PolicyState:
    """Cost weights live, every unit last seen at t=0."""
    d, state = tick(snapshot(0.0), PolicyState())
    assert d.weights == COST
    return state


def test_a_unit_missing_from_a_read_keeps_its_weight_until_its_data_is_stale():
    state = steady()
    d, state = tick(snapshot(15.0, names=NAMES[1:]), state)
    assert d.weights == COST and d.missing == {"inf2-neuron": 15.0} and d.stale == {}
    keeps = Reason(ReasonCode.KEEPS_WEIGHT, "inf2-neuron", {"age_s": 15.0}, "no reading")
    assert d.alarm is None and keeps in d.reasons
    d, state = tick(snapshot(75.0, names=NAMES[1:]), state)  # 75 s since its newest data > 60 s
    assert d.weights == COST and d.stale == {"inf2-neuron": 75.0} and d.missing == {}
    d, state = tick(snapshot(90.0), state)  # back: decided again like every other unit
    assert d.weights == COST and d.stale == d.missing == {}


def test_a_unit_drained_and_gone_raises_no_stale_alarm():
    """Drained by a positive reading, then scaled to zero: no series at all. Nothing to protect."""
    d, state = tick(snapshot(0.0, short={"inf2-neuron"}), PolicyState())
    assert d.weights == NO_INF2
    d, _ = tick(snapshot(2000.0, names=NAMES[1:]), state)  # long past capacity_hold_s and stale_after_s
    assert d.weights == NO_INF2 and d.stale == {} and d.missing == {"inf2-neuron": 2000.0}


def test_a_truncated_snapshot_moves_no_traffic():
    """The static file cut down to its first unit: every other unit is unknown and keeps its weight."""
    state = steady()
    d, _ = tick(snapshot(15.0, names=NAMES[:1]), state)
    assert d.weights == COST and set(d.missing) == set(NAMES[1:])
    assert shift(COST, d.weights) == 0.0


def test_a_capacity_signal_confirms_a_missing_unit_is_out():
    state = steady()
    d, state = tick(snapshot(15.0, short={"inf2-neuron"}), state)  # a positive reading: drained
    assert d.weights == NO_INF2
    d, _ = tick(snapshot(30.0, names=NAMES[1:]), state)  # then gone from the read: still held out
    assert d.weights == NO_INF2 and d.missing == {}
    assert any(
        r.code is ReasonCode.CAPACITY_HOLD and r.unit == "inf2-neuron" and r.values["ago_s"] == 15
        for r in d.reasons
    )


def test_no_ready_replica_is_a_positive_reading():
    state = steady()
    dead = {
        n: UnitMetrics(ready=0, desired=1) if n == "inf2-neuron" else UnitMetrics(ready=1, desired=1)
        for n in NAMES
    }
    d, _ = tick(MetricsSnapshot(15.0, dead), state)
    assert d.weights == NO_INF2 and Reason(ReasonCode.NO_READY_REPLICAS, "inf2-neuron") in d.reasons


def test_a_unit_confirmed_out_passes_its_share_to_the_unknown_ones_when_no_known_unit_is_left():
    """Only inf2 read (the rest missing), and it has no ready replica: its 32 points go to the units still
    routed, in proportion to their weights, not stay on a unit known to be out."""
    state = steady()
    d, _ = tick(MetricsSnapshot(15.0, {"inf2-neuron": UnitMetrics(ready=0, desired=2)}), state)
    assert d.alarm is None and d.weights["inf2-neuron"] == 0 and sum(d.weights.values()) == 100
    # 37 : 18 : 7 : 6 of 68 -> 54.4, 26.5, 10.3, 8.8 -> 54 + 26 + 10 + 8, the 2 left to .8 and .5.
    assert d.weights == {
        "inf2-neuron": 0,
        "trn1-neuron": 54,
        "g5-cuda-compile": 27,
        "g6-cuda-compile": 10,
        "g5-cuda": 9,
    }


def test_one_units_stale_data_holds_its_weight_while_the_others_are_decided():
    state = steady()
    snap = snapshot(100.0, short={"g5-cuda"})
    snap = replace(snap, units={**snap.units, "inf2-neuron": replace(snap.units["inf2-neuron"], as_of=20.0)})
    d, _ = tick(snap, state)
    assert d.stale == {"inf2-neuron": 80.0}
    assert d.weights["inf2-neuron"] == 32 and d.weights["g5-cuda"] == 0 and sum(d.weights.values()) == 100
    # The 68 points not held go to the fresh available units in cost proportions (scores 24659.4, 11840.7,
    # 4816.2 of 41316.3): 40.59, 19.49, 7.93 -> floors 40 + 19 + 7, the 2 left to .93 and .59.
    assert d.weights == {
        "inf2-neuron": 32,
        "trn1-neuron": 41,
        "g5-cuda-compile": 19,
        "g6-cuda-compile": 8,
        "g5-cuda": 0,
    }


def test_stale_units_are_no_evidence_for_a_failover():
    """Three of five units stale: the auto policy must not read them as a cost pool gone."""
    _, state = tick(snapshot(0.0), PolicyState(), policy="auto")
    old = {n: replace(m, as_of=0.0) if n in NAMES[:3] else m for n, m in snapshot(100.0).units.items()}
    d, state = tick(MetricsSnapshot(100.0, old), state, policy="auto")
    assert d.mode == "cost" and state.mode == "cost" and d.weights == COST and set(d.stale) == set(NAMES[:3])


def test_nothing_available_keeps_the_weights_and_the_mode():
    _, state = tick(snapshot(0.0), PolicyState(), policy="auto")
    d, after = tick(snapshot(15.0, short=set(NAMES)), state, policy="auto")
    assert d.alarm.code is AlarmCode.NOTHING_AVAILABLE and d.weights == COST
    # The auto policy alone would have failed over (cost pool at 0 %): on an alarm tick it does not.
    assert d.mode == "cost" and after.mode == "cost" and after.mode_since == state.mode_since
    assert after.weights == COST


def test_an_unexplained_large_shift_is_cut_to_the_configured_share():
    """Live weights all on inf2 (by hand, say), every unit healthy: cost mode wants 68 points elsewhere,
    and nothing confirms that move, so each tick moves at most max_unconfirmed_shift."""
    by_hand = dict.fromkeys(NAMES, 0) | {"inf2-neuron": 100}
    state, written = PolicyState(weights=by_hand), [by_hand]
    for i in range(1, 7):  # bounded: it converges in a few ticks
        d, state = tick(snapshot(15.0 * i), state, max_unconfirmed_shift=0.25)
        written.append(d.weights)
        if d.limited is None:
            break
    moved = [shift(a, b) for a, b in zip(written, written[1:], strict=False)]
    assert moved == [0.25, 0.25, 0.18]  # 100 -> 75 -> 50 -> 32 on inf2, the rest in proportion
    assert [w["inf2-neuron"] for w in written] == [100, 75, 50, 32] and written[-1] == COST


def test_a_confirmed_move_is_not_cut():
    state = steady()
    d, _ = tick(snapshot(15.0, short={"inf2-neuron", "trn1-neuron"}), state, max_unconfirmed_shift=0.1)
    assert d.limited is None and d.weights["inf2-neuron"] == d.weights["trn1-neuron"] == 0
    assert shift(COST, d.weights) == 0.69
