"""Several metric sources read as one, e.g. prometheus (traffic) + kubernetes (replicas, Karpenter events).

No one source sees everything the policy needs: Prometheus knows requests and latency, the API server
knows pods and insufficient-capacity events. A field a source does not measure stays at its
UnitMetrics default (0 or None), so each field is taken from the first source, in the order given,
that reports something other than the default. Capacity events are the exception: any source that
saw one counts, so the largest count wins. If any source fails the whole read fails, and the loop
holds: half a picture is not a reason to move traffic.
"""

from __future__ import annotations

from dataclasses import fields

from pydantic import BaseModel

from accelctl.control.sources.base import Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics

_DEFAULTS = UnitMetrics()


def merge_snapshots(snapshots: list[MetricsSnapshot]) -> MetricsSnapshot:
    """One snapshot: the oldest time (staleness is judged on the oldest part), fields as above."""
    names = [n for s in snapshots for n in s.units]
    units = {}
    for name in dict.fromkeys(names):
        parts = [s.units[name] for s in snapshots if name in s.units]
        values = {}
        for f in fields(UnitMetrics):
            default = getattr(_DEFAULTS, f.name)
            seen = [getattr(p, f.name) for p in parts if getattr(p, f.name) != default]
            if f.name == "capacity_events":
                values[f.name] = max(seen, default=default)
            else:
                values[f.name] = seen[0] if seen else default
        units[name] = UnitMetrics(**values)
    return MetricsSnapshot(min(s.time for s in snapshots), units)


class CombinedSource(Source):
    """Built from already-configured sources (`watch --source A --source B`); not registered by name."""

    config_model = BaseModel

    def __init__(self, sources: list[Source]):
        self.sources = sources

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        return merge_snapshots([s.read(units, now) for s in self.sources])

    def close(self) -> None:
        for s in self.sources:
            s.close()
