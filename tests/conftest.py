"""Session fixtures shared by the whole suite: builds of the `tiny` preset, compiled once.

Builds live in ~/.cache/accelctl-tests/builds/<key>/ ($ACCELCTL_TEST_CACHE overrides), where key hashes the
code that makes them (models, targets, builds) and the torch/diffusers/transformers versions: a rerun with
the same code reuses them (compile_build verifies their hashes), a code change rebuilds. Inductor's cache is
kept beside them so even a rebuild of cpu-compile skips most C++ compilation. A file lock keeps concurrent
pytest runs in one checkout from compiling the same build twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Outside the checkout, so a fresh clone on the same machine (CI) reuses builds keyed by the same code.
CACHE = Path(
    os.environ.get("ACCELCTL_TEST_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "accelctl-tests"
)

# Before anything imports torch or huggingface_hub: nothing in the suite may reach a hub, presets
# are generated into the test cache, inductor's cache persists across runs.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("ACCELCTL_CACHE", str(CACHE / "presets-cache"))
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(CACHE / "inductor"))

STALE_SECONDS = 6 * 3600
BUILD_CODE = ["accelctl/builds.py", "accelctl/models", "accelctl/targets"]


def _build_key() -> str:
    h = hashlib.sha256()
    for entry in BUILD_CODE:
        root = REPO / entry
        for f in sorted([root] if root.is_file() else root.rglob("*.py")):
            h.update(f.relative_to(REPO).as_posix().encode() + f.read_bytes())
    for dist in ("torch", "diffusers", "transformers"):
        h.update(importlib.metadata.version(dist).encode())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def build_root() -> Path:
    """model_builds-style root holding the session's tiny builds (tiny/<target>-64x64-b1/)."""
    builds = CACHE / "builds"
    root = builds / _build_key()
    root.mkdir(parents=True, exist_ok=True)
    with open(builds / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in builds.iterdir():
            # Another pytest run may still be using a build made by older code: only old ones go.
            if stale.is_dir() and stale != root and time.time() - stale.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
    return root


def _tiny_build(root: Path, target: str) -> Path:
    from accelctl.builds import compile_build

    with open(root / f".{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return compile_build("tiny", target, out=root)


@pytest.fixture(scope="session")
def tiny_cpu_build(build_root: Path) -> Path:
    """A verified `tiny` build for the eager cpu target (64x64, batch 1, fp32). Do not modify it:
    copy it to tmp_path first."""
    return _tiny_build(build_root, "cpu")


@pytest.fixture(scope="session")
def tiny_cpu_compile_build(build_root: Path) -> Path:
    """A verified `tiny` build for cpu-compile (AOTInductor packages). Do not modify it."""
    return _tiny_build(build_root, "cpu-compile")
