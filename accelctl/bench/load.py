"""Endpoint mode: an async HTTP load generator and the breaking-point search that drives it.

Closed loop: `concurrency` clients, each sending its next request when the last one answers (the
paper's load pods). Open loop: Poisson arrivals at a rate, sent whether or not earlier ones answered,
so queueing shows up in latency instead of slowing the client down. knee.py decides every load.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from accelctl.bench import knee
from accelctl.bench.quality import PROMPTS
from accelctl.bench.shapes import REQUEST_SHAPES, RequestShape
from accelctl.bench.stats import percentiles
from accelctl.errors import AccelctlError, InputError
from accelctl.units import Probe


@dataclass(frozen=True)
class Endpoint:
    url: str  # base URL of one replica, e.g. http://127.0.0.1:8000
    shape: RequestShape
    steps: int | None = None
    timeout_s: float = 60.0


@dataclass(frozen=True)
class ProbeLength:
    """Each probe runs until it has both min_requests answers and min_seconds, or max_seconds passed."""

    min_requests: int = 20
    min_seconds: float = 5.0
    max_seconds: float = 120.0


@dataclass
class Result:
    ok: bool
    latency: float
    done: float  # completion time, seconds since the probe started


@dataclass(frozen=True)
class EndpointRun:
    latencies: list[float]  # concurrency-1 baseline: the unit's latency L
    probes: list[Probe]
    outcome: knee.Outcome
    info: dict  # what the server says about itself at GET /, {} if it does not say


MAX_CONNECTIONS = 1024


def client(timeout_s: float, connections: int = MAX_CONNECTIONS) -> httpx.AsyncClient:
    """One client for a whole search: connections opened by one probe are reused by the next."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # trust_env=False: a proxy set in the environment must not sit between us and the unit we measure.
    return httpx.AsyncClient(limits=limits, timeout=timeout_s, trust_env=False)


async def _send(http: httpx.AsyncClient, ep: Endpoint, i: int, t0: float) -> Result:
    body = ep.shape.body(PROMPTS[i % len(PROMPTS)], i, ep.steps)
    start = time.perf_counter()
    try:
        response = await http.post(ep.url.rstrip("/") + ep.shape.path, json=body)
        await response.aread()
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    end = time.perf_counter()
    return Result(ok, end - start, end - t0)


def _probe(mode: str, offered: float, results: list[Result], achieved: float) -> Probe:
    good = [r.latency for r in results if r.ok]
    p50, p95, p99 = percentiles(good)
    return Probe(
        mode=mode,
        offered=offered,
        achieved_rps=achieved,
        p50=p50,
        p95=p95,
        p99=p99,
        requests=len(results),
        errors=sum(not r.ok for r in results),
        duration_s=max((r.done for r in results), default=0.0),
    )


async def closed_loop(
    http: httpx.AsyncClient, ep: Endpoint, concurrency: int, length: ProbeLength
) -> tuple[Probe, list[Result]]:
    counter = itertools.count()
    per_client: list[list[Result]] = [[] for _ in range(concurrency)]
    t0 = time.perf_counter()

    def done() -> bool:
        elapsed = time.perf_counter() - t0
        finished = sum(len(mine) for mine in per_client)
        # two answers per client at least: a client's rate needs two (see below)
        enough = finished >= length.min_requests and all(len(mine) >= 2 for mine in per_client)
        return elapsed >= length.max_seconds or (elapsed >= length.min_seconds and enough)

    async def client_loop(mine: list[Result]) -> None:
        while not done():
            mine.append(await _send(http, ep, next(counter), t0))

    await asyncio.gather(*(client_loop(mine) for mine in per_client))
    # Each client's k-th request runs exactly from its (k-1)-th answer to its k-th, so its answers 2..n
    # over the time from its first answer to its last measure its rate with no connection set-up in it.
    achieved = sum(
        sum(r.ok for r in mine[1:]) / (mine[-1].done - mine[0].done)
        for mine in per_client
        if len(mine) > 1 and mine[-1].done > mine[0].done
    )
    results = [r for mine in per_client for r in mine]
    return _probe("closed", float(concurrency), results, achieved), results


