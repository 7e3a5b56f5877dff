"""Checks a fleet against its profiles before anything is rendered; each failure names file and field.

Pydantic has already checked each file on its own (types, min <= max replicas, known routing), and
`accelctl.units.resolve_fleet` what every command needs of a fleet and its profiles together (a target on
the wrong hardware, a profile measured at another SLO). What is left is what only manifests need: a pool
mixing accelerators, a build path, a value the manifests need but no file gave. Nothing here guesses a value
the spec did not give (image, region, cluster, role).
"""

from __future__ import annotations

from dataclasses import dataclass

from accelctl.errors import InputError
from accelctl.hardware import KIND_DEVICE, Kind, device_resources, instance_kind
from accelctl.units import FleetSpec, ResolvedUnit


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


def check_fleet(fleet: FleetSpec, units: tuple[ResolvedUnit, ...], where: str) -> dict[str, Pool]:
    """Raise InputError on the first problem; return the node pools the units need, by name.

    The checks every command shares ran in `resolve_fleet`; these are the ones only manifests need.
    """
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
    for i, unit in enumerate(units):
        _check_build(i, unit, where)
    return _pools(units, where)


def _check_build(i: int, unit: ResolvedUnit, where: str) -> None:
    if not (unit.spec.build or unit.profile.build):
        raise fail(
            where,
            f"units.{i}.build",
            f"profile {unit.spec.profile} records no build; set build to the build folder inside the image",
        )


def _pools(units: tuple[ResolvedUnit, ...], where: str) -> dict[str, Pool]:
    members: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        members.setdefault(u.pool, []).append(i)
    pools = {}
    for pool, idx in sorted(members.items()):
        first = units[idx[0]].spec
        kind = instance_kind(first.instance_types[0])
        types: set[str] = set()
        limits: dict[str, int] = {}
        capped = True
        for i in idx:
            spec, target = units[i].spec, units[i].target
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
            for res, n in device_resources(target, spec.devices, spec.neuron_cores).items():
                limits[res] = limits.get(res, 0) + n * spec.max_replicas
            capped &= set(device_resources(target, spec.devices, spec.neuron_cores)) == {
                KIND_DEVICE.get(kind)
            }
        # A limit only holds when every unit counts the devices Karpenter counts on the node; a CPU
        # unit or a NeuronCore request on the same nodes would be starved by it.
        pools[pool] = Pool(pool, kind, tuple(sorted(types)), first.capacity_type, limits if capped else {})
    return pools
