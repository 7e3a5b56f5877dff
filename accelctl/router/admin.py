"""The router's admin API: what the `router` actuator and the demo's capacity fault call.

GET  /admin/weights          -> {"backend": weight, ...}
PUT  /admin/weights          <- {"backend": weight, ...}  (names given are set; others keep theirs)
GET  /admin/backends         -> [{name, url, pool, weight, healthy, capacity_available, inflight}, ...]
PUT  /admin/pools/{pool}     <- {"available": false}  (a capacity pool ran short, or is back)
PUT  /admin/planned          <- {"backend": replicas, ...}  (what the controller plans; shown in backends)

With an admin token configured (`--admin-token` or ACCELCTL_ROUTER_ADMIN_TOKEN), every admin route
asks for `Authorization: Bearer <token>` and answers 401 without it.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from accelctl.router.config import MAX_WEIGHT
from accelctl.router.proxy import Router


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_body(request: web.Request) -> object:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
        ) from None


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def add_routes(app: web.Application, router: Router) -> None:
    secret = router.config.admin_token

    @web.middleware
    async def require_token(request: web.Request, handler):
        if (
            secret is not None
            and request.path.startswith("/admin/")
            and not _authorized(request, secret.get_secret_value())
        ):
            return web.json_response(
                {"error": "admin API needs Authorization: Bearer <the router's admin token>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    app.middlewares.append(require_token)

    async def get_weights(request: web.Request) -> web.Response:
        return web.json_response(router.weights())

    async def put_weights(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not body:
            return _bad('expected a JSON object of backend -> weight, e.g. {"cheap": 80, "fast": 20}')
        unknown = sorted(set(body) - set(router.backends))
        if unknown:
            return _bad(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(router.backends)}")
        bad = sorted(
            n
            for n, w in body.items()
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= MAX_WEIGHT
        )
        if bad:
            return _bad(f"weight of {', '.join(bad)} must be a non-negative integer up to {MAX_WEIGHT}")
        router.set_weights(body)
        return web.json_response(router.weights())

    async def get_backends(request: web.Request) -> web.Response:
        return web.json_response(router.snapshot())

    async def put_pool(request: web.Request) -> web.Response:
        pool = request.match_info["pool"]
        if pool not in router.pools_available:
            return _bad(f"unknown pool {pool!r}; known: {', '.join(sorted(router.pools_available))}")
        body = await _json_body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("available"), bool)
            or set(body) != {"available"}
        ):
            return _bad('expected {"available": true} or {"available": false}')
        router.set_pool(pool, body["available"])
        return web.json_response({"pool": pool, "available": body["available"]})

    async def put_planned(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _bad('expected a JSON object of backend -> planned replicas, e.g. {"cheap": 3}')
        unknown = sorted(set(body) - set(router.backends))
        if unknown:
            return _bad(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(router.backends)}")
        bad = sorted(n for n, r in body.items() if not isinstance(r, int) or isinstance(r, bool) or r < 0)
        if bad:
            return _bad(f"planned replicas of {', '.join(bad)} must be non-negative integers")
        router.planned = dict(body)
        return web.json_response(router.planned)

    app.router.add_put("/admin/planned", put_planned)
    app.router.add_get("/admin/weights", get_weights)
    app.router.add_put("/admin/weights", put_weights)
    app.router.add_get("/admin/backends", get_backends)
    app.router.add_put("/admin/pools/{pool}", put_pool)
