"""The router's admin API: what the `router` actuator and the demo's capacity fault call.

GET  /admin/weights          -> {"backend": weight, ...}
PUT  /admin/weights          <- {"backend": weight, ...}  (names given are set; others keep theirs)
GET  /admin/backends         -> [{name, url, pool, weight, healthy, capacity_available, inflight}, ...]
PUT  /admin/pools/{pool}     <- {"available": false}  (a capacity pool ran short, or is back)
"""

from __future__ import annotations

import json

from aiohttp import web

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


def add_routes(app: web.Application, router: Router) -> None:
    async def get_weights(request: web.Request) -> web.Response:
        return web.json_response(router.weights())

    async def put_weights(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not body:
            return _bad('expected a JSON object of backend -> weight, e.g. {"cheap": 80, "fast": 20}')
        unknown = sorted(set(body) - set(router.backends))
        if unknown:
            return _bad(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(router.backends)}")
        bad = sorted(n for n, w in body.items() if not isinstance(w, int) or isinstance(w, bool) or w < 0)
        if bad:
            return _bad(f"weight of {', '.join(bad)} must be a non-negative integer")
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

    app.router.add_get("/admin/weights", get_weights)
    app.router.add_put("/admin/weights", put_weights)
    app.router.add_get("/admin/backends", get_backends)
    app.router.add_put("/admin/pools/{pool}", put_pool)
