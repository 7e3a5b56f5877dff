"""Child processes the demo (and the chaos test) start, and the guarantee that every one is stopped.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the parent, which then
stops the children in order: SIGTERM to the child's process group, SIGKILL to it after a grace period.
Output goes to one log file per child, read back for the 'on http://HOST:PORT' line it prints once
listening (serve, router and the stand-in all print one).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from accelctl.errors import AccelctlError

LISTENING = re.compile(r"on (http://\S+)")


def accelctl_command(*args: str) -> list[str]:
    """`accelctl ARGS` run by this very interpreter, whatever PATH says."""
    return [sys.executable, "-c", "from accelctl.cli import main; main()", *args]


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen
    log: Path
    log_offset: int  # where this run's output starts in its log
    url: str | None = None
    reaped: bool = False  # stopped and its group signalled: never signal that group id again

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """`with Processes(log_dir) as procs: procs.start(...)`; leaving the block stops every child."""

    def __init__(self, log_dir: Path, grace_s: float = 10.0):
        self.log_dir = Path(log_dir)
        self.grace_s = grace_s
        self.children: list[Child] = []
        self._lock = threading.Lock()  # a restart may spawn from another thread while stop_all runs
        self._closed = False  # set by stop_all: nothing starts after the clean-up began

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self, name: str, cmd: list[str], timeout_s: float = 120.0, env: dict[str, str] | None = None
    ) -> Child:
        """Start `cmd` and wait for its 'on http://…' line; a child that exits or stays silent is an error."""
        child = self.spawn(name, cmd, env)
        self.wait_listening(child, timeout_s)
        return child

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Child:
        """Start `cmd` without waiting; `wait_listening` then finds its URL."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0  # a restarted child appends to its log
        with self._lock, log.open("ab") as fh:
            if self._closed:
                raise AccelctlError(f"not starting {name}: shutting down")
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
            child = Child(name, cmd, proc, log, offset)
            self.children.append(child)
        return child

    def wait_listening(self, child: Child, timeout_s: float = 120.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with child.log.open("rb") as fh:
                fh.seek(child.log_offset)
                found = LISTENING.search(fh.read().decode(errors="replace"))
            if found:
                child.url = found.group(1)
                return child.url
            if not child.alive:
                raise AccelctlError(
                    f"{child.name} exited with code {child.proc.returncode} before listening; "
                    f"see {child.log}:\n{child.log_tail()}"
                )
            time.sleep(0.05)
        self.stop(child)
        raise AccelctlError(f"{child.name} did not start listening within {timeout_s:.0f}s; see {child.log}")

    def stop(self, child: Child, grace_s: float | None = None) -> int | None:
        """SIGTERM the child's group, SIGKILL it after the grace period; the exit code (None if gone)."""
        grace = self.grace_s if grace_s is None else grace_s
        if child.reaped:
            return child.proc.returncode
        if child.alive:
            _signal_group(child, signal.SIGTERM)
            try:
                child.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.proc.wait(timeout=10)
        # The group may hold grandchildren that outlived the leader (compile workers): they go too.
        _signal_group(child, signal.SIGKILL)
        child.reaped = True
        return child.proc.returncode

    def kill(self, child: Child) -> None:
        """SIGKILL, no grace: a crash, as the chaos test wants it."""
        if not child.reaped:
            _signal_group(child, signal.SIGKILL)
            child.proc.wait(timeout=10)
            child.reaped = True

    def stop_all(self) -> None:
        """Stop every child, newest first; safe to call more than once. A second Ctrl-C meanwhile
        is ignored, so it cannot cut the clean-up short."""
        with _signals_ignored(), self._lock:
            self._closed = True
            for child in reversed(self.children):
                try:
                    self.stop(child)
                except Exception:  # one stuck child must not leave the others running
                    if not child.reaped:
                        _signal_group(child, signal.SIGKILL)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, sig)  # start_new_session: the child's pid is its group id


@contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handlers
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt (like Ctrl-C), so `finally` blocks stop children."""

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
