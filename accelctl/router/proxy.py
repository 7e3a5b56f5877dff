"""The router process: weighted proxying with retries, health checks, /metrics and the admin API.

Routes owned by the router: /metrics and /admin/*. Everything else is proxied to a backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from accelctl.router.balancer import SmoothWeighted
from accelctl.router.config import Backend, RouterConfig
from accelctl.router.metrics import NO_RESPONSE
from accelctl.router.telemetry import RouterMetrics

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded; Host and
# Content-Length are recomputed by the client for the upstream request.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)
# 502/503/504 mean the backend could not take the request (draining, queue full, not warmed up):
# another backend may. Image generation is idempotent, so a request that reached a dead server is
# safe to send again.
RETRY_STATUSES = frozenset({502, 503, 504})
JSON = [("Content-Type", "application/json")]
# Retry-After a backend may ask for that the router honours; longer is its own business (the client
# gets the answer once the budget is spent).
MAX_RETRY_AFTER_S = 60.0


def retry_after_s(headers: list[tuple[str, str]]) -> float | None:
    """Seconds a backend asked us to wait (delta-seconds form only; an HTTP date is rare and ignored)."""
    for k, v in headers:
        if k.lower() == "retry-after":
            try:
                wait = float(v)
            except ValueError:
                return None
            return min(wait, MAX_RETRY_AFTER_S) if math.isfinite(wait) and wait >= 0 else None
    return None


@dataclass(frozen=True)
class Attempt:
    """One upstream try: what to answer the client with, and whether another backend may do better."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]  # pairs: repeated headers (Set-Cookie) stay apart
    retry: bool


@dataclass
class BackendState:
    spec: Backend
    weight: int
    healthy: bool = True  # until the first /readiness check, which runs before the router listens
    inflight: int = 0
    dead_until: float = float("-inf")  # passive health: refused/reset connections skip it until then


