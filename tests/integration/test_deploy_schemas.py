"""Every manifest `accelctl deploy` renders validates against the official schemas.

Core kinds: kubernetes-validate in strict mode (unknown fields are errors). KEDA, Karpenter and
Gateway API objects: the CRDs' own openAPIV3Schema from <repo>/../shared/schemas (see its README),
with jsonschema's Draft 2020-12 validator; since those schemas do not forbid unknown fields, the test
also walks each object and fails on any key the CRD does not declare. CEL rules (x-kubernetes-
validations) are not evaluated by either; the few that matter here are asserted directly.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / ".." / "shared" / "schemas"
KUBERNETES = "1.34"  # a current EKS version; kubernetes-validate 1.37.0 ships schemas for 1.25-1.37
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("karpenter.sh/v1", "NodePool"): "karpenter.sh_v1_nodepool.json",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): "karpenter.k8s.aws_v1_ec2nodeclass.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_v1_httproute.json",
}
EXAMPLES = {
    "paper-sd21": (REPO / "examples" / "paper-sd21.yaml", REPO / "examples" / "paper" / "profiles"),
    "cpu-fleet": (REPO / "examples" / "cpu-fleet.yaml", REPO / "examples" / "cpu" / "profiles"),
}


@cache
def crd_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def undeclared(obj: object, schema: dict, path: str = "") -> list[str]:
    """Keys of `obj` that the schema does not declare (the API server would prune or reject them)."""
    found: list[str] = []
    if isinstance(obj, dict) and "properties" in schema:
        for key, value in obj.items():
            if key in schema["properties"]:
                found += undeclared(value, schema["properties"][key], f"{path}.{key}")
            elif "additionalProperties" not in schema:
                found.append(f"{path}.{key}")
    elif isinstance(obj, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in obj.items():
            found += undeclared(value, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(obj):
            found += undeclared(value, schema["items"], f"{path}[{i}]")
    return found


_checked: dict[str, str | None] = {}


def problem(obj: dict) -> str | None:
    """None when the object validates, else the validator's one-line message (cached per object)."""
    key = json.dumps(obj, sort_keys=True)
    if key not in _checked:
        _checked[key] = _validate(obj)
    return _checked[key]


def _validate(obj: dict) -> str | None:
    crd = CRDS.get((obj["apiVersion"], obj["kind"]))
    if crd is None:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return f"{'.'.join(map(str, exc.path))}: {exc.message}"
        return None
    schema = crd_schema(crd)
    errors = sorted(Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        return f"{'.'.join(map(str, errors[0].path))}: {errors[0].message}"
    extra = undeclared(obj, schema)
    return f"fields the CRD does not declare: {extra}" if extra else None


def rendered(example: str, routing: str, metrics: str):
    fleet_path, profiles = EXAMPLES[example]
    fleet = load_fleet(fleet_path).model_copy(update={"routing": routing, "metrics": metrics})
    return render(fleet, profiles, where=str(fleet_path))


def test_the_schemas_are_where_the_readme_says():
    assert SCHEMAS.is_dir(), f"{SCHEMAS} missing: shared/ must sit beside the repository"
    for name in CRDS.values():
        Draft202012Validator.check_schema(crd_schema(name))


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
        "Ingress" if routing == "alb" else "HTTPRoute",
    }
    assert kinds == expected


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_cel_rules_the_schemas_cannot_check(example):
    """HTTPRoute Service backendRefs need a port; an EC2NodeClass needs a role; NodePool template labels
    stay out of karpenter.sh (CRD CEL rules, not evaluated by jsonschema)."""
    gateway = rendered(example, "gateway", "prometheus")
    for path in ("routing/httproute.yaml", "capacity/httproute.yaml"):
        for rule in yaml.safe_load(gateway.files[path])["spec"]["rules"]:
            assert all("port" in ref for ref in rule["backendRefs"])
    assert yaml.safe_load(gateway.files["nodes/ec2nodeclass.yaml"])["spec"]["role"]
    for path, text in gateway.files.items():
        if path.startswith("nodes/nodepool-"):
            labels = yaml.safe_load(text)["spec"]["template"]["metadata"]["labels"]
            assert not [k for k in labels if k.split("/")[0].endswith(("karpenter.sh", "kubernetes.io"))]
