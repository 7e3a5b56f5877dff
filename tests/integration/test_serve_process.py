"""Real `accelctl serve` processes: overload, metrics against the client's own count, SIGTERM.

Two kinds of server here. The acceptance tests run `accelctl serve` on the real `tiny` build (the
session fixture `tiny_cpu_build`). The grace-period tests run the same app and runner on a stand-in
pipeline that sleeps a fixed time instead of running a model (STANDIN below), so the drain and the
grace-period bound can be timed exactly.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from accelctl.serve import metrics as names

# Probes and refusals answer in milliseconds; the bound is generous for 2 cores shared with other work.
PROBE_S = 30.0

STANDIN = r"""
import os, sys, time
from types import SimpleNamespace
from PIL import Image
from accelctl.serve.app import ServeSettings, create_app
from accelctl.serve.runner import serve

service_s, grace_s = float(sys.argv[1]), float(sys.argv[2])
gate = sys.argv[3] if len(sys.argv) > 3 else None  # a file the test creates to let requests finish

class Sleeper:
    manifest = SimpleNamespace(target="cpu", model="standin", height=8, width=8, batch=1, dtype="float32",
                               steps=1, versions={})
    path = "standin"

    def generate(self, prompt, seed, steps=None):
        if prompt == "a warm-up image":
            return Image.new("RGB", (8, 8))
        for _ in range(6000):  # at most 10 min: a test that never opens the gate must not hang CI
            if gate is None or os.path.exists(gate):
                break
            time.sleep(0.1)
        time.sleep(service_s)
        return Image.new("RGB", (8, 8))

app = create_app(Sleeper(), ServeSettings(max_concurrency=1, max_queue=4))
sys.exit(serve(app, "127.0.0.1", 0, grace_s, log_level="warning",
               on_listening=lambda h, p: print(f"serving standin on http://{h}:{p}", flush=True)))
