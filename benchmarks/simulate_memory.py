"""Peak resident memory of `accelctl simulate` on a 7-day scenario (issue 13: must stay under 1 GB).

The scenario is examples/scenarios/cost-wave.yaml stretched to 7 days (its fleet, profiles and load
unchanged, plus the 1 h warm-up), run for every policy of the scenario but the oracle, whose LP over
a week does not solve within the scenario's 120 s time limit (ask for it with --policy oracle).
The CLI runs in a child process, plots and all, and the
figure is the child's peak RSS as the kernel counts it (getrusage RUSAGE_CHILDREN, ru_maxrss).

    python benchmarks/simulate_memory.py [--days 7] [--policy auto ...]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

GOAL_MIB = 1024.0
REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "examples" / "scenarios" / "cost-wave.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--policy", action="append", help="policy to run (repeat); default: the scenario's")
    parser.add_argument("--no-plots", action="store_true", help="leave the PNG plots out")
    args = parser.parse_args()

    sc = yaml.safe_load(SCENARIO.read_text())
    sc["duration"] = f"{args.days:g}d"
    sc["fleet"] = str((SCENARIO.parent / sc["fleet"]).resolve())
    sc["profiles"] = str((SCENARIO.parent / sc["profiles"]).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "week.yaml"
        path.write_text(yaml.safe_dump(sc, sort_keys=False))
        cmd = [sys.executable, "-c", "from accelctl.cli import main; main()", "simulate", str(path)]
        cmd += ["--out", str(Path(tmp) / "out")]
        policies = args.policy or [p for p in sc["policies"] if p != "oracle"]
        for p in policies:
            cmd += ["--policy", p]
        if args.no_plots:
            cmd.append("--no-plots")
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"simulate failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    policies = ", ".join(policies) + ("" if args.no_plots else "; plots written")
    print(
        f"{sc['name']} stretched to {args.days:g} days ({policies}): peak RSS {peak_mib:,.0f} MiB, "
        f"{peak_mib / GOAL_MIB:.2f}x the {GOAL_MIB:,.0f} MiB goal; {wall:.1f} s wall"
    )


if __name__ == "__main__":
    main()
