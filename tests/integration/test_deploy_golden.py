"""Golden files for the paper example, and byte-identical output from a second render.

The golden trees under tests/golden/paper-sd21/ are what `accelctl deploy` wrote for
examples/paper-sd21.yaml. After an intended change, regenerate them and review the diff:
    ACCELCTL_REGEN_GOLDEN=1 python -m pytest tests/integration/test_deploy_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accelctl.deploy import output
from accelctl.deploy.render import BENCH_PARTS, render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"
GOLDEN = REPO / "tests" / "golden" / "paper-sd21"
REGENERATE = os.environ.get("ACCELCTL_REGEN_GOLDEN") == "1"
CASES = {"alb-prometheus": ("alb", "prometheus"), "gateway-cloudwatch": ("gateway", "cloudwatch")}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def render_paper(routing: str, metrics: str, out: Path) -> None:
    fleet = load_fleet(FLEET).model_copy(update={"routing": routing, "metrics": metrics})
    output.write(render(fleet, PROFILES, where=str(FLEET)).files, out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_paper_example_matches_the_golden_files(case, tmp_path):
    if REGENERATE:
        render_paper(*CASES[case], GOLDEN / case)
    render_paper(*CASES[case], tmp_path / "out")
    got, want = tree(tmp_path / "out"), tree(GOLDEN / case)
    assert sorted(got) == sorted(want), "files differ; regenerate with ACCELCTL_REGEN_GOLDEN=1 if intended"
    changed = [name for name in want if got[name] != want[name]]
    assert not changed, (
        f"{changed} differ from {GOLDEN / case}; regenerate with ACCELCTL_REGEN_GOLDEN=1 if intended"
    )


def test_the_golden_tree_has_every_object_of_the_paper_fleet():
    names = set(tree(GOLDEN / "alb-prometheus"))
    units = [
        "sd21-inf2-neuron",
        "sd21-trn1-neuron",
        "sd21-g5-cuda-compile",
        "sd21-g6-cuda-compile",
        "sd21-g5-cuda",
    ]
    for unit in units:
        assert {
            f"units/{unit}/{k}.yaml" for k in ("deployment", "service", "scaledobject", *BENCH_PARTS)
        } <= names
    assert {"units/sd21-inf2-neuron/compile-job.yaml", "units/sd21-trn1-neuron/compile-job.yaml"} <= names
    assert not any(n.endswith("compile-job.yaml") and "cuda" in n for n in names)
    assert {
        "nodes/nodepool-inf2.yaml",
        "nodes/nodepool-trn1.yaml",
        "nodes/nodepool-g5.yaml",
        "nodes/nodepool-g6.yaml",
        "nodes/ec2nodeclass.yaml",
        "routing/ingress.yaml",
        "capacity/ingress.yaml",
        "capacity/service.yaml",
        "capacity/kustomization.yaml",
        "kustomization.yaml",
    } <= names


def test_a_second_render_is_byte_identical(tmp_path):
    render_paper("alb", "prometheus", tmp_path / "a")
    render_paper("alb", "prometheus", tmp_path / "b")
    first = tree(tmp_path / "a")
    assert first == tree(tmp_path / "b")
    render_paper("alb", "prometheus", tmp_path / "a")  # over its own earlier output
    assert tree(tmp_path / "a") == first
