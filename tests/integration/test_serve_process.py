"""Real `accelctl serve` processes: overload, metrics against the client's own count, SIGTERM.

Two kinds of server here. The acceptance tests run `accelctl serve` on the real `tiny` build (the
session fixture `tiny_cpu_build`). The grace-period tests run the same app and runner on a stand-in
pipeline that sleeps a fixed time instead of running a model (STANDIN below), so the drain and the
grace-period bound can be timed exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from accelctl.serve import metrics as names

STANDIN = r"""
import sys, time
from types import SimpleNamespace
from PIL import Image
from accelctl.serve.app import ServeSettings, create_app
from accelctl.serve.runner import serve

service_s, grace_s = float(sys.argv[1]), float(sys.argv[2])

class Sleeper:
    manifest = SimpleNamespace(target="cpu", model="standin", height=8, width=8, batch=1, dtype="float32",
                               steps=1, versions={})
    path = "standin"

    def generate(self, prompt, seed, steps=None):
        time.sleep(service_s if prompt != "a warm-up image" else 0)
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
    while httpx.get(base + "/readiness").status_code != 200:
        assert time.monotonic() < deadline, "server never became ready"
        time.sleep(0.05)


def gauge(base: str, name: str) -> float:
    for family in text_string_to_metric_families(httpx.get(base + "/metrics").text):
        for s in family.samples:
            if s.name == name:
                return s.value
    raise AssertionError(f"{name} not exported")


@pytest.fixture
def standin():
    procs = []

    def start(service_s: float, grace_s: float):
        proc, base = start_server([sys.executable, "-c", STANDIN, str(service_s), str(grace_s)])
        procs.append(proc)
        wait_ready(base)
        return proc, base

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigterm_drains_admitted_requests_then_exits(standin):
    proc, base = standin(service_s=0.4, grace_s=20)
    with ThreadPoolExecutor(5) as pool:
        admitted = [pool.submit(httpx.post, base + "/genimage", json={"prompt": f"p{i}"}, timeout=30)
                    for i in range(5)]
        deadline = time.monotonic() + 10
        while gauge(base, names.INFLIGHT) + gauge(base, names.QUEUED) < 5:
            assert time.monotonic() < deadline, "requests were not admitted"
            time.sleep(0.02)
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        # readiness fails at once, while the admitted requests are still being served
        deadline = time.monotonic() + 2
        while (r := httpx.get(base + "/readiness")).status_code != 503:
            assert time.monotonic() < deadline, "readiness still 200 after SIGTERM"
        assert r.json()["reason"] == "draining"
        late = httpx.post(base + "/genimage", json={"prompt": "late"})
        assert late.status_code == 503 and late.headers["retry-after"] == "1"
        assert [f.result().status_code for f in admitted] == [200] * 5
    assert proc.wait(timeout=20) == 0
    # 5 × 0.4 s of queued work, then the listener closes promptly: far inside the 20 s grace
    assert time.monotonic() - t0 < 10


def test_a_model_call_longer_than_the_grace_period_does_not_hold_the_exit(standin):
    proc, base = standin(service_s=60, grace_s=2)
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
    assert elapsed < 2.0  # inside the grace period, process teardown included
