"""`accelctl simulate` through the CLI: table, --json, plots, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from accelctl.cli import app

PROFILES = Path(__file__).resolve().parents[2] / "examples" / "paper" / "profiles"
runner = CliRunner()


def scenario(tmp_path: Path, **over) -> Path:
    fleet = {
        "name": "tiny",
        "units": [
            {
                "name": "inf2",
                "profile": "inf2-neuron.yaml",
                "instance_types": ["inf2.xlarge"],
                "max_replicas": 30,
            },
            {"name": "g5", "profile": "g5-cuda.yaml", "instance_types": ["g5.xlarge"], "max_replicas": 30},
        ],
    }
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    data = {
        "name": "tiny",
        "fleet": "fleet.yaml",
        "profiles": str(PROFILES),
        "duration": "1h",
        "warmup": "20m",
        "load": [
            {"kind": "step", "at": 0, "rps": 8},
            {"kind": "spike", "at": "30m", "duration": "5m", "rps": 6},
        ],
        "capacity": [{"instance_type": "inf2.xlarge", "start": "20m", "end": "40m"}],
        "static_weights": {"inf2": 60, "g5": 40},
        "policies": ["static", "round-robin", "paper", "auto", "plan", "oracle"],
    }
    data.update(over)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_prints_the_table_and_writes_plots(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(scenario(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for policy in ("static", "round-robin", "paper", "auto", "plan", "oracle"):
        assert policy in result.output
    assert "SLO %" in result.output and "+oracle" in result.output
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["auto.png", "comparison.png", "paper.png", "plan.png", "round-robin.png", "static.png"]
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "summary.json").read_text())["scenario"] == "tiny"


def test_json_output_and_policy_selection(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "simulate",
            str(scenario(tmp_path)),
            "--json",
            "--no-plots",
            "--out",
            str(out),
            "-p",
            "static",
            "-p",
            "oracle",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [p["policy"] for p in doc["policies"]] == ["static", "oracle"]
    static = doc["policies"][0]
    assert static["requests"] == doc["policies"][1]["requests"] > 0
    assert set(static) >= {
        "cost_usd",
        "cost_per_1k_images",
        "slo_attainment_pct",
        "rejected",
        "timed_out",
        "peak_replicas",
        "shortages",
    }
    assert static["shortages"][0]["instance_type"] == "inf2.xlarge"
    assert doc["plots"] == [] and not list(out.glob("*.png"))
    assert doc["default_policy"] == "plan"  # the fleet file sets no policy.mode


def test_a_scenario_without_policies_runs_the_fleet_default_static_and_oracle(tmp_path):
    path = scenario(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["policies"]
    data["duration"] = "30m"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["simulate", str(path), "--json", "--no-plots", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["default_policy"] == "plan"
    assert [p["policy"] for p in doc["policies"]] == ["plan", "static", "oracle"]


def test_bad_scenario_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["simulate", str(scenario(tmp_path, policies=["auto", "fastest"]))])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "tiny.yaml: field 'policies.1': unknown policy 'fastest'" in result.output
    missing = runner.invoke(app, ["simulate", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml: no such file" in missing.output


def test_unknown_policy_flag_is_named(tmp_path):
    result = runner.invoke(app, ["simulate", str(scenario(tmp_path)), "-p", "psychic"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --policy: unknown policy 'psychic'; valid: ")
