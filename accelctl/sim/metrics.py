"""What a simulated run comes to: cost, SLO attainment, failed requests, failover and fallback times.

Only time 0 onwards counts. Failover and fallback are read from what was routed, so every policy is measured
the same way: failover is the first moment at or after a shortage starts when the short instance type's
units, routed to just before it, get no traffic; fallback is the start of the stretch, reaching past the
shortage's end, in which they get traffic again in the mode the policy was in before the shortage (negative
when traffic went back before capacity did). The first capacity signal is the first insufficient-capacity
event for their pools at or after the shortage starts.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

import numpy as np

from accelctl.sim.oracle import OraclePlan
from accelctl.sim.run import PolicyRun, Trace
from accelctl.sim.scenario import CapacityWindow


@dataclass(frozen=True)
class Shortage:
    instance_type: str
    start_s: float
    end_s: float
    first_signal_s: float | None  # time of the first capacity event, seconds from time 0
    failover_s: float | None  # seconds from the shortage start to failover
    signal_to_failover_s: float | None
    fallback_s: float | None  # seconds from the shortage end to fallback (negative: before it)
    flaps: int  # times traffic left the short units during the shortage


@dataclass(frozen=True)
class Summary:
    policy: str
    cost_usd: float
    cost_per_1k_images: float | None
    requests: float
    served: float
    within_slo: float
    slo_attainment_pct: float
    rejected: float
    timed_out: float
    peak_replicas: int
    mode_switches: int | None
    shortages: list[Shortage]
    wall_s: float | None
    tick_errors: list[str]
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def modes_per_step(times: np.ndarray, modes: list[tuple[float, str]]) -> list[str | None]:
    """The mode in force at each step: the last decision at or before it."""
    at = [t for t, _ in modes]
    return [modes[i][1] if i >= 0 else None for i in (bisect.bisect_right(at, t) - 1 for t in times)]


def shortage_times(run: PolicyRun, trace: Trace, window: CapacityWindow, mode: list[str | None]) -> Shortage:
    f, t = run.fleet, trace.times
    short = [i for i, u in enumerate(f.units) if u.instance_type == window.instance_type]
    pools = {f.units[i].model.pool for i in short}
    signals = [e for p in pools for e in f.events.get(p, []) if e >= window.start]
    first_signal = min(signals) if signals else None
    off = f.weight_log[:, short].sum(axis=1) == 0
    k_start, k_end = np.searchsorted(t, window.start), np.searchsorted(t, window.end)
    before = mode[k_start - 1] if k_start > 0 else None
    hits = np.flatnonzero(off[k_start:])
    # Units that got no traffic before the shortage have nothing to fail over from.
    served_before = k_start > 0 and not off[k_start - 1]
    failover = float(t[k_start + hits[0]]) if hits.size and served_before else None
    left = off & ~np.concatenate([[False], off[:-1]])  # steps where traffic left the short units
    flaps = int(np.count_nonzero(left[k_start:k_end]))
    fallback = None
    if failover is not None:
        restored = ~off & np.array([m == before for m in mode])
        k_fail = k_start + int(hits[0])
        after = np.flatnonzero(restored[max(k_end, k_fail) :])
        if after.size:
            k = max(k_end, k_fail) + int(after[0])
            while k - 1 > k_fail and restored[k - 1]:
                k -= 1
            fallback = float(t[k]) - window.end
    return Shortage(
        instance_type=window.instance_type,
        start_s=window.start,
        end_s=window.end,
        first_signal_s=first_signal,
        failover_s=None if failover is None else failover - window.start,
        signal_to_failover_s=None if failover is None or first_signal is None else failover - first_signal,
        fallback_s=fallback,
        flaps=flaps,
    )


def summarize(run: PolicyRun, trace: Trace, windows: list[CapacityWindow]) -> Summary:
    f, k0 = run.fleet, trace.first
    requests = float(trace.measured_rates.sum() * trace.step_s)
    served, within = float(f.served[k0:].sum()), float(f.within[k0:].sum())
    cost = float(f.cost[k0:].sum())
    mode = modes_per_step(trace.times, run.modes)
    switches = (
        sum(1 for a, b in zip(run.modes, run.modes[1:], strict=False) if a[1] != b[1] and b[0] >= 0)
        if run.modes
        else None
    )
    return Summary(
        policy=run.policy,
        cost_usd=cost,
        cost_per_1k_images=cost / served * 1000 if served > 0 else None,
        requests=requests,
        served=served,
        within_slo=within,
        slo_attainment_pct=100.0 * within / requests if requests > 0 else 100.0,
        rejected=float(f.rejected[k0:].sum()),
        timed_out=float(f.timed_out[k0:].sum()),
        peak_replicas=int(f.pods_log[k0:].sum(axis=1).max()),
        mode_switches=switches,
        shortages=[shortage_times(run, trace, w, mode) for w in windows],
        wall_s=run.wall_s,
        tick_errors=run.tick_errors[:5],
    )


def summarize_oracle(plan: OraclePlan, trace: Trace) -> Summary:
    requests = float(trace.measured_rates.sum() * trace.step_s)
    carried = requests * (1 - plan.unserved)
    return Summary(
        policy="oracle",
        cost_usd=plan.bound,
        cost_per_1k_images=plan.bound / carried * 1000 if carried > 0 else None,
        requests=requests,
        served=carried,
        within_slo=carried,
        slo_attainment_pct=100.0 * (1 - plan.unserved),
        rejected=0.0,
        timed_out=0.0,
        peak_replicas=int(np.ceil(plan.paid.sum(axis=1).max() - 1e-6)) if plan.paid.size else 0,
        mode_switches=None,
        shortages=[],
        wall_s=None,
        tick_errors=[],
        note=(
            f"lower bound: LP over {plan.bucket_s:.0f}s buckets, replicas at {plan.utilization:.0%} "
            "of their breaking point"
        ),
    )
