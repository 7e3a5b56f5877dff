"""The demo's clients: open-loop arrivals following a cosine wave, sent through the router.

Arrivals are a non-homogeneous Poisson process drawn up front by thinning with a seeded RNG (pure),
then sent on schedule by an asyncio loop on a background thread, whether or not earlier requests
have answered, so a slow or failing fleet shows up in latency and status, not in a slower client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accelctl.bench.quality import PROMPTS
from accelctl.bench.shapes import REQUEST_SHAPES


@dataclass(frozen=True)
class Outcome:
    at: float  # seconds from the start of the load, when the request was sent
    latency: float  # seconds until the answer (or the failure)
    status: int  # HTTP status; 0 when no answer came


def arrival_times(
    rate: Callable[[np.ndarray], np.ndarray], peak: float, duration: float, rng: np.random.Generator
) -> np.ndarray:
    """Lewis-Shedler thinning: candidates at the `peak` rate over [0, duration), each kept with
    probability rate(t)/peak. `rate` must never exceed `peak`."""
    if peak <= 0 or duration <= 0:
        return np.empty(0)
    n = rng.poisson(peak * duration)
    candidates = np.sort(rng.uniform(0.0, duration, n))
    keep = rng.uniform(0.0, peak, n) < rate(candidates)
    return candidates[keep]


class LoadThread:
    """Sends POSTs to `url` at the given arrival times (seconds from start()); `outcomes` fills as they
    answer."""

    def __init__(
        self,
        url: str,
        arrivals: np.ndarray,
        steps: int | None = None,
        timeout_s: float = 60.0,
        shape: str = "genimage",
        max_connections: int = 256,
    ):
        self.url = url.rstrip("/")
        self.arrivals = arrivals
        self.steps = steps
        self.timeout_s = timeout_s
        self.shape = REQUEST_SHAPES.get(shape)
        self.max_connections = max_connections
        self.outcomes: list[Outcome] = []
        self.started_at: float | None = None  # time.monotonic() at the first arrival's origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accelctl-demo-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        """Wait until every arrival was sent and answered."""
        last = float(self.arrivals[-1]) if len(self.arrivals) else 0.0
        self._thread.join(timeout=last + self.timeout_s + 5)

    def stop(self) -> None:
        """Send nothing more; wait for the requests in flight (each ends within the timeout)."""
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        import httpx

        limits = httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        # trust_env=False: an environment proxy must never sit between the demo and 127.0.0.1.
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout_s, trust_env=False) as client:
            self.started_at = time.monotonic()
            tasks = []
            for i, at in enumerate(self.arrivals):
                while (
                    delay := self.started_at + float(at) - time.monotonic()
                ) > 0 and not self._stop.is_set():
                    await asyncio.sleep(min(delay, 0.2))
                if self._stop.is_set():
                    break
                tasks.append(asyncio.create_task(self._send(client, i)))
            if tasks:
                # Every request ends within the client timeout, so this wait is bounded too.
                await asyncio.wait(tasks)

    async def _send(self, client, i: int) -> None:
        import httpx

        body = self.shape.body(PROMPTS[i % len(PROMPTS)], i, self.steps)
        assert self.started_at is not None
        sent = time.monotonic()
        try:
            resp = await client.post(self.url + self.shape.path, json=body)
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        self.outcomes.append(Outcome(sent - self.started_at, time.monotonic() - sent, status))
