"""Every manifest `accelctl deploy` renders validates against the official schemas.

The checks are the ones `deploy` itself runs before writing (accelctl/deploy/validate.py): core kinds
through kubernetes-validate in strict mode (unknown fields are errors); KEDA, Karpenter, Gateway API and
prometheus-operator objects against the CRDs' own openAPIV3Schema shipped in accelctl/data/schemas (see
its README), with keys the CRD does not declare as errors too. CEL rules (x-kubernetes-validations)
are evaluated by neither; the few that matter here are asserted directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from accelctl.deploy import validate
from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "paper-sd21": (REPO / "examples" / "paper-sd21.yaml", REPO / "examples" / "paper" / "profiles"),
    "cpu-fleet": (REPO / "examples" / "cpu-fleet.yaml", REPO / "examples" / "cpu" / "profiles"),
}

_checked: dict[str, str | None] = {}


def problem(obj: dict) -> str | None:
    """None when the object validates, else the validator's one-line message (cached per object)."""
    key = json.dumps(obj, sort_keys=True)
    if key not in _checked:
        _checked[key] = validate.problem(obj)
    return _checked[key]


def rendered(example: str, routing: str, metrics: str):
    fleet_path, profiles = EXAMPLES[example]
    fleet = load_fleet(fleet_path).model_copy(update={"routing": routing, "metrics": metrics})
    return render(fleet, profiles, where=str(fleet_path))


def test_the_schemas_ship_in_the_package_with_their_provenance():
    readme = (validate.SCHEMAS / "README.md").read_text()
    for key, name in validate.CRDS.items():
        Draft202012Validator.check_schema(validate.crd_schema(*key))
        assert name in readme
    assert "(?i)^(abort|warn)?$" in readme  # the one substitution, noted where the files are described


def test_the_validators_reject_what_the_api_server_would():
    """The checks below would catch a broken manifest, not just pass everything."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    assert "portz" in problem(service)
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"name": "x"},
            "triggers": [{"type": "prometheus", "metadata": {}}],
            "minReplicas": 1,
        },
    }
    assert "spec.minReplicas" in problem(scaled)
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "x"},
        "spec": {"rules": [{"backendRefs": [{"name": "a", "port": 8000, "weight": -1}]}]},
    }
    assert "weight" in problem(route)


@pytest.mark.parametrize("metrics", ["prometheus", "cloudwatch"])
@pytest.mark.parametrize("routing", ["alb", "gateway"])
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_manifest_validates(example, routing, metrics):
    manifests = rendered(example, routing, metrics)
    kinds = set()
    failures = []
    for path, text in manifests.files.items():
        obj = yaml.safe_load(text)
        if obj["kind"] == "Kustomization":
            continue
        kinds.add(obj["kind"])
        why = problem(obj)
        if why:
            failures.append(f"{path}: {why}")
    assert not failures, "\n".join(failures)
    expected = {
        "Deployment",
        "Service",
        "ScaledObject",
        "Job",
        "NodePool",
        "EC2NodeClass",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "PrometheusRule",
        "Application",  # Argo CD's (gitops/); Flux's Kustomization is skipped with kustomize's
        "ServiceMonitor",
        "PodMonitor",
        "Ingress" if routing == "alb" else "HTTPRoute",
    }
    assert kinds == expected


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_cel_rules_the_schemas_cannot_check(example):
    """HTTPRoute Service backendRefs need a port; an EC2NodeClass needs a role; NodePool template labels
    stay out of karpenter.sh (CRD CEL rules, not evaluated by jsonschema)."""
    gateway = rendered(example, "gateway", "prometheus")
    # routing/httproute.yaml has no rules: watch writes them, always with a port (test_gitops_reapply)
    for rule in yaml.safe_load(gateway.files["capacity/httproute.yaml"])["spec"]["rules"]:
        assert all("port" in ref for ref in rule["backendRefs"])
    assert yaml.safe_load(gateway.files["nodes/ec2nodeclass.yaml"])["spec"]["role"]
    for path, text in gateway.files.items():
        if path.startswith("nodes/nodepool-"):
            labels = yaml.safe_load(text)["spec"]["template"]["metadata"]["labels"]
            assert not [k for k in labels if k.split("/")[0].endswith(("karpenter.sh", "kubernetes.io"))]
