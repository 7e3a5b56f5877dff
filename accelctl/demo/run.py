"""`accelctl demo`: build, bench, serve, route, load, watch, fault, failover, restore, fallback, summary.

Everything runs on this machine: CPU builds of the `tiny` preset stand in for accelerators, one
`accelctl serve` process per deployment unit for pods, `accelctl router` for the ALB, and the same
Controller `watch` runs (local source, auto policy, router actuator) decides the weights.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from accelctl.control.sources.base import UnitBinding
from accelctl.control.timeline import TickRecord, shortage_timeline, tick_record
from accelctl.demo.plan import Plan, plan
from accelctl.demo.processes import Child, Processes, accelctl_command, interrupt_on_sigterm
from accelctl.demo.summary import DemoSummary, summarize
from accelctl.errors import AccelctlError
from accelctl.units import (
    Catalog,
    DeploymentUnit,
    FleetSpec,
    PolicySettings,
    Profile,
    ResolvedUnit,
    UnitSpec,
    resolve_fleet,
)

MODEL = "tiny"
REGION = "local"
# (target, instance type): the eager build on the cheap stand-in pool, the compiled one on the dear one.
UNITS = (("cpu", "local-cheap"), ("cpu-compile", "local-fast"))
# One core per server: two servers sharing a laptop's cores each with a full thread pool run many
# times slower than with one thread each (measured: seconds instead of ~0.3 s per tiny image).
SERVER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SERVER_GRACE_S = 5.0
START_TIMEOUT_S = 600.0  # import torch, load and warm up a build on a busy machine


def demo_catalog() -> Catalog:
    from accelctl.files import load_model

    with resources.as_file(resources.files("accelctl") / "data" / "demo" / "catalog.yaml") as path:
        return load_model(path, Catalog)


@dataclass
class Unit:
    """One deployment unit of the demo fleet and its live server."""

    target: str
    instance_type: str
    build: Path | None = None
    child: Child | None = None
    url: str | None = None
    profile: Profile | None = None
    uptime_s: float = 0.0
    up_since: float | None = None

    @property
    def name(self) -> str:
        return DeploymentUnit(model=MODEL, instance_type=self.instance_type, target=self.target).name


@dataclass
class Record:
    """What the live phase saw, for the view and the summary."""

    ticks: list[TickRecord] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)  # (wall time, what happened)
    fault_at: float | None = None
    restored_at: float | None = None

    def event(self, text: str, say: Callable[[str], None]) -> None:
        self.events.append((time.time(), text))
        say(text)


@dataclass(frozen=True)
class DemoConfig:
    duration_s: float = 90.0
    workdir: Path = Path("accelctl-demo")
    builds: Path = Path("model_builds")
    headless: bool = False
    slo_s: float = 0.9
    seed: int = 0


class Demo:
    def __init__(self, config: DemoConfig, say: Callable[[str], None]):
        self.config = config
        self.plan: Plan = plan(config.duration_s)
        self.say = say
        self.units = [Unit(t, i) for t, i in UNITS]
        self.catalog = demo_catalog()
        self.record = Record()

    # ---------------------------------------------------------------- the whole run

    def run(self, procs: Processes, live_view: Callable) -> DemoSummary:
        self.build()
        self.start_servers(procs)
        self.bench()
        fleet = self.write_fleet()
        # The profiles just measured, from memory: what watch would read back from the files written.
        units = resolve_fleet(
            fleet, {f"{u.name}.yaml": u.profile for u in self.units}, str(self.config.workdir / "fleet.yaml")
        )
        router = self.start_router(procs, units)
        return self.live(procs, router, fleet, units, live_view)

    # ---------------------------------------------------------------- steps

    def build(self) -> None:
        from accelctl.builds import compile_build

        for u in self.units:
            started = time.monotonic()
            self.say(f"build {MODEL} for {u.target} (reused when {self.config.builds} already has it)")
            u.build = compile_build(MODEL, u.target, out=self.config.builds, reuse=True)
            self.say(f"  {u.build}  ({time.monotonic() - started:.1f} s)")

    def start_servers(self, procs: Processes) -> None:
        for u in self.units:
            self._spawn_server(procs, u, port=0)
        for u in self.units:
            self._await_server(procs, u)
            self.say(f"serve {u.name} on {u.url}")

    def _spawn_server(self, procs: Processes, u: Unit, port: int) -> None:
        assert u.build is not None
        u.child = procs.spawn(
            u.name,
            accelctl_command(
                "serve",
                str(u.build),
                "--port",
                str(port),
                "--unit-name",
                u.name,
                "--instance-type",
                u.instance_type,
                "--grace",
                str(SERVER_GRACE_S),
                "--log-level",
                "warning",
            ),
            env=SERVER_ENV,
        )

    def _await_server(self, procs: Processes, u: Unit) -> None:
        import httpx

        assert u.child is not None
        u.url = procs.wait_listening(u.child, START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # listening comes before the warm-up image: ready is what counts
            try:
                if httpx.get(u.url + "/readiness", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if not u.child.alive:
                raise AccelctlError(
                    f"{u.name} exited during warm-up; see {u.child.log}:\n{u.child.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AccelctlError(f"{u.name} not ready within {START_TIMEOUT_S:.0f} s; see {u.child.log}")
            time.sleep(0.2)
        u.up_since = time.monotonic()

    def bench(self) -> None:
        from accelctl.demo.bench import bench_unit
        from accelctl.files import save_model

        for u in self.units:
            assert u.url is not None and u.build is not None
            self.say(f"bench {u.name}: latency, then the breaking point at p95 <= {self.config.slo_s:g} s")
            u.profile = bench_unit(
                u.url,
                u.build,
                DeploymentUnit(model=MODEL, instance_type=u.instance_type, target=u.target),
                self.catalog,
                REGION,
                self.config.slo_s,
            )
            save_model(self.config.workdir / "profiles" / f"{u.name}.yaml", u.profile)
            p = u.profile
            self.say(
                f"  L {p.latency.mean:.3f} s, T {p.breaking_point_rps:.2f} rps, C "
                f"${p.cost_per_inference:.2e}, "
                f"${p.instance_price_per_hour:.2f}/h"
            )

    def write_fleet(self) -> FleetSpec:
        from accelctl.files import save_model

        p = self.plan
        fleet = FleetSpec(
            name="accelctl-demo",
            slo_s=self.config.slo_s,
            # The demo compresses time: the dwell is seconds, and a pool the router marks available
            # again is trusted after one interval rather than the production hold of minutes.
            policy=PolicySettings(
                mode="auto",
                interval_s=p.interval_s,
                min_dwell_s=p.min_dwell_s,
                capacity_hold_s=p.interval_s,
                stale_after_s=max(10 * p.interval_s, 30.0),
            ),
            units=[
                UnitSpec(
                    name=u.name,
                    profile=f"{u.name}.yaml",
                    instance_types=[u.instance_type],
                    node_pool=u.instance_type,
                    min_replicas=1,
                    max_replicas=1,
                )
                for u in self.units
            ],
        )
        save_model(self.config.workdir / "fleet.yaml", fleet)
        return fleet

    def start_router(self, procs: Processes, units: tuple[ResolvedUnit, ...]) -> str:
        from accelctl.control.policy import initial_weights

        weights = initial_weights(units)
        args = ["router", "--port", "0", "--health-interval", "0.5"]
        for u in self.units:
            args += [
                "--backend",
                f"{u.name}={u.url}",
                "--weights",
                f"{u.name}={weights[u.name]}",
                "--pool",
                f"{u.name}={u.instance_type}",
            ]
        url = procs.start("router", accelctl_command(*args), timeout_s=60).url
        assert url is not None
        self.say(f"router on {url}, cost-mode weights {weights}")
        work = self.config.workdir
        self.say(
            "watch runs in-process; from another shell the same loop is: accelctl watch --fleet "
            f"{work / 'fleet.yaml'} "
            f"--profiles {work / 'profiles'} --source local --source-opt router_url={url} "
            f"--actuator router --actuator-opt admin_url={url} --dry-run"
        )
        return url

    # ---------------------------------------------------------------- the live phase

    def live(
        self,
        procs: Processes,
        router: str,
        fleet: FleetSpec,
        models: tuple[ResolvedUnit, ...],
        live_view: Callable,
    ) -> DemoSummary:
        import numpy as np

        from accelctl.control.actuators import ACTUATORS
        from accelctl.control.loop import Controller, jsonl_audit
        from accelctl.control.sources import SOURCES
        from accelctl.demo.load import LoadThread, arrival_times
        from accelctl.router.client import RouterClient
        from accelctl.sim.load import shape_rate
        from accelctl.sim.scenario import Wave

        p, rec = self.plan, self.record
        by_name = {u.name: u for u in self.units}
        # The faulted unit is the one cost mode leans on most: losing it is what forces a failover.
        cheap = self._cheapest(models)
        fast_t = min(m.throughput_rps for m in models if m.name != cheap)
        # Cosine between 10 % and 40 % of what the other unit alone sustains: it must carry it all
        # during the fault.
        wave = Wave(
            kind="wave",
            min_rps=0.1 * fast_t,
            max_rps=0.4 * fast_t,
            period=p.duration_s,
            peak_at=p.duration_s / 2,
        )
        arrivals = arrival_times(
            lambda t: shape_rate(wave, t, Path("."), "load"),
            wave.max_rps,
            p.duration_s,
            np.random.default_rng(self.config.seed),
        )
        controller = Controller(
            fleet.policy.mode,
            models,
            [UnitBinding(m.name, pool=m.pool, url=by_name[m.name].url) for m in models],
            SOURCES.create("local", {"router_url": router}),
            ACTUATORS.create("router", {"admin_url": router}),
            fleet.policy,
            headroom=fleet.headroom,
            audit=jsonl_audit(self.config.workdir / "audit.jsonl"),
        )
        controller.on_tick.append(lambda r: rec.ticks.append(tick_record(r)) if r.decision else None)
        admin = RouterClient(router)
        load = LoadThread(router, arrivals, timeout_s=60.0)
        stop = threading.Event()
        loop = threading.Thread(
            target=controller.run,
            args=(time.time, stop.wait, stop.is_set),
            name="accelctl-demo-watch",
            daemon=True,
        )
        restart: threading.Thread | None = None
        restart_error: list[BaseException] = []
        self.say(
            f"load: cosine {wave.min_rps:.2f}..{wave.max_rps:.2f} rps for {p.duration_s:.0f} s "
            f"({len(arrivals)} requests); "
            f"fault at {p.fault_at:.0f} s, restore from {p.restore_at:.0f} s, dwell {p.min_dwell_s:.0f} s"
        )
        view = live_view(controller, rec, load, p)
        try:
            loop.start()
            load.start()
            start = time.monotonic()
            while True:
                elapsed = time.monotonic() - start
                view.refresh(elapsed)
                if rec.fault_at is None and elapsed >= p.fault_at:
                    self._fault(procs, admin, by_name[cheap])
                    restart = threading.Thread(
                        target=self._restart,
                        args=(procs, by_name[cheap], restart_error),
                        name="accelctl-demo-restart",
                        daemon=True,
                    )
                    restart.start()
                if restart_error:
                    raise AccelctlError(f"restarting {cheap} failed: {restart_error[0]}")
                if (
                    rec.restored_at is None
                    and rec.fault_at is not None
                    and elapsed >= p.restore_at
                    and restart is not None
                    and not restart.is_alive()
                ):
                    admin.set_pool_available(by_name[cheap].instance_type, True)
                    rec.restored_at = time.time()
                    rec.event(
                        f"restore: pool {by_name[cheap].instance_type} available again, {cheap} serving",
                        self.say,
                    )
                fell_back = rec.restored_at is not None and self._timeline(rec, cheap).fallback is not None
                # The load ends on time; a fallback still in its dwell gets the overtime to show.
                if elapsed >= p.duration_s and (fell_back or elapsed >= p.duration_s + p.overtime_s):
                    break
                time.sleep(0.25)
            load.stop()
            served = self._served_by_unit(router)
        finally:
            stop.set()
            loop.join(timeout=10)
            load.stop()
            controller.source.close()
            controller.actuator.close()
            admin.close()
            view.close()
        now = time.monotonic()
        for u in self.units:
            if u.up_since is not None:
                u.uptime_s += now - u.up_since
        line = self._timeline(rec, cheap)
        over, back = line.failover, line.fallback
        return summarize(
            load.outcomes,
            fleet.slo_s,
            served,
            {m.name: m.cost_per_inference for m in models},
            {m.name: m.replica_price_per_hour for m in models},
            {u.name: u.uptime_s for u in self.units},
            rec.fault_at,
            rec.restored_at,
            over,
            back,
            p.min_dwell_s,
        )

    @staticmethod
    def _timeline(rec: Record, cheap: str):
        """The shortage as simulate reads one (control/timeline.py): the router reports the pool short
        from the fault on, so the fault is the first capacity signal."""
        fault = rec.fault_at if rec.fault_at is not None else float("inf")
        return shortage_timeline(rec.ticks, [cheap], fault, rec.restored_at, rec.fault_at)

    @staticmethod
    def _cheapest(models) -> str:
        from accelctl.control.policy import initial_weights

        weights = initial_weights(models)
        return max(sorted(weights), key=lambda n: weights[n])

    def _fault(self, procs: Processes, admin, u: Unit) -> None:
        admin.set_pool_available(u.instance_type, False)
        self.record.fault_at = time.time()
        self.record.event(f"fault: pool {u.instance_type} has no capacity; stopping {u.name}", self.say)
        assert u.child is not None
        procs.stop(u.child, grace_s=SERVER_GRACE_S + 2)
        if u.up_since is not None:
            u.uptime_s += time.monotonic() - u.up_since
            u.up_since = None

    def _restart(self, procs: Processes, u: Unit, errors: list[BaseException]) -> None:
        """Start the stopped unit again on its old port (the router's backend URL), as a new node would."""
        try:
            assert u.url is not None
            self._spawn_server(procs, u, port=int(u.url.rsplit(":", 1)[1]))
            self._await_server(procs, u)
            self.record.event(f"{u.name} restarted and warm (its pool is still marked unavailable)", self.say)
        except BaseException as exc:  # reported by the main thread, which owns the run
            errors.append(exc)

    @staticmethod
    def _served_by_unit(router: str) -> dict[str, int]:
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        from accelctl.router import metrics as names

        served: dict[str, int] = {}
        for family in text_string_to_metric_families(httpx.get(router + "/metrics", timeout=5).text):
            for s in family.samples:
                if s.name == names.REQUESTS and s.labels.get("status") == "200":
                    served[s.labels["backend"]] = served.get(s.labels["backend"], 0) + int(s.value)
        return served


def run(config: DemoConfig, say: Callable[[str], None], live_view: Callable) -> DemoSummary:
    """The whole demo; every process it started is stopped when it returns, raises or is interrupted."""
    demo = Demo(config, say)  # checks the options before anything is written
    config.workdir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with (
        interrupt_on_sigterm(),
        Processes(config.workdir / "logs" / stamp, grace_s=SERVER_GRACE_S + 5) as procs,
    ):
        return demo.run(procs, live_view)
