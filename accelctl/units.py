"""Deployment units and the files that describe them: Catalog, Profile, FleetSpec.

A deployment unit is (model, instance type, target). Each unit has one measured curve; from it come
latency L, breaking point T (requests/s one replica sustains within the SLO) and, with the instance
price, cost per inference C. Everything here is pure: no clock, no I/O beyond the loaders at the end.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, computed_field, field_validator, model_validator

from accelctl.errors import InputError
from accelctl.files import load_model
from accelctl.hardware import TARGET_KIND, instance_family, instance_kind, target_fits
from accelctl.schema import MAX_PRICE_PER_HOUR, MAX_REPLICAS, MAX_RPS, MIN_LATENCY_S, OneLine, Strict
from accelctl.shape import DtypeName, Shape, default_dtype

# A target's name; the plug-in class that compiles for it is accelctl.targets.base.Target.
TargetName = Literal["cpu", "cpu-compile", "cuda", "cuda-compile", "inf2", "trn1"]
TARGETS: tuple[str, ...] = get_args(TargetName)
# The plan policy's forecasters (accelctl.control.forecast.FORECASTERS registers one per name; a test
# keeps the two equal): named here so a fleet file is checked without importing the control layer.
ForecasterName = Literal["trend", "last"]
SECONDS_PER_HOUR = 3600.0


def slug(text: str) -> str:
    """A DNS-1123 label: what Kubernetes accepts as a name."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", s)[:63].strip("-")


class DeploymentUnit(Strict):
    """(model, hardware, framework): the thing traffic is routed to."""

    model: str = Field(description="model preset, hub id or folder name")
    instance_type: str = Field(description="cloud instance type, e.g. inf2.xlarge")
    target: TargetName = Field(description="compile target the unit runs")

    @property
    def name(self) -> str:
        return slug(f"{self.model.split('/')[-1]}-{self.instance_type}-{self.target}")


# ---------------------------------------------------------------- catalog


class Price(Strict):
    on_demand: float = Field(ge=1e-6, le=MAX_PRICE_PER_HOUR, description="$ per instance-hour, on-demand")
    spot: float | None = Field(
        default=None, ge=1e-6, le=MAX_PRICE_PER_HOUR, description="$ per instance-hour, spot"
    )
    source: str | None = Field(
        default=None, description="where these figures came from, when not the instance type's source"
    )
    date: dt.date | None = Field(
        default=None, description="when these figures were read, when not the instance type's date"
    )


class InstanceType(Strict):
    accelerator: str = Field(
        description="accelerator kind: nvidia-a10g, nvidia-l4, inferentia2, trainium, cpu, ..."
    )
    accelerators: int = Field(ge=0, description="accelerator devices per instance (GPUs or Neuron devices)")
    neuron_cores: int = Field(default=0, ge=0, description="NeuronCores per instance (Neuron types only)")
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    prices: dict[str, Price] = Field(description="region -> price")
    source: str = Field(description="where the prices came from")
    date: dt.date = Field(description="when the prices were read")


class Catalog(Strict):
    currency: Literal["USD"] = "USD"
    instances: dict[str, InstanceType]

    def instance(self, instance_type: str, where: str = "catalog") -> InstanceType:
        try:
            return self.instances[instance_type]
        except KeyError:
            raise InputError(
                f"{where}: instance type {instance_type!r} is not in the catalog; add it under "
                f"'instances' or give instance_price_per_hour in the profile"
            ) from None

    def instance_price_per_hour(
        self, instance_type: str, region: str, spot: bool = False, where: str = "catalog"
    ) -> float:
        inst = self.instance(instance_type, where)
        if region not in inst.prices:
            raise InputError(
                f"{where}: no price for {instance_type} in region {region!r}; "
                f"known regions: {', '.join(sorted(inst.prices))}"
            )
        price = inst.prices[region]
        if spot:
            if price.spot is None:
                raise InputError(
                    f"{where}: no spot price for {instance_type} in {region}; add 'spot' or use on-demand"
                )
            return price.spot
        return price.on_demand


# ---------------------------------------------------------------- profile


