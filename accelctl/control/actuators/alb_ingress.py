"""`alb-ingress`: weights in the AWS Load Balancer Controller's weighted-routing annotation of one Ingress.

The annotation `alb.ingress.kubernetes.io/actions.<action>` holds a forward action as JSON:
{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":..,"servicePort":..,"weight":..}]}}.
`apply` reads the Ingress, rewrites the weights in that JSON (every other key kept), and sends a JSON
merge patch (application/merge-patch+json) carrying the resourceVersion it read, so a concurrent
edit makes the API server answer 409 instead of being overwritten; the loop retries on the next tick.
A backend in the action but not in the weights gets 0: what is live is exactly what was applied.

The Ingress `accelctl deploy` renders routes to the action (backend `<action>`, port `use-annotation`)
but leaves the annotation out, so re-applying the rendered manifests (GitOps) never resets the weights
(docs/gitops.md). Until the first write, `read` reports no weights and `apply` creates the annotation.
Every write is made as field manager `accelctl-watch` (FIELD_MANAGER), which owns the annotation from
then on.
"""

from __future__ import annotations

import copy
import json

from pydantic import Field

from accelctl.control.actuators.base import ACTUATORS, Actuator
from accelctl.control.actuators.weights import (
    ALB_MAX_WEIGHT,
    FIELD_MANAGER,
    SERVICE_PORT,
    check_weights,
    to_backends,
    to_units,
)
from accelctl.control.clients import KubeConnection, kube_api_client, kube_call
from accelctl.errors import InputError

ACTION_PREFIX = "alb.ingress.kubernetes.io/actions."
USE_ANNOTATION = "use-annotation"
MERGE_PATCH = "application/merge-patch+json"


def find_action(annotations: dict[str, str], action: str | None, where: str) -> tuple[str, dict]:
    """(annotation key, parsed forward action); `action` None picks the only forward action there is."""
    if action is not None:
        keys = [ACTION_PREFIX + action] if ACTION_PREFIX + action in annotations else []
    else:
        keys = [k for k in annotations if k.startswith(ACTION_PREFIX) and _is_forward(annotations[k])]
    if len(keys) != 1:
        found = ", ".join(k.removeprefix(ACTION_PREFIX) for k in annotations if k.startswith(ACTION_PREFIX))
        want = (
            f"annotation {ACTION_PREFIX}{action}"
            if action
            else f"exactly one forward {ACTION_PREFIX}* annotation"
        )
        raise InputError(f"{where}: needs {want}; actions there: {found or 'none'}; set 'action'")
    try:
        parsed = json.loads(annotations[keys[0]])
    except ValueError:
        raise InputError(f"{where}: annotation {keys[0]} is not valid JSON; fix it") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "forward":
        raise InputError(f"{where}: annotation {keys[0]} is not a forward action")
    return keys[0], parsed


def referenced_actions(ingress: dict) -> list[str]:
    """Action names the Ingress routes to: backends whose service port is named `use-annotation`."""
    spec = ingress.get("spec") or {}
    paths = [p for r in spec.get("rules") or [] for p in (r.get("http") or {}).get("paths") or []]
    backends = [spec.get("defaultBackend")] + [p.get("backend") for p in paths]
    return sorted(
        {
            b["service"]["name"]
            for b in backends
            if b and ((b.get("service") or {}).get("port") or {}).get("name") == USE_ANNOTATION
        }
    )


def weighted_action(ingress: dict, action: str | None, where: str) -> tuple[str, dict | None]:
    """(annotation key, forward action) carrying the weights. The action is None when the Ingress routes
    to it and its annotation is not there yet: a rendered Ingress before the controller's first write."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    routed = referenced_actions(ingress)
    forward = [k for k in annotations if k.startswith(ACTION_PREFIX) and _is_forward(annotations[k])]
    name = action if action is not None else (routed[0] if len(routed) == 1 and not forward else None)
    if name is not None and name in routed and ACTION_PREFIX + name not in annotations:
        return ACTION_PREFIX + name, None
    return find_action(annotations, action, where)


def new_forward_action() -> dict:
    return {
        "type": "forward",
        "forwardConfig": {"targetGroups": [], "targetGroupStickinessConfig": {"enabled": False}},
    }


def _is_forward(text: str) -> bool:
    try:
        return json.loads(text).get("type") == "forward"
    except (ValueError, AttributeError):
        return False


def _backend(tg: dict) -> str:
    return tg.get("serviceName") or tg.get("targetGroupName") or tg.get("targetGroupARN") or "?"


def forward_weights(action: dict) -> dict[str, int]:
    return {
        _backend(tg): int(tg.get("weight", 0))
        for tg in action.get("forwardConfig", {}).get("targetGroups", [])
    }


def with_forward_weights(action: dict, weights: dict[str, int], service_port: int | str) -> dict:
    """A copy of `action` with `weights` by backend name; unknown backends with weight > 0 are added."""
    new = copy.deepcopy(action)
    groups = new.setdefault("forwardConfig", {}).setdefault("targetGroups", [])
    for tg in groups:
        tg["weight"] = weights.get(_backend(tg), 0)
    present = {_backend(tg) for tg in groups}
    groups += [
        {"serviceName": name, "servicePort": str(service_port), "weight": w}
        for name, w in weights.items()
        if name not in present and w > 0
    ]
    return new


def dump_action(action: dict) -> str:
    return json.dumps(action, separators=(",", ":"))


class AlbIngressConfig(KubeConnection):
    ingress: str = Field(description="Ingress name")
    namespace: str = Field(default="default", description="namespace of the Ingress")
    action: str | None = Field(
        default=None, description="<name> in actions.<name>; default the only forward action"
    )
    backends: dict[str, str] = Field(
        default_factory=dict, description="unit -> Service name, where they differ"
    )
    service_port: int | str = Field(
        default=SERVICE_PORT, description="servicePort for a unit not yet in the action"
    )


@ACTUATORS.register("alb-ingress")
class AlbIngressActuator(Actuator):
    config_model = AlbIngressConfig

    def __init__(self, config: AlbIngressConfig):
        from kubernetes import client

        self.config = config
        self._api = kube_api_client(config)
        self._net = client.NetworkingV1Api(self._api)
        self.where = f"ingress {config.namespace}/{config.ingress}"

    def close(self) -> None:
        self._api.close()

    def _get(self) -> dict:
        c = self.config
        live = kube_call(
            f"get {self.where}",
            self._net.read_namespaced_ingress,
            c.ingress,
            c.namespace,
            _request_timeout=c.timeout_s,
        )
        return self._api.sanitize_for_serialization(live)

    def read(self) -> dict[str, int]:
        _, action = weighted_action(self._get(), self.config.action, self.where)
        return to_units(forward_weights(action or {}), self.config.backends)

    def apply(self, weights: dict[str, int]) -> None:
        c = self.config
        check_weights(weights, ALB_MAX_WEIGHT, f"alb-ingress {self.where}")
        live = self._get()
        key, action = weighted_action(live, c.action, self.where)
        new = with_forward_weights(
            action or new_forward_action(), to_backends(weights, c.backends), c.service_port
        )
        body = {
            "metadata": {
                "resourceVersion": live["metadata"]["resourceVersion"],
                "annotations": {key: dump_action(new)},
            }
        }
        kube_call(
            f"patch {self.where}",
            self._net.patch_namespaced_ingress,
            c.ingress,
            c.namespace,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
            _request_timeout=c.timeout_s,
        )
