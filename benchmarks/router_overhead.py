"""Latency the local router adds, measured in one run: direct to a backend vs through `accelctl router`.

Starts a backend (the stand-in server with a fixed service time and one worker, or --backend-url for a real
`accelctl serve`), starts `accelctl router` in front of it, then drives both with the same closed-loop load,
alternating direct and routed rounds so drift on a shared machine hits both alike. Reports p50 and p95 per
path (pooled) and the added p50 (median of per-round differences) at concurrency 1 (pure per-request
overhead) and at a concurrency that saturates the backend (the issue's goal: added p50 <= 1 ms).

    python benchmarks/router_overhead.py [--rounds 5] [--requests 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import numpy as np

GOAL_MS = 1.0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(cmd: list[str], stack: ExitStack) -> tuple[str, int]:
    """Start a process in its own group; return the URL from its 'listening on URL' line, and its pid."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    stack.callback(lambda: (proc.poll() is None and proc.send_signal(signal.SIGTERM), proc.wait(timeout=10)))
    line = proc.stdout.readline() if proc.stdout else ""
    found = re.search(r"listening on (http://\S+)", line)
    if not found:
        raise SystemExit(f"{cmd[0]} did not start: {line!r}")
    return found.group(1), proc.pid


async def closed_loop(url: str, concurrency: int, requests: int, body: bytes) -> list[float]:
    """`concurrency` workers send `requests` requests in total back to back; latencies in seconds."""
    left = requests
    out: list[float] = []
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                t = time.perf_counter()
                async with s.post(
                    url + "/genimage", data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"{url} answered {r.status}")
                out.append(time.perf_counter() - t)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def measure(
    direct: str, routed: str, router_pid: int, concurrency: int, rounds: int, requests: int, body: bytes
) -> dict:
    """Paired rounds, order alternating; the added p50 is the median of the per-round differences,
    so a burst of load from elsewhere on the machine spoils one pair, not the figure."""
    paths = {"direct": direct, "routed": routed}
    lat: dict[str, list[float]] = {"direct": [], "routed": []}
    walls = {"direct": 0.0, "routed": 0.0}
    diffs: list[float] = []
    router_cpu = 0.0
    for url in paths.values():  # warm-up: connections, first-request code paths
        asyncio.run(closed_loop(url, concurrency, max(concurrency * 4, 20), body))
    for i in range(rounds):
        p50 = {}
        for name in ("direct", "routed") if i % 2 == 0 else ("routed", "direct"):
            t, cpu = time.perf_counter(), cpu_seconds(router_pid)
            xs = asyncio.run(closed_loop(paths[name], concurrency, requests, body))
            walls[name] += time.perf_counter() - t
            if name == "routed" and cpu is not None:
                router_cpu += (cpu_seconds(router_pid) or cpu) - cpu
            lat[name] += xs
            p50[name] = float(np.percentile(xs, 50))
        diffs.append(p50["routed"] - p50["direct"])
    row: dict = {"concurrency": concurrency}
    for name, xs in lat.items():
        a = np.asarray(xs) * 1e3
        row[name] = {
            "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)),
            "rps": len(xs) / walls[name],
            "n": len(xs),
        }
    row["added_p50_ms"] = float(np.median(diffs)) * 1e3
    row["added_p50_ms_per_round"] = [d * 1e3 for d in diffs]
    # CPU the router spent per request: what it adds on an idle core, whatever the machine's load.
    row["router_cpu_us_per_request"] = router_cpu / len(lat["routed"]) * 1e6 if router_cpu else None
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend-url", help="measure against this server instead of the stand-in")
    p.add_argument("--service-time", type=float, default=0.01, help="stand-in seconds per request")
    p.add_argument("--saturating", type=int, default=8, help="concurrency that saturates the backend")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--requests", type=int, default=150, help="requests per round and path")
    p.add_argument("--body", default='{"prompt": "a lighthouse at dawn", "steps": 2}')
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    with ExitStack() as stack:
        backend = (
            a.backend_url
            or start(
                [
                    sys.executable,
                    "-m",
                    "accelctl.router.standin",
                    "--service-time",
                    str(a.service_time),
                    "--workers",
                    "1",
                ],
                stack,
            )[0]
        )
        cli = [sys.executable, "-c", "from accelctl.cli import main; main()"]
        router, router_pid = start(cli + ["router", "--backend", f"unit={backend}", "--port", "0"], stack)
        rows = [
            measure(backend, router, router_pid, c, a.rounds, a.requests, a.body.encode())
            for c in (1, a.saturating)
        ]
    saturated = rows[-1]
    result = {
        "backend": "stand-in" if not a.backend_url else a.backend_url,
        "service_time_s": a.service_time,
        "rows": rows,
        "goal_ms": GOAL_MS,
        "goal_met": saturated["added_p50_ms"] <= GOAL_MS,
    }
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"backend: {result['backend']} (service time {a.service_time * 1e3:.0f} ms, 1 worker)"
        if not a.backend_url
        else f"backend: {a.backend_url}"
    )
    print(
        f"{'concurrency':>11} {'direct p50':>11} {'routed p50':>11} {'added p50':>10} {'direct p95':>11} "
        f"{'routed p95':>11} {'direct rps':>11} {'routed rps':>11} {'router CPU/req':>15}"
    )
    for r in rows:
        d, x = r["direct"], r["routed"]
        cpu = "n/a" if r["router_cpu_us_per_request"] is None else f"{r['router_cpu_us_per_request']:.0f} us"
        print(
            f"{r['concurrency']:>11} {d['p50_ms']:>9.2f}ms {x['p50_ms']:>9.2f}ms {r['added_p50_ms']:>8.2f}ms "
            f"{d['p95_ms']:>9.2f}ms {x['p95_ms']:>9.2f}ms {d['rps']:>11.1f} {x['rps']:>11.1f} {cpu:>15}"
        )
    print(
        f"added p50 at saturation (concurrency {saturated['concurrency']}): "
        f"{saturated['added_p50_ms']:.2f} ms "
        f"(goal <= {GOAL_MS:.0f} ms: {'met' if result['goal_met'] else 'NOT met'}); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: on a busy machine the figure is mostly "
        "waiting for a core"
    )


if __name__ == "__main__":
    main()
