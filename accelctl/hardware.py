"""Which accelerator an instance type carries and which a target needs; what Kubernetes calls them.

Facts about hardware only (no files, no fleet): `accelctl.units` checks a fleet with them, deploy
renders node pools and device requests from them.

The kind of an instance decides its NodePool's taint (the one its device plugin tolerates); the kind
of a target decides the device resource a replica requests. A target may only land on its own kind.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["nvidia", "neuron", "cpu"]

TARGET_KIND: dict[str, Kind] = {
    "cpu": "cpu",
    "cpu-compile": "cpu",
    "cuda": "nvidia",
    "cuda-compile": "nvidia",
    "inf2": "neuron",
    "trn1": "neuron",
}
# Neuron targets are compiled for one chip generation: an inf2 build does not load on Trainium.
NEURON_FAMILIES = {"inf2": ("inf2",), "trn1": ("trn1", "trn1n")}
_NEURON = re.compile(r"^(inf|trn)\d+[a-z]*$")
_GPU = re.compile(r"^(g\d+[a-z]*|gr\d+|p\d+[a-z]*)$")

# Taints the NVIDIA and Neuron device plugins tolerate out of the box: anything else would keep the
# plugin off the node, and with it the devices.
KIND_TAINT = {"nvidia": "nvidia.com/gpu", "neuron": "aws.amazon.com/neuron"}
GPU_RESOURCE = "nvidia.com/gpu"
NEURON_DEVICE = "aws.amazon.com/neuron"
NEURON_CORE = "aws.amazon.com/neuroncore"
KIND_DEVICE = {"nvidia": GPU_RESOURCE, "neuron": NEURON_DEVICE}


def instance_family(instance_type: str) -> str:
    """'g5.xlarge' -> 'g5': the part of an EC2 instance type that names its hardware generation."""
    return instance_type.split(".", 1)[0]


def instance_kind(instance_type: str) -> Kind:
    family = instance_family(instance_type)
    if _NEURON.match(family):
        return "neuron"
    if _GPU.match(family):
        return "nvidia"
    return "cpu"


def target_fits(target: str, instance_type: str) -> bool:
    """Whether a build for `target` can run on `instance_type`. CPU builds run anywhere."""
    need = TARGET_KIND[target]
    if need == "cpu":
        return True
    if need == "neuron":
        return instance_family(instance_type) in NEURON_FAMILIES[target]
    return instance_kind(instance_type) == need


def device_resources(target: str, devices: int | None, neuron_cores: int | None) -> dict[str, int]:
    """Extended resources one replica requests (requests == limits for devices)."""
    kind = TARGET_KIND[target]
    if kind == "nvidia":
        return {GPU_RESOURCE: devices or 1}
    if kind == "neuron":
        return {NEURON_CORE: neuron_cores} if neuron_cores else {NEURON_DEVICE: devices or 1}
    return {}
