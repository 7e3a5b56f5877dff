"""Run a scenario: one simulated fleet per policy, all on the same trace, plus the oracle.

Controller policies (plan, auto, cost, capacity, paper, ...) run in the real `Controller`, reading a
SimSource and writing a SimActuator, ticked by `Controller.run` on the fleet's simulated clock: its
`sleep` advances the fleet. The fleet starts `warmup` seconds before time 0, routed by the policy's first
decision on a healthy fleet and with each unit sized for its share; only time 0 onwards is counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from accelctl.control.loop import Controller, TickResult
from accelctl.control.policy import POLICIES, PolicyContext, decide
from accelctl.control.sources.base import UnitBinding
from accelctl.control.timeline import TickRecord, tick_record
from accelctl.control.types import MetricsSnapshot, PolicyState, UnitMetrics
from accelctl.sim import baselines
from accelctl.sim.actuator import SimActuator
from accelctl.sim.curve import unit_curve
from accelctl.sim.fleet import SimFleet, SimUnit
from accelctl.sim.load import cycle, jitter, load_rate
from accelctl.sim.oracle import OraclePlan, bucket_demand, solve_oracle
from accelctl.sim.scenario import FIXED_POLICIES, LoadedScenario
from accelctl.sim.source import SimSource, SimSourceConfig
from accelctl.units import replicas_for


@dataclass(frozen=True)
class Trace:
    times: np.ndarray  # start of each step, seconds from time 0 (negative during the warm-up)
    rates: np.ndarray  # requests/s arriving during each step
    first: int  # index of the step at time 0: the first one counted
    step_s: float

    @property
    def measured_rates(self) -> np.ndarray:
        return self.rates[self.first :]


@dataclass
class PolicyRun:
    policy: str
    fleet: SimFleet
    modes: list[tuple[float, str]] = field(default_factory=list)  # (time, mode) of every decision
    ticks: list[TickRecord] = field(default_factory=list)  # every decision, for the shortage timeline
    tick_errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def make_trace(loaded: LoadedScenario) -> Trace:
    sc = loaded.scenario
    dt = sc.dynamics.step
    warm, n = round(sc.warmup / dt), round(sc.duration / dt)
    t = np.arange(-warm, n) * dt
    rng = np.random.default_rng(sc.seed)
    rates = load_rate(sc.load, t, loaded.base_dir, f"{loaded.path}: field 'load") * jitter(sc.noise, t, rng)
    return Trace(t, rates, warm, dt)


def build_fleet(
    loaded: LoadedScenario,
    trace: Trace,
    weights: dict[str, int],
    planned: dict[str, int] | None = None,
    policy: str | None = None,
) -> SimFleet:
    """The fleet as `deploy` renders it for `policy` (its ScaledObjects' rate target), settled on the
    first step's load with the given weights and, where the policy plans them, replicas."""
    fleet, dyn = loaded.fleet, loaded.scenario.dynamics
    total = sum(weights.values())
    units = []
    for unit in loaded.units:
        u = SimUnit(model=unit, curve=unit_curve(unit.profile, fleet.slo_s))
        share = trace.rates[0] * weights.get(unit.name, 0) / total
        wanted = replicas_for(share, unit, fleet.headroom) if planned is None else planned.get(unit.name, 0)
        u.ready = u.desired = min(max(wanted, unit.min_replicas), unit.max_replicas)
        units.append(u)
    sim = SimFleet(
        units,
        trace.rates,
        float(trace.times[0]),
        dyn,
        loaded.scenario.capacity,
        fleet.slo_s,
        fleet.headroom,
        weights,
        loaded.settings.rate_trigger_utilization(fleet.headroom, policy or "static"),
    )
    sim.planned = dict(planned or {})
    return sim


def lead_times(loaded: LoadedScenario) -> dict[str, float]:
    """Order to Ready per unit on this scenario's dynamics: node launch + the target's start-up."""
    dyn = loaded.scenario.dynamics
    return {u.name: dyn.node_launch + u.startup_s for u in loaded.units}


def settled_snapshot(loaded: LoadedScenario, trace: Trace) -> MetricsSnapshot:
    """What a healthy fleet carrying the first step's load would report: the policy's first decision
    on it sets the weights the fleet starts with, so no policy starts by leaving someone else's."""
    share = trace.rates[0] / len(loaded.units)
    return MetricsSnapshot(
        float(trace.times[0]), {m.name: UnitMetrics(rps=share, ready=1, desired=1) for m in loaded.units}
    )


def run_policy(loaded: LoadedScenario, trace: Trace, policy: str) -> PolicyRun:
    started = time.perf_counter()
    if policy in FIXED_POLICIES:
        fleet = build_fleet(
            loaded, trace, baselines.fixed_weights(policy, loaded.units, loaded.scenario.static_weights)
        )
        fleet.advance(math.inf)
        run = PolicyRun(policy, fleet)
    elif policy == baselines.PAPER:
        with POLICIES.registered(baselines.PAPER, baselines.paper_policy):
            run = run_controller(loaded, trace, policy)
    else:
        run = run_controller(loaded, trace, policy)
    run.wall_s = time.perf_counter() - started
    return run


def run_controller(loaded: LoadedScenario, trace: Trace, policy: str) -> PolicyRun:
    sc = loaded.scenario
    settings = loaded.settings
    t0 = float(trace.times[0])
    state = PolicyState(mode_since=t0)
    if policy == baselines.PAPER:
        settings = settings.model_copy(update={"interval_s": sc.paper.check_interval})
        period, origin = cycle(sc.load)
        state = baselines.PaperState(mode_since=t0, cycle_s=period, cycle_origin=origin)
    leads, dyn = lead_times(loaded), sc.dynamics
    ctx = PolicyContext(
        loaded.units,
        settled_snapshot(loaded, trace),
        settings,
        loaded.fleet.headroom,
        lead_s=leads,
        node_launch_s=dyn.node_launch,
    )
    first, state = decide(policy, ctx, state)
    fleet = build_fleet(loaded, trace, first.weights, first.planned_replicas, policy)
    run = PolicyRun(policy, fleet)

    def record(result: TickResult) -> None:
        if result.decision is not None:
            run.modes.append((result.time, result.decision.mode))
            run.ticks.append(tick_record(result))
        if result.error:
            run.tick_errors.append(f"{result.time:.0f}s: {result.error}")

    controller = Controller(
        policy=policy,
        units=loaded.units,
        bindings=[UnitBinding(m.name, loaded.fleet.namespace, pool=m.pool) for m in loaded.units],
        source=SimSource(
            fleet, SimSourceConfig(window_s=dyn.rate_window, capacity_window_s=dyn.capacity_window)
        ),
        actuator=SimActuator(fleet),
        settings=settings,
        headroom=loaded.fleet.headroom,
        lead_s=leads,
        node_launch_s=dyn.node_launch,
        on_tick=[record],
        state=state,
    )
    fleet.advance(dyn.rate_window)  # the controller starts on a fleet with a rate window of metrics
    controller.run(clock=lambda: fleet.now, sleep=fleet.advance, should_stop=lambda: fleet.done)
    return run


def run_oracle(loaded: LoadedScenario, trace: Trace) -> OraclePlan:
    sc = loaded.scenario
    demand = bucket_demand(trace.measured_rates, trace.step_s, sc.oracle.step)
    utilization = sc.oracle.utilization or loaded.fleet.headroom
    return solve_oracle(
        list(loaded.units), demand, sc.oracle.step, utilization, sc.capacity, sc.oracle.time_limit
    )


def run_scenario(
    loaded: LoadedScenario,
    policies: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Trace, dict[str, PolicyRun], OraclePlan | None]:
    """Every requested policy on one trace; `progress` hears each policy's name before it runs."""
    trace = make_trace(loaded)
    runs, oracle = {}, None
    for name in policies or loaded.policies:
        if progress:
            progress(name)
        if name == "oracle":
            oracle = run_oracle(loaded, trace)
        else:
            runs[name] = run_policy(loaded, trace, name)
    return trace, runs, oracle
