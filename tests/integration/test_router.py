"""The router against in-process stand-in backends (accelctl.router.standin) on 127.0.0.1 ports from the
OS."""

from __future__ import annotations

import socket
import time
from collections import Counter

import httpx
import pytest
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families

from accelctl.router import metrics as names
from accelctl.router.client import RouterClient
from accelctl.router.config import Backend, RouterConfig
from accelctl.router.serve import AppThread, router_thread
from accelctl.router.standin import build_app as standin

pytestmark = pytest.mark.timeout(60)


def free_url() -> str:
    """A URL nothing listens on: bind port 0, then close it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def config(*backends: Backend, **knobs) -> RouterConfig:
    knobs.setdefault("health_interval_s", 60.0)  # only the start-up check, unless a test asks for more
    return RouterConfig(backends=list(backends), **knobs)


def samples(router_url: str) -> dict[tuple, float]:
    text = httpx.get(router_url + "/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def units_hit(url: str, n: int) -> Counter:
    with httpx.Client(base_url=url, timeout=10) as c:
        out = []
        for _ in range(n):
            r = c.post("/genimage", json={"prompt": "x"})
            assert r.status_code == 200, r.text
            out.append(r.json()["unit"])
    return Counter(out)


@pytest.fixture
def two_backends():
    with (
        AppThread(lambda: standin(0.001, 4, name="a")) as a,
        AppThread(lambda: standin(0.001, 4, name="b")) as b,
    ):
        yield a, b


def test_requests_split_by_weight(two_backends):
    a, b = two_backends
    with router_thread(
        config(Backend(name="a", url=a.url, weight=3), Backend(name="b", url=b.url, weight=1))
    ) as r:
        # Smooth weighted round-robin is exact over whole cycles of 4.
        assert units_hit(r.url, 40) == {"a": 30, "b": 10}
        m = samples(r.url)
        assert m[(names.REQUESTS, (("backend", "a"), ("status", "200")))] == 30
        assert m[(names.REQUESTS, (("backend", "b"), ("status", "200")))] == 10
        assert m[(names.LATENCY + "_count", (("backend", "a"),))] == 30
        assert m[(names.CLIENT_REQUESTS, (("status", "200"),))] == 40
        assert m[(names.WEIGHT, (("backend", "a"),))] == 3


def test_weights_set_through_the_admin_api_take_effect(two_backends):
    a, b = two_backends
    with router_thread(config(Backend(name="a", url=a.url), Backend(name="b", url=b.url))) as r:
        assert httpx.get(r.url + "/admin/weights").json() == {"a": 1, "b": 1}
        assert httpx.put(r.url + "/admin/weights", json={"a": 0, "b": 7}).json() == {"a": 0, "b": 7}
        assert units_hit(r.url, 10) == {"b": 10}
        assert samples(r.url)[(names.WEIGHT, (("backend", "b"),))] == 7


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"zz": 1}, "unknown backend(s) zz"),
        ({"a": -1}, "non-negative integer"),
        ({"a": True}, "non-negative integer"),
        ({"a": 1.5}, "non-negative integer"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_weights_are_refused_whole(two_backends, body, fragment):
    a, b = two_backends
    with router_thread(config(Backend(name="a", url=a.url, weight=5), Backend(name="b", url=b.url))) as r:
        resp = httpx.put(r.url + "/admin/weights", json={"b": 9, **body} if isinstance(body, dict) else body)
        assert resp.status_code == 400
        assert fragment in resp.json()["error"]
        assert httpx.get(r.url + "/admin/weights").json() == {"a": 5, "b": 1}


def test_pool_flag_is_published(two_backends):
    a, b = two_backends
    cfg = config(Backend(name="a", url=a.url, pool="cheap"), Backend(name="b", url=b.url))
    with router_thread(cfg) as r:
        assert httpx.put(r.url + "/admin/pools/cheap", json={"available": False}).status_code == 200
        assert samples(r.url)[(names.CAPACITY, (("backend", "a"), ("pool", "cheap")))] == 0
        assert samples(r.url)[(names.CAPACITY, (("backend", "b"), ("pool", "b")))] == 1
        rows = {row["name"]: row for row in httpx.get(r.url + "/admin/backends").json()}
        assert rows["a"]["capacity_available"] is False and rows["b"]["capacity_available"] is True
        assert httpx.put(r.url + "/admin/pools/nope", json={"available": False}).status_code == 400
        assert httpx.put(r.url + "/admin/pools/cheap", json={"available": "no"}).status_code == 400
        httpx.put(r.url + "/admin/pools/cheap", json={"available": True})
        assert samples(r.url)[(names.CAPACITY, (("backend", "a"), ("pool", "cheap")))] == 1


def test_a_backend_that_dies_is_retried_elsewhere_and_avoided(two_backends):
    a, b = two_backends
    with router_thread(config(Backend(name="a", url=a.url), Backend(name="b", url=b.url))) as r:
        assert units_hit(r.url, 4) == {"a": 2, "b": 2}
        b.stop()  # b stops listening: connections are refused
        # Every request still succeeds; b is tried once, marked unhealthy, then skipped.
        assert units_hit(r.url, 10) == {"a": 10}
        m = samples(r.url)
        assert m[(names.REQUESTS, (("backend", "b"), ("status", names.NO_RESPONSE)))] == 1
        assert m[(names.RETRIES, (("backend", "b"),))] == 1
        assert m[(names.HEALTHY, (("backend", "b"),))] == 0


def test_a_refusing_backend_is_retried_elsewhere(two_backends):
    a, _ = two_backends
    # max_queue=0: b answers 503 to every request although /readiness says it is ready.
    with (
        AppThread(lambda: standin(0.001, 1, max_queue=0, name="b")) as b,
        router_thread(config(Backend(name="a", url=a.url), Backend(name="b", url=b.url))) as r,
    ):
        assert units_hit(r.url, 10) == {"a": 10}
        m = samples(r.url)
        assert m[(names.REQUESTS, (("backend", "b"), ("status", "503")))] == 5
        assert m[(names.CLIENT_REQUESTS, (("status", "200"),))] == 10


def test_weight_zero_backend_takes_traffic_when_nothing_else_answers(two_backends):
    _, b = two_backends
    with router_thread(
        config(Backend(name="a", url=free_url(), weight=100), Backend(name="b", url=b.url, weight=0))
    ) as r:
        assert units_hit(r.url, 5) == {"b": 5}


def test_no_backend_answers_gives_503_with_retry_after_once_each_is_known_dead():
    cfg = config(Backend(name="a", url=free_url()), Backend(name="b", url=free_url()), dead_s=7.0)
    with router_thread(cfg) as r:
        resp = httpx.post(r.url + "/genimage", json={})
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "7"
        m = samples(r.url)
        # Each refused once and is then skipped: no attempt is spent on a backend known dead.
        assert sum(v for (n, lab), v in m.items() if n == names.REQUESTS) == 2
        assert m[(names.CLIENT_REQUESTS, (("status", "503"),))] == 1
        assert [row["dead"] for row in httpx.get(r.url + "/admin/backends").json()] == [True, True]


def test_a_busy_backend_is_retried_after_its_retry_after_until_it_answers():
    """The only backend answers 503 + Retry-After twice, then 200: the client sees the 200."""
    refusals = {"left": 2}

    def busy_then_free() -> web.Application:
        async def gen(request: web.Request) -> web.Response:
            if refusals["left"]:
                refusals["left"] -= 1
                return web.json_response({"error": "busy"}, status=503, headers={"Retry-After": "0"})
            return web.json_response({"unit": "a"})

        async def ready(request: web.Request) -> web.Response:
            return web.json_response({"ready": True})

        app = web.Application()
        app.router.add_post("/genimage", gen)
        app.router.add_get("/readiness", ready)
        return app

    with AppThread(busy_then_free) as a, router_thread(config(Backend(name="a", url=a.url))) as r:
        assert units_hit(r.url, 1) == {"a": 1}
        m = samples(r.url)
        assert m[(names.REQUESTS, (("backend", "a"), ("status", "503")))] == 2
        assert m[(names.RETRIES, (("backend", "a"),))] == 2  # each refusal led to another try


def test_a_backend_busy_past_the_budget_gives_503_with_retry_after():
    with AppThread(lambda: standin(0.001, 1, max_queue=0, name="a")) as a:
        cfg = config(Backend(name="a", url=a.url), retry_budget_s=0.2, retry_backoff_s=0.05)
        with router_thread(cfg) as r:
            resp = httpx.post(r.url + "/genimage", json={})
            assert resp.status_code == 503 and int(resp.headers["Retry-After"]) >= 1
            attempts = samples(r.url)[(names.REQUESTS, (("backend", "a"), ("status", "503")))]
            assert 1 <= attempts <= cfg.max_attempts


@pytest.mark.parametrize("weight", [1001, 10**29, -1, 2.5, "3", None])
def test_weights_out_of_range_are_refused(two_backends, weight):
    a, b = two_backends
    with router_thread(config(Backend(name="a", url=a.url), Backend(name="b", url=b.url))) as r:
        resp = httpx.put(r.url + "/admin/weights", json={"a": weight})
        assert resp.status_code == 400 and "up to 1000" in resp.json()["error"]
        assert httpx.put(r.url + "/admin/weights", json={"a": 1000}).json() == {"a": 1000, "b": 1}


def test_admin_token_guards_every_admin_route_but_not_traffic(two_backends):
    a, _ = two_backends
    with router_thread(config(Backend(name="a", url=a.url), admin_token="s3cret")) as r:
        for auth in (None, "Bearer wrong", "Basic s3cret", "Bearer s3cre"):
            headers = {"Authorization": auth} if auth else {}
            assert httpx.get(r.url + "/admin/weights", headers=headers).status_code == 401
            put = httpx.put(r.url + "/admin/weights", json={"a": 5}, headers=headers)
            assert put.status_code == 401 and put.headers["WWW-Authenticate"] == "Bearer"
        ok = {"Authorization": "Bearer s3cret"}
        assert httpx.put(r.url + "/admin/weights", json={"a": 5}, headers=ok).json() == {"a": 5}
        assert RouterClient(r.url, token="s3cret").weights() == {"a": 5}
        assert units_hit(r.url, 1) == {"a": 1}  # proxied routes need no token
        assert httpx.get(r.url + "/metrics").status_code == 200


def test_health_checks_bring_a_backend_back():
    url = free_url()
    port = int(url.rsplit(":", 1)[1])
    with router_thread(config(Backend(name="a", url=url), health_interval_s=0.1)) as r:
        assert httpx.get(r.url + "/admin/backends").json()[0]["healthy"] is False
        with AppThread(lambda: standin(0.001, 1, name="a"), port=port):
            for _ in range(50):
                if httpx.get(r.url + "/admin/backends").json()[0]["healthy"]:
                    break
                time.sleep(0.05)
            assert httpx.get(r.url + "/admin/backends").json()[0]["healthy"] is True
            assert units_hit(r.url, 2) == {"a": 2}


def test_method_path_query_headers_and_body_pass_through():
    seen = {}

    def echo() -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            seen.update(
                method=request.method,
                path=request.path_qs,
                body=await request.read(),
                header=request.headers.get("X-Trace"),
                host=request.headers.get("Host"),
            )
            headers = CIMultiDict(
                [
                    ("X-Unit", "echo"),
                    ("Content-Type", "image/png"),
                    ("Set-Cookie", "a=1"),
                    ("Set-Cookie", "b=2"),
                ]
            )
            return web.Response(body=b"\x00\x01png", status=201, headers=headers)

        async def ready(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/readiness", ready)
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    with AppThread(echo) as e, router_thread(config(Backend(name="e", url=e.url))) as r:
        resp = httpx.post(
            r.url + "/v1/images/generations?n=2", content=b'{"p": 1}', headers={"X-Trace": "t1"}
        )
        assert resp.status_code == 201
        assert resp.content == b"\x00\x01png"
        assert resp.headers["X-Unit"] == "echo" and resp.headers["Content-Type"] == "image/png"
        assert resp.headers.get_list("Set-Cookie") == ["a=1", "b=2"]  # repeated headers stay apart
        assert seen == {
            "method": "POST",
            "path": "/v1/images/generations?n=2",
            "body": b'{"p": 1}',
            "header": "t1",
            "host": e.url.removeprefix("http://"),
        }
