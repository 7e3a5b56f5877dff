"""Checks a fleet against its profiles before anything is rendered; each failure names file and field.

Pydantic has already checked each file on its own (types, min <= max replicas, known routing). What
is left is what only shows when the fleet and its profiles meet: a target on the wrong hardware, a
profile measured at another SLO, a pool mixing accelerators, a value the manifests need but no file
gave. Nothing here guesses a value the spec did not give (image, region, cluster, role).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accelctl.control.units import node_pool_name
from accelctl.deploy.hardware import (
    KIND_DEVICE,
    TARGET_KIND,
    Kind,
    device_resources,
    instance_kind,
    target_fits,
)
from accelctl.errors import InputError
from accelctl.units import FleetSpec, Profile, UnitSpec

# Jobs are named "compile-<unit>" / "bench-<unit>" and Job names end up in a 63-character pod label.
MAX_UNIT_NAME = 63 - len("compile-")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

Units = list[tuple[str, UnitSpec, Profile]]


@dataclass(frozen=True)
class Pool:
    """One Karpenter NodePool: the union of its units' instance types, all of one accelerator kind."""

    name: str
    kind: Kind
    instance_types: tuple[str, ...]
    capacity_type: str
    device_limits: dict[str, int]  # devices the pool may launch in all, from its units' max replicas


def fail(where: str, field: str, message: str) -> InputError:
    return InputError(f"{where}: field '{field}': {message}")


def check_fleet(fleet: FleetSpec, units: Units, where: str) -> dict[str, Pool]:
    """Raise InputError on the first problem; return the node pools the units need, by name."""
    if not fleet.image:
        raise fail(
            where,
            "image",
            "no container image; set image to the accelctl image (it runs the watch controller and "
            "bench Jobs, and units without their own image)",
        )
    if not fleet.cluster_name:
        raise fail(
            where,
            "cluster_name",
            "needed for the EC2NodeClass's subnet and security-group discovery tags; set it to the EKS "
            "cluster name",
        )
    if not fleet.node_role:
        raise fail(
            where,
            "node_role",
            "needed for the EC2NodeClass; set it to the IAM role name Karpenter gives its nodes",
        )
    if fleet.metrics == "cloudwatch" and not fleet.region:
        raise fail(
            where,
            "region",
            "the cloudwatch metrics backend needs the region KEDA reads CloudWatch in; set region or "
            "use metrics: prometheus",
        )
    if fleet.routing == "gateway" and not fleet.gateway:
        raise fail(
            where,
            "gateway",
            "routing 'gateway' needs the Gateway the HTTPRoute attaches to; set gateway: <name> or "
            "<namespace>/<name>",
        )
    for i, (name, spec, profile) in enumerate(units):
        _check_unit(fleet, i, name, spec, profile, where)
    return _pools(units, where)


def _check_unit(fleet: FleetSpec, i: int, name: str, spec: UnitSpec, profile: Profile, where: str) -> None:
    f = f"units.{i}"
    target = profile.unit.target
    if not _DNS1035.match(name) or len(name) > MAX_UNIT_NAME:
        raise fail(
            where,
            f"{f}.name",
            f"unit name {name!r} must be lowercase letters, digits and '-', start with a letter and be "
            f"at most {MAX_UNIT_NAME} characters; set name",
        )
    for t in spec.instance_types:
        if not target_fits(target, t):
            raise fail(
                where,
                f"{f}.instance_types",
                f"{target} builds cannot run on {t} ({instance_kind(t)} hardware); list instance types "
                f"{target} runs on, or use a profile measured on {t}",
            )
    if profile.unit.instance_type not in spec.instance_types:
        raise fail(
            where,
            f"{f}.instance_types",
            f"profile {spec.profile} was measured on {profile.unit.instance_type}, which is not "
            "listed; add it so the weights and cost match the hardware",
        )
    if not (spec.build or profile.build):
        raise fail(
            where,
            f"{f}.build",
            f"profile {spec.profile} records no build; set build to the build folder inside the image",
        )
    if abs(profile.slo_s - fleet.slo_s) > 1e-9:
        raise fail(
            where,
            f"{f}.profile",
            f"{spec.profile} found its breaking point at an SLO of {profile.slo_s} s, the fleet's "
            f"slo_s is {fleet.slo_s} s; re-bench at the fleet's SLO or align slo_s",
        )
    kind = TARGET_KIND[target]
    if spec.devices is not None and kind == "cpu":
        raise fail(where, f"{f}.devices", f"a {target} unit uses no accelerator devices; remove devices")
    if spec.neuron_cores is not None and kind != "neuron":
        raise fail(
            where,
            f"{f}.neuron_cores",
            f"only Neuron units request NeuronCores, this one is {target}; remove neuron_cores",
        )
    if spec.neuron_cores is not None and spec.devices is not None:
        raise fail(
            where, f"{f}.neuron_cores", "give devices (whole Neuron devices) or neuron_cores, not both"
        )


def _pools(units: Units, where: str) -> dict[str, Pool]:
    members: dict[str, list[int]] = {}
    for i, (_, spec, _) in enumerate(units):
        members.setdefault(node_pool_name(spec), []).append(i)
    pools = {}
    for pool, idx in sorted(members.items()):
        first = units[idx[0]][1]
        kind = instance_kind(first.instance_types[0])
        types: set[str] = set()
        limits: dict[str, int] = {}
        capped = True
        for i in idx:
            _, spec, profile = units[i]
            other = next((t for t in spec.instance_types if instance_kind(t) != kind), None)
            if other:
                raise fail(
                    where,
                    f"units.{i}.node_pool",
                    f"node pool {pool!r} would mix {kind} and {instance_kind(other)} instances "
                    f"({other}); give the unit its own node_pool",
                )
            if spec.capacity_type != first.capacity_type:
                raise fail(
                    where,
                    f"units.{i}.capacity_type",
                    f"node pool {pool!r} is {first.capacity_type} for units.{idx[0]}; use the same "
                    "capacity type or a separate node_pool",
                )
            types.update(spec.instance_types)
            for res, n in device_resources(profile.unit.target, spec.devices, spec.neuron_cores).items():
                limits[res] = limits.get(res, 0) + n * spec.max_replicas
            capped &= set(device_resources(profile.unit.target, spec.devices, spec.neuron_cores)) == {
                KIND_DEVICE.get(kind)
            }
        # A limit only holds when every unit counts the devices Karpenter counts on the node; a CPU
        # unit or a NeuronCore request on the same nodes would be starved by it.
        pools[pool] = Pool(pool, kind, tuple(sorted(types)), first.capacity_type, limits if capped else {})
    return pools
