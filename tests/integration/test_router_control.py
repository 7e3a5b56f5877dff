"""The `router` actuator and the `local` source against a live router and stand-in servers."""

from __future__ import annotations

import httpx
import pytest

from accelctl.control.actuators.base import ACTUATORS
from accelctl.control.sources.base import SOURCES, UnitBinding
from accelctl.errors import AccelctlError, InputError
from accelctl.router.client import RouterClient
from accelctl.router.config import Backend, RouterConfig
from accelctl.router.serve import AppThread, router_thread
from accelctl.router.standin import build_app as standin

pytestmark = pytest.mark.timeout(60)

SERVICE_S = 0.02  # every stand-in request takes 20 ms: inside the serve histogram's first bucket (50 ms)


@pytest.fixture
def fleet():
    with (
        AppThread(lambda: standin(SERVICE_S, 4, name="cheap")) as cheap,
        AppThread(lambda: standin(SERVICE_S, 4, name="fast")) as fast,
    ):
        cfg = RouterConfig(
            backends=[
                Backend(name="cheap", url=cheap.url, weight=3, pool="spot"),
                Backend(name="fast", url=fast.url),
            ],
            health_interval_s=60.0,
        )
        with router_thread(cfg) as router:
            yield router, [UnitBinding("cheap", url=cheap.url), UnitBinding("fast", url=fast.url)], cheap


def send(url: str, n: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        for _ in range(n):
            assert c.post("/genimage", json={}).status_code == 200


def test_actuator_reads_and_writes_router_weights(fleet):
    router, _, _ = fleet
    act = ACTUATORS.create("router", {"admin_url": router.url})
    assert act.read() == {"cheap": 3, "fast": 1}
    act.apply({"cheap": 20, "fast": 80})
    assert act.read() == {"cheap": 20, "fast": 80}
    with pytest.raises(AccelctlError, match="unknown backend"):
        act.apply({"gpu": 100})
    assert act.read() == {"cheap": 20, "fast": 80}
    # Planned replicas are recorded beside each backend, where the demo's view reads them.
    act.record_replicas({"cheap": 3, "fast": 1})
    assert {b["name"]: b["planned_replicas"] for b in RouterClient(router.url).backends()} == {
        "cheap": 3,
        "fast": 1,
    }
    with pytest.raises(AccelctlError, match="unknown backend"):
        act.record_replicas({"gpu": 2})
    act.close()


def test_actuator_config_is_validated():
    with pytest.raises(InputError, match="field 'admin_ur'"):
        ACTUATORS.create("router", {"admin_ur": "http://127.0.0.1:1"})


def test_source_turns_counter_deltas_into_rates(fleet):
    router, units, _ = fleet
    src = SOURCES.create("local", {"router_url": router.url})
    first = src.read(units, now=100.0)
    assert first.units["cheap"].rps == 0.0 and first.units["cheap"].p95 is None  # nothing to diff yet
    assert first.units["cheap"].ready == 1 and first.units["cheap"].desired == 1
    send(router.url, 40)  # weights 3:1 -> cheap 30, fast 10
    snap = src.read(units, now=110.0)  # the clock is the caller's: 10 s apart
    assert snap.units["cheap"].rps == pytest.approx(3.0)
    assert snap.units["fast"].rps == pytest.approx(1.0)
    # All observations lie in the first bucket (0, 0.05]: p95 = 0.05 * 0.95 by interpolation.
    assert snap.units["cheap"].p95 == pytest.approx(0.0475)
    assert snap.units["cheap"].error_rate == 0.0
    assert snap.units["cheap"].capacity_events == 0
    src.close()


def test_source_sees_capacity_flags_and_dead_servers(fleet):
    router, units, cheap = fleet
    src = SOURCES.create("local", {"router_url": router.url})
    src.read(units, now=0.0)
    httpx.put(router.url + "/admin/pools/spot", json={"available": False})
    cheap.stop()  # the cheap unit's server is gone
    send(router.url, 8)  # one attempt reaches the dead server and fails over
    snap = src.read(units, now=2.0)
    c = snap.units["cheap"]
    assert (c.ready, c.capacity_events, c.rps, c.p95) == (0, 1, 0.0, None)
    assert c.error_rate == 1.0  # its one attempt got no answer
    assert snap.units["fast"].ready == 1 and snap.units["fast"].rps == pytest.approx(4.0)
    src.close()


def test_source_raises_when_the_router_is_unreachable():
    src = SOURCES.create("local", {"router_url": "http://127.0.0.1:9", "timeout_s": 0.5})
    with pytest.raises(AccelctlError, match="cannot read http://127.0.0.1:9/metrics"):
        src.read([UnitBinding("a", url="http://127.0.0.1:9")], now=0.0)


def test_source_finds_servers_through_the_router(fleet):
    router, units, _ = fleet
    src = SOURCES.create("local", {"router_url": router.url})
    bare = [UnitBinding(u.name) for u in units] + [UnitBinding("not-routed")]
    src.read(bare, now=0.0)
    send(router.url, 4)
    snap = src.read(bare, now=1.0)
    assert snap.units["cheap"].ready == 1 and snap.units["cheap"].rps == pytest.approx(3.0)
    assert snap.units["not-routed"].ready == 0  # the router has no such backend: nothing to read
    src.close()