class LatencyStats(Strict):
    """Seconds per request, measured at low load (concurrency 1)."""

    n: int = Field(ge=1)
    mean: float = Field(ge=MIN_LATENCY_S, description="seconds; at least a microsecond, or C·L underflows")
    ci95_low: float | None = None
    ci95_high: float | None = None
    p0: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p100: float | None = None


class Probe(Strict):
    """One point of the latency-throughput curve."""

    mode: Literal["closed", "open"] = Field(description="closed: fixed concurrency; open: Poisson arrivals")
    offered: float = Field(gt=0, description="concurrency (closed) or requests/s (open)")
    achieved_rps: float = Field(ge=0)
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    requests: int = Field(ge=0)
    errors: int = Field(default=0, ge=0)
    duration_s: float = Field(default=0.0, ge=0)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class Quality(Strict):
    reference: str = Field(description="the build images were compared with")
    psnr_db: float = Field(allow_inf_nan=True, description="mean PSNR in dB; inf where identical")
    ssim: float = Field(le=1.0)
    threshold_db: float
    passed: bool


class Profile(Strict):
    """One deployment unit's measured behaviour. Derived cost fields are recomputed, never read."""

    schema_version: Literal[1] = 1
    unit: DeploymentUnit
    build: str | None = Field(default=None, description="build folder the numbers came from")
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    batch: int = Field(default=1, gt=0)
    steps: int = Field(gt=0)
    dtype: DtypeName | None = Field(
        default=None,
        description="dtype of the build the figures came from; deploy compiles Neuron builds in it. "
        "A profile without one (written by hand, or before it was recorded) gets the target's default",
    )
    latency: LatencyStats
    breaking_point_rps: float = Field(
        gt=0, le=MAX_RPS, description="T: requests/s one replica sustains within the SLO"
    )
    slo_s: float = Field(default=0.9, gt=0, description="p95 latency target the breaking point was found at")
    replicas_per_instance: int = Field(
        default=1, gt=0, description="replicas one instance holds (GPUs or NeuronCore groups)"
    )
    instance_price_per_hour: float = Field(
        ge=1e-6, le=MAX_PRICE_PER_HOUR, description="$ per instance-hour used for cost"
    )
    price_source: str = Field(default="catalog", description="catalog region/on-demand|spot, or 'manual'")
    curve: list[Probe] = Field(default_factory=list)
    quality: Quality | None = None
    environment: dict[str, str] = Field(default_factory=dict, description="versions and host")
    created: dt.datetime | None = None
    breaking_point_method: str | None = Field(
        default=None, description="how T was found: an endpoint search, an in-process estimate, or by hand"
    )
    peak_memory_mib: float | None = Field(
        default=None, ge=0, description="peak resident memory of the bench process, MiB"
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: object) -> object:
        # Derived fields may be present in a file written by accelctl; they are recomputed.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in DERIVED_FIELDS}
        return data

    @model_validator(mode="after")
    def _dtype_of_target(self) -> Profile:
        if self.dtype is None:
            self.dtype = default_dtype(self.unit.target)
        return self

    @property
    def shape(self) -> Shape:
        return Shape.of(self)

    @computed_field
    @property
    def cost_per_inference(self) -> float:
        return cost_per_inference(
            self.instance_price_per_hour, self.replicas_per_instance, self.breaking_point_rps
        )

    @computed_field
    @property
    def cost_per_million(self) -> float:
        return self.cost_per_inference * 1e6

    @computed_field
    @property
    def efficiency(self) -> float:
        return efficiency(self.breaking_point_rps, self.cost_per_inference, self.latency.mean)


DERIVED_FIELDS = ("cost_per_inference", "cost_per_million", "efficiency")


# ---------------------------------------------------------------- cost arithmetic


def replica_price_per_hour(instance_price_per_hour: float, replicas_per_instance: int) -> float:
    """$ per replica-hour: an instance's price shared by the replicas it holds."""
    return instance_price_per_hour / replicas_per_instance


def cost_per_inference(
    instance_price_per_hour: float, replicas_per_instance: int, breaking_point_rps: float
) -> float:
    """C = (instance $/h ÷ replicas per instance) ÷ (T requests/s × 3600 s/h)."""
    return replica_price_per_hour(instance_price_per_hour, replicas_per_instance) / (
        breaking_point_rps * SECONDS_PER_HOUR
    )


