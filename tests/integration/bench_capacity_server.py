"""A test server with a known capacity: `workers` slots, each busy `service_time` seconds per request.

True capacity is workers / service_time requests/s; requests beyond the slots wait in an unbounded
first-come-first-served queue, so latency grows with load as it does in front of a real model. Each
request is booked on the slot that frees first, at max(now, slot free) + service_time, and the
handler sleeps until then: a late timer wake-up on a busy machine delays that answer but never
stretches the schedule, so the capacity stays exactly workers / service_time. It answers POST /genimage and
GET / like accelctl's own server, so `bench --url` can measure it.

Run: python bench_capacity_server.py --workers C --service-time S  (prints the port on its first line),
or `with running(C, S) as url:` from a test. It exits by itself after --lifetime seconds.
Lives in the tests on purpose: it is a yardstick for the load generator, not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator


def make_app(workers: int, service_time: float):
    free_at = [0.0] * workers  # heap: when each slot finishes its booked work

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        if scope["method"] == "POST" and scope["path"] == "/genimage":
            now = asyncio.get_running_loop().time()
            finish = max(now, free_at[0]) + service_time
            heapq.heapreplace(free_at, finish)
            await asyncio.sleep(finish - now)
            status, body = 200, {"prompt": "x", "image": "", "latency": service_time}
        elif scope["method"] == "GET" and scope["path"] == "/":
            status, body = (
                200,
                {
                    "model": "capacity-server",
                    "target": "cpu",
                    "shapes": {"batch": 1, "height": 8, "width": 8},
                    "steps": 1,
                    "versions": {"server": "tests/integration/bench_capacity_server.py"},
                },
            )
        else:
            status, body = 404, {"error": "not found"}
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app


@contextlib.contextmanager
def running(workers: int, service_time: float, lifetime_s: float = 300.0) -> Iterator[str]:
    """The server in a child process (its own CPU time, not the load generator's); yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--workers",
            str(workers),
            "--service-time",
            str(service_time),
            "--lifetime",
            str(lifetime_s),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--service-time", type=float, required=True)
    ap.add_argument(
        "--lifetime", type=float, default=300.0, help="exit after this many seconds, whatever happens"
    )
    args = ap.parse_args()
    threading.Timer(args.lifetime, os._exit, (0,)).start()
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it Nagle holds the response body for the client's 40 ms delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # listening before the port is printed: a client may connect at once
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        make_app(args.workers, args.service_time),
        log_level="warning",
        access_log=False,
        backlog=2048,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
    sys.exit(0)


if __name__ == "__main__":
    main()
