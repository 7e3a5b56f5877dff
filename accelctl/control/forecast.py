"""Demand forecasters for the `plan` policy: pure functions of the recent demand history.

A forecaster answers "how much demand must replicas ordered now carry when they are Ready", i.e. over
the next `horizon` seconds, from (time, requests/s) samples the policy keeps in its state. Plug-ins
register by name in FORECASTERS; the fleet's `policy.forecaster` picks one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accelctl.registry import Registry

History = tuple[tuple[float, float], ...]  # (time, requests/s), oldest first


@dataclass(frozen=True)
class Forecast:
    rps: float  # expected demand: the highest over the horizon
    sd: float  # standard deviation of demand around it (residuals), requests/s


Forecaster = Callable[[History, float, float], Forecast]  # (history, now, horizon_s)
FORECASTERS: Registry[Forecaster] = Registry("forecaster")

MIN_POINTS_FOR_TREND = 4  # fewer samples than this fit noise, not a trend


@FORECASTERS.register("trend")
def trend_forecast(history: History, now: float, horizon_s: float) -> Forecast:
    """Least-squares line over the window, read at the highest point of [now, now + horizon] (a line's
    maximum is at one end), with the residuals' standard deviation around it: the noise the plan's
    margin must absorb on top of the trend."""
    if not history:
        return Forecast(0.0, 0.0)
    if len(history) < MIN_POINTS_FOR_TREND:
        return Forecast(history[-1][1], 0.0)
    t, y = np.array(history).T
    t = t - now
    # Ordinary least squares in closed form: np.polyfit's SVD costs ~10x more, and simulate calls this
    # every tick.
    tm, ym = t.mean(), y.mean()
    dt = t - tm
    sxx = float(dt @ dt)
    slope = float(dt @ (y - ym)) / sxx if sxx > 0 else 0.0
    intercept = ym - slope * tm
    resid = y - (intercept + slope * t)
    sd = math.sqrt(float(resid @ resid) / (len(y) - 2))
    return Forecast(max(intercept + max(slope * horizon_s, 0.0), 0.0), sd)


@FORECASTERS.register("last")
def last_forecast(history: History, now: float, horizon_s: float) -> Forecast:
    """The latest sample, with no trend and no spread: the reactive baseline to compare `trend` with."""
    return Forecast(history[-1][1] if history else 0.0, 0.0)


def trim(history: History, now: float, window_s: float) -> History:
    """Samples within `window_s` before `now` (the policy's state keeps no more)."""
    cut = now - window_s - 1e-9
    keep = next((i for i, (t, _) in enumerate(history) if t >= cut), len(history))
    return history[keep:]
