"""A_i from one unit's metrics: each of the three shortage signals, at its boundary."""

from __future__ import annotations

import pytest

from accelctl.control.availability import unit_availability
from accelctl.control.types import UnitMetrics
from accelctl.units import PolicySettings

SLO = 0.9
S = PolicySettings(pending_bound=2, pending_window_s=60.0)
NOW = 1000.0


def check(m: UnitMetrics | None, settings: PolicySettings = S) -> tuple[bool, str | None]:
    return unit_availability(m, settings, SLO, NOW)


def test_a_healthy_unit_is_available():
    assert check(UnitMetrics(rps=3.0, p95=0.5, ready=2, desired=2)) == (True, None)


def test_no_metrics_is_unavailable():
    assert check(None) == (False, "no metrics")


def test_an_insufficient_capacity_event_for_its_pool_makes_it_unavailable_at_once():
    ok, why = check(UnitMetrics(p95=0.4, ready=3, desired=3, capacity_events=1))
    assert not ok and why == "1 insufficient-capacity event(s) for its pool"


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
        assert why == f"{pending} pod(s) pending for 60s"


@pytest.mark.parametrize(
    ("ready", "desired", "p95", "reason"),
    [
        (1, 2, 0.91, "1/2 ready with p95 0.910s over the 0.900s SLO"),  # short of desired and over the SLO
        (1, 2, 0.9, None),  # short, but p95 exactly at the SLO is within it
        (1, 2, None, None),  # short, no requests seen: nothing says it is struggling
        (2, 2, 1.5, None),  # over the SLO with every replica up: a load problem, not a capacity one
        (0, 2, None, "no ready replicas"),  # nothing ready to take traffic
    ],
)
def test_short_of_desired_while_over_the_slo(ready, desired, p95, reason):
    assert check(UnitMetrics(p95=p95, ready=ready, desired=desired)) == (reason is None, reason)
