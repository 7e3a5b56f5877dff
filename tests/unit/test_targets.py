"""The target registry, Neuron compiler flags and the Kubernetes compile Job (no torch needed)."""

from __future__ import annotations

import importlib.util

import kubernetes_validate
import pytest
import yaml

from accelctl import targets
from accelctl.errors import InputError
from accelctl.shape import TARGET_DTYPES, Shape
from accelctl.targets import neuron
from accelctl.units import TARGETS

KUBERNETES = "1.34"


def test_registry_holds_every_target_the_units_know():
    assert targets.names() == sorted(TARGETS)


def test_every_target_has_its_dtypes_and_a_profile_without_one_gets_the_targets_default():
    assert set(TARGET_DTYPES) == set(TARGETS)
    from accelctl.units import DeploymentUnit, LatencyStats, Profile

    def profile(target: str, **kw) -> Profile:
        unit = DeploymentUnit(model="tiny", instance_type="inf2.xlarge", target=target)
        latency = LatencyStats(n=1, mean=0.5, p95=0.5)
        return Profile(
            unit=unit,
            height=64,
            width=64,
            steps=5,
            latency=latency,
            breaking_point_rps=1.0,
            instance_price_per_hour=0.76,
            **kw,
        )

    # Neuron builds default to bf16 (the torch-neuronx recipe); CUDA to fp16; a recorded dtype is kept.
    assert profile("inf2").shape == Shape(64, 64, 1, "bf16", 5)
    assert profile("cuda").shape.dtype == "fp16"
    assert profile("inf2", dtype="fp32").shape.dtype == "fp32"


def test_unknown_target_lists_valid_names():
    with pytest.raises(InputError, match="unknown target 'tpu'; valid: cpu, cpu-compile, cuda"):
        targets.get("tpu")


def test_dtype_outside_target_is_input_error():
    # None asks for the target's default; a dtype the target supports is kept as asked.
    assert (
        targets.get("inf2").resolve_dtype(None) == "bf16"
        and targets.get("cpu").resolve_dtype("bf16") == "bf16"
    )
    with pytest.raises(InputError, match="does not support dtype 'fp16'; valid: fp32, bf16"):
        targets.get("cpu").resolve_dtype("fp16")


@pytest.mark.skipif(importlib.util.find_spec("torch_neuronx") is not None, reason="Neuron SDK present")
def test_neuron_unavailable_says_what_is_missing_and_how_to_compile_elsewhere():
    ok, why = targets.get("trn1").available()
    assert not ok
    assert "torch-neuronx is not installed" in why and "--emit-job" in why and "\n" not in why


def test_neuron_compiler_args_follow_the_published_recipe():
    unet = neuron.compiler_args("inf2", "bf16", unet=True)
    assert unet == [
        "--target=inf2",
        "--auto-cast",
        "matmult",
        "--auto-cast-type",
        "bf16",
        "--model-type=unet-inference",
    ]
    assert neuron.compiler_args("trn1", "fp32", unet=False) == ["--target=trn1"]


def _job(**overrides):
    args = dict(
        model="tiny",
        target="inf2",
        shape=Shape(64, 64, 1, "bf16", 5),
        image="registry.local/accelctl:1",
    )
    return neuron.compile_job(**{**args, **overrides})


def test_compile_job_is_schema_valid_and_lands_on_a_neuron_node():
    job = _job(namespace="ml", instance_type="inf2.24xlarge")
    # Round-trip through YAML: what the CLI writes is what gets validated.
    kubernetes_validate.validate(yaml.safe_load(yaml.safe_dump(job)), KUBERNETES, strict=True)
    pod = job["spec"]["template"]["spec"]
    assert job["metadata"] == {
        "name": "compile-tiny-inf2-64x64-b1",
        "namespace": "ml",
        "labels": job["spec"]["template"]["metadata"]["labels"],
    }
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "inf2.24xlarge"}
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["aws.amazon.com/neuron"] == "1"
    assert container["command"][:6] == ["accelctl", "compile", "--model", "tiny", "--target", "inf2"]
    assert container["command"][-2:] == ["--out", "/model_builds"]


def test_compile_job_runs_hardened_like_the_other_workloads():
    pod = _job()["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # A read-only root: caches and the Hub download go to an emptyDir at /tmp, HOME points there.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "50Gi"}} in pod["volumes"]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    assert set(container["resources"]["limits"]) == {"cpu", "memory", "aws.amazon.com/neuron"}


def test_compile_job_defaults_instance_per_family_and_names_from_hub_ids():
    job = _job(
        model="stabilityai/stable-diffusion-2-1-base", target="trn1", shape=Shape(512, 512, 1, "bf16", 5)
    )
    assert job["metadata"]["name"] == "compile-stable-diffusion-2-1-base-trn1-512x512-b1"
    assert (
        job["spec"]["template"]["spec"]["nodeSelector"]["node.kubernetes.io/instance-type"] == "trn1.2xlarge"
    )


def test_compile_job_rejects_non_neuron_targets_and_mismatched_instances():
    with pytest.raises(InputError, match="for Neuron targets"):
        _job(target="cuda")
    with pytest.raises(InputError, match="not a inf2 instance"):
        _job(instance_type="g5.xlarge")
    with pytest.raises(InputError, match="unknown size"):
        _job(instance_type="inf2.huge")


@pytest.mark.parametrize(
    "instance_type, cpu, memory",
    [
        # vCPUs - 1 and 3/4 of memory: inf2.xlarge 4 vCPU/16 GiB, trn1.2xlarge 8 vCPU/32 GiB.
        ("inf2.xlarge", "3", "12Gi"),
        ("trn1.2xlarge", "7", "24Gi"),
        ("inf2.8xlarge", "31", "96Gi"),
    ],
)
def test_compile_job_fits_the_node_it_is_pinned_to(instance_type, cpu, memory):
    target = instance_type.split(".")[0]
    resources = _job(target=target, instance_type=instance_type)["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]
    assert resources["requests"]["cpu"] == cpu
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == memory
