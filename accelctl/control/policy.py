"""Routing policies: pure functions (context, state) -> (decision, state).

Weights follow the paper: w_i ∝ (T_i / (C_i·L_i))·A_i in cost mode and w_i ∝ min(ΣT/N, T_i)·A_i in
capacity mode. `auto` fails over to capacity mode when the cost pool's available share drops below a
threshold and falls back once it has stayed healthy for the dwell time. `plan` (control/plan.py, the
default) owns replicas as well: it plans the cheapest replicas for the demand forecast over each
unit's lead time and routes what is Ready.
Safeguards shared by every policy (availability with its memory, the ready-capacity bound, integer
weights, replica bounds, never all-zero) live in `decide`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from accelctl.control.availability import remember, unit_availability, unknown
from accelctl.control.types import (
    Alarm,
    AlarmCode,
    Decision,
    MetricsSnapshot,
    Mode,
    PolicyState,
    Reason,
    ReasonCode,
    UnitMemory,
    overloaded,
)
from accelctl.registry import Registry
from accelctl.units import (
    PolicySettings,
    ResolvedUnit,
    capacity_adjusted_throughput,
    efficiency,
    replicas_for,
)

WEIGHT_TOTAL = 100


@dataclass(frozen=True)
class PolicyContext:
    units: tuple[ResolvedUnit, ...]
    snapshot: MetricsSnapshot
    settings: PolicySettings
    headroom: float = 0.8
    # Units no fresh data speaks for (availability.unknown): decide() holds their weights; a policy
    # scores the others and counts these as still there when judging the pools (no evidence of loss).
    unknown: frozenset[str] = frozenset()
    lead_s: dict[str, float] = field(default_factory=dict)  # unit -> order-to-Ready seconds (plan)
    node_launch_s: float = 0.0  # part of every lead: how long a pod waits for its node, as expected

    @property
    def now(self) -> float:
        return self.snapshot.time


@dataclass(frozen=True)
class Proposal:
    """What a policy proposes before the shared safeguards turn it into a Decision."""

    mode: Mode
    scores: dict[str, float]  # relative traffic share, any scale
    reasons: tuple[Reason, ...] = ()
    replicas: dict[str, int] | None = None  # None: derive from demand and weights
    # Set by a policy that owns replicas (plan); decide() then takes them as they are:
    planned: bool = False  # `replicas` are planned replicas, to publish for KEDA
    available: dict[str, bool] | None = None  # can serve (replaces the shared availability rule)
    can_grow: dict[str, bool] | None = None
    limits: dict[str, float] | None = None  # most requests/s each unit may be routed


Policy = Callable[[PolicyContext, PolicyState, dict[str, bool]], tuple[Proposal, PolicyState]]
POLICIES: Registry[Policy] = Registry("policy")


# ---------------------------------------------------------------- arithmetic


def cost_scores(units: tuple[ResolvedUnit, ...], available: dict[str, bool]) -> dict[str, float]:
    """T_i / (C_i·L_i) · A_i."""
    return {
        u.name: efficiency(u.throughput_rps, u.cost_per_inference, u.latency_s) * available.get(u.name, False)
        for u in units
    }


def initial_weights(units: tuple[ResolvedUnit, ...]) -> dict[str, int]:
    """Cost-mode weights of a fleet with every unit available: what deploy renders and demo starts with."""
    return integer_weights(cost_scores(units, {u.name: True for u in units}))


def capacity_scores(units: tuple[ResolvedUnit, ...], available: dict[str, bool]) -> dict[str, float]:
    """min(ΣT/N, T_i) over the available units; 0 for the others."""
    up = [u for u in units if available.get(u.name, False)]
    adjusted = dict(
        zip((u.name for u in up), capacity_adjusted_throughput([u.throughput_rps for u in up]), strict=False)
    )
    return {u.name: adjusted.get(u.name, 0.0) for u in units}


def integer_weights(scores: dict[str, float], total: int = WEIGHT_TOTAL) -> dict[str, int]:
    """Largest-remainder rounding to integers summing to `total`; {} when every score is 0."""
    positive = {k: max(v, 0.0) for k, v in scores.items()}
    s = math.fsum(positive.values())
    if s <= 0:
        return {}
    exact = {k: v * total / s for k, v in positive.items()}
    floors = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(floors.values())
    # Ties broken by name so the result is deterministic.
    order = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    for k in order[:left]:
        floors[k] += 1
    return floors


def cost_pool_share(units: tuple[ResolvedUnit, ...], available: dict[str, bool]) -> float:
    """Share of the cost-mode traffic that available units can still take (1.0 = all of it)."""
    every = cost_scores(units, {u.name: True for u in units})
    total = math.fsum(every.values())
    if total <= 0:
        return 0.0
    return math.fsum(v for k, v in every.items() if available.get(k, False)) / total


def resume_mode(units: tuple[ResolvedUnit, ...], live: dict[str, int]) -> Mode:
    """The mode whose weights the live ones are: a restarted controller (or a new leader) picks up a
    failover where it stands instead of falling back at once and skipping the dwell. Compared over
    the units that carry traffic, since a drained unit is 0 in either mode; a tie reads as cost."""
    routed = {u.name: live.get(u.name, 0) > 0 for u in units}
    if not any(routed.values()):
        return "cost"

    def distance(scores: dict[str, float]) -> int:
        return sum(abs(w - live.get(n, 0)) for n, w in integer_weights(scores).items())

    return (
        "capacity"
        if distance(capacity_scores(units, routed)) < distance(cost_scores(units, routed))
        else "cost"
    )


# ---------------------------------------------------------------- policies


@POLICIES.register("cost")
def cost_policy(
    ctx: PolicyContext, state: PolicyState, available: dict[str, bool]
) -> tuple[Proposal, PolicyState]:
    return Proposal("cost", cost_scores(ctx.units, available), (Reason(ReasonCode.COST_MODE),)), state


@POLICIES.register("capacity")
def capacity_policy(
    ctx: PolicyContext, state: PolicyState, available: dict[str, bool]
) -> tuple[Proposal, PolicyState]:
    return Proposal(
        "capacity", capacity_scores(ctx.units, available), (Reason(ReasonCode.CAPACITY_MODE),)
    ), state


@POLICIES.register("auto")
def auto_policy(
    ctx: PolicyContext, state: PolicyState, available: dict[str, bool]
) -> tuple[Proposal, PolicyState]:
    s, now = ctx.settings, ctx.now
    share = cost_pool_share(ctx.units, {**available, **dict.fromkeys(ctx.unknown, True)})
    healthy = share >= s.fallback_threshold
    healthy_since = (state.healthy_since if state.healthy_since is not None else now) if healthy else None
    mode, reason = state.mode, None
    if state.mode == "cost" and share < s.failover_threshold:
        mode = "capacity"
        reason = Reason(ReasonCode.FAILOVER, values={"share": share, "threshold": s.failover_threshold})
    elif state.mode == "capacity" and healthy:
        held = now - healthy_since
        in_mode = now - state.mode_since
        if held >= s.min_dwell_s and in_mode >= s.min_dwell_s:
            mode, reason = "cost", Reason(ReasonCode.FALLBACK, values={"share": share, "held_s": held})
        else:
            reason = Reason(
                ReasonCode.FALLBACK_WAITS, values={"share": share, "dwell_s": s.min_dwell_s, "held_s": held}
            )
    mode_since = now if mode != state.mode else state.mode_since
    scores = cost_scores(ctx.units, available) if mode == "cost" else capacity_scores(ctx.units, available)
    current = Reason(ReasonCode.MODE, values={"share": share}, detail=mode)
    reasons = tuple(r for r in (reason, current) if r)
    return Proposal(mode, scores, reasons), replace(
        state, mode=mode, mode_since=mode_since, healthy_since=healthy_since
    )


@POLICIES.register("plan")
def plan_policy(
    ctx: PolicyContext, state: PolicyState, available: dict[str, bool]
) -> tuple[Proposal, PolicyState]:
    from accelctl.control.plan import plan_tick

    p = plan_tick(
        ctx.units, ctx.snapshot, ctx.settings, ctx.headroom, ctx.lead_s, ctx.node_launch_s, state.plan
    )
    frozen = sorted(n for n, ok in p.can_grow.items() if not ok)
    reasons = [Reason(ReasonCode.PLAN_FORECAST, values={"forecast_rps": p.forecast_rps})]
    if frozen:
        reasons.append(Reason(ReasonCode.CANNOT_GROW, detail=", ".join(frozen)))
    return Proposal(
        p.mode,
        p.rps,
        tuple(reasons),
        replicas=p.planned,
        planned=True,
        available=p.serving,
        can_grow=p.can_grow,
        limits=p.limits,
    ), replace(
        state, mode=p.mode, mode_since=ctx.now if p.mode != state.mode else state.mode_since, plan=p.memory
    )


def capped_integer_weights(
    rps: dict[str, float], limits: dict[str, float], demand: float, total: int = WEIGHT_TOTAL
) -> dict[str, int]:
    """Integer weights summing to `total` for an rps split, rounded so that no unit goes over its limit
    where that can be helped: each weight point is demand/total rps, and with a few replicas on a
    unit one point too many is over its breaking point. Floors first, then each point left to the
    unit with the most room under its limit (name breaks ties); {} when nothing is routed."""
    s = math.fsum(max(v, 0.0) for v in rps.values())
    if s <= 0:
        return {}
    exact = {k: max(v, 0.0) * total / s for k, v in rps.items()}
    out = {k: math.floor(v + 1e-9) for k, v in exact.items()}
    point = demand / total if demand > 0 else 0.0
    for _ in range(total - sum(out.values())):
        # Only units with traffic take points, so a unit routed nothing (not serving) stays at 0.
        k = min(
            (k for k in out if exact[k] > 0),
            key=lambda k: (-(limits.get(k, math.inf) - (out[k] + 1) * point), -(exact[k] - out[k]), k),
        )
        out[k] += 1
    return out


# ---------------------------------------------------------------- safeguards, in one place


def ready_bound(
    scores: dict[str, float], ctx: PolicyContext, demand: float | None = None
) -> tuple[dict[str, float], Reason | None]:
    """Scores as rps, with no unit given more of the current demand than its ready replicas carry at
    the breaking point (ready × T). A policy's share jumps (failover, fallback) land on units sized for
    their old share; unbounded they flood them. The excess goes to units with spare ready capacity in
    proportion to their scores (water-filling), or, when demand exceeds every scored unit's ready
    capacity, in proportion to that capacity. Each unit still runs above KEDA's target (T × headroom),
    so it scales up, and the bound lifts as replicas become ready. A unit scaled to zero counts as one
    replica so that its first requests can wake it. `demand` is the traffic the scored units share
    (default all of it). (scores, reason when the bound changed them)."""
    demand = ctx.snapshot.total_rps() if demand is None else demand
    positive = {n: v for n, v in scores.items() if v > 0}
    if demand <= 0 or not positive:
        return scores, None
    by_name = {u.name: u for u in ctx.units}

    def ready_rps(name: str) -> float:
        m = ctx.snapshot.units.get(name)
        return max(m.ready if m else 0, 1) * by_name[name].throughput_rps if name in by_name else math.inf

    cap = {n: ready_rps(n) for n in positive}
    if math.fsum(cap.values()) <= demand:
        out = {n: (cap[n] if n in positive else 0.0) for n in scores}
        return out, Reason(ReasonCode.OVER_READY_CAPACITY, values={"demand_rps": demand})
    # Scores are relative: those still free are scaled to the largest of them each round, so that shares
    # of tiny scores (subnormal floats such as 5e-324) are not computed from sums and products that have
    # lost their precision; a score too small to survive that scaling is 0 next to the largest.
    capped: dict[str, float] = {}
    free: dict[str, float] = {}
    left, total = 0.0, 1.0
    while len(capped) < len(positive):  # ready capacity exceeds demand, so some unit stays free
        top = max(v for n, v in positive.items() if n not in capped)
        free = {n: v / top for n, v in positive.items() if n not in capped}
        left = demand - math.fsum(capped.values())
        total = math.fsum(free.values())
        over = {n for n, v in free.items() if left * v / total > cap[n]}
        if not over:
            break
        capped.update({n: cap[n] for n in over})
    if not capped:
        return {n: free.get(n, v) for n, v in scores.items()}, None
    out = {n: capped.get(n, left * free[n] / total if n in free else 0.0) for n in scores}
    names = ", ".join(sorted(capped))
    return out, Reason(ReasonCode.READY_BOUND, detail=names)


def shift(before: dict[str, int], after: dict[str, int]) -> float:
    """The share of traffic (0..1) that moves from `before` to `after`."""
    names = set(before) | set(after)
    return sum(abs(after.get(n, 0) - before.get(n, 0)) for n in names) / (2 * WEIGHT_TOTAL)


def decide(name: str, ctx: PolicyContext, state: PolicyState) -> tuple[Decision, PolicyState]:
    policy = POLICIES.get(name)
    s, now = ctx.settings, ctx.now
    available: dict[str, bool] = {}
    reasons: list[Reason] = []
    memory: dict[str, UnitMemory] = {}
    stale: dict[str, float] = {}
    missing: dict[str, float] = {}
    for u in ctx.units:
        m = ctx.snapshot.units.get(u.name)
        memory[u.name] = remember(m, s, now, state.units.get(u.name, UnitMemory()))
        unsure = unknown(m, s, now, memory[u.name])
        if unsure:
            # Nothing fresh says what became of it: it keeps its weight (PolicyContext.unknown).
            kind, age = unsure
            # Stale data is an alarm where it holds traffic; a unit at 0 without data (scaled to zero,
            # drained and gone) has nothing to protect.
            (stale if kind == "stale" and state.weights.get(u.name, 0) > 0 else missing)[u.name] = age
            available[u.name] = False
            reasons.append(
                Reason(ReasonCode.KEEPS_WEIGHT, u.name, {"age_s": age}, "data" if m else "no reading")
            )
            continue
        ok, why = unit_availability(m, s, now, memory[u.name])
        available[u.name] = ok
        if why:
            reasons.append(replace(why, unit=u.name))
    held = {n: state.weights.get(n, 0) for n in (*stale, *missing)}
    full_old = {u.name: state.weights.get(u.name, 0) for u in ctx.units}
    by_name = {u.name: u for u in ctx.units}
    demand = ctx.snapshot.total_rps()
    if len(held) == len(ctx.units):
        # Nothing known about any unit: no reason to change the weights or the mode.
        decision = Decision(
            mode=state.mode,
            weights=full_old,
            desired_replicas={n: min(max(0, u.min_replicas), u.max_replicas) for n, u in by_name.items()},
            available=available,
            reasons=tuple(reasons),
            alarm=None if state.weights else Alarm(AlarmCode.NOTHING_KNOWN),
            stale=stale,
            missing=missing,
        )
        return decision, replace(state, units=memory)
    ctx = replace(ctx, unknown=frozenset(held))
    proposal, new_state = policy(ctx, state, available)
    free = {n: v for n, v in proposal.scores.items() if n not in held}
    budget = WEIGHT_TOTAL - sum(held.values())
    free_demand = math.fsum(m.rps for n, m in ctx.snapshot.units.items() if n in free)
    why = None
    if proposal.available is not None:
        # The policy says who can serve and routes within each unit's limit itself (plan): a capacity
        # signal does not take a unit out, it only stops its growth.
        available = {**proposal.available, **dict.fromkeys(held, False)}
        reasons = [r for r in reasons if r.code is ReasonCode.KEEPS_WEIGHT] + [
            Reason(ReasonCode.NOT_SERVING, n) for n, ok in available.items() if not ok and n not in held
        ]
        routed = (
            capped_integer_weights(free, proposal.limits or {}, free_demand, budget) if budget > 0 else {}
        )
        weights = intended = {**routed, **held}
    else:
        bounded, why = ready_bound(free, ctx, free_demand)
        if why:
            reasons.append(why)
        weights = {**integer_weights(bounded, budget), **held} if budget > 0 else dict(held)
        # Replicas are sized for the share the policy means to give, not the bounded one routed meanwhile.
        intended = {**integer_weights(free, budget), **held} if budget > 0 else dict(held)
    alarm = None
    if budget > 0 and not any(weights.get(n, 0) for n in free):
        if any(held.values()):
            # No unit with fresh data can take the share the unavailable ones had: it goes to those
            # still routed without fresh data, in proportion to their weights, rather than stay on a
            # unit known to be out.
            weights = intended = integer_weights({n: float(w) for n, w in held.items()})
            reasons.append(Reason(ReasonCode.NO_FRESH_UNIT))
        else:
            alarm = Alarm(AlarmCode.NOTHING_AVAILABLE)
            weights = intended = dict(state.weights)
    full = {u.name: weights.get(u.name, 0) for u in ctx.units}
    limited = None
    moved = shift(full_old, full)
    confirmed = (
        not state.weights  # the first weights this controller writes
        or proposal.mode != state.mode  # failover/fallback: gated by the policy's thresholds and dwell
        or why is not None  # the ready-capacity bound: measured ready replicas against demand
        or any(not available[n] and full_old[n] > 0 for n in available)  # a routed unit confirmed out
    )
    if not alarm and not confirmed and moved > s.max_unconfirmed_shift + 1e-9:
        # Part of the way only: what no signal explains (a source reading other numbers than the last
        # tick, a unit coming back) moves at most max_unconfirmed_shift of the traffic per tick.
        step = s.max_unconfirmed_shift / moved
        limited = moved
        full = integer_weights({n: full_old[n] + step * (full[n] - full_old[n]) for n in full})
        full = {u.name: full.get(u.name, 0) for u in ctx.units}
        reasons.append(
            Reason(ReasonCode.SHIFT_CAPPED, values={"cap": s.max_unconfirmed_shift, "moved": moved})
        )
        over = overloaded(full, demand, proposal.limits or {})
        if over:
            # Part of the way would route a unit past what its Ready replicas take: that is the measured
            # signal the shift follows, so it goes the whole way.
            full, limited = {u.name: weights.get(u.name, 0) for u in ctx.units}, None
            reasons[-1] = Reason(ReasonCode.SHIFT_OVERLOADS, values={"moved": moved}, detail=", ".join(over))
    replicas = proposal.replicas or {
        n: replicas_for(demand * intended.get(n, 0) / WEIGHT_TOTAL, u, ctx.headroom)
        for n, u in by_name.items()
    }
    if not proposal.planned:
        # A planning policy has placed its replicas within the bounds itself, and below min_replicas
        # only where a unit cannot grow to it (KEDA's minReplicaCount asks for them anyway).
        replicas = {
            n: min(max(replicas.get(n, 0), u.min_replicas), u.max_replicas) for n, u in by_name.items()
        }
    decision = Decision(
        mode=state.mode if alarm else proposal.mode,
        weights=full,
        desired_replicas=replicas,
        available=available,
        reasons=tuple(reasons) + proposal.reasons,
        alarm=alarm,
        stale=stale,
        missing=missing,
        limited=limited,
        planned_replicas=replicas if proposal.planned else None,
        can_grow=proposal.can_grow or {},
        limits_rps=proposal.limits or {},
    )
    if alarm:
        # Nothing routed: the weights and the mode stay as they were. The policy's memory moves on all
        # the same: a tick with no unit available is a tick the cost pool was short, so it restarts the
        # fallback dwell (healthy_since) like any other dip.
        return decision, replace(
            new_state, mode=state.mode, mode_since=state.mode_since, weights=state.weights, units=memory
        )
    return decision, replace(new_state, weights=full, units=memory)
