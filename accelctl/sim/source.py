"""The simulated metric source: reads the simulated fleet into a MetricsSnapshot, as `watch`'s sources
read a real one (Prometheus-style rates over a window, Kubernetes replicas, Karpenter capacity events)."""

from __future__ import annotations

import bisect

import numpy as np
from pydantic import Field

from accelctl.control.sources.base import Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics
from accelctl.schema import Strict
from accelctl.sim.fleet import SimFleet


class SimSourceConfig(Strict):
    window_s: float = Field(default=60.0, gt=0, description="rate() window for rps, p95 and errors")
    capacity_window_s: float = Field(default=300.0, gt=0, description="how long a capacity event counts")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The q-quantile of per-step p95s, each step weighted by the requests it served (None without any).
    Plain Python over the window's dozen steps: numpy's per-call overhead on them was a fifth of a
    simulated day. Sorted by value, weights summed in that order: the vectorised form's arithmetic."""
    pairs = sorted(
        ((v, w) for v, w in zip(values.tolist(), weights.tolist(), strict=True) if w > 0), key=_first
    )
    if not pairs:
        return None
    cum, total = [], 0.0
    for _, w in pairs:
        total += w
        cum.append(total)
    return float(pairs[min(bisect.bisect_left(cum, q * total), len(pairs) - 1)][0])


def _first(pair: tuple[float, float]) -> float:
    return pair[0]


class SimSource(Source):
    """Not in the SOURCES registry: it needs a live simulated fleet, which no config file can name."""

    config_model = SimSourceConfig

    def __init__(self, fleet: SimFleet, config: SimSourceConfig | None = None):
        self.fleet = fleet
        self.config = config or SimSourceConfig()

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        f = self.fleet
        w = min(f.k, max(1, round(self.config.window_s / f.dt)))
        window = slice(f.k - w, f.k)
        offered = f.offered[window].sum(axis=0)
        failed = f.rejected[window].sum(axis=0) + f.timed_out[window].sum(axis=0)
        out = {}
        for b in units:
            i = f.index[b.name]
            u = f.units[i]
            pending, since = u.pending_pods(now)
            out[b.name] = UnitMetrics(
                rps=offered[i] / (w * f.dt) if w else 0.0,
                p95=weighted_quantile(f.p95[window, i], f.served[window, i], 0.95) if w else None,
                error_rate=failed[i] / offered[i] if offered[i] > 0 else 0.0,
                ready=u.ready,
                desired=u.desired,
                pending=pending,
                pending_since=since,
                capacity_events=f.capacity_events(
                    b.pool or u.model.pool, now - self.config.capacity_window_s
                ),
            )
        return MetricsSnapshot(time=now, units=out)
