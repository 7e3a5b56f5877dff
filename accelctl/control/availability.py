"""A_i: whether a unit can take traffic now, from its metrics alone (pure)."""

from __future__ import annotations

from accelctl.control.types import UnitMetrics
from accelctl.units import PolicySettings


def unit_availability(
    metrics: UnitMetrics | None, settings: PolicySettings, slo_s: float, now: float
) -> tuple[bool, str | None]:
    """(available, reason when not). The reason is shown to operators as-is."""
    if metrics is None:
        return False, "no metrics"
    if metrics.capacity_events > 0:
        return False, f"{metrics.capacity_events} insufficient-capacity event(s) for its pool"
    if metrics.pending > settings.pending_bound and metrics.pending_since is not None:
        waited = now - metrics.pending_since
        if waited >= settings.pending_window_s:
            return False, f"{metrics.pending} pod(s) pending for {waited:.0f}s"
    if metrics.ready == 0 and metrics.desired > 0:
        return False, "no ready replicas"
    if metrics.ready < metrics.desired and metrics.p95 is not None and metrics.p95 > slo_s:
        return False, f"{metrics.ready}/{metrics.desired} ready with p95 {metrics.p95:.3f}s over the {slo_s:.3f}s SLO"
    return True, None
