"""A_i: whether a unit can take traffic now, from its metrics and what the policy remembers of it (pure).

A capacity signal (insufficient-capacity events for its pool, pods pending past the window) keeps the
unit out for `capacity_hold_s` after it was last seen (UnitMemory, kept per unit in PolicyState): a unit
with no traffic launches nothing, so its events age out of the source's window while the shortage goes
on; without the hold it is re-admitted, fails to launch and is dropped again, over and over.

"Short of desired replicas with p95 over the SLO" is not a signal: decide() bounds every unit's share
at what its ready replicas carry at the breaking point, so a unit short of desired is one scaling up,
and its p95 sits at the SLO until its replicas are ready. Dropping it for that moved its load onto the
others, which were then short and over in turn: the cascade that left one unit with all traffic. A
unit that cannot get its replicas shows it through pending pods or capacity events.
"""

from __future__ import annotations

from accelctl.control.types import UnitMemory, UnitMetrics
from accelctl.units import PolicySettings


def _capacity_signal(metrics: UnitMetrics, settings: PolicySettings, now: float) -> str | None:
    if metrics.capacity_events > 0:
        return f"{metrics.capacity_events} insufficient-capacity event(s) for its pool"
    if metrics.pending > settings.pending_bound and metrics.pending_since is not None:
        waited = now - metrics.pending_since
        if waited >= settings.pending_window_s:
            return f"{metrics.pending} pod(s) pending for {waited:.0f}s"
    return None


def remember(
    metrics: UnitMetrics | None, settings: PolicySettings, now: float, memory: UnitMemory
) -> UnitMemory:
    """The unit's memory after this tick's metrics."""
    if metrics is None or _capacity_signal(metrics, settings, now) is None:
        return memory
    return UnitMemory(last_capacity_signal=now)


def unit_availability(
    metrics: UnitMetrics | None, settings: PolicySettings, now: float, memory: UnitMemory | None = None
) -> tuple[bool, str | None]:
    """(available, reason when not). The reason is shown to operators as-is. `memory` is the unit's
    memory after this tick (remember()); None reads this tick's metrics alone."""
    if metrics is None:
        return False, "no metrics"
    signal = _capacity_signal(metrics, settings, now)
    if signal:
        return False, signal
    last = memory.last_capacity_signal if memory else None
    if last is not None and now - last < settings.capacity_hold_s:
        return False, f"capacity signal {now - last:.0f}s ago; held out for {settings.capacity_hold_s:.0f}s"
    if metrics.ready == 0 and metrics.desired > 0:
        return False, "no ready replicas"
    return True, None
