"""The `optimal` policy's solver: least $/h that carries the demand within the SLO (MILP, HiGHS).

Replicas are what is paid for, so the solver chooses replicas only: minimise Σ price_i·r_i subject
to Σ T_i·headroom·r_i ≥ demand, r_i integer in [min_i, max_i] (0 where the unit is unavailable).
Once replicas are fixed every routing of the demand costs the same; the one chosen loads every
replica to the same fraction of its breaking point, which leaves each unit the most room before
its p95 crosses the SLO.
"""

from __future__ import annotations

import warnings

import numpy as np

from accelctl.control.types import UnitModel

NEGLIGIBLE_RPS = 1e-6  # below one request in eleven days: no demand to provision for
REL_TOL = 1e-7  # capacity within this fraction of the demand carries it (HiGHS's feasibility tolerance)


def solve_min_cost(
    units: tuple[UnitModel, ...], available: dict[str, bool], demand: float, headroom: float
) -> tuple[dict[str, float], dict[str, int]] | None:
    """(rps per unit, replicas per unit) of the cheapest plan, or None when the available units
    cannot carry `demand` even at their maximum replicas."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    if not units:
        return None
    price = np.array([u.price_per_hour for u in units])
    cap = np.array([u.throughput * headroom for u in units])
    up = np.array([available.get(u.name, False) for u in units])
    r_hi = np.where(up, [u.max_replicas for u in units], 0).astype(float)
    r_lo = np.minimum([u.min_replicas for u in units], r_hi).astype(float)
    if demand < NEGLIGIBLE_RPS:
        demand = 0.0
    if float(cap @ r_hi) < demand * (1 - REL_TOL):
        return None
    # The row is scaled by the demand so that HiGHS's absolute feasibility tolerance is relative here.
    row = cap / demand if demand > 0 else cap
    with warnings.catch_warnings():
        # scipy hands HiGHS options it does not list through, with a warning. The feasibility-jump
        # heuristic costs ~18 ms a call on problems this small (10x the solve) and cannot change the
        # optimum; `simulate` calls this every tick.
        warnings.filterwarnings("ignore", message="Unrecognized options", category=RuntimeWarning)
        res = milp(
            price,
            constraints=[LinearConstraint(row[None, :], 1.0 if demand > 0 else 0.0, np.inf)],
            integrality=np.ones(len(units)),
            bounds=Bounds(r_lo, r_hi),
            # Gap 0: the answer must be the optimum, not within HiGHS's default 0.01 % of it.
            options={"mip_rel_gap": 0.0, "mip_heuristic_run_feasibility_jump": False},
        )
    if not res.success:
        return None
    replicas = np.round(res.x).astype(int)
    provisioned = cap * replicas
    total = float(provisioned.sum())
    rps = provisioned * (demand / total) if total > 0 else np.zeros(len(units))
    return (
        {u.name: float(v) for u, v in zip(units, rps, strict=False)},
        {u.name: int(v) for u, v in zip(units, replicas, strict=False)},
    )


def plan_cost(units: tuple[UnitModel, ...], replicas: dict[str, int]) -> float:
    """$ per hour of a replica plan."""
    return sum(u.price_per_hour * replicas.get(u.name, 0) for u in units)
