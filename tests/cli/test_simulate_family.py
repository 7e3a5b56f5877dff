"""`accelctl simulate --family`: a tiny family end to end through the CLI, in worker processes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from accelctl.cli import app
from accelctl.units import PolicySettings

PROFILES = Path(__file__).resolve().parents[2] / "examples" / "paper" / "profiles"
runner = CliRunner()
KEYS = {
    "slo_min",
    "slo_p10",
    "slo_median",
    "cost_ratio_median",
    "cost_ratio_p90",
    "flaps_max",
    "dominated_by_static",
}


def base_scenario(tmp_path: Path) -> Path:
    """Two units of the paper's fleet; the family draws everything else."""
    fleet = {
        "name": "tiny",
        "units": [
            {
                "name": "inf2",
                "profile": "inf2-neuron.yaml",
                "instance_types": ["inf2.xlarge"],
                "max_replicas": 60,
            },
            {"name": "g5", "profile": "g5-cuda.yaml", "instance_types": ["g5.xlarge"], "max_replicas": 60},
        ],
    }
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    data = {
        "name": "tiny",
        "fleet": "fleet.yaml",
        "profiles": str(PROFILES),
        "duration": "1h",
        "warmup": "10m",
        "load": [{"kind": "step", "at": 0, "rps": 8}],
        "static_weights": {"inf2": 60, "g5": 40},
        "policies": ["static"],
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def family(tmp_path: Path, **over) -> Path:
    base = base_scenario(tmp_path)
    data = {
        "name": "tiny-family",
        "base": base.name,
        "duration": "1h",
        # A fifth of the paper's load, so two units of at most 60 replicas carry it.
        "ranges": {
            "wave_min_rps": {"low": 2, "high": 6},
            "wave_max_rps": {"low": 20, "high": 40},
            "shortages": {"low": 1, "high": 2},
            "spikes": {"low": 1, "high": 3},
            "spike_duration": {"low": "2m", "high": "10m"},
        },
        "policies": ["auto"],
    }
    data.update(over)
    path = tmp_path / "family.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_tiny_family_json_csv_and_plot(tmp_path):
    out = tmp_path / "out"
    args = ["simulate", str(family(tmp_path)), "--family", "2", "--seed", "4", "--json", "--out", str(out)]
    result = runner.invoke(app, [*args, "--family-dump", str(tmp_path / "members")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # The fleet file names no policy, so its default is the PolicySettings default.
    assert doc["default_policy"] == PolicySettings().mode
    assert list(doc["policies"]) == ["auto", "static", "oracle"]
    for stats in doc["policies"].values():
        assert set(stats) == KEYS
    assert doc["policies"]["oracle"]["cost_ratio_median"] == 1.0
    assert doc["policies"]["static"]["dominated_by_static"] == 0
    assert [(r["member"], r["policy"]) for r in doc["rows"]] == [
        (m, p) for m in ("tiny-family-000", "tiny-family-001") for p in ("auto", "static", "oracle")
    ]
    assert set(doc["loss_in_short_spikes"]) == set(doc["loss_after_jumps"]) == {"auto", "static"}
    beyond = doc["loss_beyond_ready_capacity"]
    assert set(beyond) == {"auto", "static"}
    # A part of what was lost, never more: per step it is capped by that step's loss.
    assert all(0 <= b["lost_beyond_ready_capacity"] <= b["lost"] for b in beyond.values())
    with (out / "family.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["member"], r["policy"]) for r in rows] == [(r["member"], r["policy"]) for r in doc["rows"]]
    assert (out / "family.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "family.json").read_text()) == doc
    # Atomic writes leave no temporary files beside the results.
    assert sorted(p.name for p in out.iterdir()) == ["family.csv", "family.json", "family.png"]
    dumped = sorted(p.name for p in (tmp_path / "members").iterdir())
    assert dumped == ["tiny-family-000.yaml", "tiny-family-001.yaml"]

    # The same seed gives the same rows, whichever worker finished first; wall times aside.
    again = runner.invoke(app, [*args[:-1], str(tmp_path / "again")])
    assert again.exit_code == 0, again.output

    def stable(d: dict) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in d["rows"]]

    assert stable(json.loads(again.stdout)) == stable(doc)


def test_table_output(tmp_path):
    result = runner.invoke(
        app, ["simulate", str(family(tmp_path)), "--family", "1", "--no-plots", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert f"default policy {PolicySettings().mode}" in result.output
    for policy in ("auto", "static", "oracle"):
        assert policy in result.output
    assert not (tmp_path / "o" / "family.png").exists()


def test_bad_family_file_is_one_line_and_exit_2(tmp_path):
    bad = family(tmp_path, ranges={"noise_sd": {"low": 0.5, "high": 0.1}})
    result = runner.invoke(app, ["simulate", str(bad), "--family", "2"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "ranges.noise_sd" in result.output
    missing = runner.invoke(app, ["simulate", str(tmp_path / "nope.yaml"), "--family", "2"])
    assert missing.exit_code == 2 and "nope.yaml: no such family file" in missing.output
    unknown = runner.invoke(app, ["simulate", str(family(tmp_path)), "--family", "1", "-p", "psychic"])
    assert unknown.exit_code == 2 and "unknown policy 'psychic'" in unknown.output
