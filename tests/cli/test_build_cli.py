"""accelctl trace / compile / builds / generate through the real CLI app."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from accelctl.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_importing_the_cli_does_not_import_torch():
    code = "import accelctl.cli, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_compile_reuses_the_matching_build(tiny_cpu_build, build_root):
    result = invoke("compile", "--model", "tiny", "--target", "cpu", "--out", build_root)
    assert result.exit_code == 0, result.output
    assert str(tiny_cpu_build) in result.stdout and "reused" in result.stdout


@pytest.mark.slow
def test_generate_writes_the_same_png_bytes_for_the_same_seed(tiny_cpu_build, tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for out in (first, second):
        result = invoke(
            "generate", "--build", tiny_cpu_build, "--prompt", "a cute robot", "--seed", 42, "-o", out
        )
        assert result.exit_code == 0, result.output
        assert f"wrote {out}" in result.stdout
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.slow
def test_generate_refuses_a_tampered_build_with_one_line(tiny_cpu_build, tmp_path):
    copy = tmp_path / "tiny" / tiny_cpu_build.name
    shutil.copytree(tiny_cpu_build, copy)
    with open(copy / "pipeline" / "vae" / "config.json", "a") as fh:
        fh.write(" ")
    result = invoke("generate", "--build", copy, "--prompt", "x", "-o", tmp_path / "x.png")
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("error: build ")
        and "pipeline/vae/config.json does not match" in result.stderr
    )
    assert not (tmp_path / "x.png").exists()


def test_generate_without_a_build_is_bad_input(tmp_path):
    result = invoke("generate", "--build", tmp_path / "nope", "--prompt", "x", "-o", tmp_path / "x.png")
    assert result.exit_code == 2
    assert "build.yaml: no such file" in result.stderr


@pytest.mark.slow
def test_builds_lists_session_builds_as_json_and_table(tiny_cpu_build, build_root):
    result = invoke("builds", "--root", build_root, "--json", "--verify")
    assert result.exit_code == 0, result.output
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    row = rows[str(tiny_cpu_build)]
    assert (row["target"], row["height"], row["integrity"]) == ("cpu", 64, "ok")
    table = invoke("builds", "--root", build_root)
    assert table.exit_code == 0 and "tiny" in table.stdout and "cpu" in table.stdout


@pytest.mark.slow
def test_trace_saves_graphs_and_prints_the_report(tmp_path):
    result = invoke("trace", "--model", "tiny", "--target", "cpu", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    for name in ("text_encoder", "unet", "vae_decoder"):
        assert name in result.stdout
    folder = tmp_path / "tiny" / "traces" / "cpu-64x64-b1"
    report = json.loads((folder / "report.json").read_text())
    assert [r["component"] for r in report] == ["text_encoder", "unet", "vae_decoder"]
    for r in report:
        assert r["exported"] and r["graph_breaks"] == 0 and r["ops"] > 10 and r["parameters"] > 1000
        assert (folder / f"{r['component']}.pt2").stat().st_size > 0
        assert "def forward" in (folder / f"{r['component']}.graph.txt").read_text()
    unet = report[1]
    assert unet["inputs"] == ["(2, 4, 8, 8) float32", "(2,) int64", "(2, 77, 64) float32"]
    as_json = invoke("trace", "--model", "tiny", "--target", "cpu", "--out", tmp_path, "--json")
    assert json.loads(as_json.stdout)["components"][0]["component"] == "text_encoder"


@pytest.mark.skipif(importlib.util.find_spec("torch_neuronx") is not None, reason="Neuron SDK present")
def test_compile_for_inf2_without_neuron_sdk_exits_2_with_one_line(tmp_path):
    result = invoke("compile", "--model", "tiny", "--target", "inf2", "--out", tmp_path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: target 'inf2' is not available here: torch-neuronx is not installed")
    assert "--emit-job" in lines[0]
    assert not any(tmp_path.iterdir())


def test_compile_emit_job_writes_a_schema_valid_job(tmp_path):
    job_file = tmp_path / "job.yaml"
    result = invoke(
        "compile",
        "--model",
        "small",
        "--target",
        "trn1",
        "--emit-job",
        job_file,
        "--image",
        "registry.local/accelctl:0.1",
        "--namespace",
        "builds",
    )
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(job_file.read_text())
    kubernetes_validate.validate(job, "1.34", strict=True)
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--height") + 1] == "256" and command[command.index("--dtype") + 1] == "bf16"
    assert job["metadata"]["namespace"] == "builds"


def test_emit_job_needs_shapes_for_non_presets_and_a_neuron_target(tmp_path):
    result = invoke("compile", "--model", "acme/sd", "--target", "inf2", "--emit-job", tmp_path / "j.yaml")
    assert result.exit_code == 2 and "needs --height and --width" in result.stderr
    result = invoke("compile", "--model", "tiny", "--target", "cpu", "--emit-job", tmp_path / "j.yaml")
    assert result.exit_code == 2 and "for Neuron targets" in result.stderr
    assert not (tmp_path / "j.yaml").exists()
