"""Several sources read as one: traffic from one, pods and capacity events from another."""

from __future__ import annotations

from paper_fleet import NAMES, paper_units
from test_loop import MemoryActuator, ScriptedSource, controller

from accelctl.control.combined import CombinedSource, merge_snapshots
from accelctl.control.loop import Hold
from accelctl.control.types import MetricsSnapshot, UnitMetrics

# What prometheus sees (requests, latency) and what the API server sees (pods, Karpenter events).
TRAFFIC = MetricsSnapshot(
    100.0, {"a": UnitMetrics(rps=3.0, p95=0.6, error_rate=0.01), "b": UnitMetrics(rps=1.0, p95=0.4)}
)
PODS = MetricsSnapshot(
    98.0,
    {
        "a": UnitMetrics(ready=2, desired=3, pending=1, pending_since=40.0, capacity_events=2),
        "b": UnitMetrics(ready=1, desired=1),
        "c": UnitMetrics(ready=1, desired=1),
    },
)


TRAFFIC_FIELDS = frozenset({"rps", "p95", "error_rate"})
POD_FIELDS = frozenset({"ready", "desired", "pending", "pending_since", "capacity_events"})
EVERY = TRAFFIC_FIELDS | POD_FIELDS


def test_each_field_comes_from_the_source_that_measures_it():
    merged = merge_snapshots([(TRAFFIC, TRAFFIC_FIELDS), (PODS, POD_FIELDS)])
    assert merged.units["a"] == UnitMetrics(
        rps=3.0,
        p95=0.6,
        error_rate=0.01,
        ready=2,
        desired=3,
        pending=1,
        pending_since=40.0,
        capacity_events=2,
    )
    assert merged.units["b"] == UnitMetrics(rps=1.0, p95=0.4, ready=1, desired=1)
    assert merged.units["c"] == UnitMetrics(ready=1, desired=1)  # no traffic series: pods alone
    assert merged.time == 98.0  # staleness is judged on the oldest part


def test_first_source_wins_a_field_both_measure_and_any_capacity_event_counts():
    first = MetricsSnapshot(0.0, {"a": UnitMetrics(ready=2, desired=2, capacity_events=1)})
    second = MetricsSnapshot(0.0, {"a": UnitMetrics(ready=1, desired=2, capacity_events=3)})
    assert merge_snapshots([(first, EVERY), (second, EVERY)]).units["a"] == UnitMetrics(
        ready=2, desired=2, capacity_events=3
    )
    assert merge_snapshots([(second, EVERY), (first, EVERY)]).units["a"] == UnitMetrics(
        ready=1, desired=2, capacity_events=3
    )


def test_a_unit_is_as_old_as_its_oldest_measured_part():
    stale_traffic = MetricsSnapshot(100.0, {"a": UnitMetrics(rps=3.0, as_of=10.0)})
    live_pods = MetricsSnapshot(100.0, {"a": UnitMetrics(ready=1, desired=1)})  # as of the read
    fresher = MetricsSnapshot(100.0, {"a": UnitMetrics(ready=1, desired=1, as_of=90.0)})
    merged = merge_snapshots([(live_pods, POD_FIELDS), (stale_traffic, TRAFFIC_FIELDS | {"as_of"})])
    assert merged.units["a"].as_of == 10.0 and merged.age("a") == 90.0
    both = merge_snapshots([(fresher, POD_FIELDS | {"as_of"}), (stale_traffic, TRAFFIC_FIELDS | {"as_of"})])
    assert both.units["a"].as_of == 10.0
    assert merge_snapshots([(live_pods, EVERY)]).age("a") == 0.0


def test_a_measured_zero_is_not_overridden_and_an_unmeasured_zero_is_not_taken():
    # The API server measures 0 ready pods (all crashed); Prometheus' last scrape still says 3.
    kube = MetricsSnapshot(0.0, {"a": UnitMetrics(ready=0, desired=3)})
    prom = MetricsSnapshot(0.0, {"a": UnitMetrics(rps=2.0, ready=3)})
    merged = merge_snapshots([(kube, POD_FIELDS), (prom, TRAFFIC_FIELDS | {"ready"})])
    assert merged.units["a"].ready == 0 and merged.units["a"].rps == 2.0
    # A source that does not measure ready (its 0 is a default) never supplies it, whatever the order.
    traffic_only = MetricsSnapshot(0.0, {"a": UnitMetrics(rps=2.0)})
    merged = merge_snapshots([(traffic_only, TRAFFIC_FIELDS), (prom, TRAFFIC_FIELDS | {"ready"})])
    assert merged.units["a"].ready == 3


def test_combined_source_declares_the_union_of_its_parts():
    traffic, pods = ScriptedSource(lambda t: TRAFFIC), ScriptedSource(lambda t: PODS)
    traffic.measures = lambda: TRAFFIC_FIELDS
    pods.measures = lambda: POD_FIELDS
    combined = CombinedSource([traffic, pods])
    assert combined.measures() == EVERY
    # The traffic snapshot's ready=0 defaults are not read: ready comes from the pods source.
    assert combined.read([], 0.0).units["a"].ready == 2


def test_a_capacity_signal_in_one_source_fails_over_the_loop():
    def traffic(t):
        return MetricsSnapshot(t, {n: UnitMetrics(rps=1.0, p95=0.5) for n in NAMES})

    def pods(t):
        return MetricsSnapshot(
            t, {n: UnitMetrics(ready=1, desired=1, capacity_events=int(n == "inf2-neuron")) for n in NAMES}
        )

    act = MemoryActuator()
    r = controller(CombinedSource([ScriptedSource(traffic), ScriptedSource(pods)]), act, policy="auto").tick(
        0.0
    )
    assert r.applied and r.decision.mode == "capacity" and act.weights["inf2-neuron"] == 0
    assert r.snapshot.units["inf2-neuron"].rps == 1.0 and len(paper_units()) == len(act.weights)


def test_one_source_down_holds_everything():
    pods = ScriptedSource(lambda t: PODS)
    down = ScriptedSource(lambda t: TRAFFIC)
    down.down = True
    act = MemoryActuator(dict.fromkeys(NAMES, 20))
    r = controller(CombinedSource([down, pods]), act).tick(0.0)
    assert r.held is Hold.SOURCE_ERROR and act.applied == []


def test_sources_declare_what_they_measure():
    from accelctl.control.sources.prometheus import PrometheusConfig, PrometheusSource

    prom = PrometheusSource(PrometheusConfig())
    # desired: the replicas seen in the window; no pending query by default; as_of: sample timestamps
    assert prom.measures() == {"rps", "p95", "error_rate", "ready", "desired", "as_of"}
    assert PrometheusSource(
        PrometheusConfig(kube_state_metrics=True, queries={"p95": None, "as_of": None})
    ).measures() == {"rps", "error_rate", "ready", "desired"}
