"""alb-ingress and httproute actuators against the fake Kubernetes API server
(tests/integration/fake_kube.py), which checks the PATCH content types and bodies the real API server
accepts."""

from __future__ import annotations

import json

import pytest
from fake_kube import JSON_PATCH, MERGE, STRATEGIC, FakeKube

from accelctl.control.actuators import ACTUATORS
from accelctl.errors import AccelctlError, InputError

pytestmark = pytest.mark.timeout(60)

KEY = "alb.ingress.kubernetes.io/actions.weighted"
ACTION = {
    "type": "forward",
    "forwardConfig": {
        "targetGroups": [
            {"serviceName": "sd-inf2", "servicePort": "80", "weight": 50},
            {"serviceName": "sd-g5", "servicePort": "http", "weight": 30},
            {"serviceName": "sd-trn1", "servicePort": "80", "weight": 20},
        ],
        "targetGroupStickinessConfig": {"enabled": False},
    },
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "fleet",
        "namespace": "prod",
        "annotations": {KEY: json.dumps(ACTION), "alb.ingress.kubernetes.io/scheme": "internet-facing"},
    },
    "spec": {
        "ingressClassName": "alb",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "weighted", "port": {"name": "use-annotation"}}},
                        }
                    ]
                }
            }
        ],
    },
}
ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "fleet", "namespace": "prod"},
    "spec": {
        "parentRefs": [{"name": "gw"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/genimage"}}],
                "backendRefs": [
                    {"name": "sd-inf2", "port": 80, "weight": 50},
                    {"name": "sd-g5", "port": 80, "weight": 50},
                ],
            },
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/healthz"}}],
                "backendRefs": [{"name": "sd-inf2", "port": 80}],
            },
        ],
    },
}


@pytest.fixture
def kube():
    with FakeKube() as fake:
        fake.add(INGRESS)
        fake.add(ROUTE)
        yield fake


def alb(kube, **opts):
    return ACTUATORS.create(
        "alb-ingress", {"host": kube.url, "ingress": "fleet", "namespace": "prod", **opts}
    )


def route(kube, **opts):
    return ACTUATORS.create("httproute", {"host": kube.url, "route": "fleet", "namespace": "prod", **opts})


