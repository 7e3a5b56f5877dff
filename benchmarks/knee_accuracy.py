"""How close the breaking-point search comes to a known capacity, and in how many probes.

For each (workers, service time) the test server (tests/integration/bench_capacity_server.py) has a true
capacity of workers / service_time requests/s. The script runs `accelctl bench --url`'s search against it
in closed-loop and open-loop mode and prints the error in % and the probe count, measured in this run.

    python benchmarks/knee_accuracy.py [--modes closed open] [--min-requests 20] [--min-seconds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from bench_capacity_server import running  # noqa: E402

from accelctl.bench.knee import Search  # noqa: E402
from accelctl.bench.load import Endpoint, ProbeLength, endpoint_bench  # noqa: E402
from accelctl.bench.shapes import REQUEST_SHAPES  # noqa: E402

CAPACITIES = [(1, 0.1), (2, 0.25), (3, 0.1), (4, 0.2), (8, 0.2), (16, 0.4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", default=["closed", "open"], choices=["closed", "open"])
    ap.add_argument("--min-requests", type=int, default=20)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    args = ap.parse_args()
    length = ProbeLength(args.min_requests, args.min_seconds, 30.0)
    print(
        f"probe length: >= {length.min_requests} requests and >= {length.min_seconds:g} s; "
        f"SLO p95 0.9 s; tolerance 5 %; load average at start {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs"
    )
    header = (
        f"{'mode':6} {'workers':>7} {'service s':>9} {'true rps':>8} {'found rps':>9} {'error %':>8} "
        f"{'probes':>6} {'secs':>5}  stopped"
    )
    print(header)
    print("-" * len(header))
    for mode in args.modes:
        for workers, service in CAPACITIES:
            true = workers / service
            t0 = time.perf_counter()
            with running(workers, service) as url:
                run = endpoint_bench(
                    Endpoint(url, REQUEST_SHAPES.get("genimage"), timeout_s=30.0),
                    Search(mode=mode),
                    length,
                    baseline=5,
                    warmup=1,
                )
            found = run.outcome.breaking_point_rps
            err = "-" if found is None else f"{100 * (found / true - 1):+.1f}"
            print(
                f"{mode:6} {workers:7d} {service:9.2f} {true:8.1f} {found or 0:9.2f} {err:>8} "
                f"{len(run.probes):6d} {time.perf_counter() - t0:5.0f}  {run.outcome.reason}",
                flush=True,
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
