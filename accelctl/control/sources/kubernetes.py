"""`kubernetes`: ready/desired/pending replicas and Karpenter capacity events, from the API server.

Per unit: its Deployment gives desired and ready replicas and its pods give `pending` and `pending_since`
(the PodScheduled=False transition of the oldest pending pod, else its creation time). Both are found by the
labels `accelctl deploy` renders: the unit name in app.kubernetes.io/instance, plus
app.kubernetes.io/component=server so the unit's bench Job pods do not count (`unit_label` and `selector`
change them). Karpenter reports a failed launch as a Warning Event on the NodeClaim (reason
InsufficientCapacityError, message "NodeClaim <name> event: ... insufficient capacity ...")
and then deletes the NodeClaim, so an event's pool comes from the live NodeClaim's
karpenter.sh/nodepool label when it still exists, else from its name: NodeClaims are named
<nodepool>-<suffix> (NodePools are listed so that "gpu-large-x7k2p" is not read as pool "gpu"'s; where
the Karpenter API is absent or RBAC does not grant listing it, the name alone decides). Events on the
NodePool itself count too. Events of cluster-scoped objects are recorded in the "default" namespace,
so only `events_namespace` is read (a namespaced Role suffices). Events newer than `capacity_window_s`
count toward `capacity_events` of every unit on that pool. Traffic fields (rps, p95, errors) are not
in the API server: they stay 0/None here; combine with the prometheus or cloudwatch source for them.
What the API server returns is its current state, so a reading is as of the read (no `as_of`); a
read that fails is a source error. Event and pending times are the objects' own timestamps.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import Field

from accelctl.control.clients import (
    KubeConnection,
    KubeForbidden,
    KubeNotFound,
    kube_api_client,
    kube_call,
)
from accelctl.control.sources.base import SOURCES, Source, UnitBinding
from accelctl.control.types import MetricsSnapshot, UnitMetrics

NODEPOOL_LABEL = "karpenter.sh/nodepool"


class KubernetesSourceConfig(KubeConnection):
    unit_label: str = Field(
        default="app.kubernetes.io/instance", description="label whose value is the unit name"
    )
    selector: str = Field(
        default="app.kubernetes.io/component=server",
        description="label selector terms the unit's Deployment and serving pods also match",
    )
    events_namespace: str = Field(
        default="default", description="where events of cluster-scoped NodeClaims land"
    )
    capacity_window_s: float = Field(default=300.0, gt=0, description="how far back capacity events count")
    capacity_reasons: list[str] = Field(
        default_factory=lambda: ["InsufficientCapacityError"],
        description="Event reasons that mark an insufficient-capacity event",
    )
    capacity_text: str = Field(
        default="insufficient capacity", description="message text that also marks an event"
    )
    karpenter_version: str = Field(default="v1", description="karpenter.sh API version of NodeClaims")


@SOURCES.register("kubernetes")
class KubernetesSource(Source):
    config_model = KubernetesSourceConfig

    def __init__(self, config: KubernetesSourceConfig):
        from kubernetes import client

        self.config = config
        self._api = kube_api_client(config)
        self._core = client.CoreV1Api(self._api)
        self._apps = client.AppsV1Api(self._api)
        self._custom = client.CustomObjectsApi(self._api)

    def measures(self) -> frozenset[str]:
        # Pods and events only: no request is seen by the API server.
        return frozenset({"ready", "desired", "pending", "pending_since", "capacity_events"})

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        by_namespace: dict[str, list[str]] = defaultdict(list)
        for u in units:
            by_namespace[u.namespace].append(u.name)
        replicas: dict[str, tuple[int, int]] = {}
        pending: dict[str, list[float]] = defaultdict(list)
        for ns, names in by_namespace.items():
            selector = ",".join(
                filter(
                    None, [f"{self.config.unit_label} in ({','.join(sorted(names))})", self.config.selector]
                )
            )
            replicas.update(self._replicas(ns, selector))
            for unit, since in self._pending_pods(ns, selector):
                pending[unit].append(since)
        pools = {u.pool for u in units if u.pool}
        events = self._capacity_events(pools, now) if pools else {}
        out = {}
        for u in units:
            if u.name not in replicas:
                continue  # no Deployment: "no metrics" rather than a made-up healthy unit
            desired, ready = replicas[u.name]
            waits = pending.get(u.name, [])
            out[u.name] = UnitMetrics(
                ready=ready,
                desired=desired,
                pending=len(waits),
                pending_since=min(waits) if waits else None,
                capacity_events=events.get(u.pool, 0) if u.pool else 0,
            )
        return MetricsSnapshot(time=now, units=out)

    def _replicas(self, ns: str, selector: str) -> dict[str, tuple[int, int]]:
        t = self.config.timeout_s
        deps = kube_call(
            f"list deployments in {ns}",
            self._apps.list_namespaced_deployment,
            ns,
            label_selector=selector,
            _request_timeout=t,
        )
        out: dict[str, tuple[int, int]] = {}
        for d in deps.items:
            unit = (d.metadata.labels or {}).get(self.config.unit_label)
            desired, ready = out.get(unit, (0, 0))
            spec_replicas = d.spec.replicas if d.spec.replicas is not None else 1  # the API's default
            ready_replicas = (d.status.ready_replicas if d.status else None) or 0
            out[unit] = (desired + spec_replicas, ready + ready_replicas)
        return out

    def _pending_pods(self, ns: str, selector: str) -> list[tuple[str, float]]:
        pods = kube_call(
            f"list pods in {ns}",
            self._core.list_namespaced_pod,
            ns,
            label_selector=selector,
            field_selector="status.phase=Pending",
            _request_timeout=self.config.timeout_s,
        )
        out = []
        for p in pods.items:
            if p.metadata.deletion_timestamp is not None:
                continue  # terminating, not waiting for capacity
            out.append(((p.metadata.labels or {}).get(self.config.unit_label), _pending_since(p)))
        return out

    def _capacity_events(self, pools: set[str], now: float) -> dict[str, int]:
        cfg = self.config
        claim_pool, known_pools = self._karpenter_pools()
        known_pools |= pools
        counts: dict[str, int] = defaultdict(int)
        for kind in ("NodeClaim", "NodePool"):
            events = kube_call(
                f"list {kind} events in {cfg.events_namespace}",
                self._core.list_namespaced_event,
                cfg.events_namespace,
                field_selector=f"involvedObject.kind={kind}",
                _request_timeout=cfg.timeout_s,
            )
            for ev in events.items:
                if not self._is_capacity_event(ev):
                    continue
                when = _event_time(ev)
                if when is None or not now - cfg.capacity_window_s <= when <= now:
                    continue
                name = ev.involved_object.name or ""
                if kind == "NodePool":
                    pool = name
                else:
                    pool = claim_pool.get(name) or _pool_from_claim_name(name, known_pools)
                if pool in pools:
                    counts[pool] += 1
        return dict(counts)

    def _is_capacity_event(self, ev) -> bool:
        text = self.config.capacity_text.lower()
        return ev.reason in self.config.capacity_reasons or (
            bool(text) and text in (ev.message or "").lower()
        )

    def _karpenter_pools(self) -> tuple[dict[str, str], set[str]]:
        """(live NodeClaim -> its pool, every NodePool name); empty where the Karpenter API is not
        readable."""
        listed = {}
        for plural in ("nodeclaims", "nodepools"):
            try:
                listed[plural] = kube_call(
                    f"list {plural}",
                    self._custom.list_cluster_custom_object,
                    "karpenter.sh",
                    self.config.karpenter_version,
                    plural,
                    _request_timeout=self.config.timeout_s,
                )["items"]
            except (KubeNotFound, KubeForbidden):
                return {}, set()  # no Karpenter API, or not granted: NodeClaim names alone decide
        claims = {
            c["metadata"]["name"]: (c["metadata"].get("labels") or {}).get(NODEPOOL_LABEL)
            for c in listed["nodeclaims"]
        }
        return claims, {p["metadata"]["name"] for p in listed["nodepools"]}

    def close(self) -> None:
        self._api.close()


def _pool_from_claim_name(name: str, pools: set[str]) -> str | None:
    """NodeClaims are generated as <nodepool>-<suffix>; the longest known pool name that prefixes it
    wins, so a claim of pool "gpu-large" is not counted against pool "gpu"."""
    matches = [p for p in pools if name.startswith(p + "-")]
    return max(matches, key=len) if matches else None


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _event_time(ev) -> float | None:
    series_time = ev.series.last_observed_time if ev.series else None
    for t in (
        ev.last_timestamp,
        series_time,
        ev.event_time,
        ev.first_timestamp,
        ev.metadata.creation_timestamp,
    ):
        if t is not None:
            return _ts(t)
    return None


def _pending_since(pod) -> float:
    for cond in (pod.status.conditions or []) if pod.status else []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.last_transition_time:
            return _ts(cond.last_transition_time)
    return _ts(pod.metadata.creation_timestamp)
