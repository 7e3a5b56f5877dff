"""Actuators without servers: the weight rules every actuator shares, the pure rewrites of an ALB
forward action, an HTTPRoute rule and ELBv2 actions, and the file actuator on a manifest on disk."""

from __future__ import annotations

import json

import pytest
import yaml

from accelctl.control.actuators import ACTUATORS, alb_ingress, elbv2, httproute
from accelctl.control.actuators.weights import check_weights, to_backends, to_units
from accelctl.errors import AccelctlError, InputError


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"a": 1000}, "weight for 'a' is 1000; weights are integers 0..999"),
        ({"a": -1}, "0..999"),
        ({"a": 2.5}, "0..999"),
        ({"a": True}, "0..999"),
        ({"a": 0, "b": 0}, "refusing to write all-zero weights"),
        ({}, "refusing to write all-zero weights"),
    ],
)
def test_check_weights_refuses(weights, message):
    with pytest.raises(InputError, match=message):
        check_weights(weights, 999, "here")


def test_check_weights_accepts_the_alb_range():
    check_weights({"a": 999, "b": 0}, 999, "here")


def test_unit_and_backend_names_map_both_ways():
    backends = {"unit-a": "svc-a"}
    assert to_backends({"unit-a": 1, "unit-b": 2}, backends) == {"svc-a": 1, "unit-b": 2}
    assert to_units({"svc-a": 1, "unit-b": 2}, backends) == {"unit-a": 1, "unit-b": 2}


def test_forward_action_rewrite_keeps_everything_but_weights():
    action = {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {"serviceName": "a", "servicePort": "http", "weight": 10},
                {"targetGroupARN": "arn:tg/legacy", "weight": 90},
            ],
            "targetGroupStickinessConfig": {"enabled": True, "durationSeconds": 60},
        },
    }
    new = alb_ingress.with_forward_weights(action, {"a": 40, "b": 60, "c": 0}, 8000)
    assert new["forwardConfig"] == {
        "targetGroups": [
            {"serviceName": "a", "servicePort": "http", "weight": 40},
            {"targetGroupARN": "arn:tg/legacy", "weight": 0},  # not in the weights: 0
            {"serviceName": "b", "servicePort": "8000", "weight": 60},
        ],  # c at 0 is not added
        "targetGroupStickinessConfig": {"enabled": True, "durationSeconds": 60},
    }
    assert action["forwardConfig"]["targetGroups"][0]["weight"] == 10  # the input is not mutated
    assert alb_ingress.forward_weights(new) == {"a": 40, "arn:tg/legacy": 0, "b": 60}


def test_find_action_picks_the_only_forward_action_or_names_the_choice():
    fwd = json.dumps({"type": "forward", "forwardConfig": {"targetGroups": []}})
    redirect = json.dumps({"type": "redirect", "redirectConfig": {"statusCode": "HTTP_301"}})
    p = alb_ingress.ACTION_PREFIX
    assert alb_ingress.find_action({p + "w": fwd, p + "r": redirect}, None, "x")[0] == p + "w"
    with pytest.raises(InputError, match="exactly one forward.*actions there: a, b; set 'action'"):
        alb_ingress.find_action({p + "a": fwd, p + "b": fwd}, None, "x")
    with pytest.raises(InputError, match="not a forward action"):
        alb_ingress.find_action({p + "r": redirect}, "r", "x")
    with pytest.raises(InputError, match="not valid JSON"):
        alb_ingress.find_action({p + "w": "{"}, "w", "x")


def test_httproute_rule_rewrite():
    rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": "a", "port": 8000}, {"name": "b", "port": 8000, "weight": 5}],
    }
    assert httproute.rule_weights(rule) == {"a": 1, "b": 5}  # no weight means 1 in the Gateway API
    new = httproute.with_rule_weights(rule, {"a": 70, "c": 30}, 8000)
    assert new == {
        "matches": rule["matches"],
        "backendRefs": [
            {"name": "a", "port": 8000, "weight": 70},
            {"name": "b", "port": 8000, "weight": 0},
            {"name": "c", "port": 8000, "weight": 30},
        ],
    }


def test_elbv2_actions_rewrite_keeps_other_actions_and_stickiness():
    actions = [
        {
            "Type": "authenticate-oidc",
            "Order": 1,
            "AuthenticateOidcConfig": {"Issuer": "https://idp", "ClientId": "c"},
        },
        {
            "Type": "forward",
            "Order": 2,
            "TargetGroupArn": "arn:a",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": "arn:a", "Weight": 1}],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 30},
            },
        },
    ]
    out = elbv2.with_weights(actions, {"arn:a": 20, "arn:b": 80}, "listener x")
    assert out[0]["AuthenticateOidcConfig"]["UseExistingClientSecret"] is True  # Describe hides the secret
    assert out[1] == {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": "arn:a", "Weight": 20},
                {"TargetGroupArn": "arn:b", "Weight": 80},
            ],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 30},
        },
    }
    assert "UseExistingClientSecret" not in actions[0]["AuthenticateOidcConfig"]  # input not mutated


