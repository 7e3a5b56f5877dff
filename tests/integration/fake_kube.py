"""A small fake Kubernetes API server on 127.0.0.1 for source and actuator tests.

It serves GET (one object, or a list filtered by labelSelector/fieldSelector), POST (create), PUT (replace)
and PATCH, and is strict where the real API server is strict, so a client that would fail against a
cluster fails here:
- PATCH content types: application/merge-patch+json for every kind; application/strategic-merge-patch+json
  only for built-in kinds (custom resources answer 415 as the real server does); a JSON patch body that
  is not an array answers 400 (JSON patch is otherwise not simulated: 501).
- Field ownership as the API server keeps it (metadata.managedFields): every write is recorded under its
  field manager (?fieldManager, else the User-Agent's product name). An update (POST, PUT, merge patch)
  takes the fields it changes from every other manager; a server-side apply (application/apply-patch+yaml,
  ?fieldManager required, ?force) creates the object if absent, fails with 409 Conflict on a field
  another manager owns with a different value unless forced (then it takes it), shares a field set to
  the same value, and removes the fields it applied before and no longer applies unless another manager
  owns them. Lists are atomic (owned whole), as every list of Ingress and HTTPRoute is; maps and
  structs are granular. An HTTPRoute without spec.rules gets the CRD's default rules, owned by no one.
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
import yaml

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
_MISSING = object()
# Paths no manager owns: identity, server-set metadata, and status (a subresource).
_UNOWNED = {("apiVersion",), ("kind",), ("status",)} | {
    ("metadata", k)
    for k in (
        "name",
        "namespace",
        "resourceVersion",
        "managedFields",
        "uid",
        "creationTimestamp",
        "generation",
    )
}


def _leaves(value: object, path: tuple = ()) -> set[tuple]:
    """Field paths a manager can own: map keys down to scalars, lists (atomic) and empty maps."""
    if isinstance(value, dict) and value:
        out: set[tuple] = set()
        for key, child in value.items():
            out |= _leaves(child, path + (key,))
        return out
    return {path}


def _owned(obj: dict) -> set[tuple]:
    return {p for p in _leaves(obj) if not any(p[: len(u)] == u for u in _UNOWNED)}


def _at(obj: object, path: tuple) -> object:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _overlap(a: tuple, b: tuple) -> bool:
    return a[: len(b)] == b or b[: len(a)] == a


def _delete(obj: dict, path: tuple) -> None:
    """Remove a field, and the maps it leaves empty."""
    parents = [obj]
    for key in path[:-1]:
        parents.append(parents[-1].get(key))
        if not isinstance(parents[-1], dict):
            return
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


def _fields_v1(paths: set[tuple]) -> dict:
    out: dict = {}
    for path in sorted(paths):
        node = out
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return out


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
        # object -> (manager, "Apply" | "Update") -> the field paths it owns
        self.owners: dict[tuple[str, str | None, str], dict[tuple[str, str], set[tuple]]] = {}
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

    def managers(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, set[str]]:
        """Manager -> the dotted paths it owns, for assertions."""
        key = (kind, namespace if KINDS[kind][2] else None, name)
        return {
            mgr: {".".join(p) for p in paths} for (mgr, _), paths in self.owners.get(key, {}).items() if paths
        }

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

    def handle_post(self, path: str, query: dict[str, list[str]], raw: bytes, agent: str) -> dict:
        kind, ns, name = self._resolve(path)
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST to a named object")
        obj = json.loads(raw)
        name = obj["metadata"]["name"]
        key = (kind, ns, name)
        with self._lock:
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{KINDS[kind][1]} "{name}" already exists')
            obj["metadata"]["namespace"] = ns
            self._default(kind, obj)
            self._validate(kind, obj)
            self.owners[key] = {(self._manager(query, agent), "Update"): _owned(obj)}
            return self._store(key, obj)

    def _manager(self, query: dict[str, list[str]], agent: str) -> str:
        return query.get("fieldManager", [""])[0] or agent.split("/")[0]

    def _store(self, key: tuple, obj: dict) -> dict:
        """Bump the resourceVersion, write managedFields as the API server shows them, keep the object."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        owners = self.owners.setdefault(key, {})
        for entry in [e for e, paths in owners.items() if not paths]:
            del owners[entry]
        api = KINDS[key[0]][0].removeprefix("apis/").removeprefix("api/")
        obj["metadata"]["managedFields"] = [
            {
                "manager": mgr,
                "operation": op,
                "apiVersion": api,
                "fieldsType": "FieldsV1",
                "fieldsV1": _fields_v1(p),
            }
            for (mgr, op), p in sorted(owners.items())
        ]
        self.objects[key] = obj
        return obj

    def _default(self, kind: str, obj: dict) -> None:
        if kind == "HTTPRoute" and "rules" not in obj.setdefault("spec", {}):
            schema = crd_schema("gateway.networking.k8s.io/v1", "HTTPRoute")
            obj["spec"]["rules"] = copy.deepcopy(
                schema["properties"]["spec"]["properties"]["rules"]["default"]
            )

    def _apply(self, kind: str, ns: str | None, name: str, config: dict, manager: str, force: bool) -> dict:
        key = (kind, ns, name)
        applied = _owned(config)
        with self._lock:
            live = self.objects.get(key)
            if live is None:
                obj = copy.deepcopy(config)
                if KINDS[kind][2]:
                    obj["metadata"]["namespace"] = ns
                self._default(kind, obj)
                self._validate(kind, obj)
                self.owners[key] = {(manager, "Apply"): applied}
                return self._store(key, obj)
            owners = {e: set(p) for e, p in self.owners.get(key, {}).items()}
            conflicts = sorted(
                {
                    (other, field)
                    for path in applied
                    if _at(config, path) != _at(live, path)
                    for other, fields in owners.items()
                    if other != (manager, "Apply")
                    for field in fields
                    if _overlap(field, path)
                }
            )
            if conflicts and not force:
                lines = "; ".join(f'conflict with "{m}": .{".".join(f)}' for (m, _), f in conflicts)
                raise ApiError(409, "Conflict", f"Apply failed with {len(conflicts)} conflict(s): {lines}")
            for other, field in conflicts:
                owners[other].discard(field)
            obj = copy.deepcopy(live)
            for gone in owners.get((manager, "Apply"), set()) - applied:
                if not any(
                    _overlap(f, gone) for e, fs in owners.items() if e != (manager, "Apply") for f in fs
                ):
                    _delete(obj, gone)
            obj = merge_patch(obj, config)
            self._default(kind, obj)
            self._validate(kind, obj)
            owners[(manager, "Apply")] = applied
            self.owners[key] = owners
            return self._store(key, obj)

    def _update_owners(self, key: tuple, before: dict, after: dict, manager: str) -> None:
        """An update takes the fields whose value it changed (or added) from every other manager."""
        changed = {p for p in _owned(after) if _at(before, p) != _at(after, p)}
        removed = {p for p in _owned(before) if _at(after, p) is _MISSING}
        owners = self.owners.setdefault(key, {})
        for entry, fields in owners.items():
            owners[entry] = {f for f in fields if not any(_overlap(f, c) for c in changed | removed)}
        owners[(manager, "Update")] = owners.get((manager, "Update"), set()) | changed

    def handle_patch(
        self, path: str, query: dict[str, list[str]], content_type: str, raw: bytes, agent: str = ""
    ) -> dict:
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
            try:
                config = yaml.safe_load(raw)
            except yaml.YAMLError:
                raise ApiError(400, "BadRequest", "error decoding YAML") from None
            if not isinstance(config, dict) or (config.get("metadata") or {}).get("name") != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name in the URL")
            force = query.get("force", ["false"])[0] == "true"
            return self._apply(kind, ns, name, config, query["fieldManager"][0], force)
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
            self._default(kind, new)
            self._validate(kind, new)
            self._update_owners((kind, ns, name), live, new, self._manager(query, agent))
            return self._store((kind, ns, name), new)

    def handle_put(self, path: str, query: dict[str, list[str]], raw: bytes, agent: str = "") -> dict:
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
            meta.setdefault("namespace", ns)
            self._default(kind, new)
            self._validate(kind, new)
            self._update_owners((kind, ns, name), live, new, self._manager(query, agent))
            return self._store((kind, ns, name), new)

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
                agent = self.headers.get("User-Agent") or ""
                try:
                    if method == "GET":
                        code, out = 200, fake.handle_get(url.path, query)
                    elif method == "PUT":
                        code, out = 200, fake.handle_put(url.path, query, raw, agent)
                    elif method == "POST":
                        code, out = 201, fake.handle_post(url.path, query, raw, agent)
                    else:
                        code, out = 200, fake.handle_patch(url.path, query, ctype or "", raw, agent)
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

            def do_POST(self):
                self._serve("POST")

        return Handler
