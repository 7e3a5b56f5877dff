"""Leader election with the real kubernetes client against a fake coordination.k8s.io/v1 Lease API.

The fake server on 127.0.0.1 keeps Leases in memory and is strict where the API server is: PUT must
carry the current metadata.resourceVersion (409 Conflict otherwise), POST of an existing name is 409
AlreadyExists, and MicroTime fields must be RFC 3339 with exactly six fraction digits.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("kubernetes")

from accelctl.control.leader import LeaseConfig, lease_elector  # noqa: E402
from accelctl.control.loop import Controller, Hold  # noqa: E402
from accelctl.control.types import Standby, StandbyCode  # noqa: E402

PREFIX = "/apis/coordination.k8s.io/v1/namespaces/"
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


class LeaseServer:
    def __init__(self):
        self.leases: dict[tuple[str, str], dict] = {}
        self.version = 0
        self.requests: list[tuple[str, str, dict | None]] = []
        self.conflict_next = False  # another writer lands between a client's GET and its PUT
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append((method, self.path, body))
                if outer.down:
                    return self._status(503, "ServiceUnavailable", "etcd is down")
                path = self.path.split("?")[0]
                if not path.startswith(PREFIX):
                    return self._status(404, "NotFound", "unknown path")
                parts = path[len(PREFIX) :].split("/")
                ns, name = parts[0], parts[2] if len(parts) > 2 else None
                if method in ("POST", "PUT"):
                    if self.headers.get("Content-Type") != "application/json":
                        return self._status(415, "UnsupportedMediaType", self.headers.get("Content-Type"))
                    for key in ("acquireTime", "renewTime"):
                        value = (body.get("spec") or {}).get(key)
                        if value is not None and not MICRO.match(value):
                            return self._status(
                                400, "BadRequest", f"spec.{key}: cannot parse {value!r} as MicroTime"
                            )
                if method == "GET":
                    lease = outer.leases.get((ns, name))
                    if lease is None:
                        return self._status(404, "NotFound", f'leases.coordination.k8s.io "{name}" not found')
                    return self._send(200, lease)
                if method == "POST":
                    name = body["metadata"]["name"]
                    if (ns, name) in outer.leases:
                        return self._status(
                            409, "AlreadyExists", f'leases.coordination.k8s.io "{name}" already exists'
                        )
                    return self._send(201, outer.store(ns, name, body))
                if method == "PUT":
                    current = outer.leases.get((ns, name))
                    if current is None:
                        return self._status(404, "NotFound", "not found")
                    if outer.conflict_next:
                        outer.conflict_next = False
                        current = outer.store(ns, name, current)
                    if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                        return self._status(
                            409,
                            "Conflict",
                            "the object has been modified; please apply your "
                            "changes to the latest version and try again",
                        )
                    return self._send(200, outer.store(ns, name, body))
                return self._status(405, "MethodNotAllowed", method)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def store(self, ns: str, name: str, body: dict) -> dict:
        self.version += 1
        obj = {**body, "apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
        obj["metadata"] = {
            **body["metadata"],
            "namespace": ns,
            "name": name,
            "resourceVersion": str(self.version),
        }
        self.leases[(ns, name)] = obj
        return obj

    def spec(self, name: str = "accelctl-watch") -> dict:
        return self.leases[("ops", name)]["spec"]


@pytest.fixture
def server():
    s = LeaseServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


ON_THE_SECOND = dt.datetime(2025, 3, 25, 21, 20, 0, tzinfo=dt.timezone.utc)  # microsecond 0


def elector(server: LeaseServer, identity: str, lease_s: float = 45.0):
    e = lease_elector(
        LeaseConfig(host=server.url, namespace="ops", identity=identity, lease_s=lease_s, timeout_s=5)
    )
    e.wall = lambda: ON_THE_SECOND
    return e


def test_first_replica_creates_the_lease_and_leads_the_other_stands_by(server):
    a, b = elector(server, "watch-a"), elector(server, "watch-b")
    assert a(0.0) is None
    spec = server.spec()
    assert spec["holderIdentity"] == "watch-a" and spec["leaseDurationSeconds"] == 45
    # Six fraction digits even on a whole second, where datetime.isoformat() would give none.
    assert spec["renewTime"] == spec["acquireTime"] == "2025-03-25T21:20:00.000000Z"
    assert b(0.0) == Standby(
        StandbyCode.HELD_ELSEWHERE, "ops/accelctl-watch", holder="watch-a", values={"lease_s": 45.0}
    )
    assert [m for m, _, _ in server.requests] == ["GET", "POST", "GET"]


def test_the_leader_renews_and_a_standby_waits_a_full_lease_of_silence_on_its_own_clock(server):
    a, b = elector(server, "watch-a"), elector(server, "watch-b")
    assert a(0.0) is None
    assert b(1000.0) is not None  # b's clock is far from a's: only what b has observed counts
    for t in (15.0, 30.0, 45.0):
        assert a(t) is None  # renewal: a new resourceVersion every tick
        assert b(1000.0 + t + 10.0) is not None
    rv = server.leases[("ops", "accelctl-watch")]["metadata"]["resourceVersion"]
    # a dies after t=45. b first saw this record at 1055; it takes over at 1055 + 45 = 1100, not before.
    assert b(1099.9) is not None
    assert b(1100.0) is None
    spec = server.spec()
    assert spec["holderIdentity"] == "watch-b" and spec["leaseTransitions"] == 1
    assert server.leases[("ops", "accelctl-watch")]["metadata"]["resourceVersion"] != rv
    # a comes back: it is no longer the holder and stands by.
    assert a(60.0) == Standby(
        StandbyCode.HELD_ELSEWHERE, "ops/accelctl-watch", holder="watch-b", values={"lease_s": 45.0}
    )


def test_of_two_replicas_racing_for_an_expired_lease_only_one_wins(server):
    a, b = elector(server, "watch-a", lease_s=10), elector(server, "watch-b", lease_s=10)
    assert a(0.0) is None
    assert b(0.0) is not None
    server.conflict_next = True  # someone else writes between b's GET and its PUT
    assert b(10.0) == Standby(StandbyCode.LOST_RACE, "ops/accelctl-watch", detail="taken by another replica")
    assert server.spec()["holderIdentity"] == "watch-a"


def test_release_hands_over_at_once(server):
    a, b = elector(server, "watch-a"), elector(server, "watch-b")
    assert a(0.0) is None and b(0.0) is not None
    a.release()
    assert server.spec().get("holderIdentity") is None and server.spec()["leaseDurationSeconds"] == 1
    assert b(1.0) is None and server.spec()["holderIdentity"] == "watch-b"


def test_an_unreachable_api_server_means_standby(server):
    a = elector(server, "watch-a")
    assert a(0.0) is None
    server.down = True
    standby = a(15.0)
    assert standby.code is StandbyCode.API_ERROR and standby.values == {"status": 503}
    server.down = False
    assert a(30.0) is None


def test_only_the_leader_controller_writes(server):
    class Source:
        def read(self, units, now):
            raise AssertionError("a standby must not even read metrics")

    class Actuator:
        def read(self):
            raise AssertionError("a standby must not touch the route")

    a, b = elector(server, "watch-a"), elector(server, "watch-b")
    assert a(0.0) is None
    from accelctl.units import PolicySettings

    standby = Controller("cost", (), [], Source(), Actuator(), PolicySettings(), gate=b)
    r = standby.tick(5.0)
    assert r.held is Hold.STANDBY and r.error is None
    assert r.standby == Standby(
        StandbyCode.HELD_ELSEWHERE, "ops/accelctl-watch", holder="watch-a", values={"lease_s": 45.0}
    )
