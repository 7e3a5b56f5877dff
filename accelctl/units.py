"""Deployment units and the files that describe them: Catalog, Profile, FleetSpec.

A deployment unit is (model, instance type, target). Each unit has one measured curve; from it come
latency L, breaking point T (requests/s one replica sustains within the SLO) and, with the instance
price, cost per inference C. Everything here is pure: no clock, no I/O beyond the loaders at the end.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field, field_validator, model_validator

from accelctl.errors import InputError
from accelctl.files import load_model
from accelctl.schema import MAX_PRICE_PER_HOUR, MAX_REPLICAS, MAX_RPS, MIN_LATENCY_S, OneLine, Strict

TARGETS = ("cpu", "cpu-compile", "cuda", "cuda-compile", "inf2", "trn1")
Target = Literal["cpu", "cpu-compile", "cuda", "cuda-compile", "inf2", "trn1"]
SECONDS_PER_HOUR = 3600.0


def slug(text: str) -> str:
    """A DNS-1123 label: what Kubernetes accepts as a name."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", s)[:63].strip("-")


class DeploymentUnit(Strict):
    """(model, hardware, framework): the thing traffic is routed to."""

    model: str = Field(description="model preset, hub id or folder name")
    instance_type: str = Field(description="cloud instance type, e.g. inf2.xlarge")
    target: Target = Field(description="compile target the unit runs")

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
                f"'instances' or give price_per_hour in the profile"
            ) from None

    def price_per_hour(
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
    latency: LatencyStats
    breaking_point_rps: float = Field(
        gt=0, le=MAX_RPS, description="T: requests/s one replica sustains within the SLO"
    )
    slo_s: float = Field(default=0.9, gt=0, description="p95 latency target the breaking point was found at")
    replicas_per_instance: int = Field(
        default=1, gt=0, description="replicas one instance holds (GPUs or NeuronCore groups)"
    )
    price_per_hour: float = Field(
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

    @computed_field
    @property
    def cost_per_inference(self) -> float:
        return cost_per_inference(self.price_per_hour, self.replicas_per_instance, self.breaking_point_rps)

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


def cost_per_inference(price_per_hour: float, replicas_per_instance: int, breaking_point_rps: float) -> float:
    """C = (instance $/h ÷ replicas per instance) ÷ (T requests/s × 3600 s/h)."""
    return price_per_hour / replicas_per_instance / (breaking_point_rps * SECONDS_PER_HOUR)


def efficiency(throughput: float, cost: float, latency: float) -> float:
    """The paper's routing score T / (C·L)."""
    return throughput / (cost * latency)


def replicas_for(rps: float, unit, headroom: float) -> int:
    """Replicas of `unit` (anything with `throughput`, T) so that each runs at most headroom × T."""
    return math.ceil(rps / (unit.throughput * headroom) - 1e-9) if rps > 0 else 0


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
    forecaster: str = Field(
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
    node_launch_s: float = Field(
        default=60.0, ge=0, description="plan: expected node launch, part of each unit's lead time"
    )
    startup_s: dict[Target, float] = Field(
        default_factory=lambda: dict(DEFAULT_STARTUP_S),
        description="plan: expected pod start-up to Ready per target, the rest of the lead time",
    )

    @field_validator("forecaster")
    @classmethod
    def _known_forecaster(cls, v: str) -> str:
        from accelctl.control.forecast import FORECASTERS

        if v not in FORECASTERS:
            raise ValueError(f"unknown forecaster {v!r}; valid: {', '.join(FORECASTERS.names())}")
        return v

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


def fleet_units(
    fleet: FleetSpec, profiles_dir: Path | str, fleet_path: str = "fleet"
) -> list[tuple[str, UnitSpec, Profile]]:
    """(unit name, spec, profile) for each unit of a fleet; a missing profile names the field."""
    out = []
    for i, spec in enumerate(fleet.units):
        path = Path(profiles_dir) / spec.profile
        if not path.is_file():
            raise InputError(
                f"{fleet_path}: field 'units.{i}.profile': {path} not found; bench the unit or fix the path"
            )
        profile = load_profile(path)
        out.append((spec.name or profile.unit.name, spec, profile))
    names = [n for n, _, _ in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"{fleet_path}: field 'units': duplicate unit name(s) {', '.join(dupes)}; set 'name' to "
            "tell them apart"
        )
    return out
