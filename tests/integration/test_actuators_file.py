"""The file actuator on the route `accelctl deploy` renders (the paper's five-unit fleet), for both
routing kinds; the rewritten object still validates: the Ingress with kubernetes-validate (strict), the
HTTPRoute against the Gateway API CRD schema accelctl ships."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from accelctl.control.actuators import ACTUATORS
from accelctl.deploy.render import render
from accelctl.deploy.validate import crd_schema
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"

pytestmark = pytest.mark.timeout(60)


def rendered(tmp_path: Path, **fleet_changes) -> tuple[Path, dict[str, int]]:
    fleet = load_fleet(FLEET).model_copy(update=fleet_changes)
    manifests = render(fleet, PROFILES)
    [(name, text)] = [(k, v) for k, v in manifests.files.items() if k.startswith("routing/")]
    path = tmp_path / Path(name).name
    path.write_text(text)
    return path, manifests.weights


def capacity_weights(units) -> dict[str, int]:
    """Something other than the rendered cost-mode weights: all on the first two units."""
    names = sorted(units)
    return {n: (60 if i == 0 else 40 if i == 1 else 0) for i, n in enumerate(names)}


def test_writes_the_action_annotation_the_rendered_ingress_routes_to(tmp_path):
    path, initial = rendered(tmp_path)
    act = ACTUATORS.create("file", {"path": str(path)})
    assert act.read() == {}  # deploy leaves the weights to the controller (docs/gitops.md)
    act.apply(initial)
    assert act.read() == initial
    want = capacity_weights(initial)
    act.apply(want)
    assert act.read() == want
    assert path.read_text().startswith("# Rendered by `accelctl deploy`")  # the heading note stays
    [ingress] = yaml.safe_load_all(path.read_text())
    kubernetes_validate.validate(ingress, "1.34", strict=True)
    action = json.loads(
        ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted-routing"]
    )
    assert all(tg["servicePort"] == "8000" for tg in action["forwardConfig"]["targetGroups"])


def test_writes_the_rules_of_the_rendered_httproute(tmp_path):
    path, initial = rendered(tmp_path, routing="gateway", gateway="infra/gw")
    act = ACTUATORS.create("file", {"path": str(path)})
    assert act.read() == {}  # no rules rendered: the CRD default (every path, no backends)
    act.apply(initial)
    assert act.read() == initial
    want = capacity_weights(initial)
    act.apply(want)
    assert act.read() == want
    [route] = yaml.safe_load_all(path.read_text())
    schema = crd_schema("gateway.networking.k8s.io/v1", "HTTPRoute")
    Draft202012Validator(schema).validate(route)
    assert route["spec"]["parentRefs"] == [{"name": "gw", "namespace": "infra"}]
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
