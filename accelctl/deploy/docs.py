"""docs/fleet-spec.md, generated from the FleetSpec schema so the two cannot drift (a test compares them).

Regenerate with `python -m accelctl.deploy.docs > docs/fleet-spec.md`.
"""

from __future__ import annotations

import json

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from accelctl.units import FleetSpec, PolicySettings, UnitSpec

# What `accelctl deploy` writes: (file, object); kept as data so no table row outgrows a source line.
_RENDERED = (
    (
        "`units/<unit>/deployment.yaml`",
        "Deployment running `accelctl serve <build> --unit-name <unit> --instance-type <type> --port 8000`",
    ),
    ("`units/<unit>/service.yaml`", "ClusterIP Service on port 8000"),
    (
        "`units/<unit>/scaledobject.yaml`",
        "KEDA ScaledObject: one replica per `breaking_point_rps x headroom` requests/s",
    ),
    (
        "`units/<unit>/bench-job.yaml`",
        "suspended Job: `accelctl bench --url http://<unit>.<namespace>:8000` at the fleet's SLO, "
        "then `accelctl profile push` into the unit's ConfigMap",
    ),
    (
        "`units/<unit>/profile-configmap.yaml`",
        "`accelctl-profile-<unit>`, empty until the bench Job publishes; `accelctl profile pull` reads it",
    ),
    (
        "`units/<unit>/bench-{serviceaccount,role,rolebinding}.yaml`",
        "the bench Job's identity: get and update on that one ConfigMap",
    ),
    (
        "`units/<unit>/compile-job.yaml`",
        "Neuron units, when `builds_claim` is set: `accelctl compile` into the claim",
    ),
    (
        "`nodes/nodepool-<pool>.yaml`, `nodes/ec2nodeclass.yaml`",
        "Karpenter NodePool per pool, one EC2NodeClass",
    ),
    ("`routing/ingress.yaml` or `routing/httproute.yaml`", "the route, weighted by the cost-mode policy"),
    (
        "`watch/*.yaml`",
        "the watch controller: Deployment, ServiceAccount, Role(s), RoleBinding(s), ConfigMap",
    ),
    ("`kustomization.yaml`", "all of the above: `kubectl apply -k <out>`"),
    (
        "`capacity/`",
        "capacity-mode twin of the route (a round-robin Service over every replica): "
        "`kubectl apply -k <out>/capacity`",
    ),
)
_RENDERED_TABLE = "\n".join(["| file | object |", "|---|---|", *(f"| {f} | {o} |" for f, o in _RENDERED)])

INTRO = (
    """\
# Fleet spec (`fleet.yaml`)

A fleet spec says which deployment units serve traffic and how; `accelctl deploy` renders it, with the
units' profiles, into Kubernetes manifests, and `accelctl watch` / `accelctl simulate` read the same file.
Unknown keys are an error, and every error names the file and the field. This page is generated from
the schema (`accelctl.units.FleetSpec`); `python -m accelctl.deploy.docs > docs/fleet-spec.md` rewrites it.

Examples: `examples/paper-sd21.yaml` (the paper's five units) and `examples/cpu-fleet.yaml`.

```bash
accelctl deploy --fleet examples/paper-sd21.yaml --profiles examples/paper/profiles --out deploy/sd21
```

## What deploy needs and checks

- `image`, `cluster_name` and `node_role` always; `region` with `metrics: cloudwatch`; `gateway` with
  `routing: gateway`. Nothing the spec does not give (image, account, region, role) is filled in.
- Each unit's profile must exist, be measured on one of its `instance_types`, and at the fleet's `slo_s`.
- A target runs only on its hardware: `cuda`/`cuda-compile` on GPU types (g*, p*), `inf2` on inf2.*,
  `trn1` on trn1.*/trn1n.*; `cpu`/`cpu-compile` anywhere. A node pool holds one kind of accelerator
  and one capacity type.
- `min_replicas` <= `max_replicas`; `routing` is `alb` or `gateway`; `metrics` is `prometheus` or
  `cloudwatch`.

## What is rendered

"""
    + _RENDERED_TABLE
    + """

Scaling metric. `prometheus`:
`sum(rate(accelctl_requests_total{unit="<unit>",route=~"/genimage|/v1/images/generations"}[1m]))`.
`cloudwatch`: metric `accelctl_requests_total` in `cloudwatch_namespace` with dimension `unit`,
summed per minute (publish it, e.g. with the CloudWatch agent's Prometheus scraping); KEDA's operator
role needs `cloudwatch:GetMetricData`.

The watch controller runs `accelctl watch --source prometheus --source kubernetes` (traffic; pods and
Karpenter capacity events). With `metrics: cloudwatch` it runs `--source kubernetes` alone: watch's
cloudwatch source needs the ALB's target-group ARNs, which exist only after the load balancer
controller made them; add them with a `--templates` override of `watch/deployment.yaml.j2`. It writes
through `--actuator alb-ingress` or `httproute` to the route named after the fleet, with
`--leader-elect` on the Lease `<name>-watch`.
"""
)


def _type(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " \\| ".join(_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null") + " (optional)"
    if prop.get("type") == "array":
        return f"list of {_type(prop['items'], defs)}" + (" (at least one)" if prop.get("minItems") else "")
    bounds = [f"{sign} {prop[key]}" for key, sign in _BOUNDS if key in prop]
    return prop.get("type", "any") + (f" ({', '.join(bounds)})" if bounds else "")


_BOUNDS = (("exclusiveMinimum", ">"), ("minimum", ">="), ("exclusiveMaximum", "<"), ("maximum", "<="))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return "see below"
    return "—" if field.default is None else f"`{json.dumps(field.default)}`"


def _table(model: type[BaseModel], title: str) -> str:
    schema = model.model_json_schema()
    props, defs = schema["properties"], schema.get("$defs", {})
    rows = [f"## {title}", "", "| field | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        rows.append(
            f"| `{name}` | {_type(props[name], defs)} | {_default(field)} | {field.description or ''} |"
        )
    return "\n".join(rows) + "\n"


def fleet_spec_markdown() -> str:
    parts = [
        INTRO,
        _table(FleetSpec, "FleetSpec (top level)"),
        _table(UnitSpec, "UnitSpec (each of `units`)"),
        _table(PolicySettings, "PolicySettings (`policy`)"),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(fleet_spec_markdown(), end="")
