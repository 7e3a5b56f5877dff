"""Running the app under uvicorn with the shutdown a load balancer needs.

On SIGTERM (or Ctrl-C) readiness fails at once so the balancer stops sending, new image requests are
turned away with 503, and requests already admitted finish; the listener closes when the last one
has answered or the grace period is nearly spent, whichever comes first. A second signal stops at once.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import uvicorn
from fastapi import FastAPI

log = logging.getLogger("accelctl.serve")
# The drain ends this long before the grace period does; uvicorn then gets all but EXIT_S of it to
# finish sending responses, and EXIT_S is left for lifespan shutdown and interpreter exit.
CLOSE_MARGIN_S = 1.5
EXIT_S = 1.0


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, grace_s: float, on_listening=None):
        super().__init__(config)
        self.grace_s = grace_s
        self.on_listening = on_listening
        self.drain_started: float | None = None

    @property
    def state(self):
        return self.config.app.state.server

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started and self.on_listening is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.on_listening(host, port)

    def handle_exit(self, sig, frame) -> None:
        if self.drain_started is not None:  # a second signal: stop without waiting for anyone
            self.should_exit = self.force_exit = True
            return
        # Runs in a signal handler: only set flags; on_tick does the rest on the event loop.
        self.drain_started = time.monotonic()
        self.state.begin_drain()

    async def on_tick(self, counter: int) -> bool:
        if self.drain_started is not None and not self.should_exit:
            left = self.grace_s - (time.monotonic() - self.drain_started)
            if self.state.idle or left <= CLOSE_MARGIN_S:
                self.config.timeout_graceful_shutdown = max(left - EXIT_S, 0.1)
                self.should_exit = True
        return await super().on_tick(counter)


def _log_like_uvicorn(level: str) -> None:
    """The server's own lines (warm-up, client hang-ups) at uvicorn's level and in its format;
    without a handler Python would print only warnings, bare."""
    from uvicorn.logging import DefaultFormatter

    logger = logging.getLogger("accelctl")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def serve(
    app: FastAPI,
    host: str,
    port: int,
    grace_s: float,
    log_level: str = "info",
    access_log: bool = False,
    on_listening=None,
) -> int:
    """Serve until a signal and the drain end. Returns the process exit code."""
    _log_like_uvicorn(log_level)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=grace_s,
        lifespan="on",
    )
    server = DrainingServer(config, grace_s, on_listening)
    server.run()
    if not server.started:
        return 1
    if not app.state.server.idle:
        # A model call outlived the grace period. Its thread cannot be interrupted and the interpreter
        # would wait for it at exit, so leave now: the grace period is a promise to the orchestrator.
        log.error("a model call was still running when the grace period ended; exiting without it")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)
    return 0
