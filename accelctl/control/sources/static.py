"""`static`: per-unit metrics from a YAML file, for dry runs and tests.

The file is read again on every tick, so editing it while `watch --dry-run` runs plays out a scenario
by hand. Its data is as old as its `as_of` (a unit's own `as_of` wins), else as old as the file's
modification time: a file nobody has touched for longer than `policy.stale_after_s` holds the weights
with an alarm. A unit missing from the file is unknown, not gone: it keeps its weight (docs/policy.md).
A number no fleet produces (negative, .inf, .nan) makes the reading invalid: the loop holds and alarms.

    as_of: 2026-12-01T21:00:00Z        # optional; else the file's mtime
    units:
      sd21-inf2-xlarge-inf2: {rps: 12.5, p95: 0.61, ready: 3, desired: 3}
      sd21-g5-xlarge-cuda:   {rps: 4.0, p95: 0.42, ready: 1, desired: 2, pending: 1, pending_for_s: 90,
                              capacity_events: 2}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, ValidationError

from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import InvalidMetrics, MetricsSnapshot, UnitMetrics
from accelctl.errors import InputError
from accelctl.files import read_yaml, validation_message
from accelctl.schema import MAX_COUNT, MAX_RPS, Strict

_TIME_HELP = "when these figures were measured: ISO 8601 (UTC when no zone is given) or unix seconds"


class StaticUnitMetrics(Strict):
    rps: float = Field(default=0.0, ge=0, le=MAX_RPS, allow_inf_nan=False, description="requests/s")
    p95: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="p95 latency, seconds; absent: no requests seen"
    )
    error_rate: float = Field(
        default=0.0, ge=0, le=1, allow_inf_nan=False, description="share of requests answered 5xx"
    )
    ready: int = Field(default=0, ge=0, le=MAX_COUNT, description="replicas passing their readiness probe")
    desired: int = Field(default=0, ge=0, le=MAX_COUNT, description="replicas the unit is scaled to")
    pending: int = Field(default=0, ge=0, le=MAX_COUNT, description="pods waiting to be scheduled")
    pending_for_s: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="how long the oldest pending pod has waited"
    )
    capacity_events: int = Field(
        default=0, ge=0, le=MAX_COUNT, description="insufficient-capacity events in the window"
    )
    as_of: dt.datetime | None = Field(default=None, description=_TIME_HELP + "; default the file's")


class StaticMetricsFile(Strict):
    as_of: dt.datetime | None = Field(default=None, description=_TIME_HELP + "; default the file's mtime")
    units: dict[str, StaticUnitMetrics] = Field(default_factory=dict, description="unit name -> its metrics")


class StaticConfig(Strict):
    path: Path = Field(
        description="YAML file of per-unit metrics, read every tick: `as_of` (optional) and `units: {UNIT: "
        "{rps, p95, error_rate, ready, desired, pending, pending_for_s, capacity_events, as_of}}`"
    )


def _unix(t: dt.datetime) -> float:
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()


@SOURCES.register("static")
class StaticSource(Source):
    config_model = StaticConfig

    def __init__(self, config: StaticConfig):
        self.config = config

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        path = self.config.path
        try:
            mtime = path.stat().st_mtime  # before reading: a write in between reads as older, not newer
            raw = read_yaml(path)
        except InputError as exc:
            if path.is_file():  # there but not YAML (half-written?): a bad reading, not a missing source
                raise InvalidMetrics(exc.message) from None
            raise
        except OSError:
            raise InputError(f"{path}: no such file; check the path") from None
        try:
            data = StaticMetricsFile.model_validate(raw or {})
        except ValidationError as err:
            raise InvalidMetrics(validation_message(path, err)) from None
        known = {u.name for u in units}
        unknown = sorted(set(data.units) - known)
        if unknown:
            raise InputError(
                f"{path}: field 'units.{unknown[0]}': not a unit of the fleet; "
                f"known units: {', '.join(sorted(known))}"
            )
        as_of = _unix(data.as_of) if data.as_of else mtime
        return MetricsSnapshot(
            time=now,
            units={name: _to_metrics(m, now, as_of) for name, m in data.units.items()},
        )


def _to_metrics(m: StaticUnitMetrics, now: float, as_of: float) -> UnitMetrics:
    return UnitMetrics(
        rps=m.rps,
        p95=m.p95,
        error_rate=m.error_rate,
        ready=m.ready,
        desired=m.desired,
        pending=m.pending,
        pending_since=None if m.pending_for_s is None else now - m.pending_for_s,
        capacity_events=m.capacity_events,
        as_of=_unix(m.as_of) if m.as_of else as_of,
    )
