"""Breaking-point search: which load to probe next, decided from the probes so far.

Pure: no clock, no I/O. The caller runs each probe and passes the growing list back in.

The breaking point T is the highest throughput a unit delivers while p95 <= SLO and the error rate
stays within budget. The search ramps the load geometrically until a probe fails (or throughput stops
growing), then bisects the load bracket until it, or the throughput bracket, is within the tolerance.

Load means concurrency in closed-loop mode (an integer number of clients that each wait for their
answer) and requests/s in open-loop mode (Poisson arrivals that do not wait).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from accelctl.units import Probe


@dataclass(frozen=True)
class Criteria:
    slo_s: float = 0.9
    max_error_rate: float = 0.001
    # Open loop only: a server that completes less than this share of the offered rate is falling
    # behind, even if a short probe has not yet shown it in p95.
    keep_up: float = 0.9


@dataclass(frozen=True)
class Search:
    mode: Literal["closed", "open"] = "closed"
    start: float = 1.0
    growth: float = 2.0
    tolerance: float = 0.05
    max_probes: int = 12
    min_load: float = 0.05  # open loop: the lowest rate tried when even the start fails
    criteria: Criteria = field(default_factory=Criteria)


@dataclass(frozen=True)
class Outcome:
    breaking_point_rps: float | None
    lower_rps: float | None  # best throughput of a probe that met the criteria
    upper_rps: float | None  # throughput the unit delivered when it no longer met them (an upper estimate)
    converged: bool
    reason: str


def meets(probe: Probe, criteria: Criteria) -> bool:
    """p95 within the SLO, errors within budget, and (open loop) the server kept up with arrivals."""
    if probe.requests == 0 or probe.p95 is None or probe.p95 > criteria.slo_s:
        return False
    if probe.error_rate > criteria.max_error_rate:
        return False
    return probe.mode == "closed" or probe.achieved_rps >= criteria.keep_up * probe.offered


def next_load(probes: Sequence[Probe], search: Search) -> float | None:
    """The load of the next probe, or None when the search is over."""
    return _decide(probes, search)[0]


def outcome(probes: Sequence[Probe], search: Search) -> Outcome:
    """What the probes so far say about the breaking point."""
    load, reason = _decide(probes, search)
    ok = [p for p in probes if meets(p, search.criteria)]
    best = max((p.achieved_rps for p in ok), default=None)
    lo = max(ok, key=lambda p: p.offered, default=None)
    above = [p for p in probes if not meets(p, search.criteria) and (lo is None or p.offered > lo.offered)]
    upper = min((p.achieved_rps for p in above), default=None)
    if upper is None and best is not None and _plateau(ok, search):
        upper = best
    return Outcome(
        breaking_point_rps=best,
        lower_rps=best,
        upper_rps=upper,
        converged=load is None and best is not None and reason != BUDGET,
        reason=reason,
    )


BUDGET = "probe budget spent"


def _decide(probes: Sequence[Probe], s: Search) -> tuple[float | None, str]:
    if not probes:
        return _as_load(s.start, s), "start"
    ok = [p for p in probes if meets(p, s.criteria)]
    lo = max(ok, key=lambda p: p.offered, default=None)
    above = [p for p in probes if not meets(p, s.criteria) and (lo is None or p.offered > lo.offered)]
    hi = min(above, key=lambda p: p.offered, default=None)
    if lo is None:
        return _step_down(hi.offered, s, len(probes))
    best = max(p.achieved_rps for p in ok)
    if _plateau(ok, s):
        return None, "throughput stopped growing"
    if hi is not None:
        if hi.achieved_rps <= best * (1 + s.tolerance):
            return None, f"throughput bracket within {s.tolerance:.0%}"
        if hi.offered <= lo.offered * (1 + s.tolerance) or (
            s.mode == "closed" and hi.offered - lo.offered <= 1
        ):
            return None, f"load bracket within {s.tolerance:.0%}"
    if len(probes) >= s.max_probes:
        return None, BUDGET
    if hi is None:
        return _as_load(max(lo.offered * s.growth, lo.offered + 1 if s.mode == "closed" else 0), s), "ramp"
    return _bisect(lo.offered, hi, s), "bisect"


def _plateau(ok: Sequence[Probe], s: Search) -> bool:
    """A probe at >= growth x the load of another added less than the tolerance in throughput."""
    return any(
        b.offered >= a.offered * s.growth and b.achieved_rps < a.achieved_rps * (1 + s.tolerance)
        for a in ok
        for b in ok
    )


def _step_down(lowest_failed: float, s: Search, n: int) -> tuple[float | None, str]:
    if s.mode == "closed" and lowest_failed <= 1:
        return None, "no load met the SLO: one request at a time already misses it"
    load = _as_load(lowest_failed / s.growth, s)
    if s.mode == "open" and load < s.min_load:
        return None, f"no load met the SLO down to {s.min_load:g} requests/s"
    if n >= s.max_probes:
        return None, BUDGET
    return load, "step down"


def _bisect(lo: float, hi: Probe, s: Search) -> float:
    guess = math.sqrt(lo * hi.offered)
    # Open loop: an overloaded server completes at about its capacity, which is a better next guess than
    # the middle of the bracket when it falls clearly inside it.
    if s.mode == "open" and lo * (1 + s.tolerance) < hi.achieved_rps < hi.offered / (1 + s.tolerance):
        guess = hi.achieved_rps
    if s.mode == "closed":
        return float(min(max(round(guess), int(lo) + 1), int(hi.offered) - 1))
    return guess


def _as_load(x: float, s: Search) -> float:
    return float(max(1, round(x))) if s.mode == "closed" else x
