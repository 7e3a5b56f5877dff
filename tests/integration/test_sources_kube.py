"""The kubernetes source against the fake Kubernetes API server (tests/integration/fake_kube.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from fake_kube import FakeKube

from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.errors import AccelctlError

pytestmark = pytest.mark.timeout(60)

NOW = 1_800_000_000.0  # a fixed "now": the source only compares API timestamps with it
LABEL = "app.kubernetes.io/instance"
SERVER = {
    "app.kubernetes.io/name": "accelctl",
    "app.kubernetes.io/component": "server",
}  # as `accelctl deploy` labels


def at(seconds_before_now: float) -> str:
    return dt.datetime.fromtimestamp(NOW - seconds_before_now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(name, replicas, ready, ns="prod"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {LABEL: name, **SERVER}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {LABEL: name}}, "template": {}},
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def pod(
    name, unit, phase, created_ago, scheduled_false_ago=None, ns="prod", deleting=False, component="server"
):
    conditions = []
    if scheduled_false_ago is not None:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": at(scheduled_false_ago),
            }
        )
    labels = {LABEL: unit, "app.kubernetes.io/component": component}
    meta = {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": at(created_ago)}
    if deleting:
        meta["deletionTimestamp"] = at(1)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": []},
        "status": {"phase": phase, "conditions": conditions},
    }


def event(name, kind, obj, reason, message, ago):
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": kind, "name": obj, "apiVersion": "karpenter.sh/v1"},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": at(ago),
    }


@pytest.fixture
def kube():
    with FakeKube() as fake:
        for obj in [
            deployment("sd-g5", replicas=3, ready=2),
            deployment("sd-inf2", replicas=2, ready=2),
            deployment("other-app", replicas=5, ready=0),
            pod("g5-a", "sd-g5", "Running", created_ago=900),
            pod("g5-b", "sd-g5", "Pending", created_ago=200, scheduled_false_ago=190),
            pod("g5-c", "sd-g5", "Pending", created_ago=50),  # scheduled, pulling its image
            pod("g5-d", "sd-g5", "Pending", created_ago=999, deleting=True),
            pod("g5-bench", "sd-g5", "Pending", created_ago=999, component="bench"),  # not a serving replica
            pod("inf2-a", "sd-inf2", "Running", created_ago=900),
            pod("other-a", "other-app", "Pending", created_ago=500),
            # Karpenter deleted this NodeClaim after the failed launch: its pool comes from its name.
            event(
                "e1",
                "NodeClaim",
                "gpu-x7k2p",
                "InsufficientCapacityError",
                "NodeClaim gpu-x7k2p event: creating instance, insufficient capacity, all requested instance "
                "types were unavailable during launch",
                ago=60,
            ),
            event("e2", "NodeClaim", "gpu-a1b2c", "InsufficientCapacityError", "too old to count", ago=900),
            event(
                "e3", "NodePool", "gpu", "InsufficientCapacityError", "no g5 capacity in us-east-1a", ago=30
            ),
            # A live NodeClaim whose name does not follow the pool: its label decides.
            event(
                "e4",
                "NodeClaim",
                "renamed-claim",
                "LaunchFailed",
                "Insufficient Capacity for inf2.xlarge",
                ago=10,
            ),
            event("e5", "NodeClaim", "gpu-zzzzz", "Launched", "launched nodeclaim", ago=5),
            # A deleted claim of another pool whose name starts with "gpu-": NodePools tell them apart.
            event(
                "e6", "NodeClaim", "gpu-large-q1w2e", "InsufficientCapacityError", "insufficient capacity", 20
            ),
            {
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodeClaim",
                "metadata": {"name": "renamed-claim", "labels": {"karpenter.sh/nodepool": "inferentia"}},
            },
            *(
                {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": n}}
                for n in ("gpu", "gpu-large", "inferentia")
            ),
        ]:
            fake.add(obj)
        yield fake


UNITS = [
    UnitBinding("sd-g5", namespace="prod", pool="gpu"),
    UnitBinding("sd-inf2", namespace="prod", pool="inferentia"),
    UnitBinding("sd-gone", namespace="prod", pool="gpu"),
]


def test_replicas_pending_and_capacity_events_per_unit(kube):
    src = SOURCES.create("kubernetes", {"host": kube.url})
    snap = src.read(UNITS, NOW)
    src.close()

    assert snap.time == NOW
    assert set(snap.units) == {"sd-g5", "sd-inf2"}  # no Deployment for sd-gone: no metrics, not "healthy"
    g5 = snap.units["sd-g5"]
    assert (g5.desired, g5.ready, g5.pending) == (3, 2, 2)  # neither the terminating nor the bench pod counts
    # g5-b went unschedulable 190 s ago, g5-c was created 50 s ago: the oldest wait wins.
    assert g5.pending_since == NOW - 190
    # e1 (claim name gpu-...) and e3 (the NodePool); e2 is outside 300 s, e6 belongs to gpu-large.
    assert g5.capacity_events == 2
    inf2 = snap.units["sd-inf2"]
    assert (inf2.desired, inf2.ready, inf2.pending, inf2.pending_since) == (2, 2, 0, None)
    assert inf2.capacity_events == 1  # e4, by message text, mapped through the live NodeClaim's label


def test_it_asks_the_api_server_with_selectors_not_by_listing_everything(kube):
    SOURCES.create("kubernetes", {"host": kube.url}).read(UNITS, NOW)
    gets = {
        (r.path, r.query.get("labelSelector", [""])[0], r.query.get("fieldSelector", [""])[0])
        for r in kube.requests
    }
    selector = f"{LABEL} in (sd-g5,sd-gone,sd-inf2),app.kubernetes.io/component=server"
    assert ("/apis/apps/v1/namespaces/prod/deployments", selector, "") in gets
    assert ("/api/v1/namespaces/prod/pods", selector, "status.phase=Pending") in gets
    # Events of cluster-scoped objects live in "default": a namespaced Role there is enough.
    assert ("/api/v1/namespaces/default/events", "", "involvedObject.kind=NodeClaim") in gets
    assert ("/api/v1/namespaces/default/events", "", "involvedObject.kind=NodePool") in gets


def test_window_and_units_without_node_pool(kube):
    src = SOURCES.create("kubernetes", {"host": kube.url, "capacity_window_s": 20})
    snap = src.read(
        [UnitBinding("sd-g5", namespace="prod", pool="gpu"), UnitBinding("sd-inf2", namespace="prod")],
        NOW,
    )
    assert snap.units["sd-g5"].capacity_events == 0  # e1 (60 s) and e3 (30 s) are older than 20 s
    assert snap.units["sd-inf2"].capacity_events == 0  # no node pool given: nothing to attribute


def test_no_karpenter_api_still_counts_events_by_claim_name():
    with FakeKube() as fake:
        fake.add(deployment("sd-g5", 1, 1))
        fake.add(
            event("e1", "NodeClaim", "gpu-x7k2p", "InsufficientCapacityError", "insufficient capacity", ago=5)
        )
        fake.add(
            event(
                "e2", "NodeClaim", "gpu-large-q1w2e", "InsufficientCapacityError", "insufficient capacity", 5
            )
        )
        # The fake answers 404 for an API version it does not serve, as a cluster without Karpenter does.
        src = SOURCES.create("kubernetes", {"host": fake.url, "karpenter_version": "v9"})
        snap = src.read([UnitBinding("sd-g5", namespace="prod", pool="gpu")], NOW)
    # Without the NodePool list, a claim named gpu-large-... can only be read as pool "gpu"'s.
    assert snap.units["sd-g5"].capacity_events == 2


def test_api_server_errors_raise_one_line():
    with FakeKube() as fake:
        url = fake.url
    src = SOURCES.create("kubernetes", {"host": url, "timeout_s": 2})
    with pytest.raises(AccelctlError, match="kubernetes: list deployments in prod"):
        src.read(UNITS, NOW)
