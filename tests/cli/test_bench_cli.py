"""`accelctl bench`, `bench report`, `profile add`, `catalog refresh` through the CLI: exit codes, one-line
errors that name the thing and the fix, nothing written on bad input. No model runs here."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from accelctl.cli import app
from accelctl.units import load_profile

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "profiles" / "catalog.yaml"
PAPER = REPO / "examples" / "paper" / "profiles"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_unknown_build_path(tmp_path):
    out = tmp_path / "profiles"
    line = one_error_line(
        invoke("bench", tmp_path / "nope", "--instance-type", "c7i.2xlarge", "--catalog", CATALOG, "-o", out)
    )
    assert f"{tmp_path / 'nope'}: no such build folder; compile one with `accelctl compile" in line
    assert not out.exists()


def test_folder_without_build_yaml(tmp_path):
    line = one_error_line(
        invoke(
            "bench", tmp_path, "--instance-type", "c7i.2xlarge", "--catalog", CATALOG, "-o", tmp_path / "p"
        )
    )
    assert "not a build (no build.yaml)" in line


def test_catalog_without_the_instance(tmp_path):
    line = one_error_line(
        invoke(
            "bench", tmp_path, "--instance-type", "p5.48xlarge", "--catalog", CATALOG, "-o", tmp_path / "p"
        )
    )
    assert "instance type 'p5.48xlarge' is not in the catalog" in line and "give --price" in line
    assert not (tmp_path / "p").exists()


def test_refused_url(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_error_line(
        invoke(
            "bench",
            "--url",
            f"http://127.0.0.1:{port}",
            "--instance-type",
            "c7i.2xlarge",
            "--catalog",
            CATALOG,
            "-o",
            tmp_path / "p",
        )
    )
    assert "connection refused; start a server there" in line
    assert not (tmp_path / "p").exists()


def test_neither_builds_nor_url():
    line = one_error_line(invoke("bench", "--instance-type", "c7i.2xlarge"))
    assert "give build folders (in-process mode) or --url URL" in line


def test_instance_type_is_required(tmp_path):
    assert "--instance-type is required" in one_error_line(invoke("bench", tmp_path))


def test_malformed_profile_yaml_in_report(tmp_path):
    shutil.copy(PAPER / "g5-cuda.yaml", tmp_path / "ok.yaml")
    (tmp_path / "broken.yaml").write_text("unit: [model: x\n")
    line = one_error_line(invoke("bench", "report", tmp_path))
    assert f"{tmp_path / 'broken.yaml'}: not valid YAML" in line


def test_profile_with_a_bad_field_in_report(tmp_path):
    text = (PAPER / "g5-cuda.yaml").read_text().replace("breaking_point_rps: 1.0", "breaking_point_rps: -1")
    (tmp_path / "g5.yaml").write_text(text)
    line = one_error_line(invoke("bench", "report", tmp_path))
    assert "g5.yaml: field 'breaking_point_rps'" in line


def test_report_of_an_empty_folder(tmp_path):
    assert "no profiles in it" in one_error_line(invoke("bench", "report", tmp_path))


def test_report_reproduces_the_papers_columns():
    result = invoke("bench", "report", PAPER, "--json")
    assert result.exit_code == 0, result.output
    rows = {r["file"]: r for r in json.loads(result.stdout)}
    # per second: 105, 130, 90, 61, 60 per minute / 60 = 1.75, 2.1667, 1.5, 1.0167, 1.0;
    # mean = 446 / 5 / 60 = 1.48667; adjusted = min(1.48667, own): 1.48667 x 3, 1.0167, 1.0
    adjusted = {f: r["adjusted_throughput_rps"] * 60 for f, r in rows.items()}
    assert adjusted == pytest.approx(
        {
            "inf2-neuron.yaml": 89.2,
            "trn1-neuron.yaml": 89.2,
            "g5-cuda-compile.yaml": 89.2,
            "g6-cuda-compile.yaml": 61.0,
            "g5-cuda.yaml": 60.0,
        }
    )
    # the paper's cost column is price/h / throughput per minute = 60 x cost per inference:
    # g5 triton 1.0060 / 90 = 0.011178, g5 cuda 1.0060 / 60 = 0.016767 (printed 0.01118, 0.01677)
    assert rows["g5-cuda-compile.yaml"]["cost_per_inference"] * 60 == pytest.approx(1.006 / 90)
    assert rows["g5-cuda.yaml"]["cost_per_inference"] * 60 == pytest.approx(1.006 / 60)
    # cheapest first: inf2 < trn1 < g5 triton < g6 < g5 cuda, as in the paper's Table 1
    assert [r["file"].split(".")[0] for r in json.loads(result.stdout)] == [
        "inf2-neuron",
        "trn1-neuron",
        "g5-cuda-compile",
        "g6-cuda-compile",
        "g5-cuda",
    ]
    table = invoke("bench", "report", PAPER)
    assert (
        table.exit_code == 0
        and "Cost (paper Table 1)" in table.stdout
        and "Capacity (paper Table 2)" in table.stdout
    )
    lines = table.stdout.splitlines()
    assert any(
        "inf2-neuron" in ln and "0.758" in ln and "1.750" in ln for ln in lines
    )  # $/h and T in one row


def test_report_of_a_fleet_shows_its_units_resolved_against_their_profiles(tmp_path):
    fleet = yaml.safe_load((REPO / "examples" / "paper-sd21.yaml").read_text())
    alone = {r["file"]: r for r in json.loads(invoke("bench", "report", PAPER, "--json").stdout)}
    result = invoke("bench", "report", PAPER, "--fleet", REPO / "examples" / "paper-sd21.yaml", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # The fleet's names; the figures are the profiles' (resolve_fleet's T, L, C).
    assert {r["unit"] for r in rows} == {u["name"] for u in fleet["units"]}
    assert all(r == {**alone[r["file"]], "unit": r["unit"]} for r in rows)
    # A fleet of two units: the capacity column is over those two, mean(1.75, 1.0) = 1.375 rps.
    fleet["units"] = [u for u in fleet["units"] if u["profile"] in ("inf2-neuron.yaml", "g5-cuda.yaml")]
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(fleet))
    rows = json.loads(invoke("bench", "report", PAPER, "--fleet", two, "--json").stdout)
    adjusted = {r["unit"]: r["adjusted_throughput_rps"] for r in rows}
    assert adjusted == pytest.approx({"sd21-inf2-neuron": 1.375, "sd21-g5-cuda": 1.0})
    # Its cross-file checks hold: a profile the folder lacks is one line naming the fleet's field.
    fleet["units"][0]["profile"] = "gone.yaml"
    two.write_text(yaml.safe_dump(fleet))
    line = one_error_line(invoke("bench", "report", PAPER, "--fleet", two))
    assert str(two) in line and "units.0.profile" in line


def test_report_plot_writes_a_png(tmp_path):
    png = tmp_path / "curves.png"
    result = invoke("bench", "report", PAPER, "--plot", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_add_writes_a_profile_with_derived_cost(tmp_path):
    out = tmp_path / "g6e.yaml"
    args = [
        "profile",
        "add",
        "--model",
        "sd21",
        "--instance-type",
        "g6e.xlarge",
        "--target",
        "cuda-compile",
        "--latency",
        "0.5",
        "--breaking-point",
        "2",
        "--source",
        "our g6e run, 2026-11-01",
        "--steps",
        "10",
        "--catalog",
        CATALOG,
        "-o",
        out,
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    p = load_profile(out)
    # C = 1.861 $/h / (2 rps x 3600 s/h) = 0.000258472 $
    assert p.instance_price_per_hour == 1.861 and p.cost_per_inference == pytest.approx(1.861 / 7200)
    assert (
        p.breaking_point_method == "by hand: our g6e run, 2026-11-01"
        and p.environment["source"] == "our g6e run, 2026-11-01"
    )
    before = out.read_bytes()
    assert "already exists; give --force" in one_error_line(invoke(*args))
    assert out.read_bytes() == before
    assert invoke(*args, "--force", "--price", "2.0").exit_code == 0
    assert load_profile(out).price_source == "manual (--price)"


def test_profile_add_with_a_bad_target(tmp_path):
    line = one_error_line(
        invoke(
            "profile",
            "add",
            "--model",
            "m",
            "--instance-type",
            "g5.xlarge",
            "--target",
            "tpu",
            "--latency",
            "1",
            "--breaking-point",
            "1",
            "--source",
            "x",
            "--price",
            "1",
            "-o",
            tmp_path / "x.yaml",
        )
    )
    assert "field 'target'" in line
    assert not (tmp_path / "x.yaml").exists()


def test_catalog_refresh_without_credentials(tmp_path, monkeypatch):
    pytest.importorskip("boto3")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    shutil.copy(CATALOG, tmp_path / "catalog.yaml")
    line = one_error_line(invoke("catalog", "refresh", "--catalog", tmp_path / "catalog.yaml"))
    assert "no AWS credentials found" in line
    assert (tmp_path / "catalog.yaml").read_bytes() == CATALOG.read_bytes()