def efficiency(throughput: float, cost: float, latency: float) -> float:
    """The paper's routing score T / (C·L)."""
    return throughput / (cost * latency)


def replicas_for(rps: float, unit: ResolvedUnit, headroom: float) -> int:
    """Replicas of `unit` so that each runs at most headroom × its breaking point T."""
    return math.ceil(rps / (unit.throughput_rps * headroom) - 1e-9) if rps > 0 else 0


def capacity_adjusted_throughput(max_throughputs: list[float]) -> list[float]:
    """Capacity mode shares traffic evenly: each unit gets min(mean of max throughputs, its own max)."""
    if not max_throughputs:
        return []
    mean = math.fsum(max_throughputs) / len(max_throughputs)
    return [min(mean, t) for t in max_throughputs]


# ---------------------------------------------------------------- fleet spec


QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"


class UnitSpec(Strict):
    name: str | None = Field(default=None, description="Kubernetes name; default derived from the unit")
    profile: str = Field(description="profile file, relative to the profiles folder")
    instance_types: list[str] = Field(
        min_length=1, description="instance types Karpenter may launch for this unit"
    )
    node_pool: str | None = Field(
        default=None, description="Karpenter NodePool; default: one per accelerator family"
    )
    capacity_type: Literal["on-demand", "spot"] = Field(
        default="on-demand", description="Karpenter capacity type of the unit's node pool"
    )
    min_replicas: int = Field(
        default=1,
        ge=0,
        le=MAX_REPLICAS,
        description="fewest replicas KEDA keeps (0 lets the unit scale to zero)",
    )
    max_replicas: int = Field(
        default=10,
        ge=1,
        le=MAX_REPLICAS,
        description=f"most replicas KEDA starts (at most {MAX_REPLICAS}); also caps the node pool's devices",
    )
    image: OneLine | None = Field(
        default=None, description="container image running `accelctl serve`; default: fleet image"
    )
    build: str | None = Field(
        default=None, description="build path inside the image; default from the profile"
    )
    devices: int | None = Field(
        default=None,
        ge=1,
        description=(
            "accelerator devices per replica: GPUs or Neuron devices; default 1 (accelerator targets only)"
        ),
    )
    neuron_cores: int | None = Field(
        default=None,
        ge=1,
        description=(
            "request this many NeuronCores (aws.amazon.com/neuroncore) instead of whole Neuron devices"
        ),
    )
    cpu: str = Field(
        default="2", pattern=QUANTITY, description="CPU per replica (Kubernetes quantity), request and limit"
    )
    memory: str = Field(
        default="8Gi",
        pattern=QUANTITY,
        description="memory per replica (Kubernetes quantity), request and limit",
    )

    @model_validator(mode="after")
    def _bounds(self) -> UnitSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) > max_replicas ({self.max_replicas}); lower min "
                "or raise max"
            )
        return self


DEFAULT_STARTUP_S: dict[str, float] = {
    "inf2": 600.0,
    "trn1": 600.0,
    "cuda-compile": 420.0,
    "cuda": 180.0,
    "cpu": 60.0,
    "cpu-compile": 120.0,
}


