"""Runtime values the control loop passes around (dataclasses, never files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["cost", "capacity"]


@dataclass(frozen=True)
class UnitModel:
    """What the policy knows of a unit from its profile and fleet spec."""

    name: str
    throughput: float  # T_i: breaking point, requests/s per replica
    latency: float  # L_i: seconds
    cost: float  # C_i: $ per inference
    price_per_hour: float  # $ per replica-hour
    pool: str  # capacity pool (node pool / instance family) the unit draws on
    min_replicas: int = 0
    max_replicas: int = 10


@dataclass(frozen=True)
class UnitMetrics:
    rps: float = 0.0
    p95: float | None = None  # seconds; None where no requests were seen
    error_rate: float = 0.0
    ready: int = 0
    desired: int = 0
    pending: int = 0
    pending_since: float | None = None  # time the oldest pending pod started pending
    capacity_events: int = 0  # insufficient-capacity events for the unit's pool in the window


@dataclass(frozen=True)
class MetricsSnapshot:
    time: float
    units: dict[str, UnitMetrics]

    def total_rps(self) -> float:
        return sum(m.rps for m in self.units.values())


@dataclass(frozen=True)
class UnitMemory:
    """What availability remembers of one unit between ticks (control/availability.py)."""

    last_capacity_signal: float | None = None  # when a capacity signal was last seen


@dataclass(frozen=True)
class PolicyState:
    mode: Mode = "cost"
    mode_since: float = 0.0
    weights: dict[str, int] = field(default_factory=dict)  # last good weights
    healthy_since: float | None = None  # when the cost pool last became healthy again
    units: dict[str, UnitMemory] = field(default_factory=dict)  # availability's memory, per unit


@dataclass(frozen=True)
class Decision:
    mode: Mode
    weights: dict[str, int]  # integers summing to 100
    desired_replicas: dict[str, int]
    available: dict[str, bool]
    reasons: tuple[str, ...] = ()
    alarm: str | None = None  # set when nothing could be routed and the last weights were kept
