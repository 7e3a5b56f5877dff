"""The real `kubectl kustomize` builds every folder `accelctl deploy` renders for the paper example
(the fleet, the capacity-mode twin, observability), and the build holds exactly the rendered objects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from accelctl.deploy import output
from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"
KUBECTL = shutil.which("kubectl")

pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl not on PATH (scripts/test.sh installs Debian's kubernetes-client)"
)


def identity(obj: dict) -> tuple[str, str, str | None, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]


@pytest.mark.parametrize("routing", ["alb", "gateway"])
def test_kubectl_kustomize_builds_every_rendered_folder(tmp_path, routing):
    fleet = load_fleet(FLEET).model_copy(update={"routing": routing, "gateway": "infra/gw"})
    out = tmp_path / "out"
    output.write(render(fleet, PROFILES, where=str(FLEET)).files, out)
    folders = sorted(p.parent for p in out.rglob("kustomization.yaml"))
    assert [f.relative_to(out).as_posix() for f in folders] == [".", "capacity", "observability"]
    for folder in folders:
        run = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"{folder}: {run.stderr}"
        built = [o for o in yaml.safe_load_all(run.stdout) if o]
        listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
        want = [yaml.safe_load((folder / p).read_text()) for p in listed]
        assert sorted(map(identity, built)) == sorted(map(identity, want))
        # kustomize adds nothing and drops nothing: each object comes out as rendered
        by_id = {identity(o): o for o in want}
        assert all(o == by_id[identity(o)] for o in built)
