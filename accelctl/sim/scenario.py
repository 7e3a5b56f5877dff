"""Scenario files: the load, the capacity windows, the Kubernetes dynamics and the policies to compare.

Times are seconds from the scenario's start (day 0, 00:00) and may be written as clock times
("21:20", "d1 08:00"). Durations may be written with a unit ("90s", "10m", "2h", "1d"). The
dynamics' defaults are the deploy templates' settings (KEDA polling 15 s, scale-down stabilisation
600 s, consolidateAfter 10 m) or, where nothing sets them, stated assumptions: none is a measurement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from accelctl.errors import InputError
from accelctl.files import field_path, load_model, validation_message
from accelctl.schema import MAX_COUNT, MAX_REPLICAS, MAX_RPS, Seed, Strict
from accelctl.units import (
    DEFAULT_STARTUP_S,
    FleetSpec,
    PolicySettings,
    ResolvedUnit,
    TargetName,
    UnitSpec,
    load_fleet,
    load_fleet_profiles,
    resolve_fleet,
)

# Bounds on what a scenario may ask for (docs/simulate.md): the simulator holds a few floats per
# step and unit, so these keep a run within minutes and well under a gigabyte.
MAX_SCENARIO_S = 90 * 86400.0  # duration (and warm-up)
MAX_SIM_STEPS = 2_000_000  # (warm-up + duration) / dynamics.step
MAX_UNITS = 64

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d)?\s*$")
_CLOCK = re.compile(r"^\s*(?:d([0-9]+)\s+)?([0-9]{1,2}):([0-9]{2})\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> Any:
    """90 -> 90.0; "90s", "10m", "2h", "1d" -> seconds. Anything else is left for pydantic to reject."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration; write seconds or e.g. '90s', '10m', '2h', '1d'")
        return float(m.group(1)) * _UNIT_S[m.group(2)]
    return value


def parse_time(value: Any) -> Any:
    """A clock time "HH:MM" (day 0) or "dN HH:MM" -> seconds from the start; durations as above."""
    if isinstance(value, str):
        m = _CLOCK.match(value)
        if m:
            day, hh, mm = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
            if hh > 23 or mm > 59:
                raise ValueError(f"{value!r} is not a clock time; hours 0-23, minutes 0-59")
            return day * 86400.0 + hh * 3600.0 + mm * 60.0
    return parse_duration(value)


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=MAX_SCENARIO_S)]
PositiveSeconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_SCENARIO_S)]
At = Annotated[float, BeforeValidator(parse_time), Field(ge=-MAX_SCENARIO_S, le=MAX_SCENARIO_S)]
Rate = Annotated[float, Field(ge=0, le=MAX_RPS)]


# ---------------------------------------------------------------- load shapes


class Wave(Strict):
    """The paper's load simulator: a cosine between min and max, peaking at `peak_at`."""

    kind: Literal["wave"]
    min_rps: Rate
    max_rps: Rate
    period: PositiveSeconds = 86400.0
    peak_at: At = Field(default=0.0, description="a time the wave peaks; it also peaks every period from it")

    @model_validator(mode="after")
    def _order(self) -> Wave:
        if self.max_rps < self.min_rps:
            raise ValueError(f"max_rps ({self.max_rps}) < min_rps ({self.min_rps}); swap them")
        return self

    @property
    def trough_at(self) -> float:
        return self.peak_at + self.period / 2


class Step(Strict):
    """Adds `rps` from `at` (until `until`, if given); negative steps lower the load."""

    kind: Literal["step"]
    at: At
    rps: float = Field(ge=-MAX_RPS, le=MAX_RPS)
    until: At | None = None

    @model_validator(mode="after")
    def _order(self) -> Step:
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"until ({self.until:.0f}s) must be after at ({self.at:.0f}s)")
        return self


class Spike(Strict):
    """Adds `rps` for `duration` from `at`."""

    kind: Literal["spike"]
    at: At
    duration: PositiveSeconds
    rps: float = Field(gt=0, le=MAX_RPS)


class Replay(Strict):
    """Requests/s read from a CSV file, interpolated between its rows and held beyond its ends."""

    kind: Literal["csv"]
    path: str = Field(description="CSV file, relative to the scenario file")
    time_column: str = Field(default="time_s", description="column of times, seconds from the start")
    rps_column: str = Field(default="rps", description="column of requests/s")


LoadShape = Annotated[Wave | Step | Spike | Replay, Field(discriminator="kind")]


class Noise(Strict):
    """Multiplicative jitter on the load, held for `period`: the fluid model's only randomness."""

    sd: float = Field(default=0.03, ge=0, le=1, description="standard deviation of the factor around 1")
    period: PositiveSeconds = 60.0


# ---------------------------------------------------------------- capacity and dynamics


