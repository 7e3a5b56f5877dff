"""`static`: per-unit metrics from a YAML file, for dry runs and tests.

The file is read again on every tick, so editing it while `watch --dry-run` runs plays out a scenario
by hand. A unit missing from the file has no metrics (the policy treats it as unavailable).

    units:
      sd21-inf2-xlarge-inf2: {rps: 12.5, p95: 0.61, ready: 3, desired: 3}
      sd21-g5-xlarge-cuda:   {rps: 4.0, p95: 0.42, ready: 1, desired: 2, pending: 1, pending_for_s: 90,
                              capacity_events: 2}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics
from accelctl.errors import InputError
from accelctl.files import load_model
from accelctl.units import Strict


class StaticUnitMetrics(Strict):
    rps: float = Field(default=0.0, ge=0, description="requests/s")
    p95: float | None = Field(
        default=None, gt=0, description="p95 latency, seconds; absent: no requests seen"
    )
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of requests answered 5xx")
    ready: int = Field(default=0, ge=0)
    desired: int = Field(default=0, ge=0)
    pending: int = Field(default=0, ge=0)
    pending_for_s: float | None = Field(
        default=None, ge=0, description="how long the oldest pending pod has waited"
    )
    capacity_events: int = Field(default=0, ge=0, description="insufficient-capacity events in the window")


class StaticMetricsFile(Strict):
    units: dict[str, StaticUnitMetrics] = Field(default_factory=dict)


class StaticConfig(Strict):
    path: Path = Field(description="YAML file of per-unit metrics")


@SOURCES.register("static")
class StaticSource(Source):
    config_model = StaticConfig

    def __init__(self, config: StaticConfig):
        self.config = config

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        data = load_model(self.config.path, StaticMetricsFile)
        known = {u.name for u in units}
        unknown = sorted(set(data.units) - known)
        if unknown:
            raise InputError(
                f"{self.config.path}: field 'units.{unknown[0]}': not a unit of the fleet; "
                f"known units: {', '.join(sorted(known))}"
            )
        return MetricsSnapshot(
            time=now,
            units={name: _to_metrics(m, now) for name, m in data.units.items()},
        )


def _to_metrics(m: StaticUnitMetrics, now: float) -> UnitMetrics:
    return UnitMetrics(
        rps=m.rps,
        p95=m.p95,
        error_rate=m.error_rate,
        ready=m.ready,
        desired=m.desired,
        pending=m.pending,
        pending_since=None if m.pending_for_s is None else now - m.pending_for_s,
        capacity_events=m.capacity_events,
    )
