"""The scenario family: members drawn deterministically within the documented ranges, written out as
scenario files that replay alone, and the distribution per policy read from per-member results."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelctl.errors import InputError
from accelctl.files import dump_yaml
from accelctl.sim.family import FamilyRanges, FamilySpec, draw_family, dump_members, load_family
from accelctl.sim.family_run import (
    MemberResult,
    beyond_ready_capacity,
    distribution,
    jump_steps,
    loss_share,
    short_spike_loss,
    short_spike_steps,
)
from accelctl.sim.run import make_trace
from accelctl.sim.scenario import Scenario, Spike, Step, Wave, load_scenario, resolve_scenario

REPO = Path(__file__).resolve().parents[2]
FAMILY = REPO / "examples" / "families" / "sd21-day.yaml"
SPEC = load_family(FAMILY)
BASE_PATH = FAMILY.parent / SPEC.base
BASE = load_scenario(BASE_PATH)


def yaml_of(members: list[Scenario]) -> list[str]:
    return [dump_yaml(m.model_dump(mode="json", exclude_none=True)) for m in members]


def test_shipped_family_file_states_the_generator_defaults():
    # The file writes the ranges out so they can be edited; they are the documented defaults.
    assert SPEC.ranges == FamilyRanges()


def test_same_seed_same_members_different_seed_different_members():
    a, b = draw_family(SPEC, BASE, 4, seed=1), draw_family(SPEC, BASE, 4, seed=1)
    assert a == b and yaml_of(a) == yaml_of(b)
    c = draw_family(SPEC, BASE, 4, seed=2)
    assert all(x.load != y.load for x, y in zip(a, c, strict=True))
    # Members within one family differ from each other too.
    assert len({m.seed for m in a}) == 4 and len({str(m.load) for m in a}) == 4


def test_member_i_does_not_depend_on_the_family_size():
    assert draw_family(SPEC, BASE, 5, seed=3)[:2] == draw_family(SPEC, BASE, 2, seed=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_member_lies_within_the_documented_ranges(seed):
    r = SPEC.ranges
    types = {u.instance_type for u in BASE.units}
    targets = {u.target for u in BASE.units}
    for m in draw_family(SPEC, BASE, 3, seed):
        assert m.duration == 86400.0
        waves = [s for s in m.load if isinstance(s, Wave)]
        steps = [s for s in m.load if isinstance(s, Step)]
        spikes = [s for s in m.load if isinstance(s, Spike)]
        assert len(waves) == 1 and len(waves) + len(steps) + len(spikes) == len(m.load)
        w = waves[0]
        assert r.wave_min_rps.low <= w.min_rps <= r.wave_min_rps.high
        assert r.wave_max_rps.low <= w.max_rps <= r.wave_max_rps.high
        assert 0 <= w.peak_at < 86400 and w.period == 86400
        assert r.steps.low <= len(steps) <= r.steps.high
        for s in steps:
            assert 0 <= s.at <= m.duration
            assert r.step_share.low * w.min_rps - 0.01 <= s.rps <= r.step_share.high * w.min_rps + 0.01
            assert r.step_duration.low <= s.until - s.at <= r.step_duration.high
        assert len(spikes) <= r.spikes.high
        # Spikes never overlap (overlapping ones would stack past spike_factor).
        by_start = sorted(spikes, key=lambda s: s.at)
        assert all(a.at + a.duration <= b.at for a, b in zip(by_start, by_start[1:], strict=False))
        for s in spikes:
            assert r.spike_duration.low <= s.duration <= r.spike_duration.high
            assert s.at >= 0 and s.at + s.duration <= m.duration
            # The spike multiplies the load at its start (wave + steps, before noise) by 1.2-2.
            t = np.array([s.at])
            base = (
                sum(float(np.where((t >= x.at) & (t < x.until), x.rps, 0.0)[0]) for x in steps)
                + w.min_rps
                + (w.max_rps - w.min_rps) * (1 + math.cos(2 * math.pi * (s.at - w.peak_at) / 86400)) / 2
            )
            assert (r.spike_factor.low - 1) * base - 0.01 <= s.rps <= (r.spike_factor.high - 1) * base + 0.01
        assert r.noise_sd.low <= m.noise.sd <= r.noise_sd.high
        assert r.shortages.low <= len(m.capacity) <= r.shortages.high
        for c in m.capacity:
            assert c.instance_type in types
            assert r.shortage_duration.low <= c.end - c.start <= r.shortage_duration.high
            assert c.start >= 0 and c.end <= m.duration
            assert c.max_instances >= 0
        for t in targets:
            assert r.startup.low <= m.dynamics.startup[t] <= r.startup.high
        assert r.node_launch.low <= m.dynamics.node_launch <= r.node_launch.high
        assert m.policies == [BASE.default_policy, "static", "oracle"]


def test_a_dumped_member_replays_alone(tmp_path):
    members = draw_family(SPEC, BASE, 2, seed=5)
    paths = dump_members(members, BASE_PATH, tmp_path / "members")
    assert [p.name for p in paths] == ["sd21-day-000.yaml", "sd21-day-001.yaml"]
    for m, p in zip(members, paths, strict=True):
        loaded = load_scenario(p)
        assert loaded.scenario.model_dump(exclude={"fleet", "profiles"}) == m.model_dump(
            exclude={"fleet", "profiles"}
        )
        alone, in_family = make_trace(loaded), make_trace(resolve_scenario(m, BASE_PATH))
        assert np.array_equal(alone.rates, in_family.rates)
    # Byte-deterministic: writing the same members again gives the same bytes.
    again = dump_members(draw_family(SPEC, BASE, 2, seed=5), BASE_PATH, tmp_path / "again")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]


def test_bad_ranges_name_the_file_and_field(tmp_path):
    bad = tmp_path / "family.yaml"
    bad.write_text(f"base: {BASE_PATH}\nranges:\n  noise_sd: {{low: 0.08, high: 0.02}}\n")
    with pytest.raises(InputError, match=r"family.yaml.*ranges.noise_sd.*swap them"):
        load_family(bad)
    with pytest.raises(ValueError, match="wave_max_rps.low"):
        FamilySpec(base="x.yaml", ranges={"wave_min_rps": {"low": 10, "high": 200}})
    with pytest.raises(ValueError, match="spikes each get their own slot"):
        FamilySpec(base="x.yaml", duration=3600, ranges={"spikes": {"low": 0, "high": 3}})


# ---------------------------------------------------------------- the distribution


def result(member: str, policy: str, slo: float, cost: float, flaps: int | None = 0, lost=0.0, inside=0.0):
    return MemberResult(
        member=member,
        policy=policy,
        slo_pct=slo,
        cost_usd=cost,
        requests=1000.0,
        lost=lost,
        lost_in_short_spikes=None if policy == "oracle" else inside,
        short_spikes=1,
        lost_after_jumps=None if policy == "oracle" else 2 * inside,
        lost_beyond_ready_capacity=None if policy == "oracle" else 3 * inside,
        lead_s=300.0,
        rejected=0.0,
        timed_out=0.0,
        flaps=flaps,
        mode_switches=None,
        peak_replicas=1,
        tick_errors=0,
        wall_s=0.0,
        cpu_s=0.0,
    )


def test_distribution_per_policy_from_per_member_results():
    rows = []
    # Ten members; the oracle costs 100 on each, static 150 at 100 % SLO.
    # auto: SLO 90, 91, ..., 99 %; cost 110, 120, ..., 200; flaps 0..9.
    for i in range(10):
        m = f"m{i}"
        rows += [
            result(m, "oracle", 100.0, 100.0, flaps=None),
            result(m, "static", 100.0, 150.0),
            result(m, "auto", 90.0 + i, 110.0 + 10 * i, flaps=i, lost=10.0, inside=2.0 if i < 5 else 0.0),
        ]
    d = distribution(rows, ["auto", "static", "oracle"])
    assert set(d["auto"]) == {
        "slo_min",
        "slo_p10",
        "slo_median",
        "cost_ratio_median",
        "cost_ratio_p90",
        "flaps_max",
        "dominated_by_static",
    }
    auto = d["auto"]
    assert auto["slo_min"] == 90.0
    assert auto["slo_p10"] == pytest.approx(90.9)  # numpy's linear percentile: 90 + 0.9 × 1
    assert auto["slo_median"] == pytest.approx(94.5)
    assert auto["cost_ratio_median"] == pytest.approx(1.55)  # (150 + 160) / 2 / 100
    assert auto["cost_ratio_p90"] == pytest.approx(1.91)
    assert auto["flaps_max"] == 9
    # Dearer than static (150) and lower in SLO (every auto SLO < 100): costs 160..200, members 5..9.
    assert auto["dominated_by_static"] == 5
    assert d["static"]["dominated_by_static"] == 0 and d["static"]["cost_ratio_median"] == 1.5
    assert d["oracle"]["flaps_max"] is None and d["oracle"]["cost_ratio_p90"] == 1.0
    # Loss in short spikes: 5 members × 2 of 10 members × 10 requests lost.
    assert short_spike_loss(rows, ["auto", "oracle"]) == {
        "auto": {"lost": 100.0, "lost_in_short_spikes": 10.0, "share": 0.1}
    }
    assert loss_share(rows, ["auto"], "lost_after_jumps")["auto"]["share"] == 0.2
    assert loss_share(rows, ["auto"], "lost_beyond_ready_capacity")["auto"]["share"] == pytest.approx(0.3)


def test_equal_cost_or_equal_slo_is_not_dominated():
    rows = [
        result("m", "static", 99.0, 100.0),
        result("m", "a", 98.0, 100.0),  # lower SLO, same cost
        result("m", "b", 99.0, 120.0),  # dearer, same SLO
        result("m", "oracle", 100.0, 90.0, flaps=None),
    ]
    d = distribution(rows, ["a", "b"])
    assert d["a"]["dominated_by_static"] == 0 and d["b"]["dominated_by_static"] == 0


def test_short_spikes_are_those_under_the_lead_time():
    sc = BASE.scenario.model_copy(
        update={
            "load": [
                Wave(kind="wave", min_rps=10, max_rps=20),
                Spike(kind="spike", at=100, duration=60, rps=5),  # shorter than 300 s: counted
                Spike(kind="spike", at=1000, duration=600, rps=5),  # longer: not
            ]
        }
    )
    times = np.arange(0, 2000, 10.0)
    mask, n = short_spike_steps(sc, times, lead_s=300.0)
    assert n == 1
    assert times[mask].tolist() == [100.0, 110.0, 120.0, 130.0, 140.0, 150.0]
    # One lead time from each jump's start, cut at a spike's end: 100-160 and 1000-1300; a step up too.
    up = sc.model_copy(
        update={"load": [*sc.load, Step(kind="step", at=1500, rps=3), Step(kind="step", at=1700, rps=-3)]}
    )
    jumps = times[jump_steps(up, times, lead_s=300.0)]
    assert jumps.tolist() == [
        *np.arange(100, 160, 10.0),
        *np.arange(1000, 1300, 10.0),
        *np.arange(1500, 1800, 10.0),
    ]


def test_loss_beyond_ready_capacity_is_the_demand_over_ready_replicas_at_t_capped_by_the_loss():
    # Two units with T = 2 and 1 requests/s per replica; 5 s steps; step 0 is the warm-up.
    fleet = SimpleNamespace(
        units=[SimpleNamespace(model=SimpleNamespace(throughput_rps=t)) for t in (2.0, 1.0)],
        dt=5.0,
        ready_log=np.array([[0, 0], [2, 1], [2, 1], [1, 0]]),
        # requests offered per step and unit
        offered=np.array([[99.0, 99.0], [20.0, 10.0], [15.0, 5.0], [30.0, 0.0]]),
    )
    lost = np.array([30.0, 4.0, 12.0])  # per counted step (from step 1)
    # Ready replicas carry (2×2 + 1×1) × 5 = 25, 25 and (1×2) × 5 = 10 requests in steps 1-3.
    # Over that: 30 - 25 = 5 (capped at the 30 lost: 5), 20 - 25 < 0 (0: the 4 lost are routing's),
    # 30 - 10 = 20 (capped at the 12 lost). 5 + 0 + 12 = 17; the warm-up step 0 is not counted.
    assert beyond_ready_capacity(fleet, 1, lost) == pytest.approx(17.0)