class PolicySettings(Strict):
    mode: Literal["plan", "cost", "capacity", "auto"] = Field(
        default="plan", description="routing policy the watch controller runs"
    )
    interval_s: float = Field(
        default=15.0, gt=0, le=86400, allow_inf_nan=False, description="control loop period, seconds"
    )
    failover_threshold: float = Field(
        default=0.8, gt=0, le=1, description="fail over when the cost pool's available share falls below this"
    )
    fallback_threshold: float = Field(
        default=0.95, gt=0, le=1, description="fall back when it is at or above this again"
    )
    min_dwell_s: float = Field(default=120.0, ge=0, description="least time in a mode before switching back")
    deadband: int = Field(
        default=2, ge=0, description="weight changes of at most this many points are not written"
    )
    stale_after_s: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        allow_inf_nan=False,
        description="a unit whose newest data is older than this keeps its weight, with an alarm",
    )
    max_unconfirmed_shift: float = Field(
        default=0.5,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="most traffic (a share) one tick moves unless a mode change, a unit newly unavailable "
        "by a positive reading (capacity signal, no ready replica) or the ready-capacity bound explains it",
    )
    pending_bound: int = Field(
        default=0, ge=0, description="pending pods tolerated before a unit counts as short"
    )
    pending_window_s: float = Field(default=60.0, ge=0, description="how long pending pods must persist")
    capacity_hold_s: float = Field(
        default=900.0, ge=0, description="how long a unit stays unavailable after its last capacity signal"
    )
    forecaster: ForecasterName = Field(
        default="trend", description="plan: demand forecaster (accelctl.control.forecast.FORECASTERS)"
    )
    forecast_window_s: float = Field(
        default=900.0, gt=0, description="plan: demand history the forecaster fits"
    )
    forecast_margin_sd: float = Field(
        default=3.0,
        ge=0,
        description="plan: residual sds of demand that replicas carry within route_utilization × T",
    )
    route_utilization: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="plan: most of T one replica is routed (a margin under the SLO point)",
    )
    drain_utilization: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="plan: most of T one replica is routed while its unit's p95 is over the SLO, so the "
        "backlog behind it drains (at route_utilization only a tenth of T is spare for that); capped at "
        "route_utilization",
    )
    node_launch_s: float = Field(
        default=60.0, ge=0, description="plan: expected node launch, part of each unit's lead time"
    )
    startup_s: dict[TargetName, float] = Field(
        default_factory=lambda: dict(DEFAULT_STARTUP_S),
        description="plan: expected pod start-up to Ready per target, the rest of the lead time",
    )

    def rate_trigger_utilization(self, headroom: float, policy: str | None = None) -> float:
        """Fraction of T per replica at which KEDA's request-rate trigger adds replicas. Under `plan`
        the planned-replicas trigger sizes units at headroom and routing may load a replica up to
        route_utilization × T, so the rate trigger is the reactive floor at that bound: it adds
        replicas only for demand the plan did not foresee (at headroom it would add them for every
        bit of noise the routing is meant to absorb, and hold them through the stabilisation window).
        Under the other policies it is what sizes units, at headroom."""
        return self.route_utilization if (policy or self.mode) == "plan" else headroom

    def lead_s(self, target: str) -> float:
        """Order to Ready for a replica of `target`: node launch + pod start-up."""
        return self.node_launch_s + self.startup_s.get(target, DEFAULT_STARTUP_S[target])

    @model_validator(mode="after")
    def _hysteresis(self) -> PolicySettings:
        if self.fallback_threshold < self.failover_threshold:
            raise ValueError("fallback_threshold must be >= failover_threshold (hysteresis)")
        return self


class FleetSpec(Strict):
    name: str = Field(default="accelctl", description="fleet name, used as a label and name prefix")
    namespace: str = Field(default="default", description="Kubernetes namespace of every namespaced object")
    region: str | None = Field(default=None, description="cloud region; required for cloudwatch and elbv2")
    image: OneLine | None = Field(default=None, description="default container image for units")
    slo_s: float = Field(default=0.9, gt=0, description="p95 latency target, seconds")
    headroom: float = Field(
        default=0.8, gt=0, le=1, description="fraction of the breaking point KEDA scales at"
    )
    routing: Literal["alb", "gateway"] = Field(
        default="alb", description="ALB Ingress with a weighted-routing action, or a Gateway API HTTPRoute"
    )
    metrics: Literal["prometheus", "cloudwatch"] = Field(
        default="prometheus", description="where KEDA and watch read request rates"
    )
    prometheus_url: str = Field(
        default="http://prometheus-server.monitoring:80",
        description="Prometheus KEDA and watch query (metrics: prometheus)",
    )
    cloudwatch_namespace: str = Field(
        default="accelctl",
        description="CloudWatch namespace the servers' request counts are published to (metrics: cloudwatch)",
    )
    host: str | None = Field(default=None, description="host name the Ingress/HTTPRoute answers")
    gateway: str | None = Field(
        default=None, description="Gateway the HTTPRoute attaches to (routing: gateway)"
    )
    builds_claim: str | None = Field(
        default=None,
        description=(
            "PersistentVolumeClaim holding builds (e.g. EFS), mounted read-only at /model_builds in "
            "every server; Neuron compile Jobs write into it"
        ),
    )
    cluster_name: str | None = Field(default=None, description="EKS cluster, for Karpenter discovery tags")
    node_role: str | None = Field(default=None, description="IAM role name for Karpenter nodes")
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="control-loop settings for watch and simulate"
    )
    units: list[UnitSpec] = Field(min_length=1, description="the deployment units")

    @field_validator("namespace", "name")
    @classmethod
    def _dns(cls, v: str) -> str:
        if slug(v) != v:
            raise ValueError(f"{v!r} is not a DNS-1123 label; use lowercase letters, digits and '-'")
        return v


