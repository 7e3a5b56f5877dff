"""Time per `optimal` decision on the paper fleet: the shipped solver vs HiGHS with its defaults.

`simulate` calls the solver every tick (5760 ticks per simulated day at 15 s), so its cost matters.
Both variants solve the same problems (demand swept 0.5..25 rps, five units, 1..20 replicas each),
interleaved in one run so both see the same machine load, and must agree on every plan's cost.

    python benchmarks/optimal_speed.py [--rounds 5] [--demands 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from accelctl.control.optimal import plan_cost, solve_min_cost
from accelctl.control.units import unit_model
from accelctl.units import UnitSpec, load_profile

PROFILES = Path(__file__).resolve().parents[1] / "examples" / "paper" / "profiles"
NAMES = ("inf2-neuron", "trn1-neuron", "g5-cuda-compile", "g6-cuda-compile", "g5-cuda")
HEADROOM = 0.8


def paper_units():
    out = []
    for name in NAMES:
        p = load_profile(PROFILES / f"{name}.yaml")
        spec = UnitSpec(
            profile=f"{name}.yaml", instance_types=[p.unit.instance_type], min_replicas=1, max_replicas=20
        )
        out.append(unit_model(name, spec, p))
    return tuple(out)


def highs_defaults(units, demand: float) -> float:
    """The same model with only the gap set: HiGHS's primal heuristics all on."""
    price = np.array([u.price_per_hour for u in units])
    cap = np.array([u.throughput * HEADROOM for u in units])
    res = milp(
        price,
        constraints=[LinearConstraint((cap / demand)[None, :], 1.0, np.inf)],
        integrality=np.ones(len(units)),
        bounds=Bounds([u.min_replicas for u in units], [u.max_replicas for u in units]),
        options={"mip_rel_gap": 0.0},
    )
    return float(price @ np.round(res.x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--demands", type=int, default=50)
    args = parser.parse_args()
    units = paper_units()
    available = {u.name: True for u in units}
    demands = np.linspace(0.5, 25.0, args.demands)
    shipped, defaults = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        costs = [plan_cost(units, solve_min_cost(units, available, d, HEADROOM)[1]) for d in demands]
        shipped.append((time.perf_counter() - t) / len(demands))
        t = time.perf_counter()
        reference = [highs_defaults(units, d) for d in demands]
        defaults.append((time.perf_counter() - t) / len(demands))
        assert np.allclose(costs, reference), "the two solvers disagree on a plan's cost"
    a, b = statistics.median(shipped) * 1e3, statistics.median(defaults) * 1e3
    print(f"optimal solve, paper fleet, {args.demands} demands x {args.rounds} rounds (median per solve):")
    print(f"  shipped (no feasibility jump): {a:.2f} ms")
    print(f"  HiGHS defaults:                {b:.2f} ms")
    print(f"  speed-up: {b / a:.1f}x; plans cost the same")


if __name__ == "__main__":
    main()
