"""Every object `accelctl deploy` renders is checked against the API server's own schemas before a
file is written, so a broken template or override fails here, not at `kubectl apply`.

Custom resources (KEDA, Karpenter, Gateway API, prometheus-operator): the CRDs' openAPIV3Schema,
shipped in accelctl/data/schemas (provenance in its README), with jsonschema's Draft 2020-12
validator. Those schemas do not forbid unknown fields (the API server prunes them silently), so keys
the CRD does not declare are errors too. Core kinds: kubernetes-validate in strict mode when it is
installed (`pip install accelctl[validate]`); without it they are skipped and `skipped_core` says so.
CEL rules (x-kubernetes-validations) are evaluated by neither.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from accelctl.errors import InputError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "schemas"
KUBERNETES = "1.34"  # a current EKS version; kubernetes-validate 1.37.0 ships schemas for 1.25-1.37
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("karpenter.sh/v1", "NodePool"): "karpenter.sh_v1_nodepool.json",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): "karpenter.k8s.aws_v1_ec2nodeclass.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_v1_httproute.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}
# kustomize reads these files itself; the API server never sees them.
NOT_OBJECTS = {("kustomize.config.k8s.io/v1beta1", "Kustomization")}
# No schema ships for these (their CRDs were not extracted), so they are not validated here: the GitOps
# tools' own objects (gitops/; tests/integration/test_gitops_reapply.py checks their fields) and
# prometheus-operator's scrape objects (tests/integration/test_deploy_observability.py checks theirs).
UNCHECKED = {
    ("argoproj.io/v1alpha1", "Application"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}


@cache
def crd_schema(api_version: str, kind: str) -> dict:
    return json.loads((SCHEMAS / CRDS[(api_version, kind)]).read_text())


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


def _core_validator():
    try:
        import kubernetes_validate
    except ImportError:
        return None
    return kubernetes_validate


def problem(obj: dict) -> str | None:
    """None when `obj` validates (or is a core kind and kubernetes-validate is absent), else one line:
    the field path and what is wrong with it."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in NOT_OBJECTS or key in UNCHECKED:
        return None
    if key in CRDS:
        from jsonschema import Draft202012Validator

        schema = crd_schema(*key)
        errors = sorted(Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            return f"{'.'.join(map(str, errors[0].path)) or '(top level)'}: {errors[0].message}"
        extra = undeclared(obj, schema)
        return f"fields the {key[1]} CRD does not declare: {', '.join(extra)}" if extra else None
    validator = _core_validator()
    if validator is None:
        return None
    try:
        validator.validate(obj, KUBERNETES, strict=True)
    except validator.ValidationError as exc:
        return f"{'.'.join(map(str, exc.path)) or '(top level)'}: {exc.message}"
    except validator.SchemaNotFoundError:
        return f"{key[0]} {key[1]} is not a Kubernetes {KUBERNETES} kind and no CRD schema ships for it"
    return None


def skipped_core(objects: Iterable[dict]) -> int:
    """How many core-kind objects went unchecked because kubernetes-validate is not installed."""
    if _core_validator() is not None:
        return 0
    kinds = [(o.get("apiVersion"), o.get("kind")) for o in objects]
    return sum(1 for k in kinds if k not in CRDS and k not in NOT_OBJECTS and k not in UNCHECKED)


def check_files(files: dict[str, str]) -> list[dict]:
    """Parse and validate every rendered file; raises InputError naming the first bad file and field."""
    objects = []
    for path, text in files.items():
        obj = yaml.load(text, Loader=_Loader)
        why = problem(obj)
        if why:
            raise InputError(
                f"{path}: rendered {obj.get('kind')} {obj.get('metadata', {}).get('name')!r} is invalid: "
                f"{why}; fix the template (or --templates override) that renders it"
            )
        objects.append(obj)
    return objects
