"""The `optimal` policy's solver: least $/h that carries the demand within the SLO (MILP, HiGHS)."""

from __future__ import annotations

import numpy as np

from accelctl.control.types import UnitModel


def solve_min_cost(
    units: tuple[UnitModel, ...], available: dict[str, bool], demand: float, headroom: float
) -> tuple[dict[str, float], dict[str, int]] | None:
    """Route `demand` rps: minimise Σ price_i·r_i subject to Σ x_i = demand, x_i ≤ T_i·headroom·r_i,
    r_i integer in [min_i, max_i] (0 where unavailable). Returns (rps per unit, replicas) or None if
    the available units cannot carry the demand."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(units)
    if n == 0:
        return None
    # Variables: x_0..x_{n-1} (rps), r_0..r_{n-1} (replicas).
    price = np.array([u.price_per_hour for u in units])
    per_rps = np.array([u.cost for u in units])
    # A tiny per-request cost breaks ties between equal-price plans toward the cheaper inference.
    c = np.concatenate([per_rps * 1e-6, price])
    up = np.array([available.get(u.name, False) for u in units])
    r_hi = np.array([u.max_replicas if ok else 0 for u, ok in zip(units, up)], dtype=float)
    r_lo = np.minimum(np.array([u.min_replicas for u in units], dtype=float), r_hi)
    bounds = Bounds(np.concatenate([np.zeros(n), r_lo]), np.concatenate([np.full(n, np.inf), r_hi]))
    eye = np.eye(n)
    cap = np.diag([u.throughput * headroom for u in units])
    constraints = [
        LinearConstraint(np.concatenate([np.ones(n), np.zeros(n)])[None, :], demand, demand),
        LinearConstraint(np.hstack([eye, -cap]), -np.inf, 0.0),
    ]
    integrality = np.concatenate([np.zeros(n), np.ones(n)])
    res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds)
    if not res.success:
        return None
    x, r = res.x[:n], np.round(res.x[n:]).astype(int)
    return (
        {u.name: float(max(v, 0.0)) for u, v in zip(units, x)},
        {u.name: int(v) for u, v in zip(units, r)},
    )