class CapacityWindow(Strict):
    """Insufficient capacity: while it lasts Karpenter cannot launch `instance_type` once
    `max_instances` of it run. Instances already running keep running (on-demand is not reclaimed)."""

    instance_type: str
    start: At
    end: At
    max_instances: int = Field(default=0, ge=0, le=MAX_REPLICAS)

    @model_validator(mode="after")
    def _order(self) -> CapacityWindow:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end:.0f}s) must be after start ({self.start:.0f}s)")
        return self


DEFAULT_STARTUP = DEFAULT_STARTUP_S


class Dynamics(Strict):
    step: PositiveSeconds = Field(default=5.0, description="simulation time step")
    keda_polling: PositiveSeconds = Field(default=15.0, description="KEDA pollingInterval (deploy template)")
    rate_window: PositiveSeconds = Field(
        default=60.0, description="rate() window of KEDA's query and the source"
    )
    scale_down_stabilization: Seconds = Field(
        default=600.0, description="HPA scaleDown stabilizationWindowSeconds (deploy template)"
    )
    node_launch: Seconds = Field(default=60.0, description="Karpenter: EC2 launch to node Ready (assumption)")
    karpenter_retry: PositiveSeconds = Field(
        default=180.0, description="retry after an insufficient-capacity error (Karpenter caches it 3 min)"
    )
    consolidate_after: Seconds = Field(
        default=600.0, description="an empty node lives (and bills) this long (NodePool consolidateAfter)"
    )
    capacity_window: PositiveSeconds = Field(
        default=300.0, description="how long the source counts a capacity event (kubernetes source default)"
    )
    startup: dict[TargetName, Seconds] = Field(
        default_factory=lambda: dict(DEFAULT_STARTUP),
        description=(
            "pod start to Ready per target: image pull + model load (assumptions; Neuron graphs load slowly)"
        ),
    )
    max_queue: int = Field(
        default=8,
        ge=0,
        le=MAX_COUNT,
        description="requests a replica queues before answering 503 (serve --max-queue)",
    )
    timeout: PositiveSeconds = Field(
        default=60.0, description="per-request timeout, queueing included (serve --timeout)"
    )

    def startup_s(self, target: str) -> float:
        return self.startup.get(target, DEFAULT_STARTUP[target])


class ReplicaBounds(Strict):
    min_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    max_replicas: int | None = Field(default=None, ge=1, le=MAX_REPLICAS)


class PaperBaseline(Strict):
    check_interval: PositiveSeconds = Field(default=300.0, description="the paper's capacity check period")


class OracleSettings(Strict):
    step: PositiveSeconds = Field(default=60.0, description="time bucket of the oracle's plan")
    utilization: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "load per replica as a fraction of its breaking point; default: the fleet's headroom "
            "(KEDA's target)"
        ),
    )
    time_limit: PositiveSeconds = Field(default=120.0, description="solver time limit")


FIXED_POLICIES = ("static", "round-robin")
SIM_POLICIES = (*FIXED_POLICIES, "paper", "oracle")  # what simulate adds to the policies watch knows


