"""What `accelctl serve` adds to a request: latency through the server vs a direct pipeline call.

Both are measured in one run on the same build at concurrency 1: the build is loaded here and served
by a real `accelctl serve` process on 127.0.0.1, and the two calls alternate (same prompt and seed,
which goes first flips every round) so drift on a shared machine hits both alike. The server's side
includes PNG encoding, base64, JSON, HTTP and the hop to the model thread. Goal: overhead <= 2 %.

The two processes take turns on the same cores. torch runs with --threads intra-op threads in both
(default 1): with two OpenMP teams spinning against each other on a small shared machine the
figures measure the contention, not the server. As a second view that no cross-process noise can
touch, the server's own report of model time (the `latency` field) is subtracted from each served
call's client-side time: what is left is everything the server adds around the model.

    python benchmarks/serve_overhead.py --build model_builds/tiny/cpu-64x64-b1 [--rounds 80]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

GOAL_PCT = 2.0


def start_server(build: Path) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-c",
        "from accelctl.cli import main; main()",
        "serve",
        str(build),
        "--port",
        "0",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    url: list[str] = []

    def read():
        for line in proc.stdout:
            if not url and " on http://" in line:
                url.append(line.rsplit(" on ", 1)[1].strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 300
    while not url or httpx.get(url[0] + "/readiness").status_code != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("accelctl serve did not become ready")
        time.sleep(0.1)
    return proc, url[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, required=True, help="build folder (accelctl compile's output)")
    ap.add_argument("--rounds", type=int, default=80, help="timed calls of each kind")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls of each kind first")
    ap.add_argument("--prompt", default="a lighthouse on a cliff at dusk")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads in both processes")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch loads, here and in the server

    from accelctl.builds import load_pipeline

    pipeline = load_pipeline(args.build)
    proc, base = start_server(args.build)
    direct: list[float] = []
    served: list[float] = []
    around_model: list[float] = []  # client-side time minus the server's reported model time
    try:
        with httpx.Client(base_url=base, timeout=300) as client:  # one keep-alive connection, like a LB's

            def call_direct(seed: int) -> float:
                t0 = time.perf_counter()
                pipeline.generate(args.prompt, seed)
                return time.perf_counter() - t0

            def call_served(seed: int) -> float:
                t0 = time.perf_counter()
                r = client.post("/genimage", json={"prompt": args.prompt, "seed": seed})
                elapsed = time.perf_counter() - t0
                r.raise_for_status()
                around_model.append(elapsed - r.json()["latency"])
                return elapsed

            for i in range(args.warmup):
                call_direct(i), call_served(i)
            around_model.clear()
            for i in range(args.rounds):
                if i % 2:
                    direct.append(call_direct(i))
                    served.append(call_served(i))
                else:
                    served.append(call_served(i))
                    direct.append(call_direct(i))
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    d_med, s_med = statistics.median(direct), statistics.median(served)
    d_mean, s_mean = statistics.fmean(direct), statistics.fmean(served)
    # Each round's two calls ran back to back, so their difference cancels the slow drift of a shared
    # machine; the median of those differences is the headline.
    paired = statistics.median(s - d for s, d in zip(served, direct, strict=False))
    overhead = 100 * paired / d_med
    around = statistics.median(around_model)
    print(f"build: {args.build}  rounds: {args.rounds} of each, concurrency 1, torch threads {args.threads}")
    print(f"{'':24}{'median ms':>12}{'mean ms':>12}")
    print(f"{'direct pipeline call':24}{d_med * 1e3:12.2f}{d_mean * 1e3:12.2f}")
    print(f"{'through accelctl serve':24}{s_med * 1e3:12.2f}{s_mean * 1e3:12.2f}")
    print(
        f"overhead (median of paired differences): {paired * 1e3:+.2f} ms = {overhead:+.2f} % of a "
        "direct call; "
        f"goal <= {GOAL_PCT:g} %: {'met' if overhead <= GOAL_PCT else 'NOT met'}"
    )
    print(
        f"  (difference of medians {100 * (s_med - d_med) / d_med:+.2f} %, of means "
        f"{100 * (s_mean - d_mean) / d_mean:+.2f} %)"
    )
    print(
        f"server time around the model (HTTP, JSON, base64, admission; median): {around * 1e3:.2f} ms "
        f"= {100 * around / d_med:.2f} % of a direct call"
    )


if __name__ == "__main__":
    main()
