"""`accelctl deploy` end to end through the CLI: output, --diff, --json, and bad input leaving --out alone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import accelctl.cli

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper-sd21.yaml"
PAPER_PROFILES = REPO / "examples" / "paper" / "profiles"
CPU = REPO / "examples" / "cpu-fleet.yaml"
CPU_PROFILES = REPO / "examples" / "cpu" / "profiles"


def run(*args: str):
    return CliRunner().invoke(accelctl.cli.app, ["deploy", *map(str, args)])


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and modification time: 'untouched' means both equal."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_renders_the_cpu_fleet_and_prints_the_weights(tmp_path):
    out = tmp_path / "out"
    result = run("--fleet", CPU, "--profiles", CPU_PROFILES, "--out", out)
    assert result.exit_code == 0, result.output
    assert "tiny-c7i-cpu" in result.output and "wrote 47 files" in result.output
    assert (
        yaml.safe_load((out / "kustomization.yaml").read_text())["resources"][0] == "nodes/ec2nodeclass.yaml"
    )
    listed = yaml.safe_load((out / "kustomization.yaml").read_text())["resources"]
    assert all((out / p).is_file() for p in listed)


def test_json_summary(tmp_path):
    result = run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", tmp_path / "o", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["weights"] == {
        "sd21-inf2-neuron": 32,
        "sd21-trn1-neuron": 37,
        "sd21-g5-cuda-compile": 18,
        "sd21-g6-cuda-compile": 7,
        "sd21-g5-cuda": 6,
    }
    assert summary["node_pools"]["g5"] == ["g5.xlarge"]
    assert sorted(summary["files"]) == sorted(
        p.relative_to(tmp_path / "o").as_posix() for p in (tmp_path / "o").rglob("*") if p.is_file()
    )


def test_diff_shows_what_would_change_writes_nothing_and_exits_like_kubectl_diff(tmp_path):
    """0: nothing would change; 1: something would; 2: an error (scripts and CI read these)."""
    out = tmp_path / "out"
    assert run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", out).exit_code == 0
    before = snapshot(out)
    same = run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", out, "--diff")
    assert same.exit_code == 0 and "no changes" in same.output

    changed = run(
        "--fleet",
        PAPER,
        "--profiles",
        PAPER_PROFILES,
        "--out",
        out,
        "--diff",
        "--routing",
        "gateway",
        "--json",
    )
    assert changed.exit_code == 1, changed.output
    summary = json.loads(changed.output)
    assert "routing/httproute.yaml" in summary["added"] and "routing/ingress.yaml" in summary["removed"]
    assert "watch/role.yaml" in summary["changed"]
    assert (
        "-  - networking.k8s.io\n" in summary["diff"]
        and "+  - gateway.networking.k8s.io\n" in summary["diff"]
    )
    assert snapshot(out) == before

    first = run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", tmp_path / "new", "--diff")
    assert first.exit_code == 1 and not (tmp_path / "new").exists()  # everything would be added
    (tmp_path / "file").write_text("x")
    error = run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", tmp_path / "file", "--diff")
    assert error.exit_code == 2 and "is a file" in error.output
    missing = run("--fleet", tmp_path / "nope.yaml", "--profiles", PAPER_PROFILES, "--out", out, "--diff")
    assert missing.exit_code >= 2


def test_an_invalid_rendered_object_is_one_line_exit_2_and_nothing_is_written(tmp_path):
    """deploy validates what it renders (here a template override that misspells a field) before writing."""
    shutil.copytree(REPO / "deploy_templates", tmp_path / "t")
    service = tmp_path / "t" / "unit" / "service.yaml.j2"
    service.write_text(service.read_text().replace("targetPort: http", "targetPortt: http"))
    out = tmp_path / "o"
    for extra in ([], ["--diff"]):
        result = run(
            "--fleet", CPU, "--profiles", CPU_PROFILES, "--out", out, "--templates", tmp_path / "t", *extra
        )
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert "\n" not in line and line.startswith("error: units/tiny-")
        assert "service.yaml: rendered Service" in line and "targetPortt" in line
        assert not out.exists()


def test_without_kubernetes_validate_core_kinds_are_skipped_and_deploy_says_so(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # what an install without it has
    result = CliRunner().invoke(
        accelctl.cli.app,
        ["deploy", "--fleet", str(CPU), "--profiles", str(CPU_PROFILES), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.output
    assert "core Kubernetes objects not validated: kubernetes-validate is not installed" in result.output
    assert (tmp_path / "o" / "kustomization.yaml").is_file()


def test_rerender_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "out"
    assert run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", out).exit_code == 0
    assert (
        run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", out, "--routing", "gateway").exit_code
        == 0
    )
    assert (out / "routing" / "httproute.yaml").is_file() and not (out / "routing" / "ingress.yaml").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folders left behind


def test_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", tmp_path)
    assert result.exit_code == 2
    assert "holds files `accelctl deploy` did not write" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _edit(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(PAPER.read_text())
    change(data)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


BAD = {
    "unit without a profile": (
        lambda d: d["units"][1].update(profile="trn2-neuron.yaml"),
        [],
        "fleet.yaml: field 'units.1.profile': {profiles}/trn2-neuron.yaml not found; bench the unit or "
        "fix the path",
    ),
    "cuda target on an inf2 instance type": (
        lambda d: d["units"][4].update(instance_types=["inf2.xlarge"]),
        [],
        "fleet.yaml: field 'units.4.instance_types': cuda builds cannot run on inf2.xlarge (neuron hardware)",
    ),
    "neuron target on a gpu instance type": (
        lambda d: d["units"][1].update(instance_types=["g6.xlarge", "trn1.2xlarge"]),
        [],
        "fleet.yaml: field 'units.1.instance_types': trn1 builds cannot run on g6.xlarge (nvidia hardware)",
    ),
    "min above max replicas": (
        lambda d: d["units"][0].update(min_replicas=4, max_replicas=3),
        [],
        "fleet.yaml: field 'units.0': min_replicas (4) > max_replicas (3); lower min or raise max",
    ),
    "unknown routing in the file": (
        lambda d: d.update(routing="nginx"),
        [],
        "fleet.yaml: field 'routing': Input should be 'alb' or 'gateway'",
    ),
    "unknown routing flag": (
        lambda d: None,
        ["--routing", "istio"],
        "--routing 'istio': Input should be 'alb' or 'gateway'",
    ),
    "unknown metrics flag": (
        lambda d: None,
        ["--metrics", "datadog"],
        "--metrics 'datadog': Input should be 'prometheus' or 'cloudwatch'",
    ),
    "no image": (lambda d: d.pop("image"), [], "fleet.yaml: field 'image': no container image"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("out_exists", [True, False], ids=["earlier-output", "no-output"])
def test_bad_input_is_one_line_exit_2_and_leaves_out_untouched(tmp_path, case, out_exists):
    change, flags, message = BAD[case]
    out = tmp_path / "out"
    if out_exists:
        assert run("--fleet", PAPER, "--profiles", PAPER_PROFILES, "--out", out).exit_code == 0
    before = snapshot(out)
    fleet = _edit(tmp_path, change)
    result = CliRunner().invoke(
        accelctl.cli.app,
        ["deploy", "--fleet", str(fleet), "--profiles", str(PAPER_PROFILES), "--out", str(out), *flags],
    )
    assert result.exit_code == 2, result.output
    expected = message.format(profiles=PAPER_PROFILES).replace("fleet.yaml", str(fleet))
    line = result.output.strip()
    assert "\n" not in line and line.startswith("error: ")
    assert expected in line
    assert snapshot(out) == before
    assert out.exists() == out_exists
    assert sorted(os.listdir(tmp_path)) == sorted(["fleet.yaml"] + (["out"] if out_exists else []))


def test_templates_flag_overrides_a_template(tmp_path):
    shutil.copytree(REPO / "deploy_templates", tmp_path / "t")
    service = tmp_path / "t" / "unit" / "service.yaml.j2"
    service.write_text(service.read_text().replace("type: ClusterIP", "type: NodePort"))
    result = run(
        "--fleet", CPU, "--profiles", CPU_PROFILES, "--out", tmp_path / "o", "--templates", tmp_path / "t"
    )
    assert result.exit_code == 0, result.output
    assert (
        yaml.safe_load((tmp_path / "o" / "units" / "tiny-m7i-cpu" / "service.yaml").read_text())["spec"][
            "type"
        ]
        == "NodePort"
    )
