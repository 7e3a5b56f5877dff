"""Issue 14, acceptance 1: accelctl installed from its wheel, run in an empty folder, prices a profile.

The wheel is built once from this checkout and installed into a fresh venv that borrows the
dependencies from this interpreter (--system-site-packages --no-deps), so no package is downloaded.
Nothing of the checkout is on the path of the commands it runs: PYTHONPATH is dropped and the
working directory is an empty folder, so only what the wheel carries can be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
UNPACKAGED = (
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    "model_builds",
)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(args: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=500
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*UNPACKAGED))
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            work / "dist",
            source,
        ],
        work,
        env,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("accelctl-*.whl")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(work / "venv")
    python = work / "venv" / "bin" / "python"
    pip = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel], work, env)
    assert pip.returncode == 0, pip.stderr
    return work / "venv" / "bin", env


def test_bench_in_an_empty_folder_prices_the_profile_from_the_packaged_catalog(
    installed, tiny_cpu_build, tmp_path
):
    bin_dir, env = installed
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run([bin_dir / "python", "-c", "import accelctl; print(accelctl.__file__)"], empty, env)
    assert str(bin_dir.parent) in where.stdout, "the command must run the installed wheel, not the checkout"

    done = _run(
        [
            bin_dir / "accelctl",
            "bench",
            tiny_cpu_build,
            "--instance-type",
            "c7i.2xlarge",
            "-n",
            "2",
            "--warmup",
            "0",
        ],
        empty,
        env,
    )
    assert done.returncode == 0, done.stderr
    assert "price catalog: the packaged one" in done.stderr
    assert "(no --catalog, no profiles/catalog.yaml)" in done.stderr
    (written,) = (empty / "profiles").glob("*.yaml")
    profile = yaml.safe_load(written.read_text())
    catalog = yaml.safe_load((REPO / "profiles" / "catalog.yaml").read_text())
    assert profile["unit"]["instance_type"] == "c7i.2xlarge"
    assert profile["price_source"].startswith("catalog us-west-2 on-demand: ")
    # The $ per instance-hour field holds the catalog's figure (found by value: its name is not the point).
    assert catalog["instances"]["c7i.2xlarge"]["prices"]["us-west-2"]["on_demand"] in profile.values()
    assert profile["cost_per_inference"] > 0
