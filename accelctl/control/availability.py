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

Absence is "unknown", not "gone" (`unknown()`): a unit missing from a read, or whose newest data is
older than `stale_after_s`, is neither available nor unavailable. decide() holds its weight where it
is; only a positive reading (a capacity signal, ready 0 of desired > 0) or a remembered capacity signal
takes it out. A half-read source (a truncated file, a target Prometheus dropped) thus moves no traffic.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from accelctl.control.types import Reason, ReasonCode, UnitMemory, UnitMetrics
from accelctl.units import PolicySettings

Unknown = Literal["missing", "stale"]


def _capacity_signal(metrics: UnitMetrics, settings: PolicySettings, now: float) -> Reason | None:
    if metrics.capacity_events > 0:
        return Reason(ReasonCode.CAPACITY_EVENTS, values={"events": metrics.capacity_events})
    if metrics.pending > settings.pending_bound and metrics.pending_since is not None:
        waited = now - metrics.pending_since
        if waited >= settings.pending_window_s:
            return Reason(ReasonCode.PENDING, values={"pods": metrics.pending, "waited_s": waited})
    return None


def _seen(metrics: UnitMetrics, now: float) -> float:
    return metrics.as_of if metrics.as_of is not None else now


def remember(
    metrics: UnitMetrics | None, settings: PolicySettings, now: float, memory: UnitMemory
) -> UnitMemory:
    """The unit's memory after this tick's metrics. Stale data is remembered as seen but signals
    nothing: an old capacity event is not a reason to hold a unit out from now."""
    if metrics is None:
        if memory.last_seen is None and memory.missing_since is None:
            return replace(memory, missing_since=now)
        return memory
    seen = _seen(metrics, now)
    memory = replace(memory, last_seen=max(seen, memory.last_seen or seen), missing_since=None)
    fresh = now - seen <= settings.stale_after_s
    if fresh and _capacity_signal(metrics, settings, now) is not None:
        memory = replace(memory, last_capacity_signal=now)
    return memory


def _held_out(settings: PolicySettings, now: float, memory: UnitMemory | None) -> Reason | None:
    last = memory.last_capacity_signal if memory else None
    if last is not None and now - last < settings.capacity_hold_s:
        return Reason(
            ReasonCode.CAPACITY_HOLD, values={"ago_s": now - last, "hold_s": settings.capacity_hold_s}
        )
    return None


def unknown(
    metrics: UnitMetrics | None, settings: PolicySettings, now: float, memory: UnitMemory
) -> tuple[Unknown, float] | None:
    """("missing" | "stale", seconds since the unit's newest data) where nothing fresh says what became
    of the unit; None where its reading (or a capacity signal it is still held out for) decides.
    `memory` is the unit's memory after this tick (remember())."""
    if metrics is None:
        if _held_out(settings, now, memory):
            return None
        since = memory.last_seen if memory.last_seen is not None else memory.missing_since
        age = now - since if since is not None else 0.0
        return ("stale" if age > settings.stale_after_s else "missing"), age
    age = max(0.0, now - _seen(metrics, now))
    return ("stale", age) if age > settings.stale_after_s else None


def unit_availability(
    metrics: UnitMetrics | None, settings: PolicySettings, now: float, memory: UnitMemory | None = None
) -> tuple[bool, Reason | None]:
    """(available, reason when not; its `unit` is the caller's to set). `memory` is the unit's
    memory after this tick (remember()); None reads this tick's metrics alone."""
    held = _held_out(settings, now, memory)
    if metrics is None:
        return False, held or Reason(ReasonCode.NO_METRICS)
    signal = _capacity_signal(metrics, settings, now)
    if signal:
        return False, signal
    if held:
        return False, held
    if metrics.ready == 0 and metrics.desired > 0:
        return False, Reason(ReasonCode.NO_READY_REPLICAS)
    return True, None
