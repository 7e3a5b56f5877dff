"""The `plan` policy: provision ahead of demand, then route what is Ready (docs/policy.md).

Replicas take a lead time to serve (node launch + the target's pod start-up: minutes on Neuron), so
a policy that only moves weights lands traffic on units sized for their old share. `plan` owns both:

1. Forecast: the demand replicas ordered now must carry when Ready, from the recent history kept in
   PolicyState (a FORECASTERS plug-in; `trend` by default), at the lead of the cheapest unit that
   may grow (the fill puts growth there first), plus the part of its spread routing cannot absorb,
   and never below the demand measured now (the reactive floor).
2. Plan: the cheapest integer replicas carrying it at headroom × T (one constraint, so a greedy fill
   by $ per rps, the marginal unit rounded up). Damped: a unit grows at once, but gives up replicas
   only while the Ready replicas kept elsewhere already carry the need (make-before-break). Demand
   the Ready replicas cannot take now is bridged on the unit with the shortest lead.
3. Availability comes in two kinds. A capacity signal (insufficient-capacity events for the pool, or
   pods pending past the window beyond the expected node launch) means the unit *cannot grow*: it
   is never planned above the pods it holds, keeps serving from its Ready replicas, and its growth
   goes to the next-cheapest unit in the same tick. It may grow again `capacity_hold_s` after its
   last signal (a probe: the pods it asks for are free while pending). Only a unit read with no Ready
   replica gets weight 0; missing or stale metrics keep the weight (decide(): unknown is not gone).
4. Route at equal utilisation over min(ready, planned) replicas, capped at `route_utilization` × T
   per replica (under the breaking point, where p95 reaches the SLO), or `drain_utilization` × T on a
   unit whose measured p95 is over the SLO (it is queueing: at the usual cap its backlog would take
   minutes to drain, and every request behind it misses); beyond that, every Ready replica at its cap
   and the excess on one small unit, so one unit misses the SLO instead of all.

Mode is `capacity` from a unit's first capacity signal until it has grown again past what it held
(or a hold passed in which it needed no growth), else `cost`: one change each way per shortage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from accelctl.control.forecast import FORECASTERS, Forecast, trim
from accelctl.control.types import MetricsSnapshot, Mode, PlanMemory, UnitMetrics
from accelctl.units import PolicySettings, ResolvedUnit, replicas_for


@dataclass(frozen=True)
class Plan:
    """One tick's outcome, before the shared safeguards turn it into a Decision."""

    mode: Mode
    planned: dict[str, int]
    rps: dict[str, float]  # demand routed to each unit (with no demand: its serving capacity, as a share)
    limits: dict[str, float]  # most requests/s each unit may be routed (0: cannot serve)
    serving: dict[str, bool]  # has metrics and a Ready replica
    can_grow: dict[str, bool]
    forecast_rps: float
    memory: PlanMemory


def dollars_per_rps(unit: ResolvedUnit) -> float:
    """$ per hour for one request/s carried: the planner's order of preference."""
    return unit.replica_price_per_hour / unit.throughput_rps


def cheapest_replicas(
    units: tuple[ResolvedUnit, ...], demand: float, headroom: float, lo: dict[str, int], hi: dict[str, int]
) -> dict[str, int]:
    """Least $/h integer replicas in [lo, hi] carrying `demand` at headroom × T (all of `hi` when it
    cannot): filled by $ per rps, the last unit filled rounded up. Optimal for the fractional problem
    and within one replica of the marginal unit of the integer one; monotone in `demand`, so a plan
    that follows a noisy demand never trades replicas between two units back and forth."""
    plan = {u.name: lo[u.name] for u in units}
    left = demand - math.fsum(plan[u.name] * u.throughput_rps * headroom for u in units)
    for u in sorted(units, key=lambda u: (dollars_per_rps(u), u.name)):
        if left <= 1e-9:
            break
        add = min(replicas_for(left, u, headroom), hi[u.name] - plan[u.name])
        if add > 0:
            plan[u.name] += add
            left -= add * u.throughput_rps * headroom
    return plan