# ---------------------------------------------------------------- loading


def load_profile(path: Path | str) -> Profile:
    return load_model(path, Profile)


def load_catalog(path: Path | str) -> Catalog:
    return load_model(path, Catalog)


def load_fleet(path: Path | str) -> FleetSpec:
    return load_model(path, FleetSpec)


def load_profiles(directory: Path | str) -> dict[str, Profile]:
    """Every profile in a folder, keyed by file name relative to it (catalog.yaml is not a profile)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: no such profiles folder; run `accelctl bench` or give --profiles")
    return {
        p.relative_to(d).as_posix(): load_profile(p)
        for p in sorted(d.rglob("*.yaml"))
        if p.name != "catalog.yaml"
    }


# ---------------------------------------------------------------- the resolved unit


@dataclass(frozen=True)
class ResolvedUnit:
    """One deployment unit as every command sees it: its fleet entry, its profile and what follows.

    Made only by `resolve_fleet` (through `resolve_unit`), after the cross-file checks, so deploy,
    watch, simulate, demo and bench report never disagree on T, L, C, prices or the pool.
    """

    name: str
    spec: UnitSpec
    profile: Profile
    instance_type: str  # the one the profile was measured on
    target: TargetName
    replicas_per_instance: int
    instance_price_per_hour: float  # $ per instance-hour
    replica_price_per_hour: float  # $ per replica-hour
    throughput_rps: float  # T: breaking point, requests/s per replica within the SLO
    latency_s: float  # L: mean seconds per request at low load
    cost_per_inference: float  # C: $ per request at the breaking point
    pool: str  # capacity pool (Karpenter NodePool) the unit draws on
    min_replicas: int
    max_replicas: int
    startup_s: float | None = None  # pod start to Ready, where a scenario gives it


def unit_pool(spec: UnitSpec) -> str:
    """The unit's Karpenter NodePool: as given, else one pool per accelerator (instance) family."""
    if spec.node_pool:
        return spec.node_pool
    return "-".join(sorted({instance_family(t) for t in spec.instance_types}))


def resolve_unit(name: str, spec: UnitSpec, profile: Profile, startup_s: float | None = None) -> ResolvedUnit:
    """T = breaking point, L = mean latency, C = cost per inference; no checks (resolve_fleet's job)."""
    return ResolvedUnit(
        name=name,
        spec=spec,
        profile=profile,
        instance_type=profile.unit.instance_type,
        target=profile.unit.target,
        replicas_per_instance=profile.replicas_per_instance,
        instance_price_per_hour=profile.instance_price_per_hour,
        replica_price_per_hour=replica_price_per_hour(
            profile.instance_price_per_hour, profile.replicas_per_instance
        ),
        throughput_rps=profile.breaking_point_rps,
        latency_s=profile.latency.mean,
        cost_per_inference=profile.cost_per_inference,
        pool=unit_pool(spec),
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        startup_s=startup_s,
    )