async def open_loop(
    http: httpx.AsyncClient, ep: Endpoint, rate: float, length: ProbeLength, seed: int = 0
) -> tuple[Probe, list[Result]]:
    import numpy as np

    window = min(max(length.min_seconds, length.min_requests / rate), length.max_seconds)
    n = max(1, round(rate * window))
    # n arrivals at sorted uniform times in the window: a Poisson process conditioned on its count,
    # so every probe offers exactly `rate` and differences between probes are the server's, not the dice's.
    offsets = np.sort(np.random.default_rng(seed).uniform(0.0, window, n))
    t0 = time.perf_counter()
    tasks = []
    for i, at in enumerate(offsets):
        delay = t0 + float(at) - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_send(http, ep, i, t0)))
    results = list(await asyncio.gather(*tasks))
    ok = [r for r in results if r.ok]
    # Time the server needed to drain the arrivals, less the one service time every request pays:
    # below capacity that is the arrival window, above it the backlog, so ok/span is what it sustained.
    span = max(r.done for r in results) - min((r.latency for r in ok), default=0.0)
    achieved = len(ok) / span if span > 0 else 0.0
    return _probe("open", rate, results, achieved), results


async def check_reachable(http: httpx.AsyncClient, ep: Endpoint, warmup: int) -> dict:
    """Warm the server up; a URL that refuses, times out or answers errors is bad input. Returns GET /."""
    for i in range(max(1, warmup)):
        try:
            response = await http.post(
                ep.url.rstrip("/") + ep.shape.path, json=ep.shape.body(PROMPTS[0], i, ep.steps)
            )
        except httpx.ConnectError:
            raise InputError(
                f"--url {ep.url}: connection refused; start a server there (`accelctl serve BUILD "
                "--port PORT`) or fix --url"
            ) from None
        except httpx.TimeoutException:
            raise InputError(
                f"--url {ep.url}: no answer within {ep.timeout_s:g} s; check the server or raise --timeout"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise InputError(
                f"--url {ep.url}: not an http:// or https:// URL; give e.g. http://127.0.0.1:8000"
            ) from None
        if response.status_code != 200:
            raise InputError(
                f"--url {ep.url}: POST {ep.shape.path} answered HTTP {response.status_code}; check the "
                "server or pick "
                f"--request-shape (valid: {', '.join(REQUEST_SHAPES.names())})"
            )
    try:
        info = (await http.get(ep.url.rstrip("/") + "/")).json()
    except (httpx.HTTPError, ValueError):
        info = {}
    return info if isinstance(info, dict) else {}


async def _endpoint_bench(
    ep: Endpoint,
    search: knee.Search,
    length: ProbeLength,
    baseline: int,
    warmup: int,
    on_probe: Callable[[Probe, knee.Outcome], None],
    on_ready: Callable[[dict], None],
) -> EndpointRun:
    async with client(ep.timeout_s) as http:
        info = await check_reachable(http, ep, warmup)
        on_ready(info)
        _, base = await closed_loop(http, ep, 1, ProbeLength(baseline, 0.0, length.max_seconds))
        latencies = [r.latency for r in base if r.ok]
        if not latencies:
            raise AccelctlError(
                f"--url {ep.url}: all {len(base)} baseline requests failed; check the server's log"
            )
        probes: list[Probe] = []
        while (load := knee.next_load(probes, search)) is not None:
            if search.mode == "closed":
                probe, _ = await closed_loop(http, ep, int(load), length)
            else:
                probe, _ = await open_loop(http, ep, load, length, seed=len(probes))
            probes.append(probe)
            on_probe(probe, knee.outcome(probes, search))
    return EndpointRun(latencies, probes, knee.outcome(probes, search), info)


def endpoint_bench(
    ep: Endpoint,
    search: knee.Search,
    length: ProbeLength,
    baseline: int = 20,
    warmup: int = 2,
    on_probe: Callable[[Probe, knee.Outcome], None] = lambda p, o: None,
    on_ready: Callable[[dict], None] = lambda info: None,
) -> EndpointRun:
    """Warm up, measure latency at concurrency 1, then search the breaking point probe by probe.

    on_ready(GET / of the server) runs before any measuring, so it can refuse early."""
    return asyncio.run(_endpoint_bench(ep, search, length, baseline, warmup, on_probe, on_ready))
