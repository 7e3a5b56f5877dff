"""A fleet that cannot be deployed fails before anything is rendered, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelctl.deploy.checks import check_fleet
from accelctl.errors import InputError
from accelctl.hardware import device_resources, instance_family, instance_kind, target_fits
from accelctl.units import (
    FleetSpec,
    UnitSpec,
    load_fleet,
    load_profile,
    resolve_fleet,
    resolve_unit,
    unit_pool,
)

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"


def paper_dict() -> dict:
    return load_fleet(PAPER).model_dump(exclude_none=True)


def check(data: dict):
    fleet = FleetSpec.model_validate(data)
    return check_fleet(fleet, resolve_fleet(fleet, PROFILES, "fleet.yaml"), "fleet.yaml")


def failure(data: dict) -> str:
    with pytest.raises(InputError) as err:
        check(data)
    return err.value.message


def test_the_paper_fleet_passes_and_yields_its_pools():
    pools = check(paper_dict())
    assert {p.name: (p.kind, p.instance_types) for p in pools.values()} == {
        "g5": ("nvidia", ("g5.xlarge",)),
        "g6": ("nvidia", ("g6.xlarge",)),
        "inf2": ("neuron", ("inf2.xlarge",)),
        "trn1": ("neuron", ("trn1.2xlarge",)),
    }


def test_cuda_target_on_inf2_instance_type():
    data = paper_dict()
    data["units"][2]["instance_types"] = ["inf2.xlarge", "g5.xlarge"]
    assert failure(data) == (
        "fleet.yaml: field 'units.2.instance_types': cuda-compile builds cannot run on "
        "inf2.xlarge (neuron hardware); list instance types cuda-compile runs on, or use a profile "
        "measured on inf2.xlarge"
    )


def test_neuron_target_on_gpu_instance_type():
    data = paper_dict()
    data["units"][0]["instance_types"] = ["g5.xlarge"]
    assert failure(data).startswith(
        "fleet.yaml: field 'units.0.instance_types': inf2 builds cannot run on g5.xlarge"
    )


def test_inf2_build_on_trainium():
    data = paper_dict()
    data["units"][0]["instance_types"] = ["inf2.xlarge", "trn1.2xlarge"]
    assert "'units.0.instance_types': inf2 builds cannot run on trn1.2xlarge" in failure(data)


def test_profile_measured_on_an_unlisted_type():
    data = paper_dict()
    data["units"][4]["instance_types"] = ["g5.2xlarge"]
    assert (
        "'units.4.instance_types': profile g5-cuda.yaml was measured on g5.xlarge, which is not listed"
        in failure(data)
    )


@pytest.mark.parametrize(
    "field, update, message",
    [
        ("image", {"image": None}, "field 'image': no container image"),
        ("cluster_name", {"cluster_name": None}, "field 'cluster_name': needed for the EC2NodeClass"),
        ("node_role", {"node_role": None}, "field 'node_role': needed for the EC2NodeClass"),
        (
            "region",
            {"region": None, "metrics": "cloudwatch"},
            "field 'region': the cloudwatch metrics backend needs",
        ),
        (
            "gateway",
            {"gateway": None, "routing": "gateway"},
            "field 'gateway': routing 'gateway' needs the Gateway",
        ),
    ],
)
def test_values_the_manifests_need_are_never_guessed(field, update, message):
    assert message in failure({**paper_dict(), **update})


def test_profile_at_another_slo():
    assert (
        "'units.0.profile': inf2-neuron.yaml found its breaking point at an SLO of 0.9 s, the fleet's "
        "slo_s is 1.5 s" in failure({**paper_dict(), "slo_s": 1.5})
    )


def test_missing_build():
    data = paper_dict()
    del data["units"][1]["build"]
    assert "'units.1.build': profile trn1-neuron.yaml records no build" in failure(data)


def test_unit_name_kubernetes_cannot_take():
    data = paper_dict()
    data["units"][0]["name"] = "1-inf2"
    assert "'units.0.name': unit name '1-inf2' must be lowercase" in failure(data)
    data["units"][0]["name"] = "u" * 56
    assert "at most 55 characters" in failure(data)


def test_pool_mixing_accelerators_or_capacity_types():
    data = paper_dict()
    data["units"][0]["node_pool"] = "shared"
    data["units"][2]["node_pool"] = "shared"
    assert (
        "'units.2.node_pool': node pool 'shared' would mix neuron and nvidia instances (g5.xlarge)"
        in failure(data)
    )
    data = paper_dict()
    data["units"][4]["capacity_type"] = "spot"
    assert "'units.4.capacity_type': node pool 'g5' is on-demand for units.2" in failure(data)


def test_device_fields_on_the_wrong_target():
    data = paper_dict()
    data["units"][2]["neuron_cores"] = 2
    assert "'units.2.neuron_cores': only Neuron units request NeuronCores" in failure(data)
    data = paper_dict()
    data["units"][0].update(neuron_cores=1, devices=1)
    assert "'units.0.neuron_cores': give devices" in failure(data)


def test_unit_without_profile():
    data = paper_dict()
    data["units"][3]["profile"] = "g7-missing.yaml"
    message = failure(data)
    assert (
        message.startswith("fleet.yaml: field 'units.3.profile':") and "g7-missing.yaml not found" in message
    )


def test_min_above_max_replicas_is_a_schema_error():
    data = paper_dict()
    data["units"][0].update(min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match=r"min_replicas \(5\) > max_replicas \(2\)"):
        FleetSpec.model_validate(data)


def test_hardware_kinds_and_devices():
    assert [
        instance_kind(t)
        for t in (
            "inf2.xlarge",
            "trn1n.32xlarge",
            "g5.xlarge",
            "g6e.2xlarge",
            "p5.48xlarge",
            "gr6.4xlarge",
            "c7i.xlarge",
            "m7g.large",
        )
    ] == ["neuron", "neuron", "nvidia", "nvidia", "nvidia", "nvidia", "cpu", "cpu"]
    assert target_fits("trn1", "trn1n.32xlarge") and not target_fits("trn1", "inf2.xlarge")
    assert target_fits("cpu", "g5.xlarge") and not target_fits("cuda", "c7i.xlarge")
    assert device_resources("cuda", None, None) == {"nvidia.com/gpu": 1}
    assert device_resources("inf2", 2, None) == {"aws.amazon.com/neuron": 2}
    assert device_resources("trn1", None, 4) == {"aws.amazon.com/neuroncore": 4}
    assert device_resources("cpu-compile", None, None) == {}


def test_resolved_unit_from_profile_and_spec():
    """inf2: T 1.75, L 0.67, C = 0.7582 / (1.75·3600) = 0.00012035 $/inference, replica price 0.7582 $/h."""
    profile = load_profile(PROFILES / "inf2-neuron.yaml")
    spec = UnitSpec(
        profile="inf2-neuron.yaml", instance_types=["inf2.xlarge"], min_replicas=2, max_replicas=7
    )
    u = resolve_unit("inf2", spec, profile)
    assert (u.name, u.throughput_rps, u.latency_s, u.pool, u.min_replicas, u.max_replicas) == (
        "inf2",
        1.75,
        0.67,
        "inf2",
        2,
        7,
    )
    assert (u.instance_type, u.target, u.replicas_per_instance) == ("inf2.xlarge", "inf2", 1)
    assert u.cost_per_inference == pytest.approx(0.7582 / (1.75 * 3600))
    assert u.instance_price_per_hour == u.replica_price_per_hour == 0.7582
    halved = resolve_unit("inf2", spec, profile.model_copy(update={"replicas_per_instance": 2}))
    assert halved.instance_price_per_hour == 0.7582
    assert halved.replica_price_per_hour == pytest.approx(0.7582 / 2)


def test_node_pool_defaults_to_the_instance_family():
    assert instance_family("trn1n.32xlarge") == "trn1n"
    assert unit_pool(UnitSpec(profile="p", instance_types=["g5.xlarge", "g5.2xlarge"])) == "g5"
    assert unit_pool(UnitSpec(profile="p", instance_types=["g6.xlarge", "g5.xlarge"])) == "g5-g6"
    assert unit_pool(UnitSpec(profile="p", instance_types=["g5.xlarge"], node_pool="gpu")) == "gpu"
