"""A stand-in backend for router tests and the overhead benchmark.

It answers the server's routes (/genimage, /readiness, /metrics with the serve metric names) with a
fixed service time and a fixed number of workers, so requests queue like on a real unit. A model's
seconds of latency would drown the router's sub-millisecond overhead; this keeps the measurement clean.
Run as a process: `python -m accelctl.router.standin --service-time 0.01 --workers 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from accelctl.serve import metrics as names


def build_app(
    service_time_s: float, workers: int, max_queue: int | None = None, name: str = "standin"
) -> web.Application:
    registry = CollectorRegistry()
    requests = Counter(names.REQUESTS, "Requests", ["unit", "route", "status"], registry=registry)
    latency = Histogram(
        names.LATENCY, "Latency", ["unit", "route"], buckets=names.LATENCY_BUCKETS, registry=registry
    )
    slots = asyncio.Semaphore(workers)
    waiting = 0
    state = {"ready": True}

    async def genimage(request: web.Request) -> web.Response:
        nonlocal waiting
        await request.read()
        start = time.perf_counter()
        if not state["ready"] or (max_queue is not None and waiting >= max_queue):
            requests.labels(name, names.GENIMAGE_ROUTE, "503").inc()
            return web.json_response({"error": "busy"}, status=503, headers={"Retry-After": "1"})
        waiting += 1
        try:
            async with slots:
                await asyncio.sleep(service_time_s)
        finally:
            waiting -= 1
        requests.labels(name, names.GENIMAGE_ROUTE, "200").inc()
        latency.labels(name, names.GENIMAGE_ROUTE).observe(time.perf_counter() - start)
        return web.json_response({"unit": name, "image": ""})

    async def readiness(request: web.Request) -> web.Response:
        return web.json_response({"ready": state["ready"]}, status=200 if state["ready"] else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def drain(request: web.Request) -> web.Response:
        state["ready"] = False
        return web.json_response({"ready": False})

    app = web.Application()
    app.router.add_post(names.GENIMAGE_ROUTE, genimage)
    app.router.add_get("/readiness", readiness)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/drain", drain)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--service-time", type=float, default=0.01, help="seconds per request")
    p.add_argument("--workers", type=int, default=1, help="requests served at once")
    p.add_argument(
        "--max-queue", type=int, default=None, help="answer 503 once this many requests are in the server"
    )
    p.add_argument("--name", default="standin")
    a = p.parse_args(argv)

    async def run() -> None:
        runner = web.AppRunner(build_app(a.service_time, a.workers, a.max_queue, a.name), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, a.host, a.port)
        await site.start()
        # The parent reads the bound port from this line.
        print(f"listening on http://{a.host}:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