# Jobs are named "compile-<unit>" / "bench-<unit>" and Job names end up in a 63-character pod label.
MAX_UNIT_NAME = 63 - len("compile-")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def resolve_fleet(
    fleet: FleetSpec,
    profiles: Path | str | Mapping[str, Profile],
    where: str = "fleet",
    startup_s: Callable[[str], float] | None = None,
) -> tuple[ResolvedUnit, ...]:
    """Every unit of a fleet, resolved and checked against its profile; errors name file and field.

    `profiles` is the profiles folder (each unit's file is read once) or profiles already in memory,
    keyed by the path a unit's `profile` gives. `startup_s(target)` gives start-up times (simulate).
    Checks: the profile exists, unit names are valid and distinct, the target runs on every listed
    instance type, the profile was measured on one of them and at the fleet's SLO, device requests
    fit the target. What only deploy needs (image, cluster, pools) deploy checks on top.
    """
    if not isinstance(profiles, Mapping):
        profiles = load_fleet_profiles(fleet, profiles, where)
    out = []
    for i, spec in enumerate(fleet.units):
        if spec.profile not in profiles:
            raise InputError(
                f"{where}: field 'units.{i}.profile': no profile {spec.profile!r}; "
                f"profiles: {', '.join(sorted(profiles))}"
            )
        profile = profiles[spec.profile]
        name = spec.name or profile.unit.name
        _check_unit(fleet, i, name, spec, profile, where)
        out.append(resolve_unit(name, spec, profile, startup_s(profile.unit.target) if startup_s else None))
    names = [u.name for u in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"{where}: field 'units': duplicate unit name(s) {', '.join(dupes)}; set 'name' to "
            "tell them apart"
        )
    return tuple(out)


def load_fleet_profiles(
    fleet: FleetSpec, profiles_dir: Path | str, where: str = "fleet"
) -> dict[str, Profile]:
    """The profile of each unit, read once each, keyed by the path the unit's `profile` gives."""
    out: dict[str, Profile] = {}
    for i, spec in enumerate(fleet.units):
        path = Path(profiles_dir) / spec.profile
        if spec.profile in out:
            continue
        if not path.is_file():
            raise InputError(
                f"{where}: field 'units.{i}.profile': {path} not found; bench the unit or fix the path"
            )
        out[spec.profile] = load_profile(path)
    return out


def _fail(where: str, field: str, message: str) -> InputError:
    return InputError(f"{where}: field '{field}': {message}")


def _check_unit(fleet: FleetSpec, i: int, name: str, spec: UnitSpec, profile: Profile, where: str) -> None:
    f = f"units.{i}"
    target = profile.unit.target
    if not _DNS1035.match(name) or len(name) > MAX_UNIT_NAME:
        raise _fail(
            where,
            f"{f}.name",
            f"unit name {name!r} must be lowercase letters, digits and '-', start with a letter and be "
            f"at most {MAX_UNIT_NAME} characters; set name",
        )
    for t in spec.instance_types:
        if not target_fits(target, t):
            raise _fail(
                where,
                f"{f}.instance_types",
                f"{target} builds cannot run on {t} ({instance_kind(t)} hardware); list instance types "
                f"{target} runs on, or use a profile measured on {t}",
            )
    if profile.unit.instance_type not in spec.instance_types:
        raise _fail(
            where,
            f"{f}.instance_types",
            f"profile {spec.profile} was measured on {profile.unit.instance_type}, which is not "
            "listed; add it so the weights and cost match the hardware",
        )
    if abs(profile.slo_s - fleet.slo_s) > 1e-9:
        raise _fail(
            where,
            f"{f}.profile",
            f"{spec.profile} found its breaking point at an SLO of {profile.slo_s} s, the fleet's "
            f"slo_s is {fleet.slo_s} s; re-bench at the fleet's SLO or align slo_s",
        )
    kind = TARGET_KIND[target]
    if spec.devices is not None and kind == "cpu":
        raise _fail(where, f"{f}.devices", f"a {target} unit uses no accelerator devices; remove devices")
    if spec.neuron_cores is not None and kind != "neuron":
        raise _fail(
            where,
            f"{f}.neuron_cores",
            f"only Neuron units request NeuronCores, this one is {target}; remove neuron_cores",
        )
    if spec.neuron_cores is not None and spec.devices is not None:
        raise _fail(
            where, f"{f}.neuron_cores", "give devices (whole Neuron devices) or neuron_cores, not both"
        )
