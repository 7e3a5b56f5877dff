"""A small synchronous client for the router's admin API (the `router` actuator and the demo use it)."""

from __future__ import annotations

import os

import httpx

from accelctl.errors import AccelctlError

# The router's admin token travels in this variable between `accelctl router` and its callers.
TOKEN_ENV = "ACCELCTL_ROUTER_ADMIN_TOKEN"


class RouterClient:
    def __init__(self, url: str, timeout_s: float = 5.0, token: str | None = None):
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)

    def _call(self, method: str, path: str, body: object = None) -> object:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise AccelctlError(f"router at {self.url}: {method} {path} failed: {exc}") from None
        if resp.status_code != 200:
            raise AccelctlError(
                f"router at {self.url}: {method} {path} answered {resp.status_code}: {resp.text}"
            )
        return resp.json()

    def weights(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._call("GET", "/admin/weights").items()}

    def set_weights(self, weights: dict[str, int]) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._call("PUT", "/admin/weights", weights).items()}

    def set_planned(self, replicas: dict[str, int]) -> None:
        self._call("PUT", "/admin/planned", replicas)

    def backends(self) -> list[dict]:
        return list(self._call("GET", "/admin/backends"))

    def set_pool_available(self, pool: str, available: bool) -> None:
        self._call("PUT", f"/admin/pools/{pool}", {"available": available})

    def close(self) -> None:
        self._http.close()