def planned_demand(forecast: Forecast, headroom: float, settings: PolicySettings) -> float:
    """The demand to plan replicas for at headroom × T: the forecast plus the part of its spread that
    routing cannot absorb. Routed demand may rise to route_utilization / headroom times the plan before
    a replica passes route_utilization × T, so the plan adds only what `forecast_margin_sd` residual
    standard deviations exceed that slack by: noise the headroom already covers is not paid twice."""
    slack = (settings.route_utilization / headroom - 1.0) * forecast.rps
    return forecast.rps + max(settings.forecast_margin_sd * forecast.sd - slack, 0.0)


def reactive_floor(demand: float, headroom: float, settings: PolicySettings) -> float:
    """Demand the plan carries at least whatever the forecast says: the demand measured now, within
    route_utilization × T. A step up the trend line has not caught up with yet is growth needed now,
    on the cheapest units (the rate trigger would add it to every unit in proportion to its traffic)."""
    return demand * headroom / settings.route_utilization


def bridge(
    units: tuple[ResolvedUnit, ...],
    planned: dict[str, int],
    demand: float,
    ready: dict[str, int],
    hi: dict[str, int],
    lead_s: dict[str, float],
    cap: float,
    headroom: float,
) -> dict[str, int]:
    """Demand beyond what Ready replicas take now (within cap × T) cannot wait for the cheapest unit's
    lead: the shortfall is also planned on the unit that becomes Ready soonest (the cheaper per rps
    among equals), counting the replicas it already has on the way. Make-before-break gives them up
    once the cheap replicas are Ready and carry the demand."""
    short = demand - math.fsum(ready[u.name] * u.throughput_rps * cap for u in units)
    growable = [u for u in units if planned[u.name] < hi[u.name]]
    if short <= 1e-9 or not growable:
        return planned
    fast = min(growable, key=lambda u: (lead_s.get(u.name, 0.0), dollars_per_rps(u), u.name))
    soon = lead_s.get(fast.name, 0.0)
    # Replicas already on their way on units at least as fast as this one cover part of the shortfall.
    coming = math.fsum(
        max(planned[u.name] - ready[u.name], 0) * u.throughput_rps * cap
        for u in units
        if lead_s.get(u.name, 0.0) <= soon
    )
    extra = replicas_for(short - coming, fast, headroom)
    if extra <= 0:
        return planned
    return {**planned, fast.name: min(planned[fast.name] + extra, hi[fast.name])}


def capacity_signal(m: UnitMetrics, settings: PolicySettings, now: float, node_launch_s: float) -> bool:
    """Insufficient-capacity events for the pool, or pods pending longer than a node launch takes plus
    the pending window (a pod waits for its node in phase Pending on every scale-up)."""
    if m.capacity_events > 0:
        return True
    return (
        m.pending > settings.pending_bound
        and m.pending_since is not None
        and now - m.pending_since >= settings.pending_window_s + node_launch_s
    )


def routing_cap(m: UnitMetrics | None, slo_s: float, settings: PolicySettings) -> float:
    """Most of T one replica of the unit is routed: route_utilization, or drain_utilization (never
    above it) while its measured p95 is over the SLO, i.e. it has a backlog to drain."""
    queueing = m is not None and m.p95 is not None and m.p95 > slo_s
    return (
        min(settings.drain_utilization, settings.route_utilization)
        if queueing
        else settings.route_utilization
    )


def held(m: UnitMetrics) -> int:
    """Pods the unit holds: Ready ones and those placed on a node, not the Pending ones."""
    return max(m.ready, m.desired - m.pending)


