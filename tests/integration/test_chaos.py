"""Chaos: SIGKILL one unit's server while the fleet is under load.

No client request may be lost (the router retries on the other unit) and the control loop (local
source -> auto policy -> router actuator) must move the weight away within two intervals. The servers
here are stand-in processes (accelctl.router.standin: the serve routes and metric names with a fixed
service time), so the test runs in seconds without a model.
"""

from __future__ import annotations

import sys
import threading
import time

import httpx
import numpy as np
import pytest

from accelctl.control.actuators import ACTUATORS
from accelctl.control.loop import Controller
from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.control.types import UnitModel
from accelctl.demo.load import LoadThread
from accelctl.demo.processes import Processes, accelctl_command
from accelctl.units import PolicySettings

pytestmark = pytest.mark.timeout(120)

INTERVAL_S = 1.0


def standin(name: str) -> list[str]:
    return [sys.executable, "-m", "accelctl.router.standin", "--name", name, "--service-time", "0.2", "--workers", "4"]


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigkill_loses_no_request_and_watch_moves_the_weight(tmp_path):
    with Processes(tmp_path / "logs", grace_s=5) as procs:
        cheap, fast = procs.start("cheap", standin("cheap")), procs.start("fast", standin("fast"))
        router = procs.start("router", accelctl_command(
            "router", "--backend", f"cheap={cheap.url}", "--backend", f"fast={fast.url}", "--pool", "cheap=spot",
            "--port", "0", "--health-interval", "0.5"))
        # T = 20 rps each, same latency; cheap costs a quarter as much: cost mode gives it 80 of 100.
        units = (UnitModel("cheap", 20.0, 0.2, 1e-6, 0.072, "spot"), UnitModel("fast", 20.0, 0.2, 4e-6, 0.288, "od"))
        controller = Controller(
            "auto", units, [UnitBinding("cheap", url=cheap.url), UnitBinding("fast", url=fast.url)],
            SOURCES.create("local", {"router_url": router.url}), ACTUATORS.create("router", {"admin_url": router.url}),
            PolicySettings(interval_s=INTERVAL_S, min_dwell_s=600),
        )
        applied: list[tuple[float, dict[str, int]]] = []
        controller.on_tick.append(lambda r: r.applied and applied.append((time.monotonic(), dict(r.after))))
        stop = threading.Event()
        loop = threading.Thread(target=controller.run, args=(time.monotonic, stop.wait, stop.is_set), daemon=True)
        loop.start()
        try:
            wait_for(lambda: applied and applied[-1][1] == {"cheap": 80, "fast": 20}, 10, "cost-mode weights")
            # 12 rps for 8 s: well within what fast alone serves (4 workers / 0.2 s = 20 rps).
            load = LoadThread(router.url, np.arange(0.0, 8.0, 1 / 12))
            load.start()

            def cheap_busy() -> bool:
                rows = httpx.get(router.url + "/admin/backends").json()
                return any(r["name"] == "cheap" and r["inflight"] > 0 for r in rows)

            time.sleep(2.0)
            wait_for(cheap_busy, 5, "a request in flight on cheap")  # so the kill cuts requests short
            procs.kill(cheap)
            killed_at = time.monotonic()
            load.join()
        finally:
            stop.set()
            loop.join(timeout=10)

        assert len(load.outcomes) == len(load.arrivals)
        assert sorted({o.status for o in load.outcomes}) == [200], "a client request was lost"
        moved = [t for t, w in applied if t > killed_at and w["cheap"] == 0]
        assert moved, f"weights never moved off cheap: {applied}"
        assert moved[0] - killed_at <= 2 * INTERVAL_S
        metrics = httpx.get(router.url + "/metrics").text
        retried = [line for line in metrics.splitlines() if line.startswith('accelctl_router_retries_total{backend="cheap"}')]
        assert retried and float(retried[0].split()[-1]) >= 1, "no request was cut short by the kill"
