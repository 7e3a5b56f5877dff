"""Runtime values the control loop passes around (dataclasses, never files)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from accelctl.errors import AccelctlError

# A reading past the ceilings every file and flag has is a broken exporter or query, not a fleet.
from accelctl.schema import MAX_COUNT, MAX_RPS

Mode = Literal["cost", "capacity"]


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


class ReasonCode(str, Enum):
    """Why a decision came out as it did; `Reason.text()` renders each for operators."""

    COST_MODE = "cost_mode"
    CAPACITY_MODE = "capacity_mode"
    MODE = "mode"  # auto: the mode it is in, with the cost pool's share (values: share)
    FAILOVER = "failover"  # values: share, threshold
    FALLBACK = "fallback"  # values: share, held_s
    FALLBACK_WAITS = "fallback_waits"  # values: share, dwell_s, held_s
    PLAN_FORECAST = "plan_forecast"  # values: forecast_rps
    CANNOT_GROW = "cannot_grow"  # detail: the units, comma-separated
    KEEPS_WEIGHT = "keeps_weight"  # unit; values: age_s; detail: "data" | "no reading"
    NO_METRICS = "no_metrics"  # unit unavailable: nothing read for it
    CAPACITY_EVENTS = "capacity_events"  # unit; values: events
    PENDING = "pending"  # unit; values: pods, waited_s
    CAPACITY_HOLD = "capacity_hold"  # unit; values: ago_s, hold_s
    NO_READY_REPLICAS = "no_ready_replicas"  # unit
    NOT_SERVING = "not_serving"  # unit: the planning policy says it cannot serve
    OVER_READY_CAPACITY = "over_ready_capacity"  # values: demand_rps
    READY_BOUND = "ready_bound"  # detail: the bounded units
    NO_FRESH_UNIT = "no_fresh_unit"
    SHIFT_CAPPED = "shift_capped"  # values: cap, moved
    SHIFT_OVERLOADS = "shift_overloads"  # values: moved; detail: the overloaded units
    PAPER_FAILOVER = "paper_failover"  # detail: the short units
    PAPER_FALLBACK = "paper_fallback"
    PAPER_WAITS = "paper_waits"


UNAVAILABLE = frozenset(
    {
        ReasonCode.NO_METRICS,
        ReasonCode.CAPACITY_EVENTS,
        ReasonCode.PENDING,
        ReasonCode.CAPACITY_HOLD,
        ReasonCode.NO_READY_REPLICAS,
        ReasonCode.NOT_SERVING,
    }
)

_TEXT = {
    ReasonCode.COST_MODE: "cost mode: w ∝ T/(C·L)·A",
    ReasonCode.CAPACITY_MODE: "capacity mode: w ∝ min(ΣT/N, T)·A",
    ReasonCode.MODE: "{detail} mode, cost pool at {share:.0%}",
    ReasonCode.FAILOVER: "failover: cost pool at {share:.0%} < {threshold:.0%}",
    ReasonCode.FALLBACK: "fallback: cost pool at {share:.0%} for {held_s:.0f}s",
    ReasonCode.FALLBACK_WAITS: "cost pool back at {share:.0%}; fallback after {dwell_s:.0f}s dwell "
    "({held_s:.0f}s so far)",
    ReasonCode.PLAN_FORECAST: "plan: {forecast_rps:.2f} rps forecast over the lead time",
    ReasonCode.CANNOT_GROW: "cannot grow (capacity signal): {detail}; growth goes to the next-cheapest",
    ReasonCode.KEEPS_WEIGHT: "{unit} keeps its weight: {detail} {age_s:.0f}s old",
    ReasonCode.NO_METRICS: "{unit} unavailable: no metrics",
    ReasonCode.CAPACITY_EVENTS: "{unit} unavailable: {events:.0f} insufficient-capacity event(s) for its "
    "pool",
    ReasonCode.PENDING: "{unit} unavailable: {pods:.0f} pod(s) pending for {waited_s:.0f}s",
    ReasonCode.CAPACITY_HOLD: "{unit} unavailable: capacity signal {ago_s:.0f}s ago; held out for "
    "{hold_s:.0f}s",
    ReasonCode.NO_READY_REPLICAS: "{unit} unavailable: no ready replicas",
    ReasonCode.NOT_SERVING: "{unit} unavailable: no ready replica or no metrics",
    ReasonCode.OVER_READY_CAPACITY: "demand {demand_rps:.1f} rps exceeds every routed unit's ready capacity: "
    "shares ∝ ready × T",
    ReasonCode.READY_BOUND: "bounded at ready × T: {detail}",
    ReasonCode.NO_FRESH_UNIT: "no unit with fresh data is available: the units without it take its share",
    ReasonCode.SHIFT_CAPPED: "moving {cap:.0%} of traffic of the {moved:.0%} proposed: no signal confirms a "
    "larger shift (max_unconfirmed_shift)",
    ReasonCode.SHIFT_OVERLOADS: "moving {moved:.0%} of traffic: part of the way overloads {detail}",
    ReasonCode.PAPER_FAILOVER: "paper: capacity check failed for {detail}",
    ReasonCode.PAPER_FALLBACK: "paper: capacity back and a new load cycle began",
    ReasonCode.PAPER_WAITS: "paper: capacity back; fallback waits for the next load cycle",
}


@dataclass(frozen=True)
class Reason:
    """One structured reason of a decision: what (code), about which unit, with which numbers.
    Tests and code read the code and numbers; the dashboard and the audit log render `text()`."""

    code: ReasonCode
    unit: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    detail: str | None = None  # names (units, a mode) the numbers do not carry

    def text(self) -> str:
        return _TEXT[self.code].format(unit=self.unit, detail=self.detail, **self.values)


class AlarmCode(str, Enum):
    """Why a tick raised an alarm; `Alarm.text()` renders each for the log, the dashboard and the audit."""

    SOURCE_FAILED = "source_failed"  # detail: the source's error
    INVALID_METRICS = "invalid_metrics"  # detail: which number of which unit, and what it should be
    NO_METRICS = "no_metrics"  # the source returned nothing about any unit
    STALE_METRICS = "stale_metrics"  # ages_s: the units whose weights are held; values: limit_s
    NO_FRESH_DATA = "no_fresh_data"  # no fresh data about any unit (those read are missing, not stale)
    NOTHING_KNOWN = "nothing_known"  # no fresh data about any unit and no weights to keep
    NOTHING_AVAILABLE = "nothing_available"  # no unit can serve: the last good weights are kept
    ACTUATOR_FAILING = "actuator_failing"  # values: failures; detail: the actuator's error


_ALARM_TEXT = {
    AlarmCode.SOURCE_FAILED: "metrics source failed: {detail}",
    AlarmCode.INVALID_METRICS: "{detail}",
    AlarmCode.NO_METRICS: "the metrics source returned nothing for any unit",
    AlarmCode.STALE_METRICS: "metrics stale (limit {limit_s:.0f}s): {ages}; their weights are held",
    AlarmCode.NO_FRESH_DATA: "no fresh data about any unit",
    AlarmCode.NOTHING_KNOWN: "no fresh data about any unit and no weights to keep",
    AlarmCode.NOTHING_AVAILABLE: "no unit is available; keeping the last good weights",
    AlarmCode.ACTUATOR_FAILING: "actuator failing ({failures:.0f}x): {detail}; keeping last-known-good",
}


@dataclass(frozen=True)
class Alarm:
    """One structured alarm of a tick: what (code), about which units, with which numbers. Tests, the
    exporter and `watch --once` read the code; the log line, the dashboard and the audit render `text()`."""

    code: AlarmCode
    values: dict[str, float] = field(default_factory=dict)
    ages_s: dict[str, float] = field(default_factory=dict)  # unit -> age of its newest data (stale_metrics)
    detail: str | None = None  # an error's own message, which no code or number carries

    def text(self) -> str:
        ages = ", ".join(f"{n} {age:.0f}s" for n, age in sorted(self.ages_s.items()))
        return _ALARM_TEXT[self.code].format(detail=self.detail, ages=ages, **self.values)


class StandbyCode(str, Enum):
    """Why this replica stands by (leader election); `Standby.text()` renders each."""

    HELD_ELSEWHERE = "held_elsewhere"  # holder; values: lease_s (renewed within that long)
    LOST_RACE = "lost_race"  # detail: what the other replica did between our read and write
    API_ERROR = "api_error"  # values: status; detail: the API server's reason
    UNREACHABLE = "unreachable"  # detail: the network error


_STANDBY_TEXT = {
    StandbyCode.HELD_ELSEWHERE: "standby: lease held by {holder} (renewed within the last {lease_s:g}s)",
    StandbyCode.LOST_RACE: "standby: lease {detail}",
    StandbyCode.API_ERROR: "standby: lease {lease}: {status:.0f} {detail}",
    StandbyCode.UNREACHABLE: "standby: lease {lease} unreachable: {detail}",
}


@dataclass(frozen=True)
class Standby:
    """Why a tick stood by: code, the Lease (namespace/name), who holds it, with which numbers."""

    code: StandbyCode
    lease: str
    holder: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    detail: str | None = None  # an error's own message, or which race was lost

    def text(self) -> str:
        return _STANDBY_TEXT[self.code].format(
            lease=self.lease, holder=self.holder, detail=self.detail, **self.values
        )


@dataclass(frozen=True)
class Decision:
    mode: Mode
    weights: dict[str, int]  # integers summing to 100
    desired_replicas: dict[str, int]
    available: dict[str, bool]
    reasons: tuple[Reason, ...] = ()
    alarm: Alarm | None = None  # set when nothing could be routed and the last weights were kept
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
