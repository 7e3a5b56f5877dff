"""The control loop on a real Prometheus (scraping every second): a killed replica is drained on the
first tick after Prometheus records its failed scrape, and samples with old timestamps hold the weights
with an alarm. Exporters and helpers from test_sources_prometheus.py; skipped without the binary."""

from __future__ import annotations

import time

import httpx
import pytest
from fake_units import fake_unit
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from test_sources_prometheus import (
    G5_BUCKETS,
    G5_REQUESTS,
    PROMETHEUS,
    LinearTraffic,
    start_prometheus,
    stop,
    wait_for_full_window,
)

from accelctl.control.actuators.base import Actuator
from accelctl.control.loop import Controller, Hold
from accelctl.control.sources import SOURCES, UnitBinding
from accelctl.control.types import AlarmCode, Reason, ReasonCode
from accelctl.serve import metrics as names
from accelctl.units import PolicySettings

pytestmark = [
    pytest.mark.skipif(
        PROMETHEUS is None, reason="prometheus binary not installed (apt-get install prometheus)"
    ),
    pytest.mark.timeout(180),
]
# Two units alike but for price: cost mode routes 2:1 to the cheaper; 50 rps each, far above the load.
UNITS = (fake_unit("cheap", 50.0, 0.4, 0.18, "p1"), fake_unit("dear", 50.0, 0.4, 0.36, "p2"))
BINDINGS = [UnitBinding("cheap"), UnitBinding("dear")]


class MemoryActuator(Actuator):
    config_model = None

    def __init__(self, weights: dict[str, int] | None = None):
        self.weights = dict(weights or {})

    def read(self) -> dict[str, int]:
        return dict(self.weights)

    def apply(self, weights: dict[str, int]) -> None:
        self.weights = dict(weights)


def exporter(collector: Collector):
    registry = CollectorRegistry()
    registry.register(collector)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    return server, f"127.0.0.1:{server.server_address[1]}"


def shut(server) -> None:
    server.shutdown()
    server.server_close()


def up(url: str, target: str) -> float | None:
    result = httpx.get(url + "/api/v1/query", params={"query": f'up{{instance="{target}"}}'}).json()
    samples = result["data"]["result"]
    return float(samples[0]["value"][1]) if samples else None


def test_a_killed_replica_is_drained_on_the_first_tick_after_its_failed_scrape(tmp_path):
    servers = [exporter(LinearTraffic(u, G5_REQUESTS, G5_BUCKETS, 1)) for u in ("cheap", "dear", "dear")]
    proc, url = start_prometheus(tmp_path, [t for _, t in servers])
    try:
        wait_for_full_window(url, seconds=4)
        settings = PolicySettings(interval_s=1.0, deadband=0, stale_after_s=30.0)
        source = SOURCES.create("prometheus", {"url": url, "window": "5s"})
        act = MemoryActuator()
        c = Controller("cost", UNITS, BINDINGS, source, act, settings)
        first = c.tick(time.time())
        assert first.applied and act.weights == {"cheap": 67, "dear": 33}
        # Kill the only replica of "cheap" and one of the two of "dear".
        killed_at = time.time()
        shut(servers[0][0])
        shut(servers[2][0])
        events = []  # (failed scrapes Prometheus had recorded before the tick: cheap's, dear's; the tick)
        for _ in range(60):  # bounded; Prometheus scrapes every second
            seen = (up(url, servers[0][1]) == 0.0, up(url, servers[2][1]) == 0.0)
            events.append((*seen, c.tick(time.time())))
            if all(seen):
                break
            time.sleep(0.3)
        source.close()
    finally:
        stop(proc)
        shut(servers[1][0])
    trace = [(a, b, r.after, r.alarm and r.alarm.text()) for a, b, r in events]
    assert events[-1][0] and events[-1][1], f"Prometheus did not record both failed scrapes: {trace}"
    first = next(i for i, (cheap_down, _, _) in enumerate(events) if cheap_down)
    # The first tick after Prometheus had cheap's failed scrape drained it, if an earlier one (reading
    # just after the scrape, before this test's `up` query saw it) had not already; it stays drained.
    drained = next(i for i, (_, _, r) in enumerate(events) if r.applied)
    r = events[drained][2]
    assert drained <= first, trace
    assert r.after == {"cheap": 0, "dear": 100} and all(e[2].after == r.after for e in events[first:]), trace
    cheap = r.snapshot.units["cheap"]
    assert (cheap.ready, cheap.desired) == (0, 1) and cheap.rps > 0  # rate() still sees its last window
    assert Reason(ReasonCode.NO_READY_REPLICAS, "cheap") in r.decision.reasons
    # Once dear's failed scrape is in too: one replica of two left, still routed.
    last = events[-1][2]
    assert (last.snapshot.units["dear"].ready, last.snapshot.units["dear"].desired) == (1, 2)
    assert last.after == {"cheap": 0, "dear": 100}
    # A figure, not a bound: from the kill to the tick that drained "cheap".
    print(f"drained {r.time - killed_at:.1f}s after the kill (tick {drained + 1} after it, 1 s scrapes)")


class OldSamples(Collector):
    """A replica whose every sample carries a timestamp `age_s` before the exporter started: what
    Prometheus holds for a target that stopped being scraped, or a federation that fell behind."""

    def __init__(self, unit: str, age_s: float):
        self.unit, self.stamp = unit, time.time() - age_s

    def collect(self):
        ready = GaugeMetricFamily(names.READY, "ready", labels=["unit"])
        ready.add_metric([self.unit], 1, timestamp=self.stamp)
        yield ready


def test_samples_with_old_timestamps_hold_the_weights_with_an_alarm(tmp_path):
    servers = [
        exporter(LinearTraffic("cheap", G5_REQUESTS, G5_BUCKETS, 1)),
        exporter(OldSamples("dear", 120.0)),
    ]
    proc, url = start_prometheus(tmp_path, [t for _, t in servers])
    try:
        wait_for_full_window(url, seconds=3)
        source = SOURCES.create("prometheus", {"url": url, "window": "5s"})
        live = {"cheap": 40, "dear": 60}
        act = MemoryActuator(live)
        settings = PolicySettings(interval_s=1.0, deadband=0, stale_after_s=60.0)
        c = Controller("cost", UNITS, BINDINGS, source, act, settings)
        results = []
        for _ in range(20):  # bounded: until Prometheus answers for both units
            results.append(c.tick(time.time()))
            if results[-1].snapshot and "dear" in results[-1].snapshot.units:
                break
            time.sleep(0.5)
        source.close()
    finally:
        stop(proc)
        for s, _ in servers:
            shut(s)
    r = results[-1]
    assert r.snapshot.age("dear") >= 120.0 and r.snapshot.age("cheap") < 60.0
    assert r.decision.stale.keys() == {"dear"}
    assert r.alarm.code is AlarmCode.STALE_METRICS and r.alarm.ages_s.keys() == {"dear"}
    assert r.alarm.values == {"limit_s": 60.0}
    # "dear" keeps its 60; "cheap", the only fresh unit, keeps the rest: nothing moved.
    assert act.weights == live and r.held is Hold.STALE and not any(x.applied for x in results)
