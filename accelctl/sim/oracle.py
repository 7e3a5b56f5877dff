"""The oracle: a policy that knows the whole trace in advance. A linear programme (scipy HiGHS) over
time buckets: the cheapest replicas, at the fleet's headroom, that carry every bucket's demand, with
foresight of the load and of every capacity window. It is the fair reference for policies that size
replicas at the same headroom (cost ratios are read against it), not a bound on every policy: one
that loads replicas closer to their breaking point, or gambles on the SLO, can cost less.

Per bucket t and unit i: r[t,i] ready replicas and p[t,i] paid replicas. Constraints:
  Σ_i T_i·u·r[t,i] + s[t] ≥ demand[t]      every request within the SLO (s: demand no plan can carry)
  p[t-j,i] ≥ r[t,i] for j = 0..lead_i      a replica bills through its start-up before it is ready
  min_i ≤ r[t,i] ≤ max_i
  in a capacity window on type k with limit L: Σ_{i on k} p[t,i]/per_node_i ≤ L + H[t], where the
      instances held beyond the limit H never grow and never exceed what ran the bucket before
      (instances already running keep running; one given up does not come back).
Minimise Σ price_i·p[t,i]·bucket + penalty·s. Everything is relaxed in the oracle's favour: replicas
may be fractional (the integer programme over a day of minutes does not solve in a minute; on the
failover scenario the LP sits ~0.5 % under the best integer plan found), demand is each bucket's mean,
the lead is whole buckets of start-up only (no node launch), and there is no stabilisation window or
consolidation delay. So among policies that keep every replica at or under headroom × T, its cost
is a lower bound; `plan` routes up to route_utilization × T between plans, so it is not bound by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelctl.errors import AccelctlError
from accelctl.sim.scenario import CapacityWindow
from accelctl.units import ResolvedUnit


@dataclass(frozen=True)
class OraclePlan:
    bound: float  # $: lower bound on cost over the trace
    paid: np.ndarray  # [bucket, unit] replicas paid for (fractional)
    unserved: float  # fraction of requests no plan could carry within the SLO
    utilization: float
    bucket_s: float


def bucket_demand(rates: np.ndarray, step_s: float, bucket_s: float) -> np.ndarray:
    """Mean requests/s of each bucket (the last one may be shorter): averaging relaxes the steps'
    peaks, which keeps the plan's cost a lower bound."""
    per = max(1, round(bucket_s / step_s))
    edges = np.arange(0, len(rates), per)
    return np.add.reduceat(rates, edges) / np.diff(np.append(edges, len(rates)))


def solve_oracle(
    units: list[ResolvedUnit],
    demand: np.ndarray,
    bucket_s: float,
    utilization: float,
    windows: list[CapacityWindow],
    time_limit_s: float,
) -> OraclePlan:
    from scipy.optimize import Bounds, LinearConstraint, milp  # milp without integrality: HiGHS' LP
    from scipy.sparse import coo_array

    nt, nu = len(demand), len(units)
    hours = bucket_s / 3600.0
    # Variable layout: r (nt·nu), p (nt·nu), s (nt), then one H per (window, bucket inside it).
    r_at = lambda t, i: t * nu + i  # noqa: E731
    p_at = lambda t, i: nt * nu + t * nu + i  # noqa: E731
    s_at = lambda t: 2 * nt * nu + t  # noqa: E731
    n_var = 2 * nt * nu + nt
    rows, cols, vals, lo, hi = [], [], [], [], []

    def row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        k = len(lo)
        for c, v in entries:
            rows.append(k)
            cols.append(c)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    cap = [u.throughput_rps * utilization for u in units]
    for t in range(nt):
        row([(r_at(t, i), cap[i]) for i in range(nu)] + [(s_at(t), 1.0)], float(demand[t]), math.inf)
    for i, u in enumerate(units):
        lead = int(u.startup_s // bucket_s)
        for t in range(nt):
            for j in range(lead + 1):
                if t - j >= 0:
                    row([(p_at(t - j, i), 1.0), (r_at(t, i), -1.0)], 0.0, math.inf)
    for w in windows:
        first, last = math.ceil(w.start / bucket_s), math.floor(w.end / bucket_s)  # buckets wholly inside
        on_type = [i for i, u in enumerate(units) if u.instance_type == w.instance_type]
        prev = None
        for t in range(max(first, 0), min(last, nt)):
            h = n_var
            n_var += 1
            row(
                [(p_at(t, i), 1.0 / units[i].replicas_per_instance) for i in on_type] + [(h, -1.0)],
                -math.inf,
                w.max_instances,
            )
            if prev is not None:
                row([(h, 1.0), (prev, -1.0)], -math.inf, 0.0)
            if t > 0:  # an instance given up during the window cannot come back
                row(
                    [(h, 1.0)] + [(p_at(t - 1, i), -1.0 / units[i].replicas_per_instance) for i in on_type],
                    -math.inf,
                    0.0,
                )
            prev = h

    price = np.array([u.replica_price_per_hour for u in units])
    c = np.zeros(n_var)
    c[nt * nu : 2 * nt * nu] = np.tile(price * hours, nt)
    penalty = 1e3 * float(price.max()) * hours / max(min(cap), 1e-9)  # far above serving it on any unit
    c[2 * nt * nu : 2 * nt * nu + nt] = penalty
    low = np.zeros(n_var)
    high = np.full(n_var, np.inf)
    low[: nt * nu] = np.tile([u.min_replicas for u in units], nt)
    high[: nt * nu] = np.tile([u.max_replicas for u in units], nt)
    a = coo_array((vals, (rows, cols)), shape=(len(lo), n_var)).tocsr()
    res = milp(
        c,
        constraints=LinearConstraint(a, lo, hi),
        bounds=Bounds(low, high),
        options={"time_limit": float(time_limit_s)},
    )
    if res.status != 0:
        raise AccelctlError(
            f"oracle: the LP did not solve ({res.message}); raise the scenario's oracle.time_limit or "
            "oracle.step"
        )
    paid = res.x[nt * nu : 2 * nt * nu].reshape(nt, nu)
    slack = res.x[2 * nt * nu : 2 * nt * nu + nt]
    total = float((demand * bucket_s).sum())
    unserved = float((slack * bucket_s).sum()) / total if total > 0 else 0.0
    return OraclePlan(float((paid * price * hours).sum()), paid, unserved, utilization, bucket_s)
