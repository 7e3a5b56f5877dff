"""Chaos: SIGKILL one unit's server while the fleet is under load.

No client request may be lost (the router retries on the other unit) and the control loop (local
source -> auto policy -> router actuator) must move the weight away within two intervals. Run twice:
with stand-in servers (accelctl.router.standin: the serve routes and metric names with a fixed
service time; seconds, no model) and, marked slow, with real `accelctl serve` processes of the tiny
cpu build.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from fake_units import fake_unit

from accelctl.control.actuators import ACTUATORS
from accelctl.control.loop import Controller
from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.demo.load import LoadThread
from accelctl.demo.processes import Processes, accelctl_command
from accelctl.units import PolicySettings

pytestmark = pytest.mark.timeout(300)

INTERVAL_S = 1.0


@dataclass(frozen=True)
class Fleet:
    command: Callable[[str], list[str]]  # unit name -> command line of its server
    env: dict
    latency_s: float  # one request, alone
    rate: float  # offered requests/s: fast alone must carry it
    seconds: float  # how long the load runs; the kill comes at a third of it


def standin_fleet() -> Fleet:
    def command(name: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "accelctl.router.standin",
            "--name",
            name,
            "--service-time",
            "0.2",
            "--workers",
            "4",
        ]

    # 4 workers / 0.2 s = 20 rps per unit; 12 rps is well within what one carries.
    return Fleet(command, {}, 0.2, 12.0, 8.0)


@pytest.fixture(params=["standin", pytest.param("serve", marks=pytest.mark.slow)])
def fleet(request) -> Fleet:
    if request.param == "standin":
        return standin_fleet()
    build = request.getfixturevalue("tiny_cpu_build")

    def command(name: str) -> list[str]:
        return accelctl_command(
            "serve", str(build), "--port", "0", "--unit-name", name, "--grace", "2", "--log-level", "warning"
        )

    # One thread per server (two servers share the cores): ~0.3 s per tiny image, ~3 rps each.
    return Fleet(command, {"OMP_NUM_THREADS": "1"}, 0.3, 1.5, 15.0)


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readiness").status_code == 200
    except httpx.HTTPError:
        return False


def test_sigkill_loses_no_request_and_watch_moves_the_weight(tmp_path, fleet):
    with Processes(tmp_path / "logs", grace_s=5) as procs:
        cheap = procs.start("cheap", fleet.command("cheap"), timeout_s=240, env=fleet.env)
        fast = procs.start("fast", fleet.command("fast"), timeout_s=240, env=fleet.env)
        wait_for(lambda: ready(cheap.url) and ready(fast.url), 240, "both servers ready")
        router = procs.start(
            "router",
            accelctl_command(
                "router",
                "--backend",
                f"cheap={cheap.url}",
                "--backend",
                f"fast={fast.url}",
                "--pool",
                "cheap=spot",
                "--port",
                "0",
                "--health-interval",
                "0.5",
            ),
        )
        # Same T and latency; cheap costs a quarter as much: cost mode gives it 80 of 100.
        t = 1 / fleet.latency_s
        units = (
            fake_unit("cheap", t, fleet.latency_s, 0.1, "spot"),
            fake_unit("fast", t, fleet.latency_s, 0.4, "on-demand"),
        )
        controller = Controller(
            "auto",
            units,
            [UnitBinding("cheap", url=cheap.url), UnitBinding("fast", url=fast.url)],
            SOURCES.create("local", {"router_url": router.url}),
            ACTUATORS.create("router", {"admin_url": router.url}),
            PolicySettings(interval_s=INTERVAL_S, min_dwell_s=600),
        )
        applied: list[tuple[float, dict[str, int]]] = []
        controller.on_tick.append(lambda r: r.applied and applied.append((time.monotonic(), dict(r.after))))
        stop = threading.Event()
        loop = threading.Thread(
            target=controller.run, args=(time.monotonic, stop.wait, stop.is_set), daemon=True
        )
        loop.start()
        try:
            wait_for(lambda: applied and applied[-1][1] == {"cheap": 80, "fast": 20}, 10, "cost-mode weights")
            load = LoadThread(router.url, np.arange(0.0, fleet.seconds, 1 / fleet.rate))
            load.start()

            def cheap_busy() -> bool:
                rows = httpx.get(router.url + "/admin/backends").json()
                return any(r["name"] == "cheap" and r["inflight"] > 0 for r in rows)

            time.sleep(fleet.seconds / 3)
            wait_for(
                cheap_busy, fleet.seconds / 3, "a request in flight on cheap"
            )  # so the kill cuts one short
            procs.kill(cheap)
            killed_at = time.monotonic()
            load.join()
        finally:
            stop.set()
            loop.join(timeout=10)
            controller.source.close()

        assert len(load.outcomes) == len(load.arrivals)
        assert sorted({o.status for o in load.outcomes}) == [200], "a client request was lost"
        moved = [t for t, w in applied if t > killed_at and w["cheap"] == 0]
        assert moved, f"weights never moved off cheap: {applied}"
        assert moved[0] - killed_at <= 2 * INTERVAL_S
        metrics = httpx.get(router.url + "/metrics").text
        retried = [
            line
            for line in metrics.splitlines()
            if line.startswith('accelctl_router_retries_total{backend="cheap"}')
        ]
        assert retried and float(retried[0].split()[-1]) >= 1, "no request was cut short by the kill"
