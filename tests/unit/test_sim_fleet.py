"""The simulated fleet on small hand-computable cases, stepped on its own simulated clock.

One unit "a": breaking point T = 2 rps per replica (the L-and-T curve plateaus there), headroom 0.5
so KEDA wants one replica per 1 rps, 1 s steps, KEDA polling every 10 s over a 10 s rate window,
Karpenter nodes up 30 s after launch, pods Ready 60 s after their node, $3.60 per instance-hour
($0.001 per second).
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_units import fake_unit

from accelctl.sim.curve import curve_from_l_and_t
from accelctl.sim.fleet import SimFleet, SimUnit
from accelctl.sim.scenario import CapacityWindow, Dynamics

SLO = 1.0


def unit(
    ready: int = 1,
    min_replicas: int = 1,
    max_replicas: int = 10,
    startup: float = 60.0,
    name: str = "a",
    pool: str = "pool-a",
    instance_type: str = "x.large",
) -> SimUnit:
    model = fake_unit(
        name, 2.0, 0.5, 3.6, pool, min_replicas, max_replicas, instance_type=instance_type, startup_s=startup
    )
    return SimUnit(model=model, curve=curve_from_l_and_t(0.5, 2.0, SLO), ready=ready, desired=ready)


def fleet(rps, units=None, windows=(), **dyn) -> SimFleet:
    rates = np.asarray(rps, dtype=float)
    settings = dict(
        step=1,
        keda_polling=10,
        rate_window=10,
        node_launch=30,
        karpenter_retry=50,
        consolidate_after=100,
        scale_down_stabilization=0,
        max_queue=100,
        timeout=1000,
    )
    settings.update(dyn)
    units = units or [unit()]
    return SimFleet(
        units, rates, 0.0, Dynamics(**settings), list(windows), SLO, 0.5, {u.name: 1 for u in units}
    )


def test_a_unit_at_capacity_queues_and_drains():
    # KEDA may not add a replica (max 1): 3 rps on one replica that serves 2 rps.
    f = fleet([3.0] * 4 + [1.0] * 4, units=[unit(max_replicas=1)])
    f.advance(4)
    # Each second 3 arrive and 2 are served: the queue grows by 1 per second, to 4 after 4 s.
    assert f.served[:4, 0].tolist() == [2.0] * 4
    assert f.backlog[0] == pytest.approx(4.0)
    # p95 = curve at the plateau (the SLO, 1 s) + queueing wait = 1 + backlog / 2 rps: 1.5, 2.0, 2.5, 3.0.
    assert f.p95[:4, 0] == pytest.approx([1.5, 2.0, 2.5, 3.0])
    assert f.within[:4, 0].sum() == 0
    f.advance(4)
    # Now 1 arrives per second and 2 are served: the queue of 4 drains by 1 per second.
    assert f.served[4:, 0].tolist() == [2.0] * 4
    assert f.backlog[0] == pytest.approx(0.0)
    assert f.p95[7, 0] == pytest.approx(SLO)  # queue empty again, at the plateau: exactly the SLO
    assert f.within[7, 0] == pytest.approx(2.0)
    assert f.rejected.sum() == 0


def test_below_the_breaking_point_nothing_queues_and_p95_follows_the_curve():
    f = fleet([1.0] * 3, units=[unit(max_replicas=1)])
    f.advance(3)
    # p0 = 0.5 s; p95(1 rps) = 0.5 / (1 - (1/2)(1 - 0.5/1)) = 0.5 / 0.75.
    assert f.p95[:, 0] == pytest.approx([0.5 / 0.75] * 3)
    assert f.within[:, 0].tolist() == [1.0] * 3
    assert f.backlog[0] == 0


def test_queue_overflow_and_no_ready_replica_are_rejected():
    f = fleet([5.0] * 2, units=[unit(max_replicas=1)], max_queue=2)
    f.advance(2)
    # Step 1: 5 arrive, 2 served, 3 left > queue of 2: 1 rejected.
    # Step 2: 2 + 5 = 7, 2 served, 5 left: 3 rejected.
    assert f.rejected[:, 0].tolist() == [1.0, 3.0]
    g = fleet([4.0] * 2, units=[unit(ready=0, min_replicas=0, max_replicas=1)])
    g.advance(2)
    assert g.rejected[:, 0].tolist() == [4.0, 4.0]
    assert g.served.sum() == 0 and np.isnan(g.p95).all()


def test_a_pod_becomes_ready_only_after_its_node_launch_and_start_up():
    f = fleet([3.0] * 200)
    f.advance(10)
    assert f.units[0].desired == 1  # the poll at t=0 has nothing measured yet
    f.advance(1)
    # t=10: 3 rps over the window / 1 rps per replica = 3: two new pods, nodes up at 40, Ready at 100.
    u = f.units[0]
    assert u.desired == 3 and u.pods == 3
    assert u.pending_pods(39.0) == (2, 10.0)
    assert u.pending_pods(40.0) == (0, None)
    f.advance(200)
    assert f.ready_log[99, 0] == 1
    assert f.ready_log[100, 0] == 3


def test_a_capacity_window_blocks_scale_up_and_records_events():
    window = CapacityWindow(instance_type="x.large", start=0, end=200, max_instances=1)
    f = fleet([3.0] * 400, windows=[window])
    f.advance(400)
    # One instance runs, the limit is 1: every launch fails until the window ends at 200. Karpenter
    # retries every 50 s: events at 10, 60, 110, 160; the retry at 210 launches both nodes (up at 240).
    assert f.events["pool-a"] == [10.0, 60.0, 110.0, 160.0]
    assert f.ready_log[299, 0] == 1
    assert f.ready_log[300, 0] == 3
    assert f.capacity_events("pool-a", since=170.0 - 300) == 4
    assert f.capacity_events("pool-a", since=160.0) == 0


def test_a_window_with_room_for_one_more_launches_one():
    window = CapacityWindow(instance_type="x.large", start=0, end=1000, max_instances=2)
    f = fleet([3.0] * 120, windows=[window])
    f.advance(120)
    assert f.events["pool-a"] == [10.0, 60.0, 110.0]
    assert f.ready_log[100, 0] == 2  # one launch at 10 went through: Ready at 10 + 30 + 60


def test_scale_down_waits_for_the_stabilization_window():
    f = fleet([3.0] * 200 + [1.0] * 200, units=[unit(ready=3)], scale_down_stabilization=100)
    f.advance(215)
    assert f.units[0].desired == 3
    # The 1 rps window is full from t=210 on; 3 was last recommended at t=200, so it holds until 310.
    f.advance(95)
    assert f.units[0].desired == 3
    f.advance(10)
    assert f.units[0].desired == 1


def test_a_freed_node_bills_until_consolidated_and_is_reused_without_a_launch():
    f = fleet([2.0] * 20 + [0.0] * 60 + [2.0] * 200, units=[unit(ready=2)], consolidate_after=100)
    f.advance(31)
    # t=30: the window since t=20 saw 0 rps: desired 1 (min), one node becomes empty until t=130.
    assert f.units[0].ready == 1 and len(f.empty_nodes["x.large"]) == 1
    assert f.cost[29] == pytest.approx(0.002) and f.cost[30] == pytest.approx(0.002)  # 2 nodes, $0.001/s each
    f.advance(60)
    # t=90: 2 rps again: the pod takes the empty node (no launch, no node wait): Ready at 90 + 60.
    u = f.units[0]
    assert u.pods == 2 and not f.empty_nodes["x.large"]
    assert u.pending_pods(90.0) == (0, None)
    f.advance(100)
    assert f.ready_log[149, 0] == 1 and f.ready_log[150, 0] == 2


def test_cost_counts_every_node_second():
    f = fleet([0.0] * 100, units=[unit(ready=1)])
    f.advance(100)
    assert f.cost.sum() == pytest.approx(100 * 0.001)


def test_weights_split_the_load_and_bad_weights_raise():
    a, b = unit(ready=5, max_replicas=5), unit(ready=5, max_replicas=5, name="b")
    f = fleet([4.0] * 2, units=[a, b])
    f.set_weights({"a": 75, "b": 25})
    f.advance(2)
    assert f.offered[:, 0].tolist() == [3.0, 3.0] and f.offered[:, 1].tolist() == [1.0, 1.0]
    with pytest.raises(Exception, match="unknown unit"):
        f.set_weights({"c": 1})
    with pytest.raises(Exception, match="sum to 0"):
        f.set_weights({"a": 0, "b": 0})
