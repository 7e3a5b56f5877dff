"""A scenario family: N one-day scenarios drawn from documented ranges, so a policy is judged on a
distribution of days rather than on three hand-made ones.

Each member is an ordinary `Scenario` (the base scenario's fleet, profiles, replica bounds, static
weights and dynamics, with its own load, noise, shortages, start-up and node launch times), so one
member can be written out as a scenario file and replayed alone. Member i of `--family N --seed S`
draws from `numpy.random.Generator(SeedSequence(S).spawn(N)[i])`: the same seed gives the same
members, and member i does not depend on N.

What each member draws (uniform within each range unless said otherwise; defaults in `FamilyRanges`):
- a daily cosine wave: `wave_min_rps`, `wave_max_rps`, peak time `wave_peak_at`;
- `steps` level steps of `step_share` × the wave's minimum (negative lowers the load), lasting
  `step_duration`, starting anywhere in the day;
- `spikes` spikes of `spike_factor` × the load at their start (wave + steps), lasting `spike_duration`,
  each in its own equal slot of the day so that they never overlap;
- noise sd `noise_sd` (held per the base scenario's noise period);
- `shortages` capacity windows, each of any instance type the fleet runs, lasting `shortage_duration`,
  anywhere in the day (they may overlap): full (`max_instances: 0`) with `full_shortage_probability`,
  else partial: `max_instances` = `partial_share` × the instances that type needs for an equal share
  of the wave's peak at the fleet's headroom (at least 1);
- a pod start-up time per target the fleet runs (`startup`) and one Karpenter node launch time
  (`node_launch`).
Times and durations are rounded to whole seconds and rates to 0.01 rps, so a dumped member reads well
and replays exactly.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from accelctl.files import load_model, save_model
from accelctl.schema import Strict
from accelctl.sim.scenario import (
    At,
    CapacityWindow,
    LoadedScenario,
    Noise,
    PositiveSeconds,
    Scenario,
    Seconds,
    Spike,
    Step,
    Wave,
)
from accelctl.units import replicas_for

DAY_S = 86400.0


class _Ordered(Strict):
    @model_validator(mode="after")
    def _order(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) < low ({self.low}); swap them")
        return self

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


class Range(_Ordered):
    low: float
    high: float


class SecondsRange(_Ordered):
    """Durations: seconds or '90s', '10m', '2h'."""

    low: Seconds
    high: Seconds


class TimeRange(_Ordered):
    """Times of day: seconds or clock times '06:00'."""

    low: At = Field(ge=0)
    high: At = Field(ge=0)


class Count(_Ordered):
    low: int = Field(ge=0)
    high: int = Field(ge=0)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))


class FamilyRanges(Strict):
    wave_min_rps: Range = Range(low=10, high=40)
    wave_max_rps: Range = Range(low=120, high=220)
    wave_peak_at: TimeRange = TimeRange(low=0, high=DAY_S)
    steps: Count = Count(low=0, high=2)
    step_share: Range = Field(
        default=Range(low=-0.4, high=1.5), description="step rps as a multiple of the wave's minimum"
    )
    step_duration: SecondsRange = SecondsRange(low=3600, high=8 * 3600)
    spikes: Count = Count(low=0, high=3)
    spike_factor: Range = Field(
        default=Range(low=1.2, high=2.0), description="load during the spike ÷ the load at its start"
    )
    spike_duration: SecondsRange = SecondsRange(low=120, high=1800)
    noise_sd: Range = Range(low=0.02, high=0.08)
    shortages: Count = Count(low=0, high=3)
    shortage_duration: SecondsRange = SecondsRange(low=900, high=8 * 3600)
    full_shortage_probability: float = Field(default=0.5, ge=0, le=1)
    partial_share: Range = Field(
        default=Range(low=0.2, high=0.8),
        description="a partial shortage's max_instances ÷ the instances its type needs for an equal "
        "share of the peak",
    )
    startup: SecondsRange = Field(
        default=SecondsRange(low=120, high=720), description="pod start-up per target"
    )
    node_launch: SecondsRange = SecondsRange(low=45, high=180)

    @model_validator(mode="after")
    def _fits(self) -> FamilyRanges:
        if self.wave_max_rps.low < self.wave_min_rps.high:
            raise ValueError("wave_max_rps.low must be >= wave_min_rps.high, so every wave has max >= min")
        if self.step_share.low * self.steps.high <= -1:
            raise ValueError(
                "step_share.low × steps.high must be > -1, so steps never cancel the wave's minimum"
            )
        return self


class FamilySpec(Strict):
    """A family file: the base scenario its members share and the ranges they are drawn from."""

    schema_version: int = Field(default=1, ge=1, le=1)
    name: str = "family"
    description: str = ""
    base: str = Field(
        description="scenario file, relative to the family file, whose fleet and settings members share"
    )
    duration: PositiveSeconds = Field(default=DAY_S, description="each member's simulated time")
    ranges: FamilyRanges = Field(default_factory=FamilyRanges)
    policies: list[str] | None = Field(
        default=None,
        min_length=1,
        description="policies to compare; default: the fleet's default policy (static and oracle always run)",
    )

    @model_validator(mode="after")
    def _room_for_spikes(self) -> FamilySpec:
        r = self.ranges
        if r.spikes.high * r.spike_duration.high > self.duration:
            raise ValueError(
                f"spikes.high × spike_duration.high ({r.spikes.high} × {r.spike_duration.high:.0f}s) exceeds "
                f"the duration ({self.duration:.0f}s): spikes each get their own slot; lower one or the other"
            )
        return self


def load_family(path: Path | str) -> FamilySpec:
    return load_model(path, FamilySpec)


def family_policies(spec: FamilySpec, base: LoadedScenario, policies: list[str] | None = None) -> list[str]:
    """The compared policies (default: the base's default policy, the one its fleet spec has watch
    run), then `static` (dominance is judged against it) and `oracle` (the cost reference), each once."""
    names = [*(policies or spec.policies or [base.default_policy]), "static", "oracle"]
    return list(dict.fromkeys(names))


def member_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(n)


def _instances_for_share(base: LoadedScenario, instance_type: str, rps: float) -> int:
    """Instances of `instance_type` its units need to carry `rps` each at the fleet's headroom."""
    need = 0
    for u in base.units:
        if u.instance_type == instance_type:
            need += math.ceil(replicas_for(rps, u, base.fleet.headroom) / u.replicas_per_instance)
    return need


