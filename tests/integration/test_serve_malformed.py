"""Issue 13, acceptance 5: malformed requests to a real server process get a 4xx or a closed
connection, never a 5xx or a traceback; a client that leaves mid-body is counted under 499.

Raw sockets, because an HTTP client library would not send a lying Content-Length or hang up
half-way through a body. The server is `create_app` under the real uvicorn runner, with a pipeline
that draws an 8x8 image at once, and a body timeout of one second.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from accelctl.serve import metrics as names
from accelctl.serve.schemas import MAX_SEED

pytestmark = pytest.mark.timeout(180)

SERVER = r"""
import sys
from types import SimpleNamespace
from PIL import Image
from accelctl.serve.app import ServeSettings, create_app
from accelctl.serve.runner import serve

class Instant:
    manifest = SimpleNamespace(target="cpu", model="standin", height=8, width=8, batch=1, dtype="float32",
                               steps=1, versions={})
    path = "standin"

    def generate(self, prompt, seed, steps=None):
        return Image.new("RGB", (8, 8))

app = create_app(Instant(), ServeSettings(unit_name="u", body_timeout_s=1.0))
sys.exit(serve(app, "127.0.0.1", 0, 5.0, log_level="info",
               on_listening=lambda h, p: print(f"serving u on http://{h}:{p}", flush=True)))
"""
DISCONNECTS = 5


def request(port: int, head: str, body: bytes = b"", hang_up: bool = False) -> bytes:
    """Send `head` (request line and headers) and `body`; the raw answer up to the server's close.

    hang_up: close our side right after sending, as a client that gives up mid-body does."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if hang_up:
            return b""
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def post(path: str, body: bytes, length: int | None = None, close: bool = True) -> str:
    length = len(body) if length is None else length
    conn = "Connection: close\n" if close else ""
    return f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: {length}\n{conn}"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def metrics(port: int) -> dict[tuple[str, str], float]:
    text = request(port, "GET /metrics HTTP/1.1\nHost: x\nConnection: close\n").split(b"\r\n\r\n", 1)[1]
    return {
        (s.labels["route"], s.labels["status"]): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
        if s.name == names.REQUESTS + "_total" or s.name == names.REQUESTS
    }


@pytest.fixture
def server():
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    reader.start()
    line = proc.stdout.readline()
    assert "on http://" in line, f"server did not start: {line!r} {''.join(err)}"
    port = int(line.rsplit(":", 1)[1])
    for _ in range(300):  # warm-up is one instant image
        if b" 200 " in request(port, "GET /readiness HTTP/1.1\nHost: x\nConnection: close\n"):
            break
        time.sleep(0.05)
    yield port, err
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    reader.join(timeout=10)


def test_malformed_requests_get_4xx_or_a_closed_connection_and_no_5xx(server):
    port, log = server
    nested = b"[" * 20_000 + b"]" * 20_000
    cases = {
        "nested JSON": (post("/genimage", nested), nested),
        "nested object": (post("/genimage", b'{"prompt": ' + b"{" * 20_000), b'{"prompt": ' + b"{" * 20_000),
        "NUL prompt": (post("/genimage", b'{"prompt": "\\u0000\\u0000"}'), b'{"prompt": "\\u0000\\u0000"}'),
        "seeds past the bound": (
            post(
                "/v1/images/generations",
                (b := json.dumps({"prompt": "a", "n": 4, "seed": MAX_SEED}).encode()),
            ),
            b,
        ),
        "10 GB Content-Length": (post("/genimage", b"", length=10 * 1024**3), b'{"prompt": "a"}'),
    }
    for what, (head, body) in cases.items():
        answer = request(port, head, body)
        assert 400 <= status_of(answer) < 500, (what, answer[:300])

    # A declared body that never fully arrives: 408 after the body timeout, and the server closes
    # the connection (request() returns only at the server's close; we did not ask for one).
    answer = request(port, post("/genimage", b"", length=1000, close=False), b'{"prompt": ')
    assert status_of(answer) == 408 and b"connection: close" in answer.lower()

    for _ in range(DISCONNECTS):
        request(port, post("/genimage", b"", length=1000), b'{"prompt": "a', hang_up=True)
    for _ in range(300):  # the server notices a hang-up asynchronously
        counted = metrics(port)
        if counted.get((names.GENIMAGE_ROUTE, "499"), 0) >= DISCONNECTS:
            break
        time.sleep(0.05)
    assert counted[(names.GENIMAGE_ROUTE, "499")] == DISCONNECTS
    assert [k for k in counted if k[1].startswith("5")] == []

    # A good request still works after all that.
    ok = json.dumps({"prompt": "a", "seed": MAX_SEED}).encode()
    assert status_of(request(port, post("/genimage", ok), ok)) == 200

    text = "".join(log)
    assert "Traceback" not in text and "RecursionError" not in text, text[-3000:]
    gone = [line for line in text.splitlines() if "client closed the connection" in line]
    assert len(gone) == DISCONNECTS, text[-3000:]
