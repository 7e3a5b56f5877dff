"""`file`: weights rewritten in a manifest on disk (the Ingress or HTTPRoute that `deploy` rendered).

For GitOps or a kubectl-apply step outside accelctl. The file may hold several YAML documents; the
one edited is the Ingress with an ALB forward-action annotation or the HTTPRoute (`name` picks one
where there are several); the same weight rules as `alb-ingress` and `httproute` apply. The file is
replaced atomically (temp file + rename), so a reader never sees half of it. The file is
re-serialised: the comment lines heading it (deploy's "Rendered by" note) are kept, others are not.
"""

from __future__ import annotations

from itertools import takewhile
from pathlib import Path

import yaml
from pydantic import Field

from accelctl.control.actuators import alb_ingress, httproute
from accelctl.control.actuators.base import ACTUATORS, Actuator
from accelctl.control.actuators.weights import (
    ALB_MAX_WEIGHT,
    GATEWAY_MAX_WEIGHT,
    SERVICE_PORT,
    check_weights,
    to_backends,
    to_units,
)
from accelctl.errors import InputError
from accelctl.files import atomic_write
from accelctl.schema import Strict


class FileActuatorConfig(Strict):
    path: Path = Field(description="manifest file holding the Ingress or HTTPRoute")
    name: str | None = Field(
        default=None, description="metadata.name of the object to edit; default the only one"
    )
    action: str | None = Field(
        default=None, description="Ingress: <name> in alb.ingress.kubernetes.io/actions.<name>"
    )
    rule: int = Field(default=0, ge=0, description="HTTPRoute: index of the rule carrying the weights")
    backends: dict[str, str] = Field(
        default_factory=dict, description="unit -> Service name, where they differ"
    )
    port: int = Field(
        default=SERVICE_PORT, ge=1, le=65535, description="Service port for a unit not yet routed to"
    )
    planned_path: Path | None = Field(
        default=None,
        description="file the planned replicas go to (/planned's shape); default <path>.planned.json",
    )


def _routes_weights(doc: dict) -> bool:
    if doc.get("kind") == "HTTPRoute":
        return True
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    forward = any(k.startswith(alb_ingress.ACTION_PREFIX) for k in annotations)
    return doc.get("kind") == "Ingress" and (forward or bool(alb_ingress.referenced_actions(doc)))


@ACTUATORS.register("file")
class FileActuator(Actuator):
    config_model = FileActuatorConfig

    def __init__(self, config: FileActuatorConfig):
        self.config = config

    def _load(self) -> tuple[list, int, str]:
        """All documents of the file, the index of the one carrying the weights, and the heading comments."""
        path = self.config.path
        if not path.is_file():
            raise InputError(f"{path}: no such manifest; run `accelctl deploy` or fix 'path'")
        text = path.read_text()
        heading = "".join(takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            raise InputError(f"{path}: not valid YAML; fix the syntax") from None
        hits = [
            i
            for i, d in enumerate(docs)
            if isinstance(d, dict)
            and _routes_weights(d)
            and self.config.name in (None, (d.get("metadata") or {}).get("name"))
        ]
        if len(hits) != 1:
            which = f"named {self.config.name!r}" if self.config.name else "(set 'name' to pick one)"
            raise InputError(
                f"{path}: found {len(hits)} weighted Ingress/HTTPRoute objects {which}; need exactly one"
            )
        return docs, hits[0], heading

    def read(self) -> dict[str, int]:
        docs, i, _ = self._load()
        doc, where = docs[i], str(self.config.path)
        if doc["kind"] == "HTTPRoute":
            weights = httproute.rule_weights(
                httproute.select_rule(httproute.live_rules(doc), self.config.rule, where)
            )
        else:
            _, action = alb_ingress.weighted_action(doc, self.config.action, where)
            weights = alb_ingress.forward_weights(action or {})
        return to_units(weights, self.config.backends)

    def record_replicas(self, replicas: dict[str, int]) -> None:
        """The plan beside the manifest, in /planned's shape, for a GitOps step or a person to read."""
        import json
        import time

        path = self.config.planned_path or self.config.path.with_name(self.config.path.name + ".planned.json")
        body = {
            "time": time.time(),
            "units": {n: {"planned_replicas": r} for n, r in sorted(replicas.items())},
        }
        atomic_write(path, json.dumps(body, indent=2) + "\n")

    def apply(self, weights: dict[str, int]) -> None:
        c = self.config
        docs, i, heading = self._load()
        doc, where = docs[i], str(c.path)
        by_backend = to_backends(weights, c.backends)
        if doc["kind"] == "HTTPRoute":
            check_weights(weights, GATEWAY_MAX_WEIGHT, where)
            rules = doc["spec"]["rules"] = httproute.live_rules(doc)
            rules[c.rule] = httproute.with_rule_weights(
                httproute.select_rule(rules, c.rule, where), by_backend, c.port
            )
        else:
            check_weights(weights, ALB_MAX_WEIGHT, where)
            key, action = alb_ingress.weighted_action(doc, c.action, where)
            annotations = doc["metadata"].setdefault("annotations", {})
            annotations[key] = alb_ingress.dump_action(
                alb_ingress.with_forward_weights(
                    action or alb_ingress.new_forward_action(), by_backend, c.port
                )
            )
        atomic_write(c.path, heading + yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False))
