"""`accelctl demo` end to end, as a user runs it (a subprocess), on the session's tiny builds.

Slow: two servers start, each unit is benched, and the load runs for a minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from accelctl.demo.processes import accelctl_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
MARKER = "ACCELCTL_DEMO_TEST"


def leftovers(marker: str) -> list[str]:
    """Command lines of live processes whose environment carries `marker`: the demo passes its
    environment to every child, so this finds each one, however it was started."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().split(")")[-1].split()[0]
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{MARKER}={marker}".encode() in environ.split(b"\0") and state != "Z":
            found.append(cmd)
    return found


def demo_command(work: Path, builds: Path) -> list[str]:
    return accelctl_command(
        "demo", "--headless", "--duration", "60", "--workdir", str(work), "--builds", str(builds)
    )


def demo_env(marker: str) -> dict[str, str]:
    return {**os.environ, MARKER: marker}


@pytest.fixture
def builds(tmp_path, tiny_cpu_build, tiny_cpu_compile_build):
    """The session's builds under a root of this test's own, so its processes can be told apart."""
    root = tmp_path / "builds" / "tiny"
    root.mkdir(parents=True)
    for build in (tiny_cpu_build, tiny_cpu_compile_build):
        (root / build.name).symlink_to(build)
    return root.parent


def test_headless_demo_observes_failover_and_fallback_and_leaves_nothing_running(tmp_path, builds):
    work = tmp_path / "demo"
    done = subprocess.run(
        demo_command(work, builds), env=demo_env(str(work)), capture_output=True, text=True, timeout=840
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((work / "summary.json").read_text())
    assert summary["failover_s"] is not None and summary["fallback_s"] is not None
    assert summary["failover_s"] <= 2 * 2.0 + 1  # two 2 s intervals, and the tick's own time
    # The demo runs the fleet's default policy, plan: it falls back once the pool may grow again (one
    # interval's capacity_hold_s after the restore) and its planned replicas are Ready; no dwell.
    assert summary["fallback_s"] >= 0
    assert summary["requests"] > 0 and summary["served"] + summary["failed"] == summary["requests"]
    assert sum(summary["served_by_unit"].values()) >= summary["served"]
    for word in ("failover", "fallback", "SLO attainment", "served by unit", "cost"):
        assert word in done.stdout
    assert sorted(p.name for p in (work / "profiles").iterdir()) == [
        "tiny-local-cheap-cpu.yaml",
        "tiny-local-fast-cpu-compile.yaml",
    ]
    assert leftovers(str(work)) == []


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path, builds):
    work = tmp_path / "demo"
    demo = subprocess.Popen(
        demo_command(work, builds),
        env=demo_env(str(work)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in demo.stdout:  # wait until both servers are up: the most there is to clean up
        seen.append(line)
        if line.startswith("serve tiny-local-fast-cpu-compile on"):
            break
    assert len(leftovers(str(work))) >= 3, "".join(seen)  # the demo and its two servers
    demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, out
    assert "every process the demo started has been stopped" in out
    deadline = time.monotonic() + 10
    while leftovers(str(work)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(str(work)) == []
