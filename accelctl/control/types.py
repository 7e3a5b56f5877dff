"""Runtime values the control loop passes around (dataclasses, never files)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

from accelctl.errors import AccelctlError

Mode = Literal["cost", "capacity"]


# Ceilings on what a reading may say: past them it is a broken exporter or query, not a fleet.
MAX_RPS = 1e9
MAX_COUNT = 1_000_000


class InvalidMetrics(AccelctlError):
    """A source read a number no fleet produces (NaN, infinite, negative, past a ceiling): the loop holds
    the weights with an alarm instead of acting on it."""


@dataclass(frozen=True)
class UnitMetrics:
    """One unit's reading. Every number is checked where the reading is made (InvalidMetrics)."""

    rps: float = 0.0
    p95: float | None = None  # seconds; None where no requests were seen; +inf: above the top bucket
    error_rate: float = 0.0
    ready: int = 0
    desired: int = 0
    pending: int = 0
    pending_since: float | None = None  # time the oldest pending pod started pending
    capacity_events: int = 0  # insufficient-capacity events for the unit's pool in the window
    as_of: float | None = None  # unix time of the newest data behind this reading; None: the read time

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise InvalidMetrics(f"invalid metrics: {problem}")


def _problem(m: UnitMetrics) -> str | None:
    def number(v) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    if not (number(m.rps) and 0.0 <= m.rps <= MAX_RPS):  # NaN fails every comparison
        return f"rps {m.rps!r} (want 0..{MAX_RPS:g} requests/s)"
    if not (number(m.error_rate) and 0.0 <= m.error_rate <= 1.0):
        return f"error_rate {m.error_rate!r} (want a share 0..1)"
    if m.p95 is not None and not (number(m.p95) and m.p95 > 0):
        return f"p95 {m.p95!r} (want seconds > 0, or none)"
    for name in ("ready", "desired", "pending", "capacity_events"):
        v = getattr(m, name)
        if not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT):
            return f"{name} {v!r} (want a whole number 0..{MAX_COUNT})"
    for name in ("pending_since", "as_of"):
        v = getattr(m, name)
        if v is not None and not (number(v) and math.isfinite(v)):
            return f"{name} {v!r} (want a finite unix time)"
    return None


def finite_count(value: float, name: str) -> int:
    """A count read as a float (PromQL, CloudWatch) as an int; NaN/inf cannot be rounded and are invalid."""
    if not math.isfinite(value):
        raise InvalidMetrics(f"invalid metrics: {name} {value!r} (want a whole number)")
    return round(value)


@dataclass(frozen=True)
class MetricsSnapshot:
    time: float  # when it was read: the policy's clock
    units: dict[str, UnitMetrics]

    def total_rps(self) -> float:
        return sum(m.rps for m in self.units.values())

    def age(self, name: str) -> float:
        """Seconds between the newest data behind unit `name`'s reading and the read (0 where the
        source reads live state)."""
        m = self.units[name]
        return max(0.0, self.time - m.as_of) if m.as_of is not None else 0.0

    def ages(self) -> dict[str, float]:
        """unit -> age of its newest data, for every unit in the reading (the exporter's source_age)."""
        return {n: self.age(n) for n in self.units}


@dataclass(frozen=True)
class UnitMemory:
    """What availability remembers of one unit between ticks (control/availability.py)."""

    last_capacity_signal: float | None = None  # when a capacity signal was last seen
    last_seen: float | None = None  # as_of of the newest reading of the unit
    missing_since: float | None = None  # first read without the unit, when it had never been seen


@dataclass(frozen=True)
class PlanMemory:
    """What the `plan` policy (control/plan.py) carries between ticks."""

    history: tuple[tuple[float, float], ...] = ()  # (time, total requests/s) over the forecast window
    planned: dict[str, int] = field(default_factory=dict)  # replicas planned last tick
    last_signal: dict[str, float] = field(default_factory=dict)  # unit -> time of its last capacity signal
    # Units able to grow again after a hold, not yet shown to grow: unit -> (hold end, pods held when frozen).
    recovering: dict[str, tuple[float, int]] = field(default_factory=dict)
    frozen_held: dict[str, int] = field(default_factory=dict)  # unit -> pods it held when last frozen


@dataclass(frozen=True)
class PolicyState:
    mode: Mode = "cost"
    mode_since: float = 0.0
    weights: dict[str, int] = field(default_factory=dict)  # last good weights
    healthy_since: float | None = None  # when the cost pool last became healthy again
    units: dict[str, UnitMemory] = field(default_factory=dict)  # availability's memory, per unit
    plan: PlanMemory = field(default_factory=PlanMemory)


@dataclass(frozen=True)
class Decision:
    mode: Mode
    weights: dict[str, int]  # integers summing to 100
    desired_replicas: dict[str, int]
    available: dict[str, bool]
    reasons: tuple[str, ...] = ()
    alarm: str | None = None  # set when nothing could be routed and the last weights were kept
    # Units whose weight was held where it was: no fresh data says what became of them.
    stale: dict[str, float] = field(default_factory=dict)  # unit -> age of its newest data, seconds
    # Absent from the read but not yet stale, or without data and carrying no traffic: no alarm.
    missing: dict[str, float] = field(default_factory=dict)
    limited: float | None = None  # share of traffic the policy meant to move, where the shift cap cut it
    # Replicas a policy that owns them (plan) wants; published for KEDA's planned-replicas trigger.
    planned_replicas: dict[str, int] | None = None
    can_grow: dict[str, bool] = field(default_factory=dict)  # False: a capacity signal, do not plan growth
    limits_rps: dict[str, float] = field(default_factory=dict)  # most requests/s a unit may be routed

    def overloads(self, weights: dict[str, int], demand: float) -> list[str]:
        """Units that `weights` would route more than their limit (the deadband must not keep these)."""
        return overloaded(weights, demand, self.limits_rps)


def overloaded(weights: dict[str, int], demand: float, limits: dict[str, float]) -> list[str]:
    """Units that `weights` route more of `demand` than their limit in requests/s."""
    total = sum(weights.values())
    if total <= 0:
        return []
    return sorted(n for n, limit in limits.items() if demand * weights.get(n, 0) / total > limit + 1e-9)
