"""A small fake Kubernetes API server on 127.0.0.1 for source and actuator tests.

It serves GET (one object, or a list filtered by labelSelector/fieldSelector), PUT (replace) and PATCH,
and is strict where the real API server is strict, so a client that would fail against a cluster fails
here:
- PATCH content types: application/merge-patch+json for every kind; application/strategic-merge-patch+json
  only for built-in kinds (custom resources answer 415 as the real server does); a JSON patch body that
  is not an array answers 400. JSON patch and server-side apply are otherwise not simulated (501), and
  an apply without ?fieldManager answers 400 as the real server does.
- metadata.resourceVersion in a patch or a PUT is a precondition: a stale one answers 409 Conflict; a PUT
  body must name the object it replaces (kind, metadata.name, namespace) or it answers 400.
- annotation values must be strings (400 otherwise), and HTTPRoutes are validated against the
  Gateway API CRD schema accelctl ships in accelctl/data/schemas (422 Invalid), as the API server's
  structural schema would.
Every request is recorded (method, path, query, content type, parsed body) for assertions.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jsonschema

from accelctl.deploy.validate import crd_schema

# kind -> (API prefix, plural, namespaced, built-in)
KINDS = {
    "Pod": ("api/v1", "pods", True, True),
    "ConfigMap": ("api/v1", "configmaps", True, True),
    "Event": ("api/v1", "events", True, True),
    "Deployment": ("apis/apps/v1", "deployments", True, True),
    "Ingress": ("apis/networking.k8s.io/v1", "ingresses", True, True),
    "HTTPRoute": ("apis/gateway.networking.k8s.io/v1", "httproutes", True, False),
    "NodeClaim": ("apis/karpenter.sh/v1", "nodeclaims", False, False),
    "NodePool": ("apis/karpenter.sh/v1", "nodepools", False, False),
}
BY_PLURAL = {(prefix, plural): kind for kind, (prefix, plural, _, _) in KINDS.items()}
PATH = re.compile(
    r"^/(?P<prefix>api/v1|apis/[^/]+/[^/]+)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$"
)
MERGE, STRATEGIC, JSON_PATCH, APPLY = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    body: object


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386: objects merge key by key, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _lookup(obj: dict, dotted: str) -> object:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _matches_labels(labels: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in re.split(r",(?![^(]*\))", selector))):
        if m := re.fullmatch(r"(\S+)\s+in\s+\(([^)]*)\)", term):
            if labels.get(m[1]) not in {v.strip() for v in m[2].split(",")}:
                return False
        elif m := re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", term):
            if (labels.get(m[1]) == m[3]) != (m[2] != "!="):
                return False
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return True


def _matches_fields(obj: dict, selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if str(_lookup(obj, key)) != value:
            return False
    return True


class FakeKube:
    def __init__(self):
        self.objects: dict[tuple[str, str | None, str], dict] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._rv = 100
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKube:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add(self, obj: dict) -> dict:
        kind = obj["kind"]
        _, _, namespaced, _ = KINDS[kind]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if namespaced:
            meta.setdefault("namespace", "default")
        with self._lock:
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self.objects[(kind, meta.get("namespace"), meta["name"])] = obj
        return obj

    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict:
        return self.objects[(kind, namespace if KINDS[kind][2] else None, name)]

    def patches(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PATCH"]

    # ---------------------------------------------------------------- request handling

    def _resolve(self, path: str) -> tuple[str, str | None, str | None]:
        m = PATH.match(path)
        kind = m and BY_PLURAL.get((m["prefix"], m["plural"]))
        if not kind:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        return kind, m["ns"], m["name"]

    def handle_get(self, path: str, query: dict[str, list[str]]) -> dict:
        kind, ns, name = self._resolve(path)
        if name is not None:
            obj = self.objects.get((kind, ns, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
            return obj
        labels = query.get("labelSelector", [""])[0]
        fields = query.get("fieldSelector", [""])[0]
        with self._lock:
            stored = sorted(self.objects.items(), key=lambda kv: str(kv[0]))
        items = [
            o
            for (k, o_ns, _), o in stored
            if k == kind
            and (ns is None or o_ns == ns)
            and _matches_labels(o["metadata"].get("labels") or {}, labels)
            and _matches_fields(o, fields)
        ]
        prefix = KINDS[kind][0]
        return {
            "kind": f"{kind}List",
            "apiVersion": prefix.removeprefix("apis/").removeprefix("api/"),
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def handle_patch(self, path: str, query: dict[str, list[str]], content_type: str, raw: bytes) -> dict:
        kind, ns, name = self._resolve(path)
        builtin = KINDS[kind][3]
        accepted = [JSON_PATCH, MERGE, APPLY] + ([STRATEGIC] if builtin else [])
        if content_type not in accepted:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(accepted)}",
            )
        if content_type == APPLY:
            if not query.get("fieldManager"):
                raise ApiError(400, "BadRequest", "fieldManager: Required value: is required for apply patch")
            raise ApiError(501, "NotImplemented", "fake API server: server-side apply is not simulated")
        try:
            patch = json.loads(raw)
        except ValueError:
            raise ApiError(400, "BadRequest", "body is not JSON") from None
        if content_type == JSON_PATCH:
            if not isinstance(patch, list):
                raise ApiError(
                    400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                )
            raise ApiError(501, "NotImplemented", "fake API server: JSON patch is not simulated")
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "patch body must be a JSON object")
        if content_type == STRATEGIC and "[" in raw.decode():
            raise ApiError(
                501, "NotImplemented", "fake API server: strategic merge of lists is not simulated"
            )
        with self._lock:
            live = self.objects.get((kind, ns, name))
            if live is None:
                raise ApiError(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if want_rv is not None and want_rv != live["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {KINDS[kind][1]} "{name}": the '
                    "object has been modified; please apply your changes to the latest version and try again",
                )
            new = merge_patch(live, patch)
            self._validate(kind, new)
            self._rv += 1
            new["metadata"]["resourceVersion"] = str(self._rv)
            self.objects[(kind, ns, name)] = new
            return new

    def handle_put(self, path: str, raw: bytes) -> dict:
        kind, ns, name = self._resolve(path)
        try:
            new = json.loads(raw)
        except ValueError:
            raise ApiError(400, "BadRequest", "body is not JSON") from None
        meta = new.get("metadata") if isinstance(new, dict) else None
        if not isinstance(meta, dict) or new.get("kind") != kind or meta.get("name") != name:
            raise ApiError(400, "BadRequest", f"the body must be the {kind} {name!r} it replaces")
        if meta.get("namespace", ns) != ns:
            raise ApiError(
                400, "BadRequest", "the namespace of the object does not match the namespace on the request"
            )
        with self._lock:
            live = self.objects.get((kind, ns, name))
            if live is None:
                raise ApiError(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
            want_rv = meta.get("resourceVersion")
            if want_rv is not None and want_rv != live["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {KINDS[kind][1]} "{name}": the '
                    "object has been modified; please apply your changes to the latest version and try again",
                )
            self._validate(kind, new)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("namespace", ns)
            self.objects[(kind, ns, name)] = new
            return new

    def _validate(self, kind: str, obj: dict) -> None:
        for key, value in (obj["metadata"].get("annotations") or {}).items():
            if not isinstance(value, str):
                raise ApiError(
                    400,
                    "BadRequest",
                    f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                    f"ObjectMeta.metadata.annotations of type string (key {key})",
                )
        if kind == "HTTPRoute":
            schema = crd_schema("gateway.networking.k8s.io/v1", "HTTPRoute")
            try:
                jsonschema.validate(obj, schema)
            except jsonschema.ValidationError as exc:
                path = ".".join(str(p) for p in exc.absolute_path)
                raise ApiError(
                    422,
                    "Invalid",
                    f'HTTPRoute.gateway.networking.k8s.io "{obj["metadata"]["name"]}" is '
                    f"invalid: {path}: {exc.message}",
                ) from None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                return None

            def _serve(self, method: str):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type")
                try:
                    body = json.loads(raw) if raw and ctype != APPLY else raw.decode()
                except ValueError:
                    body = raw.decode(errors="replace")
                fake.requests.append(Recorded(method, url.path, query, ctype, body))
                try:
                    if method == "GET":
                        code, out = 200, fake.handle_get(url.path, query)
                    elif method == "PUT":
                        code, out = 200, fake.handle_put(url.path, raw)
                    else:
                        code, out = 200, fake.handle_patch(url.path, query, ctype or "", raw)
                except ApiError as err:
                    code, out = (
                        err.code,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "metadata": {},
                            "status": "Failure",
                            "message": err.message,
                            "reason": err.reason,
                            "code": err.code,
                        },
                    )
                data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_PATCH(self):
                self._serve("PATCH")

            def do_PUT(self):
                self._serve("PUT")

        return Handler
