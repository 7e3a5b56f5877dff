"""Issue 13, acceptance 4: `kill -9` of one of two backends under steady load loses no request.

Two stand-in backends run as processes (so the kill is a real SIGKILL: connections reset mid-request,
then refused); the router runs in-process; a bounded open-loop load offers half the fleet's capacity.
Requests queued on the killed backend are reset and retried on the survivor; requests the survivor
refuses while the burst drains come back with Retry-After and are sent again within the budget.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

import httpx
import pytest

from accelctl.demo.processes import Processes
from accelctl.router.config import Backend, RouterConfig
from accelctl.router.serve import router_thread

pytestmark = pytest.mark.timeout(600)

RUNS = 10
# Capacity per backend: WORKERS / SERVICE_S = 20 requests/s. --max-queue 2 (= WORKERS) makes a backend
# answer 503 + Retry-After to anything beyond what it is running, as a full real server would: the
# burst of reset requests then meets refusals on the survivor, the case that used to lose requests.
SERVICE_S, WORKERS = 0.1, 2
RATE = 20.0  # offered to the pair: half of their 40 requests/s
REQUESTS, KILL_AT = 40, 12  # per run; the kill comes after KILL_AT requests were sent


def standin(name: str) -> list[str]:
    return [
        sys.executable,
        *("-m", "accelctl.router.standin", "--name", name),
        *("--service-time", str(SERVICE_S), "--workers", str(WORKERS), "--max-queue", "2"),
    ]


async def steady_load(url: str, kill) -> Counter:
    """REQUESTS posts at RATE per second (open loop), `kill()` after KILL_AT; statuses counted."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one() -> str:
            try:
                resp = await client.post("/genimage", json={"prompt": "x"})
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return str(resp.status_code)

        tasks = []
        for i in range(REQUESTS):
            if i == KILL_AT:
                kill()
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(1 / RATE)
        return Counter(await asyncio.gather(*tasks))


def test_kill_9_of_one_backend_under_half_load_loses_no_request(tmp_path):
    lost: list[tuple[int, Counter]] = []
    reset_seen = 0
    for run in range(RUNS):
        with Processes(tmp_path / f"run{run}", grace_s=2) as procs:
            a, b = procs.spawn("a", standin("a")), procs.spawn("b", standin("b"))  # start side by side
            procs.wait_listening(a, 60)
            procs.wait_listening(b, 60)
            victim = (a, b)[run % 2]
            cfg = RouterConfig(
                backends=[Backend(name="a", url=a.url), Backend(name="b", url=b.url)],
                health_interval_s=0.5,
            )
            with router_thread(cfg) as r:
                got = asyncio.run(steady_load(r.url, lambda v=victim: procs.kill(v)))
                assert not victim.alive
                attempts = httpx.get(r.url + "/metrics").text
            if got != Counter({"200": REQUESTS}):
                lost.append((run, got))
            # The kill must have hit the victim while it had work, or the test proves little.
            reset_seen += (
                f'accelctl_router_requests_total{{backend="{victim.name}",status="error"}}' in attempts
            )
    assert lost == [], f"runs that lost requests: {lost}"
    assert reset_seen >= 1, "no run's kill cut an attempt short"