def test_elbv2_needs_exactly_one_forward_action():
    with pytest.raises(AccelctlError, match="expected one forward action, found 0"):
        elbv2.forward_action([{"Type": "fixed-response"}], "listener x")


# ---------------------------------------------------------------- file


MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {name: sd-a}
spec: {ports: [{port: 8000}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: fleet
  annotations:
    alb.ingress.kubernetes.io/actions.weighted-routing: >-
      {"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"sd-a","servicePort":"8000","weight":50},
      {"serviceName":"sd-b","servicePort":"8000","weight":50}]}}
spec: {ingressClassName: alb}
"""


def test_file_actuator_rewrites_the_annotation_and_keeps_the_other_documents(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(MANIFEST)
    act = ACTUATORS.create("file", {"path": str(path)})
    assert act.read() == {"sd-a": 50, "sd-b": 50}
    act.apply({"sd-a": 80, "sd-b": 20})
    docs = list(yaml.safe_load_all(path.read_text()))
    assert docs[0] == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sd-a"},
        "spec": {"ports": [{"port": 8000}]},
    }
    assert docs[1]["spec"] == {"ingressClassName": "alb"}
    assert act.read() == {"sd-a": 80, "sd-b": 20}
    assert [p.name for p in tmp_path.iterdir()] == ["routing.yaml"]  # no temp file left behind


def test_file_actuator_records_planned_replicas_beside_the_manifest(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(MANIFEST)
    act = ACTUATORS.create("file", {"path": str(path)})
    act.record_replicas({"sd-b": 1, "sd-a": 4})
    doc = json.loads((tmp_path / "routing.yaml.planned.json").read_text())
    assert doc["units"] == {"sd-a": {"planned_replicas": 4}, "sd-b": {"planned_replicas": 1}}
    assert path.read_text() == MANIFEST  # the manifest is not touched


def test_file_actuator_failure_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(MANIFEST)
    act = ACTUATORS.create("file", {"path": str(path)})
    with pytest.raises(InputError, match="all-zero"):
        act.apply({"sd-a": 0, "sd-b": 0})
    assert path.read_text() == MANIFEST


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("kind: Service\nmetadata: {name: x}\n", {}, "found 0 weighted Ingress/HTTPRoute objects"),
        (MANIFEST, {"name": "other"}, "found 0 weighted Ingress/HTTPRoute objects named 'other'"),
        (
            MANIFEST + "---\n" + MANIFEST.split("---\n")[1].replace("name: fleet", "name: two"),
            {},
            "found 2 weighted Ingress/HTTPRoute objects \\(set 'name' to pick one\\)",
        ),
        ("a: [\n", {}, "not valid YAML"),
    ],
)
def test_file_actuator_errors_name_the_file(tmp_path, text, options, message):
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=f"{path}: {message}"):
        ACTUATORS.create("file", {"path": str(path), **options}).read()


def test_file_actuator_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="no such manifest"):
        ACTUATORS.create("file", {"path": str(tmp_path / "nope.yaml")}).read()


def test_the_httproute_default_rule_is_the_crds():
    """A route rendered without rules gets the CRD's default; the actuator assumes the same one."""
    from accelctl.deploy.validate import crd_schema

    schema = crd_schema("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert schema["properties"]["spec"]["properties"]["rules"]["default"] == [httproute.DEFAULT_RULE]
    assert httproute.live_rules({"spec": {}}) == [httproute.DEFAULT_RULE]
    assert httproute.rule_weights(httproute.live_rules({"spec": {}})[0]) == {}


def test_an_ingress_routing_to_an_action_not_written_yet_has_no_weights():
    ingress = {
        "metadata": {"annotations": {}},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [{"backend": {"service": {"name": "w", "port": {"name": "use-annotation"}}}}]
                    }
                }
            ]
        },
    }
    assert alb_ingress.weighted_action(ingress, None, "x") == (alb_ingress.ACTION_PREFIX + "w", None)
    assert alb_ingress.weighted_action(ingress, "w", "x") == (alb_ingress.ACTION_PREFIX + "w", None)
    with pytest.raises(InputError, match="actions.other"):  # a name the Ingress does not route to
        alb_ingress.weighted_action(ingress, "other", "x")
