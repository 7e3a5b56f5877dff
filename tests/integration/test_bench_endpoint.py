"""Endpoint mode (accelctl.bench.load) against a server of known capacity: `workers` slots of a fixed
service time, so the true capacity is workers / service_time (tests/integration/bench_capacity_server.py).
Probes are kept short (>= 10 requests and >= 1 s) so the whole file runs in about a minute."""

from __future__ import annotations

import socket

import pytest
from bench_capacity_server import running

from accelctl.bench.knee import Search, meets
from accelctl.bench.load import Endpoint, ProbeLength, endpoint_bench
from accelctl.bench.shapes import REQUEST_SHAPES
from accelctl.errors import InputError

SHORT = ProbeLength(min_requests=10, min_seconds=1.0, max_seconds=10.0)


def endpoint(url: str, shape: str = "genimage") -> Endpoint:
    return Endpoint(url, REQUEST_SHAPES.get(shape), timeout_s=10.0)


@pytest.mark.parametrize("workers, service_time", [(1, 0.1), (3, 0.1), (8, 0.2)])  # 10, 30, 40 requests/s
def test_closed_loop_search_finds_the_capacity(workers, service_time):
    true = workers / service_time
    with running(workers, service_time) as url:
        run = endpoint_bench(endpoint(url), Search(mode="closed"), SHORT, baseline=3, warmup=1)
    out = run.outcome
    assert out.converged, out.reason
    assert abs(out.breaking_point_rps / true - 1) <= 0.05, (out.breaking_point_rps, true, run.probes)
    assert len(run.probes) <= 12
    # every probe is on the curve with its numbers; the breaking point is one that met the SLO
    assert all(p.mode == "closed" and p.requests >= 10 and p.p95 is not None for p in run.probes)
    assert any(meets(p, Search().criteria) and p.achieved_rps == out.breaking_point_rps for p in run.probes)
    # the latency at concurrency 1 is one service time (plus HTTP), the baseline L
    assert service_time <= min(run.latencies) < service_time + 0.25
    assert run.info["model"] == "capacity-server"


def test_open_loop_search_stays_at_or_below_the_capacity():
    """Poisson arrivals queue before the server is full, so the SLO-bound knee of an open loop lies at or
    below workers / service_time; with 4 slots of 0.2 s against a 0.9 s SLO it is close to it."""
    true = 4 / 0.2
    with running(4, 0.2) as url:
        run = endpoint_bench(endpoint(url), Search(mode="open", start=2.0), SHORT, baseline=3, warmup=1)
    t = run.outcome.breaking_point_rps
    assert 0.8 * true <= t <= 1.05 * true, (t, run.probes)
    assert len(run.probes) <= 12 and all(p.mode == "open" for p in run.probes)
    assert [p.offered for p in run.probes][:3] == [2.0, 4.0, 8.0]  # the ramp doubles


def test_refused_url_is_bad_input():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        InputError, match=rf"--url http://127.0.0.1:{port}: connection refused; start a server"
    ):
        endpoint_bench(endpoint(f"http://127.0.0.1:{port}"), Search(), SHORT)


def test_wrong_request_shape_is_bad_input():
    with (
        running(1, 0.01) as url,
        pytest.raises(InputError, match=r"POST /v1/images/generations answered HTTP 404.*--request-shape"),
    ):
        endpoint_bench(endpoint(url, "openai"), Search(), SHORT)