def equal_utilisation(demand: float, capacity: dict[str, float]) -> dict[str, float]:
    """`demand` split in proportion to `capacity` (requests/s per unit). With no demand, or too little
    to survive the split (a subnormal float such as 5e-324), the capacities themselves: shares as if
    there were demand, so the first requests find a split instead of no unit routed at all."""
    total = math.fsum(capacity.values())
    rps = {n: demand * (c / total) for n, c in capacity.items()}
    return rps if any(v > 0 for v in rps.values()) else dict(capacity)


SINK_OWN_SHARE = 0.2  # an overload sink's own capacity, at most, as a share of the excess it takes


def overload_sink(full: dict[str, float], excess: float, grow_lead_s: dict[str, float]) -> str:
    """The unit that takes the excess demand no unit has room for: it misses the SLO for all it serves,
    so one whose own capacity is small next to the excess. Among those, the one that may grow soonest
    (`grow_lead_s`: lead of each unit that may grow): KEDA's request-rate trigger grows the sink for
    the excess it is sent, and the bridge grows the quickest unit for the same shortfall; KEDA takes the
    larger of the two triggers, so on that unit they are one order instead of a second, slower one on
    another unit. With none that small, the unit with the least Ready capacity."""
    serving = [n for n, c in full.items() if c > 0]
    small = [n for n in serving if full[n] <= SINK_OWN_SHARE * excess and n in grow_lead_s]
    if small:
        return min(small, key=lambda n: (grow_lead_s[n], full[n], n))
    return min(serving, key=lambda n: (full[n], n))


