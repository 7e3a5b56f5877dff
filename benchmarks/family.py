"""Reproduces `accelctl simulate --family 50 --seed 1` and prints its table and wall time.

Issue 12: on the family of one-day scenarios (examples/families/sd21-day.yaml) the fleet's default
policy should reach median SLO >= 99.9 %, p10 >= 99.5 %, median cost <= 1.10x the oracle, and never be
both dearer and lower in SLO than `static`; the family of 50 should run in a few minutes on 2 cores.
This runs the same code as the CLI (draw, process pool over os.cpu_count() workers, CSV, plot, JSON)
and says which goals the figures meet. Wall time depends on what else the machine runs: the load
average at the start and the end is printed beside it.

    python benchmarks/family.py [--members 50] [--seed 1] [--policy auto ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console

from accelctl.sim import family_run

REPO = Path(__file__).resolve().parents[1]
FAMILY = REPO / "examples" / "families" / "sd21-day.yaml"
GOALS = {"slo_median": 99.9, "slo_p10": 99.5, "cost_ratio_median": 1.10}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default=str(FAMILY), help="family file")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", action="append", help="policy to compare (repeat); default: the fleet's")
    parser.add_argument("--out", default=None, help="results folder; default simulate-results/<family>-...")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    fam = family_run.prepare(Path(args.family), args.members, args.seed, args.policy)
    results = family_run.run_family(fam.members, fam.base_path, fam.policies)
    doc = family_run.write_results(
        fam, results, Path(args.out) if args.out else family_run.default_out(fam), True
    )
    wall = time.perf_counter() - started
    console = Console(width=120)
    console.print(family_run.table(doc))
    console.print(family_run.LEGEND, markup=False, highlight=False)
    cpu = sum(r.cpu_s for r in results)
    console.print(
        f"accelctl simulate --family {args.members} --seed {args.seed}: {wall:.1f} s wall "
        f"({cpu:.0f} s CPU in {os.cpu_count()} workers; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)",
        markup=False,
        highlight=False,
    )
    d = doc["policies"].get(doc["default_policy"])
    if d is None:
        console.print(f"default policy {doc['default_policy']} not run: no goals checked", markup=False)
        return
    met = [
        f"{k} {d[k]:.3f} {'<=' if k.startswith('cost') else '>='} {goal}: "
        + ("met" if (d[k] <= goal if k.startswith("cost") else d[k] >= goal) else "NOT met")
        for k, goal in GOALS.items()
    ]
    met.append(
        f"dominated_by_static {d['dominated_by_static']} == 0: "
        + ("met" if d["dominated_by_static"] == 0 else "NOT met")
    )
    console.print(f"goals for the default policy {doc['default_policy']}: " + "; ".join(met), markup=False)


if __name__ == "__main__":
    main()
