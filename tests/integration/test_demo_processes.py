"""The demo's process supervisor: every child it starts is gone when it is done, also on errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from accelctl.demo.processes import Processes
from accelctl.errors import AccelctlError

pytestmark = pytest.mark.timeout(60)


def standin() -> list[str]:
    return [sys.executable, "-m", "accelctl.router.standin", "--service-time", "0.01"]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_children_listen_and_are_stopped_on_exit(tmp_path):
    with Processes(tmp_path) as procs:
        a = procs.start("a", standin())
        assert a.url.startswith("http://127.0.0.1:") and a.alive
        pid = a.proc.pid
    assert gone(pid)
    assert procs.stop(a) is not None  # stopping again is harmless


def test_error_inside_the_block_still_stops_children(tmp_path):
    with pytest.raises(RuntimeError), Processes(tmp_path) as procs:
        child = procs.start("a", standin())
        raise RuntimeError("boom")
    assert gone(child.proc.pid)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    stubborn = textwrap.dedent("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("listening on http://127.0.0.1:1", flush=True)
        time.sleep(60)
    """)
    with Processes(tmp_path, grace_s=0.5) as procs:
        child = procs.start("stubborn", [sys.executable, "-c", stubborn])
        t = time.monotonic()
        assert procs.stop(child) == -signal.SIGKILL
        assert time.monotonic() - t < 5


def test_grandchildren_go_with_their_group(tmp_path):
    parent = textwrap.dedent("""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(f"grandchild {p.pid} listening on http://127.0.0.1:1", flush=True)
        time.sleep(60)
    """)
    with Processes(tmp_path, grace_s=2) as procs:
        child = procs.start("parent", [sys.executable, "-c", parent])
        grandchild = int(child.log.read_text().split()[1])
    deadline = time.monotonic() + 5
    while not gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILLed; the init process reaps it
    assert gone(grandchild)


def test_a_child_that_dies_early_names_its_log(tmp_path):
    with (
        Processes(tmp_path) as procs,
        pytest.raises(AccelctlError, match=r"early exited with code 3 .*early.log"),
    ):
        procs.start("early", [sys.executable, "-c", "print('no port for you'); raise SystemExit(3)"])


def test_a_restarted_child_reads_only_its_new_output(tmp_path):
    with Processes(tmp_path) as procs:
        first = procs.start("a", standin())
        procs.kill(first)
        port = first.url.rsplit(":", 1)[1]
        second = procs.start("a", standin()[:3] + ["--port", port])
        assert second.url == first.url and second.alive and not first.alive


def test_sigterm_to_the_parent_stops_its_children(tmp_path):
    # A parent script under Processes + interrupt_on_sigterm; SIGTERM it and its child must go too.
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from accelctl.demo.processes import Processes, interrupt_on_sigterm
        with interrupt_on_sigterm(), Processes(Path({str(tmp_path)!r})) as procs:
            child = procs.start("a", {standin()!r})
            print(f"child {{child.proc.pid}}", flush=True)
            time.sleep(60)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = parent.stdout.readline()
    assert line.startswith("child "), parent.stderr.read()
    child_pid = int(line.split()[1])
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=20)
    assert gone(child_pid)