def route(
    units: tuple[ResolvedUnit, ...],
    demand: float,
    serving_replicas: dict[str, int],
    ready: dict[str, int],
    caps: dict[str, float],
    grow_lead_s: dict[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """(requests/s per unit, limit per unit): equal utilisation over `serving_replicas`, each replica at
    most caps[unit] × T. When demand exceeds that, every Ready replica serves up to its cap and the
    excess goes to one unit (overload_sink): a unit past its breaking point queues and misses the SLO
    for all it serves, so overloading one small unit loses the excess alone, where spreading it would
    overload them all."""
    capacity = {u.name: serving_replicas[u.name] * u.throughput_rps * caps[u.name] for u in units}
    total = math.fsum(capacity.values())
    if total >= demand and total > 0:
        return equal_utilisation(demand, capacity), capacity
    full = {u.name: ready[u.name] * u.throughput_rps * caps[u.name] for u in units}
    serving = [n for n, c in full.items() if c > 0]
    if not serving:
        return dict.fromkeys(full, 0.0), dict.fromkeys(full, 0.0)
    excess = demand - math.fsum(full.values())
    if excess <= 0:
        # All the Ready replicas (more than are planned) carry it within the cap: equal utilisation over
        # them and no excess, so no unit is let past its cap, not even by the rounding of weight points.
        return equal_utilisation(demand, full), full
    sink = overload_sink(full, excess, grow_lead_s or {})
    rps = dict(full)
    rps[sink] += excess
    limits = {**full, sink: math.inf}
    return rps, limits


def plan_tick(
    units: tuple[ResolvedUnit, ...],
    snapshot: MetricsSnapshot,
    settings: PolicySettings,
    headroom: float,
    lead_s: dict[str, float],
    node_launch_s: float,
    memory: PlanMemory,
) -> Plan:
    now = snapshot.time
    demand = snapshot.total_rps()
    metrics = {u.name: snapshot.units.get(u.name) for u in units}
    history = trim((*memory.history, (now, demand)), now, settings.forecast_window_s)

    # Availability: serving (weight may be > 0) and able to grow (may be planned above what it holds).
    last_signal = dict(memory.last_signal)
    for u in units:
        m = metrics[u.name]
        if m is not None and capacity_signal(m, settings, now, node_launch_s):
            last_signal[u.name] = now
    can_grow = {
        u.name: u.name not in last_signal or now - last_signal[u.name] >= settings.capacity_hold_s
        for u in units
    }
    ready = {n: (m.ready if m else 0) for n, m in metrics.items()}
    serving = {n: m is not None and m.ready > 0 for n, m in metrics.items()}

    # Forecast at the lead of the cheapest unit that may grow: the fill puts growth there first, so
    # what is ordered now serves from then. (At the longest lead of all, the trend's extrapolation and
    # its noise bought replicas for minutes the cheap unit does not wait.)
    growable = [u for u in units if can_grow[u.name]]
    cheapest = min(growable, key=lambda u: (dollars_per_rps(u), u.name), default=None)
    horizon = lead_s.get(cheapest.name, 0.0) if cheapest else 0.0
    forecast = FORECASTERS.get(settings.forecaster)(history, now, horizon)
    need = max(planned_demand(forecast, headroom, settings), reactive_floor(demand, headroom, settings))

    # Plan: the cheapest replicas for the forecast, a unit that cannot grow capped at what it holds.
    hi = {
        u.name: u.max_replicas
        if can_grow[u.name]
        else min(u.max_replicas, held(metrics[u.name] or UnitMetrics()))
        for u in units
    }
    lo = {u.name: min(u.min_replicas, hi[u.name]) for u in units}
    target = cheapest_replicas(units, need, headroom, lo, hi)
    prev = memory.planned or target
    planned = {u.name: min(max(prev.get(u.name, 0), target[u.name]), hi[u.name]) for u in units}

    # Make-before-break: give up replicas, dearest first, only while the Ready replicas kept carry the need.
    def ready_supply(plan: dict[str, int]) -> float:
        return math.fsum(min(ready[u.name], plan[u.name]) * u.throughput_rps * headroom for u in units)

    for u in sorted(units, key=lambda u: (-dollars_per_rps(u), u.name)):
        while planned[u.name] > target[u.name]:
            trial = {**planned, u.name: planned[u.name] - 1}
            if ready_supply(trial) < need - 1e-9:
                break
            planned = trial
    planned = bridge(units, planned, demand, ready, hi, lead_s, settings.route_utilization, headroom)

    caps = {u.name: routing_cap(metrics[u.name], u.profile.slo_s, settings) for u in units}
    rps, limits = route(
        units,
        demand,
        {n: min(ready[n], planned[n]) if serving[n] else 0 for n in ready},
        ready,
        caps,
        {u.name: lead_s.get(u.name, 0.0) for u in growable},
    )
    # Frozen at what it held; once the hold ends it is "recovering" until it has grown past that and
    # its planned replicas are Ready (the fallback), or a further hold passed in which it needed no
    # growth. Until then the mode stays `capacity`: a probe that finds the pool still short, or a
    # stretch where the plan asks nothing of it, is not a fallback.
    frozen_held = {
        n: (memory.frozen_held.get(n, held(metrics[n] or UnitMetrics())) if n in memory.last_signal else
            held(metrics[n] or UnitMetrics()))
        for n in last_signal
    }  # fmt: skip
    recovering = {n: v for n, v in memory.recovering.items() if can_grow[n]}
    recovering.update(
        {
            n: (now, memory.frozen_held.get(n, 0))
            for n in memory.last_signal
            if can_grow[n] and n not in recovering
        }
    )
    for n, (since, was) in list(recovering.items()):
        grown = planned[n] > was and ready[n] >= planned[n]
        idle = now - since >= settings.capacity_hold_s and ready[n] >= planned[n]
        if grown or idle:
            del recovering[n]
    mode: Mode = "capacity" if recovering or not all(can_grow.values()) else "cost"
    # A unit's signal is forgotten once it may grow again: the next one starts a new hold.
    last_signal = {n: t for n, t in last_signal.items() if not can_grow[n]}
    frozen_held = {n: v for n, v in frozen_held.items() if n in last_signal}
    new_memory = replace(
        memory,
        history=history,
        planned=planned,
        last_signal=last_signal,
        recovering=recovering,
        frozen_held=frozen_held,
    )
    return Plan(mode, planned, rps, limits, serving, can_grow, need, new_memory)
