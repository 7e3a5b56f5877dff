"""Wall time of `accelctl simulate` for 24 simulated hours at 100 requests/s mean on the paper's fleet.

Goal (issue 12): one policy over 24 simulated hours of the five-unit paper fleet in <= 5 s on the
development machine (2 cores). Wall time depends on what else runs: the CPU time of the run and the
load average are printed beside it. The scenario is examples/scenarios/cost-wave.yaml (a 20-180 rps
cosine, mean 100 rps, 1 day; its 1 h warm-up is simulated too and included in the time). Each policy
runs once, in this process, through the same code as the CLI: trace, fleet, Controller ticks.

    python benchmarks/simulate_speed.py [--scenario FILE] [--policy plan] [--policy static ...]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from accelctl.sim.run import make_trace, run_policy
from accelctl.sim.scenario import load_scenario

GOAL_S = 5.0
SCENARIO = Path(__file__).resolve().parents[1] / "examples" / "scenarios" / "cost-wave.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(SCENARIO))
    parser.add_argument(
        "--policy", action="append", help="policy to time (repeat); default: the fleet's, auto and static"
    )
    args = parser.parse_args()

    loaded = load_scenario(args.scenario, args.policy)
    sc = loaded.scenario
    started = time.perf_counter()
    trace = make_trace(loaded)
    trace_s = time.perf_counter() - started
    hours = (sc.duration + sc.warmup) / 3600
    print(
        f"{sc.name}: {sc.duration / 3600:.0f} h + {sc.warmup / 3600:.1f} h warm-up, "
        f"{len(loaded.units)} units, "
        f"mean {trace.measured_rates.mean():.1f} rps, {len(trace.rates)} steps of {trace.step_s:g} s "
        f"(trace built in {trace_s:.2f} s)"
    )
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for policy in args.policy or list(dict.fromkeys([loaded.default_policy, "auto", "static"])):
        started, cpu = time.perf_counter(), time.process_time()
        run = run_policy(loaded, trace, policy)
        wall = time.perf_counter() - started + trace_s
        cpu = time.process_time() - cpu + trace_s
        ticks = sum(1 for _ in run.modes)
        print(
            f"{policy:12s} {wall:6.2f} s wall, {cpu:6.2f} s CPU for {hours:.0f} simulated h "
            f"({ticks} controller ticks): CPU {cpu / GOAL_S:.2f}x the {GOAL_S:.0f} s goal, "
            f"{hours * 3600 / wall:,.0f}x real time"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
