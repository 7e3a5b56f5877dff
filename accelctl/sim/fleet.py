"""The simulated fleet: a fluid model of requests on Kubernetes dynamics, stepped on a simulated clock.

Every `step` seconds: KEDA (on its polling interval) sets each unit's desired replicas as the
ScaledObject that `deploy` renders does: the larger of its two triggers, the request rate it was sent
(one replica per breaking point × the trigger's target: headroom, or route_utilization under `plan`)
and the planned replicas the controller last published (the metrics-api trigger on watch's /planned,
read at the poll: the poll is the scrape lag), scaling down only to the highest recommendation of the
stabilisation window; Karpenter places pending pods on a free slot,
an empty node that has not been consolidated yet, or a new node, unless a capacity window blocks the
launch, which records an insufficient-capacity event and retries later; pods become Ready a node
launch plus a start-up time after they were placed. Then the load, split by the routing weights, is
served: a unit's ready replicas serve up to their curve's plateau, the rest waits in their queues
(serve's max_queue per replica; beyond it 503, beyond the timeout 504). A request counts within the
SLO when its unit's p95 in that step (curve at the per-replica load + queueing wait) is within it.
Cost is the instance-seconds of every node that exists: launching, busy, or empty until consolidated.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from accelctl.errors import AccelctlError
from accelctl.sim.curve import LatencyCurve
from accelctl.sim.scenario import CapacityWindow, Dynamics
from accelctl.units import SECONDS_PER_HOUR, ResolvedUnit, replicas_for

GRID = 65  # points of each unit's curve table, on its own 0..plateau axis


@dataclass(frozen=True)
class Pod:
    ready_at: float
    node_at: float  # when its node is up: until then the pod is Pending
    created: float


@dataclass
class SimUnit:
    """One deployment unit's replicas; pods are counted, not simulated one request at a time."""

    model: ResolvedUnit  # with its start-up time from the scenario
    curve: LatencyCurve
    ready: int = 0
    starting: list[Pod] = field(default_factory=list)  # placed, not Ready yet; sorted by ready_at
    pending: list[float] = field(default_factory=list)  # creation times of pods with no node
    desired: int = 0
    next_launch: float = -math.inf
    # (time, replicas) inside the stabilisation window, each higher than every later one
    recommendations: deque = field(default_factory=deque)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def instance_type(self) -> str:
        return self.model.instance_type

    @property
    def per_node(self) -> int:
        """Replicas one instance holds."""
        return self.model.replicas_per_instance

    @property
    def node_price_s(self) -> float:
        """$ per instance-second."""
        return self.model.instance_price_per_hour / SECONDS_PER_HOUR

    @property
    def startup_s(self) -> float:
        if self.model.startup_s is None:
            raise ValueError(
                f"{self.name}: a simulated unit needs its start-up time (resolve_fleet startup_s)"
            )
        return self.model.startup_s

    @property
    def placed(self) -> int:
        return self.ready + len(self.starting)

    @property
    def pods(self) -> int:
        return self.placed + len(self.pending)

    @property
    def nodes(self) -> int:
        return -(-self.placed // self.per_node)

    def pending_pods(self, now: float) -> tuple[int, float | None]:
        """(pods in phase Pending, the oldest one's creation time): no node yet, or its node still
        launching."""
        waiting = list(self.pending) + [p.created for p in self.starting if p.node_at > now]
        return len(waiting), (min(waiting) if waiting else None)


class SimFleet:
    def __init__(
        self,
        units: list[SimUnit],
        rates: np.ndarray,
        start: float,
        dynamics: Dynamics,
        windows: list[CapacityWindow],
        slo_s: float,
        headroom: float,
        weights: dict[str, int],
        rate_utilization: float | None = None,
    ):
        self.units = units
        self.index = {u.name: i for i, u in enumerate(units)}
        self.rates = rates  # requests/s arriving in each step
        self.start = start
        self.dyn = dynamics
        self.dt = dynamics.step
        self.windows = windows
        self.slo_s = slo_s
        self.headroom = headroom
        # The request-rate trigger's target per replica, as a fraction of T (rendered by deploy).
        self.rate_utilization = headroom if rate_utilization is None else rate_utilization
        self.k = 0
        self._next_poll = start
        self.backlog = [0.0] * len(units)  # requests queued at each unit
        self.events: dict[str, list[float]] = {}  # pool -> insufficient-capacity event times
        self.empty_nodes: dict[str, list[tuple[float, float]]] = {}  # instance type -> (consolidated at, $/s)
        self._plateau = np.array([u.curve.plateau for u in units])
        axis = np.linspace(0.0, 1.0, GRID)
        self._table = np.array([u.curve.at(axis * u.curve.plateau) for u in units])
        self._plateau_list, self._table_list = self._plateau.tolist(), self._table.tolist()
        k, n = len(rates), len(units)
        self.offered, self.served, self.within = np.zeros((k, n)), np.zeros((k, n)), np.zeros((k, n))
        self.rejected, self.timed_out = np.zeros((k, n)), np.zeros((k, n))
        self.p95 = np.full((k, n), np.nan)
        self.ready_log, self.pods_log = np.zeros((k, n), dtype=np.int32), np.zeros((k, n), dtype=np.int32)
        self.weight_log = np.zeros((k, n), dtype=np.int16)
        self.cost = np.zeros(k)
        self.planned: dict[str, int] = {}  # what the controller published for the planned-replicas trigger
        self.set_weights(weights)

    # ---------------------------------------------------------------- clock

    @property
    def now(self) -> float:
        return self.start + self.k * self.dt

    @property
    def done(self) -> bool:
        return self.k >= len(self.rates)

    def advance(self, seconds: float) -> None:
        """Run steps until `seconds` of simulated time have passed (whole steps) or the trace ends."""
        until = self.now + seconds
        while not self.done and self.now < until - 1e-9:
            self.step()

    def step(self) -> None:
        t = self.now
        if t >= self._next_poll - 1e-9:
            self._next_poll = t + self.dyn.keda_polling
            self._keda(t)
        for u in self.units:
            if u.pending and t >= u.next_launch:
                self._karpenter(u, t)
            while u.starting and u.starting[0].ready_at <= t + 1e-9:
                u.starting.pop(0)
                u.ready += 1
        for _itype, nodes in self.empty_nodes.items():
            while nodes and nodes[0][0] <= t:
                nodes.pop(0)
        self._serve(self.k, t)
        self.k += 1

    # ---------------------------------------------------------------- routing

    def set_weights(self, weights: dict[str, int]) -> None:
        unknown = sorted(set(weights) - set(self.index))
        if unknown:
            raise AccelctlError(f"simulated router: unknown unit(s) {', '.join(unknown)}")
        w = np.array([max(int(weights.get(u.name, 0)), 0) for u in self.units], dtype=float)
        if w.sum() <= 0:
            raise AccelctlError("simulated router: weights sum to 0")
        self.weights = {u.name: int(v) for u, v in zip(self.units, w, strict=False)}
        self._share = w / w.sum()
        self._share_list = self._share.tolist()
        self._weight_row = w.astype(np.int16)

    # ---------------------------------------------------------------- KEDA / HPA

    def _keda(self, t: float) -> None:
        w = min(self.k, max(1, round(self.dyn.rate_window / self.dt)))
        if w == 0:
            return  # nothing measured yet: keep the initial replicas
        rates = self.offered[self.k - w : self.k].sum(axis=0) / (w * self.dt)
        for u, rate in zip(self.units, rates, strict=False):
            # HPA: the max over the ScaledObject's triggers, then its bounds.
            wanted = max(replicas_for(rate, u.model, self.rate_utilization), self.planned.get(u.name, 0))
            raw = min(max(wanted, u.model.min_replicas), u.model.max_replicas)
            # The highest recommendation of the window, kept as a sliding maximum: an older one at or
            # below a newer one can never be the maximum again, so it is dropped at once.
            recs = u.recommendations
            while recs and recs[-1][1] <= raw:
                recs.pop()
            recs.append((t, raw))
            while recs[0][0] < t - self.dyn.scale_down_stabilization - 1e-9:
                recs.popleft()
            self.scale(u, recs[0][1], t)

    def scale(self, u: SimUnit, desired: int, t: float) -> None:
        """Set a unit's replica count: new pods start Pending; removal takes pending, then starting,
        then ready pods."""
        u.desired = desired
        extra = desired - u.pods
        if extra > 0:
            u.pending.extend([t] * extra)
            return
        nodes_before, drop = u.nodes, -extra
        take = min(drop, len(u.pending))
        del u.pending[len(u.pending) - take :]
        drop -= take
        take = min(drop, len(u.starting))
        del u.starting[len(u.starting) - take :]
        drop -= take
        u.ready -= min(drop, u.ready)
        freed = nodes_before - u.nodes
        if freed > 0:
            self.empty_nodes.setdefault(u.instance_type, []).extend(
                [(t + self.dyn.consolidate_after, u.node_price_s)] * freed
            )

    # ---------------------------------------------------------------- Karpenter

    def launch_limit(self, instance_type: str, t: float) -> float:
        limits = [
            w.max_instances for w in self.windows if w.instance_type == instance_type and w.start <= t < w.end
        ]
        return min(limits) if limits else math.inf

    def instances(self, instance_type: str) -> int:
        busy = sum(u.nodes for u in self.units if u.instance_type == instance_type)
        return busy + len(self.empty_nodes.get(instance_type, []))

    def _karpenter(self, u: SimUnit, t: float) -> None:
        empty = self.empty_nodes.setdefault(u.instance_type, [])
        while u.pending:
            if u.placed % u.per_node:
                node_at = t  # a free slot on one of its own nodes
            elif empty:
                empty.pop()  # reuse the newest empty node before consolidation removes it
                node_at = t
            elif self.instances(u.instance_type) < self.launch_limit(u.instance_type, t):
                node_at = t + self.dyn.node_launch
            else:
                self.events.setdefault(u.model.pool, []).append(t)
                u.next_launch = t + self.dyn.karpenter_retry
                return
            created = u.pending.pop(0)
            bisect.insort(u.starting, Pod(node_at + u.startup_s, node_at, created), key=lambda p: p.ready_at)

    def capacity_events(self, pool: str, since: float) -> int:
        times = self.events.get(pool, [])
        return len(times) - bisect.bisect_right(times, since)

    # ---------------------------------------------------------------- serving

    def _serve(self, k: int, t: float) -> None:
        # Plain floats over the few units: numpy's per-call overhead on arrays of five was most of a
        # simulated day's time. The arithmetic is the vectorised form's, in the same order.
        dt, max_queue, timeout, slo = self.dt, self.dyn.max_queue, self.dyn.timeout, self.slo_s + 1e-9
        arrive_all = float(self.rates[k]) * dt
        top = GRID - 2
        arriving, served_row, rejected_row, timed_row, p95_row, within_row, ready_row = ([] for _ in range(7))
        for i, u in enumerate(self.units):
            n = float(u.ready)
            plateau = self._plateau_list[i]
            arrive = arrive_all * self._share_list[i]
            work = self.backlog[i] + arrive
            rate = n * plateau
            served = min(work, rate * dt)
            left = work - served
            # No ready replica (rate 0) turns everything away, like the load balancer with no healthy target.
            rejected = max(left - n * max_queue, 0.0)
            left -= rejected
            timed_out = max(left - rate * timeout, 0.0)
            left -= timed_out
            wait = left / rate if rate > 0 else 0.0
            if served > 0:
                load = served / (n * dt) / plateau if n > 0 else 0.0
                pos = min(max(load, 0.0), 1.0) * (GRID - 1)
                lo = min(int(pos), top)
                frac = pos - lo
                row = self._table_list[i]
                p95 = row[lo] * (1 - frac) + row[lo + 1] * frac + wait
                within = served if p95 <= slo else 0.0
            else:
                p95, within = math.nan, 0.0
            self.backlog[i] = left
            arriving.append(arrive)
            served_row.append(served)
            rejected_row.append(rejected)
            timed_row.append(timed_out)
            p95_row.append(p95)
            within_row.append(within)
            ready_row.append(u.ready)
        self.offered[k], self.served[k], self.rejected[k], self.timed_out[k] = (
            arriving,
            served_row,
            rejected_row,
            timed_row,
        )
        self.within[k] = within_row
        self.p95[k] = p95_row
        self.ready_log[k] = ready_row
        self.pods_log[k] = [u.placed for u in self.units]
        self.weight_log[k] = self._weight_row
        node_cost = sum(u.nodes * u.node_price_s for u in self.units)
        node_cost += sum(price for nodes in self.empty_nodes.values() for _, price in nodes)
        self.cost[k] = node_cost * dt
