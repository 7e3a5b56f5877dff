"""Running a router: in the foreground for the CLI, or on a background thread for tests and tools."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web

from accelctl.errors import InputError
from accelctl.router.config import RouterConfig
from accelctl.router.proxy import build_app


async def _start(make_app: Callable[[], web.Application], host: str, port: int) -> tuple[web.AppRunner, int]:
    # access_log=None: one log line per request would cost more than the proxying itself.
    runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()  # closes the app's client session, which would warn on exit
        raise
    return runner, runner.addresses[0][1]


def run_forever(config: RouterConfig, host: str, port: int, on_ready: Callable[[int], None]) -> None:
    """Serve until SIGINT/SIGTERM; `on_ready(port)` is called once listening (port 0 picks a free one)."""
    import signal

    async def main() -> None:
        try:
            runner, bound = await _start(lambda: build_app(config), host, port)
        except OSError as exc:  # in use, not ours to bind, an address this machine lacks
            raise InputError(
                f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                "pick another port, or 0 for a free one"
            ) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        on_ready(bound)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


class AppThread:
    """An aiohttp app on its own event loop in a daemon thread: `with AppThread(make_app) as t: t.url`.

    `make_app` runs on that loop, so the app's sessions and tasks belong to it.
    """

    def __init__(self, make_app: Callable[[], web.Application], host: str = "127.0.0.1", port: int = 0):
        self.make_app, self.host, self.port = make_app, host, port
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="accelctl-app", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def app(self) -> web.Application:
        assert self._runner is not None
        return self._runner.app

    def __enter__(self) -> AppThread:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(_start(self.make_app, self.host, self.port), self.loop)
        self._runner, self.port = fut.result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening and end the thread; calling it again does nothing."""
        if self.loop.is_closed():
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


def router_thread(config: RouterConfig, host: str = "127.0.0.1", port: int = 0) -> AppThread:
    return AppThread(lambda: build_app(config), host, port)