def draw_member(
    spec: FamilySpec, base: LoadedScenario, index: int, seq: np.random.SeedSequence, policies: list[str]
) -> Scenario:
    """One member, a pure function of the spec, the base scenario and its seed sequence."""
    r, rng = spec.ranges, np.random.default_rng(seq)
    day = spec.duration
    lo = round(r.wave_min_rps.draw(rng), 2)
    hi = max(round(r.wave_max_rps.draw(rng), 2), lo)
    peak = round(r.wave_peak_at.draw(rng)) % DAY_S
    wave = Wave(kind="wave", min_rps=lo, max_rps=hi, period=DAY_S, peak_at=peak)
    load: list = [wave]
    steps = []
    for _ in range(r.steps.draw(rng)):
        at = float(round(rng.uniform(0, day)))
        steps.append(
            Step(
                kind="step",
                at=at,
                rps=round(r.step_share.draw(rng) * lo, 2),
                until=at + round(r.step_duration.draw(rng)),
            )
        )
    load += steps
    # Each spike in its own k-th of the day, so spikes never overlap: overlapping ones would stack
    # past spike_factor (two 2x spikes at once make 3x).
    n_spikes = r.spikes.draw(rng)
    for j in range(n_spikes):
        length = float(round(r.spike_duration.draw(rng)))
        slot = day / n_spikes
        at = float(round(rng.uniform(j * slot, (j + 1) * slot - length)))
        phase = 2 * math.pi * (at - peak) / DAY_S
        level = lo + (hi - lo) * (1 + math.cos(phase)) / 2
        level += sum(s.rps for s in steps if s.at <= at < s.until)
        rps = round((r.spike_factor.draw(rng) - 1) * max(level, 0.0), 2)
        if rps > 0:
            load.append(Spike(kind="spike", at=at, duration=length, rps=rps))
    noise = Noise(sd=round(r.noise_sd.draw(rng), 3), period=base.scenario.noise.period)
    types = sorted({u.instance_type for u in base.units})
    capacity = []
    for _ in range(r.shortages.draw(rng)):
        itype = types[int(rng.integers(len(types)))]
        length = float(round(r.shortage_duration.draw(rng)))
        start = float(round(rng.uniform(0, max(day - length, 0))))
        full = bool(rng.random() < r.full_shortage_probability)
        share = r.partial_share.draw(rng)
        limit = (
            0 if full else max(1, math.floor(share * _instances_for_share(base, itype, hi / len(base.units))))
        )
        capacity.append(
            CapacityWindow(instance_type=itype, start=start, end=start + length, max_instances=limit)
        )
    targets = sorted({u.target for u in base.units})
    dyn = base.scenario.dynamics.model_copy(
        update={
            "startup": {
                **base.scenario.dynamics.startup,
                **{t: float(round(r.startup.draw(rng))) for t in targets},
            },
            "node_launch": float(round(r.node_launch.draw(rng))),
        }
    )
    seed = int(rng.integers(2**31))
    return base.scenario.model_copy(
        update={
            "name": f"{spec.name}-{index:03d}",
            "description": f"member {index} of family {spec.name!r}, drawn from its ranges",
            "seed": seed,
            "duration": day,
            "load": load,
            "noise": noise,
            "capacity": capacity,
            "dynamics": dyn,
            "policies": policies,
        }
    )


def draw_family(
    spec: FamilySpec, base: LoadedScenario, n: int, seed: int, policies: list[str] | None = None
) -> list[Scenario]:
    names = family_policies(spec, base, policies)
    return [draw_member(spec, base, i, seq, names) for i, seq in enumerate(member_seeds(seed, n))]


def portable(member: Scenario, base_path: Path, folder: Path) -> Scenario:
    """The member with its fleet and profiles relative to `folder`, where it will be written."""

    def rel(p: str) -> str:
        return os.path.relpath((base_path.parent / p).resolve(), folder.resolve())

    return member.model_copy(update={"fleet": rel(member.fleet), "profiles": rel(member.profiles)})


def dump_members(members: list[Scenario], base_path: Path, folder: Path) -> list[Path]:
    """Write each member as a scenario file `folder/<name>.yaml` (atomic, byte-deterministic)."""
    return [save_model(folder / f"{m.name}.yaml", portable(m, base_path, folder)) for m in members]
