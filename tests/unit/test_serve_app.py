"""The server's HTTP behaviour through TestClient: every endpoint and every bad input.

The pipeline here is a stand-in (FakePipeline) that draws a flat colour chosen by the seed, so these
tests exercise routing, validation, admission, probes and metrics without model time; the real `tiny`
build is served by a real `accelctl serve` process in tests/integration/test_serve_process.py.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from accelctl.serve import metrics as names
from accelctl.serve.app import WARMUP_PROMPT, ServeSettings, create_app
from accelctl.serve.schemas import MAX_BODY_BYTES, MAX_PROMPT_CHARS, MAX_SEED


@dataclass
class FakeManifest:
    target: str = "cpu"
    model: str = "tiny"
    height: int = 64
    width: int = 48
    batch: int = 1
    dtype: str = "float32"
    steps: int = 5
    versions: dict = field(default_factory=lambda: {"torch": "test", "diffusers": "test"})


class FakePipeline:
    def __init__(
        self,
        *,
        gate: threading.Event | None = None,
        warm_gate: threading.Event | None = None,
        fail: Exception | None = None,
        fail_warmup: Exception | None = None,
    ):
        self.manifest = FakeManifest()
        self.path = Path("/builds/tiny/cpu-64x48")
        self.gate = gate  # requests block on it (not warm-up), to hold slots busy
        self.warm_gate = warm_gate
        self.fail = fail
        self.fail_warmup = fail_warmup
        self.calls: list[tuple[str, int, int | None]] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def generate(self, prompt: str, seed: int, steps: int | None = None) -> Image.Image:
        warm = prompt == WARMUP_PROMPT
        with self._lock:
            self.calls.append((prompt, seed, steps))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            gate = self.warm_gate if warm else self.gate
            if gate is not None:
                assert gate.wait(timeout=20), "test gate never opened"
            if warm and self.fail_warmup:
                raise self.fail_warmup
            if not warm and self.fail:
                raise self.fail
            return Image.new("RGB", (self.manifest.width, self.manifest.height), (seed % 256, 7, steps or 0))
        finally:
            with self._lock:
                self.running -= 1


def metric(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name` whose labels include `labels` in a /metrics exposition."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def decode_png(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert image.format == "PNG"
    return image


@pytest.fixture
def serve():
    """serve(pipeline, **settings) -> a started TestClient; waits for warm-up unless told not to."""
    clients = []

    def start(pipeline=None, wait_ready=True, **settings):
        app = create_app(pipeline or FakePipeline(), ServeSettings(**settings))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        if wait_ready:
            wait_until(lambda: client.get("/readiness").status_code == 200, what="readiness")
        return client

    yield start
    for c in clients:
        c.__exit__(None, None, None)


# ------------------------------------------------------------------ endpoints


def test_genimage_returns_a_png_of_the_build_shape(serve):
    pipe = FakePipeline()
    client = serve(pipe)
    r = client.post("/genimage", json={"prompt": "a red fox", "seed": 42, "steps": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["prompt"] == "a red fox" and body["seed"] == 42
    assert body["latency"] > 0
    image = decode_png(body["image"])
    assert image.size == (48, 64)
    assert image.getpixel((0, 0)) == (42, 7, 3)  # seed and steps reached the pipeline
    assert pipe.calls[-1] == ("a red fox", 42, 3)


def test_genimage_defaults_steps_to_the_build_and_draws_a_random_seed(serve):
    pipe = FakePipeline()
    client = serve(pipe)
    seeds = {client.post("/genimage", json={"prompt": "x"}).json()["seed"] for _ in range(3)}
    assert all(0 <= s <= MAX_SEED for s in seeds) and len(seeds) > 1
    assert pipe.calls[-1][2] is None  # None = the build's own step count


def test_same_seed_same_image(serve):
    client = serve()
    a = client.post("/genimage", json={"prompt": "p", "seed": 5}).json()["image"]
    b = client.post("/genimage", json={"prompt": "p", "seed": 5}).json()["image"]
    assert a == b


def test_openai_images_n_images_from_consecutive_seeds(serve):
    pipe = FakePipeline()
    client = serve(pipe)
    r = client.post(
        "/v1/images/generations",
        json={
            "prompt": "a lighthouse",
            "n": 3,
            "size": "48x64",
            "response_format": "b64_json",
            "model": "dall-e-2",
            "seed": 10,
            "user": "u1",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert abs(body["created"] - time.time()) < 60
    assert [decode_png(d["b64_json"]).getpixel((0, 0))[0] for d in body["data"]] == [10, 11, 12]
    assert [c[1] for c in pipe.calls[-3:]] == [10, 11, 12]


def test_openai_defaults_one_image_at_the_build_size(serve):
    r = serve().post("/v1/images/generations", json={"prompt": "p"})
    assert r.status_code == 200
    [item] = r.json()["data"]
    assert decode_png(item["b64_json"]).size == (48, 64)


def test_info_describes_the_unit_and_build(serve):
    body = serve(instance_type="inf2.xlarge", max_concurrency=2, max_queue=3).get("/").json()
    assert body["unit"] == "tiny-inf2-xlarge-cpu"
    assert body["model"] == "tiny" and body["target"] == "cpu" and body["instance_type"] == "inf2.xlarge"
    assert body["build"] == "/builds/tiny/cpu-64x48"
    assert body["shapes"] == {"batch": 1, "height": 64, "width": 48}
    assert body["versions"] == {"torch": "test", "diffusers": "test"}
    assert (body["max_concurrency"], body["max_queue"], body["ready"]) == (2, 3, True)


def test_unit_name_flag_wins(serve):
    assert serve(unit_name="sd-a").get("/").json()["unit"] == "sd-a"


def test_readiness_fails_until_warm_up_has_run(serve):
    warm_gate = threading.Event()
    pipe = FakePipeline(warm_gate=warm_gate)
    client = serve(pipe, wait_ready=False)
    r = client.get("/readiness")
    assert r.status_code == 503 and r.json() == {"ready": False, "reason": "warming up"}
    assert client.get("/health").status_code == 200  # alive while warming: no restart loop
    assert metric(client.get("/metrics").text, names.READY) == 0
    warm_gate.set()
    wait_until(lambda: client.get("/readiness").status_code == 200, what="readiness")
    assert client.get("/readiness").json() == {"ready": True}
    assert metric(client.get("/metrics").text, names.READY) == 1
    assert pipe.calls[0] == (WARMUP_PROMPT, 0, None)


def test_failed_warm_up_fails_liveness_and_readiness(serve):
    client = serve(FakePipeline(fail_warmup=RuntimeError("bad weights")), wait_ready=False)
    wait_until(lambda: client.get("/health").status_code == 503, what="liveness failure")
    assert "bad weights" in client.get("/health").json()["reason"]
    assert client.get("/readiness").json() == {"ready": False, "reason": "warm-up failed"}


def test_draining_fails_readiness_and_turns_new_requests_away(serve):
    client = serve()
    client.app.state.server.begin_drain()
    assert client.get("/readiness").json() == {"ready": False, "reason": "draining"}
    r = client.post("/genimage", json={"prompt": "p"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1" and r.headers["connection"] == "close"
    assert r.json()["error"]["code"] == "draining"
    assert metric(client.get("/metrics").text, names.READY) == 0


def test_pipeline_error_is_a_500_with_an_error_body(serve):
    r = serve(FakePipeline(fail=RuntimeError("out of memory"))).post("/genimage", json={"prompt": "p"})
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["type"] == "server_error" and "out of memory" in err["message"]


# ------------------------------------------------------------------ bad input

LONG = "x" * (MAX_PROMPT_CHARS + 1)
JSON = {"content-type": "application/json"}

BAD_INPUT = [
    # (route, body bytes or JSON object, headers, status, param)
    ("/genimage", b'{"prompt": "a"', JSON, 400, "body"),
    ("/genimage", b"", JSON, 400, "body"),
    ("/genimage", b"\xff\xfe", JSON, 400, "body"),
    ("/genimage", b'["a"]', JSON, 400, "body"),
    ("/genimage", b'{"prompt": "a"}', {"content-type": "text/plain"}, 415, "Content-Type"),
    ("/genimage", b"prompt=a", {"content-type": "application/x-www-form-urlencoded"}, 415, "Content-Type"),
    ("/genimage", b'{"prompt": "a"}', {}, 415, "Content-Type"),
    ("/genimage", {"seed": 1}, None, 400, "prompt"),
    ("/genimage", {"prompt": ""}, None, 400, "prompt"),
    ("/genimage", {"prompt": " \t\n "}, None, 400, "prompt"),
    ("/genimage", {"prompt": "\x00" * 8}, None, 400, "prompt"),
    ("/genimage", {"prompt": "\x00\x1b\u200b\x7f "}, None, 400, "prompt"),
    ("/genimage", b"[" * 20_000 + b"]" * 20_000, JSON, 400, "body"),
    ("/genimage", b'{"prompt": ' + b"{" * 20_000, JSON, 400, "body"),
    ("/genimage", {"prompt": LONG}, None, 400, "prompt"),
    ("/genimage", {"prompt": 12}, None, 400, "prompt"),
    ("/genimage", {"prompt": "a", "steps": 0}, None, 400, "steps"),
    ("/genimage", {"prompt": "a", "steps": 101}, None, 400, "steps"),
    ("/genimage", {"prompt": "a", "steps": "5"}, None, 400, "steps"),
    ("/genimage", {"prompt": "a", "steps": 2.5}, None, 400, "steps"),
    ("/genimage", {"prompt": "a", "seed": -1}, None, 400, "seed"),
    ("/genimage", {"prompt": "a", "seed": MAX_SEED + 1}, None, 400, "seed"),
    ("/genimage", {"prompt": "a", "seed": True}, None, 400, "seed"),
    ("/genimage", {"prompt": "a", "sede": 1}, None, 400, "sede"),
    ("/genimage", {"prompt": "a" * MAX_BODY_BYTES}, None, 413, "body"),
    ("/v1/images/generations", {"prompt": "a", "n": 0}, None, 400, "n"),
    ("/v1/images/generations", {"prompt": "a", "n": 11}, None, 400, "n"),
    ("/v1/images/generations", {"prompt": "a", "n": 2, "seed": MAX_SEED}, None, 400, "n"),
    ("/v1/images/generations", {"prompt": "a", "n": 10, "seed": MAX_SEED - 8}, None, 400, "n"),
    ("/v1/images/generations", {"prompt": "a", "size": "64x64"}, None, 400, "size"),
    ("/v1/images/generations", {"prompt": "a", "size": "big"}, None, 400, "size"),
    ("/v1/images/generations", {"prompt": "a", "response_format": "url"}, None, 400, "response_format"),
    ("/v1/images/generations", {"prompt": "a", "response_format": "png"}, None, 400, "response_format"),
    ("/v1/images/generations", {"prompt": "  "}, None, 400, "prompt"),
    ("/v1/images/generations", {"prompt": "a", "quality": "hd"}, None, 400, "quality"),
    ("/v1/images/generations", b"{}", {"content-type": "text/json"}, 415, "Content-Type"),
]


@pytest.mark.parametrize("route,body,headers,status,param", BAD_INPUT)
def test_bad_input_is_a_4xx_naming_the_field(serve, route, body, headers, status, param):
    pipe = FakePipeline()
    client = serve(pipe)
    if isinstance(body, bytes):
        r = client.post(route, content=body, headers=headers)
    else:
        r = client.post(route, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param
    assert err["type"] == "invalid_request_error"
    assert param.split(".")[0].lower() in err["message"].lower() and err["code"]
    assert [c for c in pipe.calls if c[0] != WARMUP_PROMPT] == []  # the model never ran
    assert metric(client.get("/metrics").text, names.REQUESTS, route=route, status=str(status)) == 1


def test_unknown_path_and_wrong_method_keep_the_error_shape(serve):
    client = serve()
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/genimage")
    assert r.status_code == 405 and "POST" in r.headers["allow"] and "error" in r.json()
    assert metric(client.get("/metrics").text, names.REQUESTS, route="unmatched", status="404") == 1


# ------------------------------------------------------------------ back-pressure and timeout


def test_full_queue_turns_requests_away_at_once(serve):
    gate = threading.Event()
    pipe = FakePipeline(gate=gate)
    client = serve(pipe, max_concurrency=1, max_queue=2)
    with ThreadPoolExecutor(3) as pool:
        held = [pool.submit(client.post, "/genimage", json={"prompt": f"p{i}", "seed": i}) for i in range(3)]
        state = client.app.state.server
        wait_until(lambda: state.admission.running == 1 and state.admission.waiting == 2, what="slots full")
        text = client.get("/metrics").text
        assert metric(text, names.INFLIGHT) == 1 and metric(text, names.QUEUED) == 2
        # answered while every slot is still held (the gate opens only below): it did not wait for one
        r = client.post("/genimage", json={"prompt": "one too many"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "at_capacity"
        gate.set()
        assert [f.result(timeout=20).status_code for f in held] == [200, 200, 200]
    assert pipe.max_running == 1
    text = client.get("/metrics").text
    assert metric(text, names.REQUESTS, route="/genimage", status="200") == 3
    assert metric(text, names.REQUESTS, route="/genimage", status="503") == 1
    assert metric(text, names.IMAGES) == 3
    assert metric(text, names.INFLIGHT) == 0 and metric(text, names.QUEUED) == 0


def test_timeout_is_a_504_and_the_running_call_keeps_its_slot(serve):
    gate = threading.Event()
    client = serve(FakePipeline(gate=gate), max_concurrency=1, max_queue=0, timeout_s=0.2)
    r = client.post("/genimage", json={"prompt": "slow"})
    assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
    # the abandoned call still occupies the model: the next request is refused, not run beside it
    assert client.post("/genimage", json={"prompt": "next"}).status_code == 503
    gate.set()
    state = client.app.state.server
    wait_until(lambda: state.idle, what="slot released")
    text = client.get("/metrics").text
    assert metric(text, names.IMAGES) == 0  # nothing was delivered


# ------------------------------------------------------------------ metrics


def test_metrics_exposition(serve):
    client = serve(instance_type="g5.xlarge")
    for _ in range(2):
        assert client.post("/genimage", json={"prompt": "p"}).status_code == 200
    assert client.post("/v1/images/generations", json={"prompt": "p", "n": 2}).status_code == 200
    client.post("/genimage", json={"prompt": ""})
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    unit = "tiny-g5-xlarge-cpu"
    assert (
        metric(text, names.UNIT_INFO, unit=unit, model="tiny", target="cpu", instance_type="g5.xlarge") == 1
    )
    assert metric(text, names.REQUESTS, unit=unit, route="/genimage", status="200") == 2
    assert metric(text, names.REQUESTS, route="/genimage", status="400") == 1
    assert metric(text, names.REQUESTS, route=names.OPENAI_ROUTE, status="200") == 1
    assert metric(text, names.IMAGES, unit=unit) == 4
    assert metric(text, names.LATENCY + "_count", route="/genimage") == 2  # 2xx only
    assert metric(text, names.LATENCY + "_bucket", route="/genimage", le="0.9") is not None
    assert metric(text, names.READY, unit=unit) == 1
    assert metric(text, names.REQUESTS, route="/readiness", status="200") >= 1


def test_each_app_has_its_own_registry(serve):
    a, b = serve(unit_name="a"), serve(unit_name="b")
    a.post("/genimage", json={"prompt": "p"})
    assert metric(a.get("/metrics").text, names.IMAGES) == 1
    assert metric(b.get("/metrics").text, names.IMAGES) == 0


def test_latency_buckets_resolve_the_slo():
    assert 0.9 in names.LATENCY_BUCKETS
    assert list(names.LATENCY_BUCKETS) == sorted(names.LATENCY_BUCKETS)


def test_openapi_documents_the_request_bodies(serve):
    spec = serve().get("/openapi.json").json()
    body = spec["paths"]["/genimage"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["prompt"] and "steps" in body["properties"]
    body = spec["paths"][names.OPENAI_ROUTE]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"n", "size", "response_format", "seed", "model"} <= set(body["properties"])
