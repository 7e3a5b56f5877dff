"""Simulator inputs: latency curves, load shapes, and scenario files (validation names file and field)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from accelctl.errors import InputError
from accelctl.sim.curve import curve_from_l_and_t, unit_curve
from accelctl.sim.load import cycle, jitter, load_rate
from accelctl.sim.scenario import Noise, Scenario, load_scenario, parse_time
from accelctl.units import Probe, load_profile

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "examples" / "paper" / "profiles"


# ---------------------------------------------------------------- curves


def test_l_and_t_curve_runs_from_low_load_latency_to_the_slo_at_the_breaking_point():
    c = curve_from_l_and_t(0.45, 1.5, 0.9)
    assert c.at(0.0) == pytest.approx(0.45)
    assert c.at(1.5) == pytest.approx(0.9)
    assert c.plateau == 1.5
    # Halfway: 0.45 / (1 - 0.5 * (1 - 0.5)) = 0.6.
    assert c.at(0.75) == pytest.approx(0.6, abs=1e-3)


def test_latency_above_the_slo_is_capped_below_it():
    # The paper's g6 prints L = 0.96 s against a 0.9 s SLO: p0 becomes 0.9 * 0.9 = 0.81 s.
    g6 = unit_curve(load_profile(PROFILES / "g6-cuda-compile.yaml"), 0.9)
    assert g6.at(0.0) == pytest.approx(0.81)
    assert g6.at(g6.plateau) == pytest.approx(0.9)
    assert np.all(np.diff(g6.p95) > 0)


def test_a_measured_curve_is_used_as_measured():
    profile = load_profile(PROFILES / "inf2-neuron.yaml")
    probes = [
        {"mode": "open", "offered": 0.5, "achieved_rps": 0.5, "p95": 0.6, "requests": 50},
        {"mode": "open", "offered": 1.5, "achieved_rps": 1.5, "p95": 0.8, "requests": 150},
        {"mode": "open", "offered": 3.0, "achieved_rps": 2.0, "p95": 4.0, "requests": 200},
        {"mode": "open", "offered": 4.0, "achieved_rps": 1.9, "p95": 6.0, "requests": 190},
    ]
    measured = profile.model_copy(update={"curve": [Probe(**p) for p in probes]})
    c = unit_curve(measured, 0.9)
    assert c.source == "measured"
    assert c.plateau == 2.0  # the highest throughput any probe reached
    assert c.at(1.0) == pytest.approx(0.7)
    assert c.at(0.0) == pytest.approx(0.6)


# ---------------------------------------------------------------- load


def _scenario(**over) -> Scenario:
    data = {
        "name": "t",
        "fleet": "f.yaml",
        "profiles": "p",
        "duration": "1h",
        "load": [{"kind": "step", "at": 0, "rps": 1}],
    }
    data.update(over)
    return Scenario.model_validate(data)


def test_wave_peaks_at_peak_at_and_bottoms_half_a_period_later():
    sc = _scenario(load=[{"kind": "wave", "min_rps": 20, "max_rps": 180, "period": "1d", "peak_at": "20:00"}])
    t = np.array([20 * 3600.0, 8 * 3600.0, 14 * 3600.0])
    assert load_rate(sc.load, t, Path(".")) == pytest.approx([180.0, 20.0, 100.0])
    assert cycle(sc.load) == (86400.0, 8 * 3600.0)


def test_steps_and_spikes_add_and_the_total_never_goes_negative():
    sc = _scenario(
        load=[
            {"kind": "step", "at": 0, "rps": 10},
            {"kind": "step", "at": "1m", "rps": -30, "until": "2m"},
            {"kind": "spike", "at": "3m", "duration": "30s", "rps": 5},
        ]
    )
    t = np.array([0.0, 60.0, 120.0, 180.0, 209.0, 210.0])
    assert load_rate(sc.load, t, Path(".")).tolist() == [10.0, 0.0, 10.0, 15.0, 15.0, 10.0]


def test_csv_replay_interpolates_and_holds_its_ends(tmp_path):
    (tmp_path / "trace.csv").write_text("time_s,rps\n0,10\n100,20\n")
    sc = _scenario(load=[{"kind": "csv", "path": "trace.csv"}])
    assert load_rate(sc.load, np.array([-5.0, 50.0, 500.0]), tmp_path).tolist() == [10.0, 15.0, 20.0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("t,rps\n0,1\n", "no column 'time_s'"),
        ("time_s,rps\n0,x\n", "line 2: time and rps must be numbers"),
        ("time_s,rps\n5,1\n5,2\n", "line 3: rps must be >= 0 and times increasing"),
    ],
)
def test_bad_csv_names_the_file_and_line(tmp_path, text, message):
    (tmp_path / "trace.csv").write_text(text)
    sc = _scenario(load=[{"kind": "csv", "path": "trace.csv"}])
    with pytest.raises(InputError, match=message):
        load_rate(sc.load, np.array([0.0]), tmp_path)


def test_jitter_is_held_per_period_and_fixed_by_the_seed():
    t = np.arange(0, 300, 5.0)
    a = jitter(Noise(sd=0.1, period=60), t, np.random.default_rng(3))
    b = jitter(Noise(sd=0.1, period=60), t, np.random.default_rng(3))
    assert a.tolist() == b.tolist()
    assert len(set(a[:12].tolist())) == 1 and a[0] != a[12]
    assert jitter(Noise(sd=0.0), t, np.random.default_rng(3)).tolist() == [1.0] * len(t)


# ---------------------------------------------------------------- scenario files


def test_clock_times_and_durations():
    assert parse_time("21:20") == 21 * 3600 + 20 * 60
    assert parse_time("d1 08:00") == 86400 + 8 * 3600
    assert parse_time("90s") == 90 and parse_time("10m") == 600 and parse_time("2h") == 7200
    with pytest.raises(ValueError, match="hours 0-23"):
        parse_time("25:00")


def _write(tmp_path: Path, fleet_over: dict | None = None, **over) -> Path:
    fleet = {
        "name": "t",
        **(fleet_over or {}),
        "units": [
            {"name": "inf2", "profile": "inf2-neuron.yaml", "instance_types": ["inf2.xlarge"]},
            {"name": "g5", "profile": "g5-cuda.yaml", "instance_types": ["g5.xlarge"]},
        ],
    }
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    data = {
        "name": "t",
        "fleet": "fleet.yaml",
        "profiles": str(PROFILES),
        "duration": "1h",
        "load": [{"kind": "step", "at": 0, "rps": 1}],
        "static_weights": {"inf2": 60, "g5": 40},
    }
    data.update(over)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_scenario_loads_its_fleet_and_applies_replica_bounds(tmp_path):
    loaded = load_scenario(
        _write(tmp_path, replicas={"inf2": {"max_replicas": 40}}, policy={"interval_s": 30})
    )
    assert [m.name for m in loaded.units] == ["inf2", "g5"]
    assert loaded.units[0].max_replicas == 40 and loaded.units[1].max_replicas == 10
    assert loaded.settings.interval_s == 30


@pytest.mark.parametrize(
    "over, message",
    [
        (
            {"policies": ["auto", "nope"]},
            "field 'policies.1': unknown policy 'nope'; valid: .*paper.*round-robin",
        ),
        ({"replicas": {"trn1": {"max_replicas": 3}}}, "field 'replicas.trn1': no such unit"),
        ({"static_weights": {}}, "field 'static_weights': the static baseline needs its weights"),
        (
            {"capacity": [{"instance_type": "g6.xlarge", "start": "0:10", "end": "0:50"}]},
            "field 'capacity.0.instance_type': no unit runs 'g6.xlarge'",
        ),
        (
            {"capacity": [{"instance_type": "g5.xlarge", "start": "2:00", "end": "1:00"}]},
            "field 'capacity.0': .*end .* must be after start",
        ),
        ({"policy": {"interval_s": -1}}, "field 'policy.interval_s': Input should be greater than 0"),
        ({"duration": "soon"}, "field 'duration': .*not a duration"),
        ({"duration": "100000d"}, "field 'duration': Input should be less than or equal to 7776000"),
        (
            {"duration": "80d", "dynamics": {"step": 1}},
            "warm-up \\+ duration is 6,915,600 steps of 1 s, over the 2,000,000",
        ),
        (
            {"load": [{"kind": "step", "at": "0:30", "until": "0:20", "rps": 5}]},
            "field 'load.0.step': until .* must be after at",
        ),
        (
            {"capacity": [{"instance_type": "g5.xlarge", "start": "2:00", "end": "3:00"}]},
            "capacity.0 starts at 7200s, after the scenario ends \\(3600s\\)",
        ),
        ({"load": [{"kind": "wave", "min_rps": 1, "max_rps": 1e300}]}, "field 'load.0.wave.max_rps'"),
        ({"noise": {"sd": float("nan")}}, "field 'noise.sd': Input should be a finite number"),
        ({"load": [{"kind": "sine"}]}, "field 'load.0'"),
    ],
)
def test_bad_scenarios_name_the_file_and_field(tmp_path, over, message):
    path = _write(tmp_path, **over)
    with pytest.raises(InputError, match=message) as err:
        load_scenario(path)
    assert str(path) in err.value.message


def test_simulate_refuses_a_fleet_whose_slo_its_profiles_were_not_measured_at(tmp_path):
    # The same cross-file checks as deploy (accelctl.units.resolve_fleet): T found at p95 <= 0.9 s says
    # nothing about a 0.3 s SLO.
    path = _write(tmp_path, fleet_over={"slo_s": 0.3})
    with pytest.raises(
        InputError, match=r"field 'units.0.profile': .*SLO of 0.9 s, the fleet's slo_s is 0.3 s"
    ):
        load_scenario(path)


def test_the_shipped_scenarios_load():
    for path in sorted((REPO / "examples" / "scenarios").glob("*.yaml")):
        loaded = load_scenario(path)
        assert len(loaded.units) == 5, path
