"""Fleet spec + profiles + templates -> every manifest of the fleet, as text, in memory.

Templates (Jinja2, `deploy_templates/`) write YAML; each rendered document is parsed back and dumped
again, so a template cannot emit broken YAML and every file has one canonical form: the same inputs
give the same bytes. Numbers come from the profiles and the cost-mode policy, never from a template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from accelctl.control.actuators.weights import FIELD_MANAGER, SERVICE_PORT
from accelctl.control.policy import initial_weights
from accelctl.deploy import observability
from accelctl.deploy.checks import Pool, check_fleet
from accelctl.errors import InputError
from accelctl.hardware import KIND_TAINT, TARGET_KIND, device_resources
from accelctl.serve import metrics as names
from accelctl.units import FleetSpec, ResolvedUnit, resolve_fleet

# deploy_templates/ at the top of the repo, reached through a link so wheels carry it as package data.
DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "deploy_templates"
HEADER = "# Rendered by `accelctl deploy`: change the fleet spec, profiles or templates and render again.\n"
GRACE_S = 30  # `accelctl serve --grace`: seconds admitted requests get after SIGTERM
POOL_TAINT = "accelctl.io/pool"
# The ALB forward action the Ingress routes to; `watch` writes its annotation (see routing/alb.yaml.j2).
ALB_ACTION = "weighted-routing"
ACTUATORS = {
    "alb": ("alb-ingress", [f"action={ALB_ACTION}", f"service_port={SERVICE_PORT}"]),
    "gateway": ("httproute", [f"port={SERVICE_PORT}"]),
}
# `watch --metrics-port`: /metrics, /planned (KEDA), /healthz and /readyz, behind one Service whose
# name the ScaledObjects' metrics-api trigger addresses (docs/metrics.md, "Controller").
WATCH_METRICS_PORT = 9464
WATCH_SERVICE = "accelctl-watch"
GIT_REPO_PLACEHOLDER = "https://git.example.com/your-org/your-fleets.git"  # see gitops/*.yaml.j2
# Traffic from Prometheus, pods and Karpenter capacity events from the API server. watch's cloudwatch
# source reads ALB target-group metrics, whose ARNs exist only once the load balancer controller has
# made them: until a template override adds them, a CloudWatch fleet's watch reads the API server only.
WATCH_SOURCES = {"prometheus": ["prometheus", "kubernetes"], "cloudwatch": ["kubernetes"]}
# The in-cluster bench: the Job, the ConfigMap it publishes its profile to, and the identity that may.
BENCH_PARTS = ("bench-job", "bench-serviceaccount", "bench-role", "bench-rolebinding", "profile-configmap")
BENCH_OUT = "/tmp/profiles"  # inside the bench Job's pod: its emptyDir
ROUTES = {
    "alb": ("networking.k8s.io", "ingresses", "ingress"),
    "gateway": ("gateway.networking.k8s.io", "httproutes", "httproute"),
}


@dataclass(frozen=True)
class Manifests:
    files: dict[str, str]  # path inside the output folder -> file text
    weights: dict[str, int]  # initial cost-mode weights by unit, summing to 100
    units: tuple[ResolvedUnit, ...]
    pools: dict[str, Pool]


def render(
    fleet: FleetSpec, profiles_dir: Path | str, *, where: str = "fleet", templates: Path | None = None
) -> Manifests:
    """Check the fleet against its profiles, then render every file. Raises InputError; writes nothing."""
    units = resolve_fleet(fleet, profiles_dir, where)
    pools = check_fleet(fleet, units, where)
    weights = initial_weights(units)
    env = _environment(templates)
    base = {"fleet": fleet, "port": SERVICE_PORT, "grace_s": GRACE_S}
    files: dict[str, str] = {}

    def emit(path: str, template: str, **ctx) -> None:
        files[path] = _render(env, template, {**base, **ctx})

    emit("nodes/ec2nodeclass.yaml", "nodes/ec2nodeclass.yaml.j2", labels=_labels(fleet, "nodes", fleet.name))
    for pool in pools.values():
        emit(
            f"nodes/nodepool-{pool.name}.yaml",
            "nodes/nodepool.yaml.j2",
            pool=pool,
            taints=_taints(pool),
            labels=_labels(fleet, "nodes", pool.name),
        )
    for unit in units:
        u = _unit(fleet, unit, pools[unit.pool])
        for kind in ("deployment", "service", "scaledobject"):
            emit(f"units/{unit.name}/{kind}.yaml", f"unit/{kind}.yaml.j2", u=u, metrics=_METRIC_NAMES)
        # A compile Job writes to the builds claim; without one no server would see its output.
        if TARGET_KIND[unit.target] == "neuron" and fleet.builds_claim:
            files[f"units/{unit.name}/compile-job.yaml"] = _compile_job(fleet, unit)
        for part in BENCH_PARTS:
            emit(f"units/{unit.name}/{part}.yaml", f"unit/{part}.yaml.j2", u=u)

    route = _route_context(fleet)
    kind = ROUTES[fleet.routing][2]
    emit(f"routing/{kind}.yaml", f"routing/{fleet.routing}.yaml.j2", **route)
    watch = _watch(fleet, units, profiles_dir)
    for part in ("serviceaccount", "role", "configmap", "deployment", "service"):
        emit(f"watch/{part}.yaml", f"watch/{part}.yaml.j2", watch=watch)
    emit(
        "watch/rolebinding.yaml",
        "watch/rolebinding.yaml.j2",
        watch=watch,
        namespace=fleet.namespace,
        role=watch["name"],
    )
    if fleet.namespace != "default":
        emit("watch/events-role.yaml", "watch/events-role.yaml.j2", watch=watch)
        emit(
            "watch/events-rolebinding.yaml",
            "watch/rolebinding.yaml.j2",
            watch=watch,
            namespace="default",
            role=f"{watch['name']}-events",
        )
    emit("kustomization.yaml", "kustomization.yaml.j2", resources=sorted(files))

    # The capacity-mode twin replaces the route by name, so it cannot sit in the same kustomization.
    twin: dict[str, str] = {}
    twin["capacity/service.yaml"] = _render(env, "capacity/service.yaml.j2", {**base, **route})
    twin[f"capacity/{kind}.yaml"] = _render(env, f"capacity/{fleet.routing}.yaml.j2", {**base, **route})
    twin["capacity/kustomization.yaml"] = _render(
        env, "kustomization.yaml.j2", {**base, "resources": [p.split("/", 1)[1] for p in sorted(twin)]}
    )
    files.update(twin)

    # Dashboards and alerts need the Grafana sidecar and prometheus-operator's CRDs, which not every
    # cluster has: their own kustomization, applied where they run.
    names = [u.name for u in units]
    seen = {
        "observability/dashboard.yaml": _render(
            env,
            "observability/dashboard.yaml.j2",
            {
                **base,
                "labels": _labels(fleet, "observability", fleet.name),
                "dashboard_key": f"accelctl-{fleet.name}{observability.DASHBOARD_KEY_SUFFIX}",
                "dashboard": observability.dashboard_json(fleet, names),
            },
        ),
        "observability/prometheusrule.yaml": _render(
            env,
            "observability/prometheusrule.yaml.j2",
            {
                **base,
                "labels": _labels(fleet, "observability", fleet.name),
                "groups": observability.alert_groups(fleet, names),
            },
        ),
    }
    monitors = {
        **base,
        "labels": _labels(fleet, "observability", fleet.name),
        "watch_service_labels": watch["labels"],
        "server_selector": route["all_selector"],
        # Every tick of the controller, and no slower than KEDA polls the request rate.
        "scrape_interval": f"{max(1, min(15, round(fleet.policy.interval_s)))}s",
    }
    for name in ("servicemonitor", "podmonitor"):
        seen[f"observability/{name}.yaml"] = _render(env, f"observability/{name}.yaml.j2", monitors)
    seen["observability/kustomization.yaml"] = _render(
        env, "kustomization.yaml.j2", {**base, "resources": [p.split("/", 1)[1] for p in sorted(seen)]}
    )
    files.update(seen)

    # Applied to the GitOps tool's namespace, not part of the fleet's kustomization.
    route_kind = {"alb": "Ingress", "gateway": "HTTPRoute"}[fleet.routing]
    gitops = {
        **base,
        "labels": _labels(fleet, "gitops", fleet.name),
        "git_repo": GIT_REPO_PLACEHOLDER,
        "git_path": f"deploy/{fleet.name}",
        "route_group": ROUTES[fleet.routing][0],
        "route_kind": route_kind,
        "field_manager": FIELD_MANAGER,
    }
    for name in ("argocd-application", "flux-kustomization"):
        files[f"gitops/{name}.yaml"] = _render(env, f"gitops/{name}.yaml.j2", gitops)
    return Manifests(dict(sorted(files.items())), weights, units, pools)


# ---------------------------------------------------------------- contexts

_METRIC_NAMES = {"requests": names.REQUESTS, "routes": f"{names.GENIMAGE_ROUTE}|{names.OPENAI_ROUTE}"}


def number(x: float) -> str:
    """Six significant digits: 1.75 x 0.8 prints as 1.4, not 1.4000000000000001."""
    return f"{x:.6g}"


def _labels(fleet: FleetSpec, component: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "accelctl",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": fleet.name,
        "app.kubernetes.io/managed-by": "accelctl",
    }


def _selector(labels: dict[str, str]) -> dict[str, str]:
    keys = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
    return {k: labels[k] for k in keys}


def _taints(pool: Pool) -> list[dict[str, str]]:
    if pool.kind in KIND_TAINT:
        return [{"key": KIND_TAINT[pool.kind], "effect": "NoSchedule"}]
    # CPU pools have no device plugin to keep happy: a pool taint keeps other workloads off them.
    return [{"key": POOL_TAINT, "value": pool.name, "effect": "NoSchedule"}]


def _tolerations(pool: Pool) -> list[dict[str, str]]:
    return [
        {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
        if "value" in t
        else {"key": t["key"], "operator": "Exists", "effect": t["effect"]}
        for t in _taints(pool)
    ]


def _unit(fleet: FleetSpec, unit: ResolvedUnit, pool: Pool) -> dict:
    name, spec = unit.name, unit.spec
    labels = _labels(fleet, "server", name)
    own = {"cpu": spec.cpu, "memory": spec.memory}
    own.update({k: str(v) for k, v in device_resources(unit.target, spec.devices, spec.neuron_cores).items()})
    threshold = unit.throughput_rps * fleet.policy.rate_trigger_utilization(fleet.headroom)
    return {
        "name": name,
        "labels": labels,
        "selector": _selector(labels),
        "bench_labels": _labels(fleet, "bench", name),
        "image": spec.image or fleet.image,
        "build": spec.build or unit.profile.build,
        "instance_type": unit.instance_type,
        "instance_types": list(spec.instance_types),
        "node_selector": {"karpenter.sh/nodepool": pool.name},
        "tolerations": _tolerations(pool),
        "resources": {"requests": own, "limits": dict(own)},
        "min_replicas": spec.min_replicas,
        "max_replicas": spec.max_replicas,
        "threshold_rps": number(threshold),
        "threshold_per_minute": number(threshold * 60),
        "planned_url": f"http://{WATCH_SERVICE}.{fleet.namespace}.svc:{WATCH_METRICS_PORT}/planned",
        "url": f"http://{name}.{fleet.namespace}:{SERVICE_PORT}",
        **_bench(fleet, unit),
    }


def _bench(fleet: FleetSpec, unit: ResolvedUnit) -> dict:
    """What the bench Job runs: `bench --url` at the fleet's SLO, priced for the unit's instance type
    from the catalog packaged in the image, then `profile push` of the file it wrote."""
    from accelctl.bench.profiles import profile_path
    from accelctl.bench.publish import COMPONENT, FILE_ANNOTATION, VERBS, configmap_name

    name, spec, profile = unit.name, unit.spec, unit.profile
    u = profile.unit
    written = profile_path(BENCH_OUT, profile).as_posix()
    command = ["accelctl", "bench", "--url", f"http://{name}.{fleet.namespace}:{SERVICE_PORT}"]
    command += ["--instance-type", u.instance_type]
    # Without a fleet region, bench's own default region prices it: nothing the spec did not give.
    command += ["--region", fleet.region] if fleet.region else []
    command += ["--spot"] if spec.capacity_type == "spot" else []
    command += ["--replicas-per-instance", str(profile.replicas_per_instance), "--slo", number(fleet.slo_s)]
    command += ["--request-shape", "genimage", "--model", u.model, "--target", u.target]
    command += ["--steps", str(profile.steps), "--out-dir", BENCH_OUT]
    configmap = configmap_name(name)
    return {
        "bench_name": f"bench-{name}",
        "bench_command": command,
        "push_command": [
            "accelctl",
            "profile",
            "push",
            written,
            "--configmap",
            configmap,
            "--namespace",
            fleet.namespace,
        ],
        "profile_configmap": configmap,
        "profile_labels": _labels(fleet, COMPONENT, name),
        "profile_annotations": {FILE_ANNOTATION: spec.profile},
        "profile_verbs": list(VERBS),
    }


def _route_context(fleet: FleetSpec) -> dict:
    parent = None
    if fleet.gateway:
        ns, _, gw = fleet.gateway.rpartition("/")
        parent = {"name": gw, **({"namespace": ns} if ns else {})}
    labels = _labels(fleet, "routing", fleet.name)
    return {
        "labels": labels,
        "action": ALB_ACTION,
        "parent_ref": parent,
        "all_service": f"{fleet.name}-all",
        "all_selector": {"app.kubernetes.io/part-of": fleet.name, "app.kubernetes.io/component": "server"},
    }


def _watch(fleet: FleetSpec, units: tuple[ResolvedUnit, ...], profiles_dir: Path | str) -> dict:
    name = f"{fleet.name}-watch"
    labels = _labels(fleet, "controller", name)
    config = {"fleet.yaml": yaml.safe_dump(fleet.model_dump(mode="json", exclude_none=True), sort_keys=False)}
    items = [{"key": "fleet.yaml", "path": "fleet.yaml"}]
    for u in units:
        spec = u.spec
        key = re.sub(r"[^-._a-zA-Z0-9]", "_", spec.profile)
        if key not in config:
            config[key] = (Path(profiles_dir) / spec.profile).read_text()
            items.append({"key": key, "path": f"profiles/{spec.profile}"})
    group, resource, _ = ROUTES[fleet.routing]
    return {
        "name": name,
        "labels": labels,
        "selector": _selector(labels),
        "route_group": group,
        "route_resource": resource,
        "sources": WATCH_SOURCES[fleet.metrics],
        "actuator": ACTUATORS[fleet.routing][0],
        "actuator_options": ACTUATORS[fleet.routing][1],
        "metrics_port": WATCH_METRICS_PORT,
        "service": WATCH_SERVICE,
        "config": config,
        "config_items": items,
    }


def _compile_job(fleet: FleetSpec, unit: ResolvedUnit) -> str:
    from accelctl.targets.neuron import compile_job

    spec, profile = unit.spec, unit.profile
    job = compile_job(
        model=profile.unit.model,
        target=profile.unit.target,
        shape=profile.shape,
        image=spec.image or fleet.image,
        namespace=fleet.namespace,
        instance_type=profile.unit.instance_type,
        name=f"compile-{unit.name}",
        builds_claim=fleet.builds_claim,
    )
    return HEADER + _dump(job)


# ---------------------------------------------------------------- templates and YAML


def _environment(templates: Path | None) -> jinja2.Environment:
    loaders = []
    if templates is not None:
        if not Path(templates).is_dir():
            raise InputError(
                f"--templates {templates}: no such folder; copy deploy_templates/ and point "
                "--templates at the copy"
            )
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    if not DEFAULT_TEMPLATES.is_dir():
        raise InputError(
            f"{DEFAULT_TEMPLATES}: accelctl's deploy templates are missing; pass --templates DIR"
        )
    loaders.append(jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # JSON is YAML: quoting every value through it keeps names and numbers from being misread.
    env.filters["q"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


def _render(env: jinja2.Environment, template: str, ctx: dict) -> str:
    try:
        text = env.get_template(template).render(**ctx)
    except jinja2.TemplateNotFound:
        raise InputError(f"template {template}: not found in --templates or {DEFAULT_TEMPLATES}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template {template}: line {exc.lineno}: {exc.message}; fix the template") from None
    except jinja2.UndefinedError as exc:
        raise InputError(
            f"template {template}: {exc.message}; use only the variables the stock template uses"
        ) from None
    try:
        obj = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"template {template}: rendered YAML does not parse{at}; fix the template") from None
    if not isinstance(obj, dict):
        raise InputError(f"template {template}: must render one YAML mapping (one Kubernetes object)")
    return HEADER + _dump(obj)


# libyaml parses several times faster where PyYAML has it; parsing does not shape the output. Dumping
# stays pure Python so the bytes never depend on whether libyaml is there.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(yaml.SafeDumper):
    """Block style, key order as written, multi-line strings (ConfigMap files) as literal blocks."""

    def ignore_aliases(self, data: object) -> bool:
        return True  # a shared dict is written out twice, never as &anchor / *alias


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(obj: object) -> str:
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16
    )