def test_alb_ingress_sends_a_merge_patch_of_the_annotation_with_a_resource_version_precondition(kube):
    act = alb(kube)
    assert act.read() == {"sd-inf2": 50, "sd-g5": 30, "sd-trn1": 20}
    rv = kube.get("Ingress", "fleet", "prod")["metadata"]["resourceVersion"]

    act.apply({"sd-inf2": 70, "sd-g5": 30})

    [patch] = kube.patches()
    assert patch.path == "/apis/networking.k8s.io/v1/namespaces/prod/ingresses/fleet"
    assert patch.content_type == MERGE
    assert set(patch.body) == {"metadata"} and set(patch.body["metadata"]) == {
        "resourceVersion",
        "annotations",
    }
    assert patch.body["metadata"]["resourceVersion"] == rv
    assert list(patch.body["metadata"]["annotations"]) == [KEY]  # nothing else is touched
    sent = json.loads(patch.body["metadata"]["annotations"][KEY])
    assert sent == {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [  # ports and order kept; a backend left out of the weights gets 0
                {"serviceName": "sd-inf2", "servicePort": "80", "weight": 70},
                {"serviceName": "sd-g5", "servicePort": "http", "weight": 30},
                {"serviceName": "sd-trn1", "servicePort": "80", "weight": 0},
            ],
            "targetGroupStickinessConfig": {"enabled": False},
        },
    }
    live = kube.get("Ingress", "fleet", "prod")
    assert live["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert live["spec"] == INGRESS["spec"]
    assert act.read() == {"sd-inf2": 70, "sd-g5": 30, "sd-trn1": 0}


def test_alb_ingress_adds_a_new_unit_through_its_service_name(kube):
    act = alb(kube, backends={"unit-l4": "sd-g6"}, service_port=8080)
    act.apply({"sd-inf2": 40, "unit-l4": 60})
    groups = json.loads(kube.get("Ingress", "fleet", "prod")["metadata"]["annotations"][KEY])[
        "forwardConfig"
    ]["targetGroups"]
    assert groups[-1] == {"serviceName": "sd-g6", "servicePort": "8080", "weight": 60}
    assert act.read() == {"sd-inf2": 40, "sd-g5": 0, "sd-trn1": 0, "unit-l4": 60}


def test_alb_ingress_concurrent_edit_is_a_conflict_not_an_overwrite(kube):
    act = alb(kube)
    read = act._net.read_namespaced_ingress

    def read_then_someone_else_writes(*args, **kwargs):
        obj = read(*args, **kwargs)
        kube.handle_patch(
            "/apis/networking.k8s.io/v1/namespaces/prod/ingresses/fleet",
            {},
            MERGE,
            json.dumps({"metadata": {"labels": {"edited": "by-hand"}}}).encode(),
        )
        return obj

    act._net.read_namespaced_ingress = read_then_someone_else_writes
    with pytest.raises(AccelctlError, match="409 Conflict.*object has been modified"):
        act.apply({"sd-inf2": 100})
    assert json.loads(kube.get("Ingress", "fleet", "prod")["metadata"]["annotations"][KEY]) == ACTION


def test_alb_ingress_refuses_out_of_range_and_all_zero_weights_without_writing(kube):
    act = alb(kube)
    with pytest.raises(InputError, match="0..999"):
        act.apply({"sd-inf2": 1000})
    with pytest.raises(InputError, match="all-zero"):
        act.apply({"sd-inf2": 0, "sd-g5": 0})
    assert kube.patches() == []


def test_alb_ingress_names_the_missing_action(kube):
    with pytest.raises(InputError, match="actions.canary.*actions there: weighted"):
        alb(kube, action="canary").read()


def test_httproute_sends_a_merge_patch_of_all_rules_with_only_the_chosen_rule_reweighted(kube):
    act = route(kube)
    assert act.read() == {"sd-inf2": 50, "sd-g5": 50}
    rv = kube.get("HTTPRoute", "fleet", "prod")["metadata"]["resourceVersion"]

    act.apply({"sd-inf2": 25, "sd-g5": 75})

    [patch] = kube.patches()
    assert patch.path == "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/fleet"
    assert patch.content_type == MERGE
    rule0 = {
        **ROUTE["spec"]["rules"][0],
        "backendRefs": [
            {"name": "sd-inf2", "port": 80, "weight": 25},
            {"name": "sd-g5", "port": 80, "weight": 75},
        ],
    }
    # A merge patch replaces lists whole: the untouched /healthz rule must travel as it was.
    assert patch.body == {
        "metadata": {"resourceVersion": rv},
        "spec": {"rules": [rule0, ROUTE["spec"]["rules"][1]]},
    }
    assert kube.get("HTTPRoute", "fleet", "prod")["spec"]["parentRefs"] == [{"name": "gw"}]
    assert act.read() == {"sd-inf2": 25, "sd-g5": 75}


def test_httproute_adds_a_backend_ref_and_the_result_passes_the_crd_schema(kube):
    act = route(kube, port=8080)
    act.apply({"sd-inf2": 10, "sd-g5": 0, "sd-trn1": 90})
    refs = kube.get("HTTPRoute", "fleet", "prod")["spec"]["rules"][0]["backendRefs"]
    assert refs[-1] == {"name": "sd-trn1", "port": 8080, "weight": 90}


def test_httproute_rule_index_out_of_range_is_named(kube):
    with pytest.raises(InputError, match="2 rule\\(s\\), no rule 5"):
        route(kube, rule=5).read()


def test_fake_api_server_rejects_what_the_real_one_rejects(kube):
    """The strictness the actuator tests rely on, request by request."""
    import httpx

    ing = f"{kube.url}/apis/networking.k8s.io/v1/namespaces/prod/ingresses/fleet"
    hr = f"{kube.url}/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/fleet"

    def patch(url, ctype, body):
        return httpx.patch(
            url, content=json.dumps(body), headers={"Content-Type": ctype}, timeout=5
        ).status_code

    assert patch(ing, JSON_PATCH, {"metadata": {}}) == 400  # a JSON patch is an array of operations
    assert patch(hr, STRATEGIC, {"spec": {}}) == 415  # no strategic merge for custom resources
    assert patch(ing, "application/json", {"metadata": {}}) == 415
    assert patch(ing, MERGE, {"metadata": {"annotations": {"n": 1}}}) == 400  # annotation values are strings
    bad_weight = {"spec": {"rules": [{"backendRefs": [{"name": "x", "port": 80, "weight": -1}]}]}}
    assert patch(hr, MERGE, bad_weight) == 422  # the CRD schema bounds weights
    assert patch(ing, MERGE, {"metadata": {"resourceVersion": "1"}}) == 409
    assert patch(ing, STRATEGIC, {"metadata": {"labels": {"a": "b"}}}) == 200  # built-in kinds take it
    assert kube.get("Ingress", "fleet", "prod")["metadata"]["labels"] == {"a": "b"}


def test_unreachable_api_server_fails_fast_with_one_line():
    with FakeKube() as fake:
        url = fake.url
    act = ACTUATORS.create("alb-ingress", {"host": url, "ingress": "fleet", "timeout_s": 2})
    with pytest.raises(AccelctlError, match="kubernetes: get ingress default/fleet"):
        act.read()
