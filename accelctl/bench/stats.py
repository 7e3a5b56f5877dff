"""Latency statistics from samples: percentiles and a t-based 95 % confidence interval of the mean."""

from __future__ import annotations

from collections.abc import Sequence

from accelctl.units import LatencyStats

PERCENTILES = (0, 50, 90, 95, 99, 100)


def latency_stats(samples: Sequence[float]) -> LatencyStats:
    import numpy as np
    from scipy import stats

    a = np.asarray(samples, dtype=float)
    if a.size == 0:
        raise ValueError("latency_stats needs at least one sample")
    mean = float(a.mean())
    low = high = None
    if a.size >= 2:
        sem = float(stats.sem(a))
        if sem > 0:
            low, high = (float(x) for x in stats.t.interval(0.95, a.size - 1, loc=mean, scale=sem))
        else:
            low = high = mean
    pct = np.percentile(a, PERCENTILES)
    return LatencyStats(
        n=int(a.size),
        mean=mean,
        ci95_low=low,
        ci95_high=high,
        **{f"p{q}": float(v) for q, v in zip(PERCENTILES, pct, strict=False)},
    )


def percentiles(samples: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> list[float | None]:
    """Percentiles of successful latencies; None when there were none."""
    import numpy as np

    if len(samples) == 0:
        return [None for _ in qs]
    return [float(v) for v in np.percentile(np.asarray(samples, dtype=float), qs)]