"""


def start_server(cmd: list[str], timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start a server process; return it and its base URL once it prints the line with its port."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found: list[str] = []

    def read():
        for line in proc.stdout:
            if not found and " on http://" in line:
                found.append(line.rsplit(" on ", 1)[1].strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    return proc, found[0]


def wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(base + "/readiness", timeout=PROBE_S).status_code != 200:
        assert time.monotonic() < deadline, "server never became ready"
        time.sleep(0.05)


def sample(base: str, name: str, **labels) -> float:
    """One sample from the server's /metrics; 0 for a labelled series that was never incremented."""
    for family in text_string_to_metric_families(httpx.get(base + "/metrics", timeout=PROBE_S).text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    if labels:
        return 0.0
    raise AssertionError(f"{name} not exported")


def gauge(base: str, name: str) -> float:
    return sample(base, name)


def wait_admitted(base: str, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while gauge(base, names.INFLIGHT) + gauge(base, names.QUEUED) < n:
        assert time.monotonic() < deadline, f"{n} requests were not admitted"
        time.sleep(0.02)


# ------------------------------------------------------------------ the real tiny build


@pytest.mark.slow
def test_tiny_build_end_to_end(tiny_cpu_build):
    """One `accelctl serve` process on the tiny build (starting one costs tens of seconds on 2 busy
    cores, so the three acceptance checks share it, in order): images, overload, SIGTERM under load."""
    cmd = [
        sys.executable,
        "-c",
        "from accelctl.cli import main; main()",
        "serve",
        str(tiny_cpu_build),
        "--port",
        "0",
        "--log-level",
        "warning",
        "--max-concurrency",
        "1",
        "--max-queue",
        "2",
        "--grace",
        "120",
    ]
    proc, base = start_server(cmd, timeout=180)
    try:
        wait_ready(base, timeout=180)
        _images_of_the_build_shape(base, tiny_cpu_build)
        _overload_every_request_answered_and_counted(base)
        _sigterm_under_load_admitted_requests_complete(proc, base, grace_s=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _images_of_the_build_shape(base: str, build) -> None:
    info = httpx.get(base + "/", timeout=PROBE_S).json()
    assert info["target"] == "cpu" and info["model"] == "tiny" and "torch" in info["versions"]
    r = httpx.post(base + "/genimage", json={"prompt": "a red fox", "seed": 3}, timeout=120)
    assert r.status_code == 200
    image = Image.open(io.BytesIO(base64.b64decode(r.json()["image"])))
    assert image.size == (info["shapes"]["width"], info["shapes"]["height"])
    again = httpx.post(base + "/genimage", json={"prompt": "a red fox", "seed": 3}, timeout=120)
    assert again.json()["image"] == r.json()["image"]  # same build, prompt and seed: same PNG
    # ... and the very PNG the build gives when called directly, as `accelctl generate` does
    from accelctl.builds import load_pipeline, png_bytes

    assert base64.b64decode(r.json()["image"]) == png_bytes(load_pipeline(build).generate("a red fox", 3))
    size = f"{info['shapes']['width']}x{info['shapes']['height']}"
    r = httpx.post(
        base + "/v1/images/generations", json={"prompt": "a red fox", "n": 2, "size": size}, timeout=120
    )
    assert r.status_code == 200 and len(r.json()["data"]) == 2


def _overload_every_request_answered_and_counted(base: str) -> None:
    """36 requests from 12 concurrent clients at a server that holds 3: each gets 200 or 503."""
    before_ok = sample(base, names.REQUESTS, route=names.GENIMAGE_ROUTE, status="200")
    before_images = sample(base, names.IMAGES)
    before_timed = sample(base, names.LATENCY + "_count", route=names.GENIMAGE_ROUTE)

    async def load() -> list[int]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=12)) as client:

            async def one_client(c: int) -> list[int]:
                out = []
                for i in range(3):
                    r = await client.post(base + "/genimage", json={"prompt": f"client {c} request {i}"})
                    out.append(r.status_code)
                return out

            per_client = await asyncio.gather(*(one_client(c) for c in range(12)))
        return [s for codes in per_client for s in codes]

    statuses = asyncio.run(load())
    assert len(statuses) == 36  # none lost: every request came back with an answer
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    ok, refused = statuses.count(200), statuses.count(503)
    assert ok >= 3 and refused >= 1  # the load really went beyond capacity
    route = names.GENIMAGE_ROUTE
    assert sample(base, names.REQUESTS, route=route, status="200") - before_ok == ok
    assert sample(base, names.REQUESTS, route=route, status="503") == refused
    assert sample(base, names.REQUESTS, route=route, status="500") == 0
    assert sample(base, names.IMAGES) - before_images == ok
    assert sample(base, names.LATENCY + "_count", route=route) - before_timed == ok


def _sigterm_under_load_admitted_requests_complete(proc: subprocess.Popen, base: str, grace_s: float) -> None:
    with ThreadPoolExecutor(3) as pool:
        admitted = [
            pool.submit(httpx.post, base + "/genimage", json={"prompt": f"p{i}"}, timeout=grace_s)
            for i in range(3)
        ]
        wait_admitted(base, 3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while (r := httpx.get(base + "/readiness", timeout=PROBE_S)).status_code != 503:
            assert time.monotonic() < deadline, "readiness still 200 after SIGTERM"
        assert r.json()["reason"] == "draining"
        late = httpx.post(base + "/genimage", json={"prompt": "late"}, timeout=PROBE_S)
        assert late.status_code == 503 and late.json()["error"]["code"] == "draining"
        assert [f.result().status_code for f in admitted] == [200] * 3
    assert proc.wait(timeout=grace_s) == 0
    assert time.monotonic() - t0 < grace_s


# ------------------------------------------------------------------ stand-in pipeline: exact timing


@pytest.fixture
def standin():
    procs = []

    def start(service_s: float, grace_s: float, gate: Path | None = None):
        args = [str(service_s), str(grace_s), *([str(gate)] if gate else [])]
        proc, base = start_server([sys.executable, "-c", STANDIN, *args])
        procs.append(proc)
        wait_ready(base)
        return proc, base

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigterm_drains_admitted_requests_then_exits(standin, tmp_path):
    # The admitted requests are held at a gate until the test has seen what draining looks like, so
    # the order of events is fixed however slow the machine: SIGTERM, readiness 503, a late request
    # refused, then the gate opens and all five are answered. (It failed once under load when the
    # requests ran on a timer and could finish, and the process exit, before readiness was polled.)
    gate = tmp_path / "gate"
    proc, base = standin(service_s=0.05, grace_s=600, gate=gate)
    with ThreadPoolExecutor(5) as pool:
        admitted = [
            pool.submit(httpx.post, base + "/genimage", json={"prompt": f"p{i}"}, timeout=PROBE_S * 4)
            for i in range(5)
        ]
        wait_admitted(base, 5)
        os.kill(proc.pid, signal.SIGTERM)
        for _ in range(1000):  # readiness fails at once; bounded in polls, not seconds
            if (r := httpx.get(base + "/readiness", timeout=PROBE_S)).status_code == 503:
                break
            time.sleep(0.02)
        assert r.status_code == 503 and r.json()["reason"] == "draining"
        late = httpx.post(base + "/genimage", json={"prompt": "late"}, timeout=PROBE_S)
        assert late.status_code == 503 and late.headers["retry-after"] == "1"
        assert not any(f.done() for f in admitted)  # still held: draining had not dropped them
        gate.touch()
        assert [f.result().status_code for f in admitted] == [200] * 5
    # The listener closes once it is idle, not at the drain deadline: the grace is 600 s and the
    # process is gone within this wait (which only guards against a hang).
    assert proc.wait(timeout=120) == 0


def test_a_model_call_longer_than_the_grace_period_does_not_hold_the_exit(standin):
    proc, base = standin(service_s=60, grace_s=3)
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(httpx.post, base + "/genimage", json={"prompt": "slow"}, timeout=30)
        deadline = time.monotonic() + 10
        while gauge(base, names.INFLIGHT) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
        answer = stuck.result()
    # abandoned with the process: told so, never answered with a made-up image
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "shutdown"
    assert code == 3
    # The 3 s grace, not the 60 s call, ended it; the bound is loose for a loaded 2-core machine.
    assert elapsed < 30


def test_a_second_signal_stops_at_once(standin):
    proc, base = standin(service_s=60, grace_s=60)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(httpx.post, base + "/genimage", json={"prompt": "slow"}, timeout=30)
        wait_admitted(base, 1)
        proc.send_signal(signal.SIGTERM)
        while httpx.get(base + "/readiness", timeout=PROBE_S).status_code != 503:
            time.sleep(0.02)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 3  # the running call was abandoned
    assert time.monotonic() - t0 < 30  # the second signal, not the 60 s grace (loose for a loaded machine)
