"""Several metric sources read as one, e.g. prometheus (traffic) + kubernetes (replicas, Karpenter events).

No one source sees everything the policy needs: Prometheus knows requests and latency, the API server
knows pods and insufficient-capacity events. Each source declares the fields it measures
(`Source.measures`); a field is taken from the first source, in the order given, that measures it
and has the unit, never from one that does not measure it: "not measured" reads as the default in a
snapshot (0 ready, 0 events), and a 0 that means "not measured" must not pass for a measured 0 (nor
hide behind a measured value, as "first non-default wins" did). Capacity events are the exception:
every source that measures them counts, so the largest count wins; and a unit's data is as old as its
oldest measured part (`as_of`, the smallest): traffic from a stale Prometheus is stale however fresh
the pod counts beside it. If any source fails the whole read fails, and the loop holds: half a picture
is not a reason to move traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from pydantic import BaseModel

from accelctl.control.sources.base import METRIC_FIELDS, Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics

_DEFAULTS = UnitMetrics()


def merge_snapshots(parts: Sequence[tuple[MetricsSnapshot, frozenset[str]]]) -> MetricsSnapshot:
    """One snapshot from (snapshot, fields its source measures) pairs: the oldest time (staleness is
    judged on the oldest part), each field as above; a field no source measures stays at its default."""
    names = dict.fromkeys(n for s, _ in parts for n in s.units)
    units = {}
    for name in names:
        values = {}
        for f in fields(UnitMetrics):
            seen = [s.units[name] for s, measured in parts if f.name in measured and name in s.units]
            if f.name == "capacity_events":
                values[f.name] = max((m.capacity_events for m in seen), default=_DEFAULTS.capacity_events)
            elif f.name == "as_of":
                # Not a measurement but the age of each part's data: the oldest part dates the whole.
                times = [s.units[name].as_of for s, _ in parts if name in s.units]
                times = [t for t in times if t is not None]
                values[f.name] = min(times, default=None)
            else:
                values[f.name] = getattr(seen[0], f.name) if seen else getattr(_DEFAULTS, f.name)
        units[name] = UnitMetrics(**values)
    return MetricsSnapshot(min(s.time for s, _ in parts), units)


class CombinedSource(Source):
    """Built from already-configured sources (`watch --source A --source B`); not registered by name."""

    config_model = BaseModel

    def __init__(self, sources: list[Source]):
        self.sources = sources

    def measures(self) -> frozenset[str]:
        return frozenset().union(*(s.measures() for s in self.sources)) & METRIC_FIELDS

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        return merge_snapshots([(s.read(units, now), s.measures()) for s in self.sources])

    def close(self) -> None:
        for s in self.sources:
            s.close()