class Scenario(Strict):
    schema_version: Literal[1] = 1
    name: str
    description: str = ""
    fleet: str = Field(description="fleet file, relative to the scenario file")
    profiles: str = Field(description="profiles folder, relative to the scenario file")
    seed: Seed = 0
    duration: PositiveSeconds = Field(
        description=f"simulated time, at most {MAX_SCENARIO_S / 86400:.0f} days"
    )
    warmup: Seconds = Field(
        default=3600.0, description="simulated before time 0 and not counted, so the fleet starts settled"
    )
    load: list[LoadShape] = Field(min_length=1, description="shapes summed into requests/s")
    noise: Noise = Field(default_factory=Noise)
    capacity: list[CapacityWindow] = Field(default_factory=list)
    dynamics: Dynamics = Field(default_factory=Dynamics)
    policy: dict[str, Any] = Field(
        default_factory=dict, description="overrides of the fleet's policy settings"
    )
    replicas: dict[str, ReplicaBounds] = Field(
        default_factory=dict, description="unit name -> replica bounds overriding the fleet's"
    )
    policies: list[str] | None = Field(
        default=None,
        min_length=1,
        description="policies to compare; default the fleet's policy (policy.mode), static and oracle",
    )
    static_weights: dict[str, int] = Field(
        default_factory=dict, description="unit name -> weight of the `static` baseline"
    )
    paper: PaperBaseline = Field(default_factory=PaperBaseline)
    oracle: OracleSettings = Field(default_factory=OracleSettings)

    @model_validator(mode="after")
    def _bounds(self) -> Scenario:
        steps = (self.warmup + self.duration) / self.dynamics.step
        if steps > MAX_SIM_STEPS:
            raise ValueError(
                f"warm-up + duration is {steps:,.0f} steps of {self.dynamics.step:g} s, over the "
                f"{MAX_SIM_STEPS:,} a run may take; shorten it or raise dynamics.step"
            )
        for i, window in enumerate(self.capacity):
            if window.start >= self.duration:
                raise ValueError(
                    f"capacity.{i} starts at {window.start:.0f}s, after the scenario ends "
                    f"({self.duration:.0f}s); move it inside the scenario or drop it"
                )
        return self


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario with its fleet and profiles resolved and cross-checked."""

    scenario: Scenario
    path: Path
    fleet: FleetSpec
    units: tuple[ResolvedUnit, ...]  # with start-up times from the scenario's dynamics
    settings: PolicySettings

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def default_policy(self) -> str:
        """The policy `watch` runs on this fleet (with the scenario's overrides): policy.mode."""
        return self.settings.mode

    @property
    def policies(self) -> list[str]:
        """The scenario's `policies`, else the fleet's default policy, static and oracle."""
        return list(self.scenario.policies or dict.fromkeys([self.default_policy, "static", "oracle"]))


def load_scenario(path: Path | str, policies: list[str] | None = None) -> LoadedScenario:
    """Read a scenario and everything it names; errors name the scenario file and its field."""
    path = Path(path)
    return resolve_scenario(load_model(path, Scenario), path, policies)


def resolve_scenario(sc: Scenario, path: Path, policies: list[str] | None = None) -> LoadedScenario:
    """A scenario already read (or generated, like a family's members) with everything it names;
    `path` is the file its relative `fleet` and `profiles` start from and errors name."""
    from accelctl.control.policy import POLICIES

    fleet_path = path.parent / sc.fleet
    fleet = load_fleet(fleet_path)
    if len(fleet.units) > MAX_UNITS:
        raise InputError(f"{fleet_path}: {len(fleet.units)} units; a simulation takes at most {MAX_UNITS}")
    profiles = load_fleet_profiles(fleet, path.parent / sc.profiles, str(fleet_path))
    names = [u.name for u in resolve_fleet(fleet, profiles, str(fleet_path))]
    for name in sc.replicas:
        if name not in names:
            raise InputError(
                f"{path}: field 'replicas.{name}': no such unit in {fleet_path}; units: {', '.join(names)}"
            )
    fleet = fleet.model_copy(
        update={
            "units": [
                _bounded(fleet_path, s, sc.replicas.get(n)) for n, s in zip(names, fleet.units, strict=False)
            ]
        }
    )
    units = resolve_fleet(fleet, profiles, str(fleet_path), sc.dynamics.startup_s)
    try:
        settings = PolicySettings.model_validate({**fleet.policy.model_dump(), **sc.policy})
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"{path}: field 'policy.{field_path(first['loc'])}': {first['msg']}") from None
    loaded = LoadedScenario(sc, path, fleet, units, settings)
    _check_references(path, sc, units, policies or loaded.policies, POLICIES.names(), policies is None)
    return loaded


def _bounded(fleet_path: Path, spec: UnitSpec, bounds: ReplicaBounds | None) -> UnitSpec:
    if bounds is None:
        return spec
    data = spec.model_dump()
    data.update({k: v for k, v in bounds.model_dump().items() if v is not None})
    try:
        return UnitSpec.model_validate(data)
    except ValidationError as err:
        raise InputError(validation_message(f"{fleet_path} with the scenario's replicas", err)) from None


def _check_references(
    path: Path, sc: Scenario, units, policies: list[str], known: list[str], from_file: bool
) -> None:
    names = [u.name for u in units]
    valid = sorted({*known, *SIM_POLICIES})
    for i, p in enumerate(policies):
        if p not in valid:
            where = f"{path}: field 'policies.{i}'" if from_file else "--policy"
            raise InputError(f"{where}: unknown policy {p!r}; valid: {', '.join(valid)}")
    for name in sc.static_weights:
        if name not in names:
            raise InputError(
                f"{path}: field 'static_weights.{name}': no such unit; units: {', '.join(names)}"
            )
    if "static" in policies and not sc.static_weights:
        raise InputError(
            f"{path}: field 'static_weights': the static baseline needs its weights; give unit name -> weight"
        )
    if sc.static_weights and sum(sc.static_weights.values()) <= 0:
        raise InputError(
            f"{path}: field 'static_weights': weights sum to 0; give at least one positive weight"
        )
    types = {u.instance_type for u in units}
    for i, w in enumerate(sc.capacity):
        if w.instance_type not in types:
            raise InputError(
                f"{path}: field 'capacity.{i}.instance_type': no unit runs {w.instance_type!r}; fleet "
                f"runs {', '.join(sorted(types))}"
            )
