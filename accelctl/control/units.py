"""From files to the policy's view of a unit: one place that turns (UnitSpec, Profile) into a UnitModel.

deploy (initial weights), watch and simulate all call `unit_model`, so the three never disagree on
T, L, C, the replica price or the capacity pool a unit draws on.
"""

from __future__ import annotations

from accelctl.control.types import UnitModel
from accelctl.units import Profile, UnitSpec


def instance_family(instance_type: str) -> str:
    """'g5.xlarge' -> 'g5': the part of an EC2 instance type that names its hardware generation."""
    return instance_type.split(".", 1)[0]


def node_pool_name(spec: UnitSpec) -> str:
    """The unit's Karpenter NodePool: as given, else one pool per accelerator (instance) family."""
    if spec.node_pool:
        return spec.node_pool
    return "-".join(sorted({instance_family(t) for t in spec.instance_types}))


def unit_model(name: str, spec: UnitSpec, profile: Profile) -> UnitModel:
    """T = breaking point, L = mean latency, C = cost per inference, price per replica-hour."""
    return UnitModel(
        name=name,
        throughput=profile.breaking_point_rps,
        latency=profile.latency.mean,
        cost=profile.cost_per_inference,
        price_per_hour=profile.price_per_hour / profile.replicas_per_instance,
        pool=node_pool_name(spec),
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
    )


def fleet_models(units: list[tuple[str, UnitSpec, Profile]]) -> tuple[UnitModel, ...]:
    """UnitModels in fleet order, from `accelctl.units.fleet_units(...)`."""
    return tuple(unit_model(name, spec, profile) for name, spec, profile in units)