class Router:
    def __init__(self, config: RouterConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.clock = clock
        self.backends = {b.name: BackendState(b, b.weight) for b in config.backends}
        self.pools_available = {b.pool: True for b in config.backends}
        # Replicas the controller plans per backend (the `router` actuator records them): shown, not acted on.
        self.planned: dict[str, int] = {}
        self.metrics = RouterMetrics()
        self.balancer = SmoothWeighted()
        self._session: aiohttp.ClientSession | None = None
        self._health_task: asyncio.Task | None = None
        for st in self.backends.values():
            self._publish(st)

    # ---------------------------------------------------------------- state

    def weights(self) -> dict[str, int]:
        return {n: st.weight for n, st in self.backends.items()}

    def set_weights(self, weights: dict[str, int]) -> None:
        for name, w in weights.items():
            self.backends[name].weight = w
            self._publish(self.backends[name])
        self.balancer.reset()

    def set_pool(self, pool: str, available: bool) -> None:
        self.pools_available[pool] = available
        for st in self.backends.values():
            if st.spec.pool == pool:
                self._publish(st)

    def _set_healthy(self, st: BackendState, healthy: bool) -> None:
        if st.healthy != healthy:
            st.healthy = healthy
            self._publish(st)

    def _publish(self, st: BackendState) -> None:
        m, name = self.metrics, st.spec.name
        m.weight.labels(name).set(st.weight)
        m.healthy.labels(name).set(1 if st.healthy else 0)
        m.capacity.labels(name, st.spec.pool).set(1 if self.pools_available[st.spec.pool] else 0)

    def dead(self, name: str) -> bool:
        return self.clock() < self.backends[name].dead_until

    def _mark_dead(self, st: BackendState) -> None:
        st.dead_until = self.clock() + self.config.dead_s
        self._set_healthy(st, False)

    def choose(self, tried: set[str]) -> str | None:
        """Next backend for a request among those not yet tried and not known dead: weighted among
        healthy ones; then any healthy one, even at weight 0, so a request is not lost while some
        capacity answers; then one whose /readiness failed but which has not refused a connection,
        since a health verdict can be a second old."""
        fresh = {n for n in self.backends if n not in tried and not self.dead(n)}
        healthy = {n for n in fresh if self.backends[n].healthy}
        pick = self.balancer.pick(self.weights(), healthy)
        if pick is not None:
            return pick
        for group in (healthy, fresh):
            if group:
                return max(sorted(group), key=lambda n: self.backends[n].weight)
        return None

    def alive(self) -> bool:
        """Whether any backend may still answer (not every one refused a connection lately)."""
        return any(not self.dead(n) for n in self.backends)

    def snapshot(self) -> list[dict]:
        return [
            {
                "name": n,
                "url": st.spec.url,
                "pool": st.spec.pool,
                "weight": st.weight,
                "healthy": st.healthy,
                "capacity_available": self.pools_available[st.spec.pool],
                "planned_replicas": self.planned.get(n),
                "inflight": st.inflight,
                "dead": self.dead(n),
            }
            for n, st in self.backends.items()
        ]

    # ---------------------------------------------------------------- lifecycle

    async def start(self, app: web.Application) -> None:
        c = self.config
        # auto_decompress=False: bodies pass through byte-for-byte with their Content-Encoding.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=c.request_timeout_s, connect=c.connect_timeout_s),
        )
        await self.check_health()
        self._health_task = asyncio.create_task(self._health_loop())

    async def stop(self, app: web.Application) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        if self._session is not None:
            await self._session.close()

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            await self.check_health()

    async def check_health(self) -> None:
        await asyncio.gather(*(self._check(st) for st in self.backends.values()))

    async def _check(self, st: BackendState) -> None:
        assert self._session is not None
        try:
            async with self._session.get(
                st.spec.url + "/readiness", timeout=aiohttp.ClientTimeout(total=self.config.health_timeout_s)
            ) as resp:
                await resp.read()
                ok = resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            ok = False
        if ok:
            st.dead_until = float("-inf")  # it answers again: passive verdict withdrawn
        self._set_healthy(st, ok)

    # ---------------------------------------------------------------- proxying

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        """Send the request to a backend; on a refusal, another, then the same ones again after the
        Retry-After they asked for, until one answers or the retry budget is spent. Only then does
        the client get 503 + Retry-After: while some backend can answer, no request is lost."""
        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        c = self.config
        deadline = self.clock() + c.retry_budget_s
        tried: set[str] = set()
        attempts = rounds = 0
        wait_hint: float | None = None  # the longest Retry-After seen this round
        result: Attempt | None = None
        last = ""
        while attempts < c.max_attempts:
            name = self.choose(tried)
            if name is None:
                if not self.alive():
                    break
                # Every live backend refused this round: wait as long as they asked (a queue drains),
                # at least a backoff growing per round, within the budget, and go round again.
                rounds += 1
                pause = max(wait_hint or 0.0, c.retry_backoff_s * rounds)
                if self.clock() + pause >= deadline:
                    break
                await asyncio.sleep(pause)
                tried.clear()
                wait_hint = None
                continue
            if result is not None:
                self.metrics.retries.labels(last).inc()  # counted against the backend that failed
            tried.add(name)
            last = name
            attempts += 1
            result = await self._attempt(name, request.method, request.path_qs, headers, body)
            if not result.retry:
                return self._answer(result)
            hint = retry_after_s(result.headers)
            if hint is not None:
                wait_hint = max(wait_hint or 0.0, hint)
            if self.clock() >= deadline:
                break
        return self._answer(self._exhausted(wait_hint))

    def _exhausted(self, wait_hint: float | None) -> Attempt:
        if self.alive():
            after, body = wait_hint or 1.0, b'{"error": "every backend is busy; retry later"}'
        else:  # every backend refused a connection: they are skipped for dead_s
            after, body = self.config.dead_s, b'{"error": "no backend is reachable; retry later"}'
        return Attempt(503, body, [*JSON, ("Retry-After", str(max(1, math.ceil(after))))], False)

    def _answer(self, result: Attempt) -> web.Response:
        self.metrics.client.labels(str(result.status)).inc()
        return web.Response(status=result.status, body=result.body, headers=result.headers)

    async def _attempt(
        self, name: str, method: str, path_qs: str, headers: list[tuple[str, str]], body: bytes
    ) -> Attempt:
        assert self._session is not None
        st = self.backends[name]
        st.inflight += 1
        start = time.perf_counter()
        try:
            async with self._session.request(
                method, st.spec.url + path_qs, headers=headers, data=body
            ) as resp:
                data = await resp.read()
                out = [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP]
                status = resp.status
        except aiohttp.ConnectionTimeoutError:
            self._observe(name, NO_RESPONSE, start)
            self._mark_dead(st)
            return Attempt(502, b'{"error": "backend did not accept the connection"}', JSON, True)
        except asyncio.TimeoutError:
            # The whole per-attempt budget is spent; sending it elsewhere would double the wait.
            self._observe(name, NO_RESPONSE, start)
            return Attempt(504, b'{"error": "backend timed out"}', JSON, False)
        except (aiohttp.ClientConnectionError, OSError):
            # Refused or reset: the server is gone. Skip it for dead_s unless /readiness says otherwise.
            self._observe(name, NO_RESPONSE, start)
            self._mark_dead(st)
            return Attempt(502, b'{"error": "backend connection failed"}', JSON, True)
        finally:
            st.inflight -= 1
        self._observe(name, str(status), start)
        return Attempt(status, data, out, status in RETRY_STATUSES)

    def _observe(self, name: str, status: str, start: float) -> None:
        self.metrics.latency.labels(name).observe(time.perf_counter() - start)
        self.metrics.requests.labels(name, status).inc()


def build_app(config: RouterConfig) -> web.Application:
    from accelctl.router import admin

    router = Router(config)
    app = web.Application(client_max_size=64 * 1024**2)
    app.on_startup.append(router.start)
    app.on_cleanup.append(router.stop)

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(router.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
    admin.add_routes(app, router)
    app.router.add_route("*", "/{tail:.*}", router.proxy)
    return app
