"""Bounded parallelism for the model: a few calls run, a few wait, the rest are turned away at once.

Turning away at once (rather than queueing without bound) is what lets a load balancer try another
deployment unit while this one is at its breaking point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Full(Exception):
    """Every run slot and every queue place is taken."""


class Admission:
    """At most `concurrency` model calls run on worker threads and at most `queue` wait for one.

    Create inside the event loop that uses it (asyncio primitives bind to their loop).
    """

    def __init__(self, concurrency: int, queue: int):
        if concurrency < 1 or queue < 0:
            raise ValueError("concurrency must be >= 1 and queue >= 0")
        self.capacity = concurrency + queue
        self.running = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="accelctl-model")

    @property
    def busy(self) -> int:
        return self.running + self.waiting

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a worker thread once a slot is free; raise Full if none is free or queued for.

        If the caller gives up (a timeout cancels it), a call already running keeps its slot until
        it really ends: threads cannot be interrupted, and counting the slot free early would let more
        calls run at once than the model was sized for.
        """
        if self.busy >= self.capacity:
            raise Full()
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        fut = asyncio.get_running_loop().run_in_executor(self._pool, fn)
        fut.add_done_callback(self._release)
        return await asyncio.shield(fut)

    def _release(self, fut: asyncio.Future) -> None:
        self.running -= 1
        self._slots.release()
        if not fut.cancelled():
            fut.exception()  # marks an abandoned call's error as seen; its caller already answered

    def close(self) -> None:
        """Stop taking work; a call still running is abandoned, not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)
