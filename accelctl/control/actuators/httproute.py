"""`httproute`: backendRef weights of one rule of a Gateway API HTTPRoute (gateway.networking.k8s.io/v1).

HTTPRoute is a custom resource, so the API server takes JSON merge patches
(application/merge-patch+json), JSON patches and server-side apply, never strategic merge patches.
A merge patch replaces a list whole, so `apply` sends every rule as read, with only the chosen rule's
weights changed, plus the resourceVersion it read: a concurrent edit gets 409, not overwritten.
A backendRef not in the weights gets 0; a unit with weight > 0 and no backendRef is added on `port`.

`spec.rules` is an atomic list (whoever writes it owns all of it), so the HTTPRoute `accelctl deploy`
renders has no rules at all: re-applying it (GitOps) never resets the weights (docs/gitops.md). The
API server then defaults the rules to DEFAULT_RULE with no backends; `read` reports no weights and
`apply` writes the backendRefs. Every write is made as field manager `accelctl-watch`
(FIELD_MANAGER), which owns `spec.rules` from then on.
"""

from __future__ import annotations

import copy

from pydantic import Field

from accelctl.control.actuators.base import ACTUATORS, Actuator
from accelctl.control.actuators.weights import (
    FIELD_MANAGER,
    GATEWAY_MAX_WEIGHT,
    SERVICE_PORT,
    check_weights,
    to_backends,
    to_units,
)
from accelctl.control.clients import KubeConnection, kube_api_client, kube_call
from accelctl.errors import InputError

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_WEIGHT = 1  # Gateway API: a backendRef without weight has weight 1
# What the HTTPRoute CRD defaults `spec.rules` to when a route has none: every path.
DEFAULT_RULE = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}


def live_rules(route: dict) -> list[dict]:
    """The route's rules; the CRD's default rule where it has none (created without, as deploy renders it)."""
    return copy.deepcopy((route.get("spec") or {}).get("rules") or [DEFAULT_RULE])


def select_rule(rules: list[dict], index: int, where: str) -> dict:
    if not 0 <= index < len(rules):
        raise InputError(
            f"{where}: has {len(rules)} rule(s), no rule {index}; set 'rule' to an index below {len(rules)}"
        )
    return rules[index]


def rule_weights(rule: dict) -> dict[str, int]:
    return {ref["name"]: int(ref.get("weight", DEFAULT_WEIGHT)) for ref in rule.get("backendRefs", [])}


def with_rule_weights(rule: dict, weights: dict[str, int], port: int) -> dict:
    new = copy.deepcopy(rule)
    refs = new.setdefault("backendRefs", [])
    for ref in refs:
        ref["weight"] = weights.get(ref["name"], 0)
    present = {ref["name"] for ref in refs}
    refs += [
        {"name": name, "port": port, "weight": w}
        for name, w in weights.items()
        if name not in present and w > 0
    ]
    return new


class HttpRouteConfig(KubeConnection):
    route: str = Field(description="HTTPRoute name")
    namespace: str = Field(default="default", description="namespace of the HTTPRoute")
    rule: int = Field(default=0, ge=0, description="index of the rule whose backendRefs carry the weights")
    backends: dict[str, str] = Field(
        default_factory=dict, description="unit -> Service name, where they differ"
    )
    port: int = Field(
        default=SERVICE_PORT, ge=1, le=65535, description="Service port for a unit not yet in the rule"
    )


@ACTUATORS.register("httproute")
class HttpRouteActuator(Actuator):
    config_model = HttpRouteConfig

    def __init__(self, config: HttpRouteConfig):
        from kubernetes import client

        self.config = config
        self._api = kube_api_client(config)
        self._custom = client.CustomObjectsApi(self._api)
        self.where = f"httproute {config.namespace}/{config.route}"

    def close(self) -> None:
        self._api.close()

    def _get(self) -> dict:
        c = self.config
        return kube_call(
            f"get {self.where}",
            self._custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            c.namespace,
            PLURAL,
            c.route,
            _request_timeout=c.timeout_s,
        )

    def read(self) -> dict[str, int]:
        rules = live_rules(self._get())
        return to_units(rule_weights(select_rule(rules, self.config.rule, self.where)), self.config.backends)

    def apply(self, weights: dict[str, int]) -> None:
        c = self.config
        check_weights(weights, GATEWAY_MAX_WEIGHT, f"httproute {self.where}")
        live = self._get()
        rules = live_rules(live)
        rules[c.rule] = with_rule_weights(
            select_rule(rules, c.rule, self.where), to_backends(weights, c.backends), c.port
        )
        body = {
            "metadata": {"resourceVersion": live["metadata"]["resourceVersion"]},
            "spec": {"rules": rules},
        }
        kube_call(
            f"patch {self.where}",
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            c.namespace,
            PLURAL,
            c.route,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
            _request_timeout=c.timeout_s,
        )
