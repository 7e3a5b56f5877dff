"""Demand forecasters for the `plan` policy: pure functions of the recent demand history.

A forecaster answers "how much demand must replicas ordered now carry when they are Ready", i.e. over
the next `horizon` seconds, from (time, requests/s) samples the policy keeps in its state. Plug-ins
register by name in FORECASTERS; the fleet's `policy.forecaster` picks one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accelctl.registry import Registry

History = tuple[tuple[float, float], ...]  # (time, requests/s), oldest first


@dataclass(frozen=True)
class Forecast:
    rps: float  # expected demand: the highest over the horizon
    sd: float  # robust standard deviation of demand's tick-to-tick noise around it, requests/s


Forecaster = Callable[[History, float, float], Forecast]  # (history, now, horizon_s)
FORECASTERS: Registry[Forecaster] = Registry("forecaster")

MIN_POINTS_FOR_TREND = 4  # fewer samples than this in each half fit noise, not a trend
MAX_POINTS = 30  # samples the lines are fitted to (pairs: n(n-1)/2)


@FORECASTERS.register("trend")
def trend_forecast(history: History, now: float, horizon_s: float) -> Forecast:
    """A robust trend read at the highest point of [now, now + horizon] (a line's maximum is at one
    end), with the spread of demand around it.

    The slope is Theil-Sen (the median of the pairwise slopes) on each half of the window: a trend both
    halves agree on in sign, the gentler of the two, else none. A step inside the window tilts a line
    fitted across it, and extrapolating that tilt over the lead time orders replicas for demand that
    never comes; the halves disagree across a step (flat, then flat) and agree on a real ramp. The
    level is read on the recent half, so a step is carried at its new level (the plan's reactive floor,
    plan.reactive_floor, covers the ticks before the window sees it).

    The spread is 1.4826 × the median absolute deviation (the standard deviation for normal noise) of
    the differences between neighbouring detrended samples, over √2: differences cancel the level, so
    a step costs one outlier the median ignores instead of inflating the residuals of the whole window
    (and the margin the plan buys with them). Samples are rates over overlapping windows, so this reads
    the tick-to-tick noise, below one sample's; `forecast_margin_sd` counts in these units."""
    if not history:
        return Forecast(0.0, 0.0)
    if len(history) < 2 * MIN_POINTS_FOR_TREND:
        return Forecast(history[-1][1], 0.0)
    t, y = np.array(history).T
    if len(t) > MAX_POINTS:
        # Every k-th sample back from the latest: ticks are seconds apart while each sample is a rate
        # over a minute, so neighbours say little new, and the pairs grow with the square.
        keep = np.arange(len(t) - 1, -1, -math.ceil(len(t) / MAX_POINTS))[::-1]
        t, y = t[keep], y[keep]
    t = t - now
    half = len(t) // 2
    older, recent = _slope(t[:half], y[:half]), _slope(t[half:], y[half:])
    slope = min(older, recent, key=abs) if older * recent > 0 else 0.0
    level = _median(y[half:] - slope * t[half:])
    return Forecast(max(level + max(slope * horizon_s, 0.0), 0.0), _spread(y - slope * t))


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    """Theil-Sen: the median of the slopes between every pair of samples."""
    i, j = _pairs(len(t))
    dt = t[j] - t[i]
    keep = dt > 0
    return _median((y[j] - y[i])[keep] / dt[keep]) if keep.any() else 0.0


def _spread(detrended: np.ndarray) -> float:
    """Robust standard deviation of the tick-to-tick noise (differences of neighbours, over √2)."""
    d = np.diff(detrended)
    return 1.4826 * _median(np.abs(d - _median(d))) / math.sqrt(2.0)


@functools.cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j of n samples: the same few lengths every tick, so computed once each."""
    return np.triu_indices(n, 1)


def _median(a: np.ndarray) -> float:
    """np.median without its wrapper's per-call overhead (simulate calls this four times a tick)."""
    n = a.size
    k = n // 2
    if n % 2:
        return float(np.partition(a, k)[k])
    p = np.partition(a, (k - 1, k))
    return float((p[k - 1] + p[k]) / 2)


@FORECASTERS.register("last")
def last_forecast(history: History, now: float, horizon_s: float) -> Forecast:
    """The latest sample, with no trend and no spread: the reactive baseline to compare `trend` with."""
    return Forecast(history[-1][1] if history else 0.0, 0.0)


def trim(history: History, now: float, window_s: float) -> History:
    """Samples within `window_s` before `now` (the policy's state keeps no more)."""
    cut = now - window_s - 1e-9
    keep = next((i for i, (t, _) in enumerate(history) if t >= cut), len(history))
    return history[keep:]
