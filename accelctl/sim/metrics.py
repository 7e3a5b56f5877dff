"""What a simulated run comes to: cost, SLO attainment, failed requests, failover and fallback times.

Only time 0 onwards counts. Each shortage (a capacity window) is read by control/timeline.py from the
controller's decisions, as the demo reads its live loop: failover is the first decision after the
first capacity signal that stops planning growth on the short units (or, for a policy that plans no
replicas, takes their weight to 0); fallback is capacity back -> their planned replicas Ready again
(or their traffic back in the pre-shortage mode); then the time to the cost-optimal split and the mode
changes. The first capacity signal is the first insufficient-capacity event for their pools at or
after the shortage starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from accelctl.control.timeline import shortage_timeline
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
    fallback_s: float | None  # seconds from the shortage end to fallback
    split_restored_s: float | None  # seconds from the shortage end to the cost-optimal split again
    mode_changes: int  # mode changes from the shortage start to the fallback
    flaps: int  # times traffic left the short units during the shortage


@dataclass(frozen=True)
class PolicySummary:
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


def shortage_times(run: PolicyRun, trace: Trace, window: CapacityWindow, deadband: int = 0) -> Shortage:
    """One shortage, read by control/timeline.py (the demo reads its live loop with the same code)."""
    f, t = run.fleet, trace.times
    short_i = [i for i, u in enumerate(f.units) if u.instance_type == window.instance_type]
    short = [f.units[i].name for i in short_i]
    pools = {f.units[i].model.pool for i in short_i}
    signals = [e for p in pools for e in f.events.get(p, []) if e >= window.start]
    first_signal = min(signals) if signals else None
    line = shortage_timeline(run.ticks, short, window.start, window.end, first_signal, deadband)
    off = f.weight_log[:, short_i].sum(axis=1) == 0
    k_start, k_end = np.searchsorted(t, window.start), np.searchsorted(t, window.end)
    left = off & ~np.concatenate([[False], off[:-1]])  # steps where traffic left the short units
    return Shortage(
        instance_type=window.instance_type,
        start_s=window.start,
        end_s=window.end,
        first_signal_s=first_signal,
        failover_s=line.since(window.start, line.failover),
        signal_to_failover_s=line.since(first_signal, line.failover),
        fallback_s=line.since(window.end, line.fallback),
        split_restored_s=line.since(window.end, line.split_restored),
        mode_changes=line.mode_changes,
        flaps=int(np.count_nonzero(left[k_start:k_end])),
    )


def summarize(
    run: PolicyRun, trace: Trace, windows: list[CapacityWindow], deadband: int = 0
) -> PolicySummary:
    f, k0 = run.fleet, trace.first
    requests = float(trace.measured_rates.sum() * trace.step_s)
    served, within = float(f.served[k0:].sum()), float(f.within[k0:].sum())
    cost = float(f.cost[k0:].sum())
    switches = (
        sum(1 for a, b in zip(run.modes, run.modes[1:], strict=False) if a[1] != b[1] and b[0] >= 0)
        if run.modes
        else None
    )
    return PolicySummary(
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
        shortages=[shortage_times(run, trace, w, deadband) for w in windows],
        wall_s=run.wall_s,
        tick_errors=run.tick_errors[:5],
    )


def summarize_oracle(plan: OraclePlan, trace: Trace) -> PolicySummary:
    requests = float(trace.measured_rates.sum() * trace.step_s)
    carried = requests * (1 - plan.unserved)
    return PolicySummary(
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
            f"reference: LP with foresight over {plan.bucket_s:.0f}s buckets, replicas at "
            f"{plan.utilization:.0%} of their breaking point (the fleet's headroom); "
            "not a bound on every policy"
        ),
    )
