"""A_i from one unit's metrics and memory: each shortage signal at its boundary, and the capacity hold."""

from __future__ import annotations

import pytest

from accelctl.control.availability import remember, unit_availability
from accelctl.control.types import Reason, ReasonCode, UnitMemory, UnitMetrics
from accelctl.units import PolicySettings

S = PolicySettings(pending_bound=2, pending_window_s=60.0)
NOW = 1000.0


def check(m: UnitMetrics | None, settings: PolicySettings = S) -> tuple[bool, str | None]:
    return unit_availability(m, settings, NOW)


def test_a_healthy_unit_is_available():
    assert check(UnitMetrics(rps=3.0, p95=0.5, ready=2, desired=2)) == (True, None)


def test_no_metrics_is_unavailable():
    assert check(None) == (False, Reason(ReasonCode.NO_METRICS))


def test_an_insufficient_capacity_event_for_its_pool_makes_it_unavailable_at_once():
    ok, why = check(UnitMetrics(p95=0.4, ready=3, desired=3, capacity_events=1))
    assert not ok and why == Reason(ReasonCode.CAPACITY_EVENTS, values={"events": 1})


@pytest.mark.parametrize(
    ("pending", "since", "available"),
    [
        (2, NOW - 600, True),  # at the bound (2): tolerated however long
        (3, NOW - 59.9, True),  # beyond the bound, but for less than the 60 s window
        (3, NOW - 60.0, False),  # beyond the bound for exactly the window
        (3, None, True),  # the source did not say since when: no evidence of a lasting shortage
    ],
)
def test_pending_pods_beyond_the_bound_for_the_window(pending, since, available):
    ok, why = check(UnitMetrics(p95=0.5, ready=1, desired=1 + pending, pending=pending, pending_since=since))
    assert ok is available
    if not available:
        assert why == Reason(ReasonCode.PENDING, values={"pods": pending, "waited_s": 60.0})


@pytest.mark.parametrize(
    ("ready", "desired", "p95", "reason"),
    [
        # Short of desired and over the SLO: scaling up under decide()'s ready bound, not a shortage
        # (a unit that cannot get replicas shows pending pods or capacity events instead).
        (1, 2, 0.91, None),
        (1, 2, 5.0, None),
        (2, 2, 1.5, None),  # over the SLO with every replica up: a load problem, not a capacity one
        (0, 2, None, Reason(ReasonCode.NO_READY_REPLICAS)),  # nothing ready to take traffic
        (0, 0, None, None),  # scaled to zero on purpose: available, its first requests wake it
    ],
)
def test_only_a_unit_with_nothing_ready_is_out_for_its_replicas(ready, desired, p95, reason):
    assert check(UnitMetrics(p95=p95, ready=ready, desired=desired)) == (reason is None, reason)


def test_a_capacity_signal_holds_the_unit_out_for_the_hold_after_it_was_last_seen():
    held = PolicySettings(pending_bound=2, pending_window_s=60.0, capacity_hold_s=900.0)
    short, calm = (
        UnitMetrics(p95=0.4, ready=1, desired=1, capacity_events=1),
        UnitMetrics(p95=0.4, ready=1, desired=1),
    )
    mem = remember(short, held, NOW, UnitMemory())  # event seen at 1000
    assert mem.last_capacity_signal == NOW
    # The event ages out of the source's window at 1300 (nothing launched, nothing new): still held.
    mem = remember(calm, held, NOW + 300.0, mem)
    ok, why = unit_availability(calm, held, NOW + 300.0, mem)
    assert not ok and why == Reason(ReasonCode.CAPACITY_HOLD, values={"ago_s": 300.0, "hold_s": 900.0})
    # 899 s after the signal: held; 900 s after (1900): back.
    assert unit_availability(calm, held, NOW + 899.0, remember(calm, held, NOW + 899.0, mem))[0] is False
    assert unit_availability(calm, held, NOW + 900.0, remember(calm, held, NOW + 900.0, mem)) == (True, None)
    # A new signal at 1500 restarts the hold: held until 1500 + 900 = 2400.
    mem = remember(short, held, NOW + 500.0, mem)
    assert unit_availability(calm, held, NOW + 1399.0, mem)[0] is False
    assert unit_availability(calm, held, NOW + 1400.0, mem) == (True, None)


def test_pods_pending_past_the_window_are_a_capacity_signal_too():
    m = UnitMetrics(p95=0.5, ready=1, desired=4, pending=3, pending_since=NOW - 60.0)
    assert remember(m, S, NOW, UnitMemory()).last_capacity_signal == NOW
    # 59 s of pending pods is not one yet.
    m = UnitMetrics(p95=0.5, ready=1, desired=4, pending=3, pending_since=NOW - 59.0)
    assert remember(m, S, NOW, UnitMemory()).last_capacity_signal is None
