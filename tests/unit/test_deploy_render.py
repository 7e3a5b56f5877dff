"""What `accelctl.deploy.render` puts in the manifests: weights, scaling targets, devices, RBAC, templates."""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml

from accelctl.control.policy import PolicyContext, cost_scores, decide, integer_weights
from accelctl.control.types import MetricsSnapshot, PolicyState, UnitMetrics
from accelctl.deploy.render import DEFAULT_TEMPLATES, render
from accelctl.errors import InputError
from accelctl.units import load_fleet, resolve_fleet

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper-sd21.yaml"
PAPER_PROFILES = REPO / "examples" / "paper" / "profiles"
CPU = REPO / "examples" / "cpu-fleet.yaml"
CPU_PROFILES = REPO / "examples" / "cpu" / "profiles"
UNITS = [
    "sd21-inf2-neuron",
    "sd21-trn1-neuron",
    "sd21-g5-cuda-compile",
    "sd21-g6-cuda-compile",
    "sd21-g5-cuda",
]


def paper(**update):
    return _paper(tuple(sorted(update.items())))


@cache
def _paper(update: tuple):
    # Renders are shared between tests (none mutates one): each takes a few tenths of a second.
    return render(load_fleet(PAPER).model_copy(update=dict(update)), PAPER_PROFILES)


def obj(manifests, path: str) -> dict:
    return yaml.safe_load(manifests.files[path])


def test_initial_weights_are_the_cost_mode_policy_weights():
    """score = T/(C·L) with C = price/(T·3600), i.e. 3600·T²/(price·L):
    inf2 3600·1.75²/(0.7582·0.67) = 21703, trn1 3600·2.1667²/(1.3438·0.51) = 24660,
    g5 compile 3600·1.5²/(1.006·0.68) = 11841, g6 3600·1.0167²/(0.8048·0.96) = 4816,
    g5 eager 3600·1²/(1.006·0.92) = 3890; Σ = 66910 -> 32.4, 36.9, 17.7, 7.2, 5.8 -> 32, 37, 18, 7, 6."""
    fleet = load_fleet(PAPER)
    models = resolve_fleet(fleet, PAPER_PROFILES)
    manifests = paper()
    assert manifests.weights == dict(zip(UNITS, [32, 37, 18, 7, 6], strict=False))
    assert manifests.weights == integer_weights(cost_scores(models, {u.name: True for u in models}))
    every_unit_up = MetricsSnapshot(0.0, {u.name: UnitMetrics(ready=1, desired=1) for u in models})
    decision, _ = decide("cost", PolicyContext(models, every_unit_up, fleet.policy), PolicyState())
    assert decision.weights == manifests.weights


def test_the_routes_leave_the_weights_to_watch():
    """The weights are not rendered (docs/gitops.md): the Ingress routes to the action watch writes, the
    HTTPRoute has no rules (the CRD defaults them; watch writes the weighted backendRefs)."""
    alb = paper(routing="alb")
    ingress = obj(alb, "routing/ingress.yaml")
    assert not [
        k for k in ingress["metadata"]["annotations"] if k.startswith("alb.ingress.kubernetes.io/actions.")
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "weighted-routing", "port": {"name": "use-annotation"}}
    assert sum(alb.weights.values()) == 100  # what deploy reports and watch writes first

    gateway = paper(routing="gateway")
    route = obj(gateway, "routing/httproute.yaml")
    assert "rules" not in route["spec"]
    assert route["spec"]["parentRefs"] == [{"name": "inference-gateway", "namespace": "sd21"}]
    assert gateway.weights == alb.weights


def test_capacity_twin_routes_round_robin_over_every_server():
    m = paper(routing="alb")
    twin = obj(m, "capacity/ingress.yaml")
    assert twin["metadata"]["name"] == obj(m, "routing/ingress.yaml")["metadata"]["name"]  # replaces it
    assert "alb.ingress.kubernetes.io/actions.weighted-routing" not in twin["metadata"]["annotations"]
    svc = obj(m, "capacity/service.yaml")
    assert (
        twin["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == svc["metadata"]["name"]
    )
    assert svc["spec"]["selector"] == {
        "app.kubernetes.io/part-of": "sd21",
        "app.kubernetes.io/component": "server",
    }
    for unit in UNITS:  # the selector picks every unit's server pods, and only those
        labels = obj(m, f"units/{unit}/deployment.yaml")["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items()
        bench = obj(m, f"units/{unit}/bench-job.yaml")["spec"]["template"]["metadata"]["labels"]
        assert not svc["spec"]["selector"].items() <= bench.items()
    assert "capacity/ingress.yaml" not in obj(m, "kustomization.yaml")["resources"]
    assert obj(m, "capacity/kustomization.yaml")["resources"] == ["ingress.yaml", "service.yaml"]


def test_keda_scales_at_breaking_point_times_headroom():
    """Under auto, inf2: T = 1.75 rps, headroom 0.8 -> 1.4 rps per replica, 84 requests per minute on
    CloudWatch."""
    auto = load_fleet(PAPER).policy.model_copy(update={"mode": "auto"})

    def rendered(metrics: str):
        fleet = load_fleet(PAPER).model_copy(update={"metrics": metrics, "policy": auto})
        return render(fleet, PAPER_PROFILES)

    prom = obj(rendered("prometheus"), "units/sd21-inf2-neuron/scaledobject.yaml")["spec"]
    trigger = prom["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metadata"]["threshold"] == "1.4"
    assert 'accelctl_requests_total{unit="sd21-inf2-neuron"' in trigger["metadata"]["query"]
    assert (prom["minReplicaCount"], prom["maxReplicaCount"]) == (1, 10)
    cw = obj(rendered("cloudwatch"), "units/sd21-inf2-neuron/scaledobject.yaml")["spec"]["triggers"][0]
    assert cw["type"] == "aws-cloudwatch"
    assert cw["metadata"]["targetMetricValue"] == "84"
    assert cw["metadata"]["awsRegion"] == "us-west-2"
    assert (cw["metadata"]["dimensionName"], cw["metadata"]["dimensionValue"]) == ("unit", "sd21-inf2-neuron")


def test_under_plan_the_rate_trigger_is_the_floor_and_the_planned_replicas_trigger_reads_watch():
    """plan (the default): the rate trigger at route_utilization 0.9 -> 1.75 × 0.9 = 1.575 rps per
    replica; a metrics-api trigger on watch's /planned at 1 per replica."""
    for metrics in ("prometheus", "cloudwatch"):
        triggers = obj(paper(metrics=metrics), "units/sd21-inf2-neuron/scaledobject.yaml")["spec"]["triggers"]
        assert [t["type"] for t in triggers][1] == "metrics-api"
        assert triggers[1] == {
            "type": "metrics-api",
            "metricType": "AverageValue",
            "metadata": {
                "url": "http://accelctl-watch.sd21.svc:9464/planned",
                "valueLocation": "units.sd21-inf2-neuron.planned_replicas",
                "targetValue": "1",
            },
        }
    prom = obj(paper(metrics="prometheus"), "units/sd21-inf2-neuron/scaledobject.yaml")["spec"]["triggers"][0]
    assert prom["metadata"]["threshold"] == "1.575"


def test_servers_request_their_devices_and_land_on_their_pool():
    m = paper()
    want = {
        "sd21-inf2-neuron": ("inf2", "aws.amazon.com/neuron"),
        "sd21-trn1-neuron": ("trn1", "aws.amazon.com/neuron"),
        "sd21-g5-cuda-compile": ("g5", "nvidia.com/gpu"),
        "sd21-g6-cuda-compile": ("g6", "nvidia.com/gpu"),
        "sd21-g5-cuda": ("g5", "nvidia.com/gpu"),
    }
    builds = {u.name: u.build for u in load_fleet(PAPER).units}
    for unit, (pool, device) in want.items():
        pod = obj(m, f"units/{unit}/deployment.yaml")["spec"]["template"]["spec"]
        server = pod["containers"][0]
        assert server["resources"]["requests"][device] == server["resources"]["limits"][device] == "1"
        assert pod["nodeSelector"] == {"karpenter.sh/nodepool": pool}
        taints = obj(m, f"nodes/nodepool-{pool}.yaml")["spec"]["template"]["spec"]["taints"]
        assert [t["key"] for t in taints] == [device] == [t["key"] for t in pod["tolerations"]]
        command = server["command"]
        assert command[:3] == ["accelctl", "serve", builds[unit]]
        assert command[command.index("--unit-name") + 1] == unit
        assert command[command.index("--port") + 1] == "8000"
        assert (
            command[command.index("--instance-type") + 1]
            == f"{pool}.{'2xlarge' if pool == 'trn1' else 'xlarge'}"
        )
        assert server["readinessProbe"]["httpGet"]["path"] == "/readiness"
        assert server["livenessProbe"]["httpGet"]["path"] == "/health"
        startup = server["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60
        assert server["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
        assert shm["emptyDir"]["medium"] == "Memory"


def test_node_pools_union_their_units_and_cap_devices():
    m = paper()
    assert sorted(m.pools) == ["g5", "g6", "inf2", "trn1"]
    g5 = obj(m, "nodes/nodepool-g5.yaml")["spec"]
    assert g5["template"]["spec"]["requirements"][0]["values"] == ["g5.xlarge"]
    assert g5["limits"] == {"nvidia.com/gpu": 20}  # two units x max 10 replicas x 1 GPU
    node_class = obj(m, "nodes/ec2nodeclass.yaml")["spec"]
    assert node_class["role"] == "KarpenterNodeRole-sd21"
    assert node_class["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "sd21"}}]


def test_cpu_pools_get_their_own_taint_and_no_devices():
    m = render(load_fleet(CPU), CPU_PROFILES)
    pod = obj(m, "units/tiny-c7i-cpu/deployment.yaml")["spec"]["template"]["spec"]
    assert set(pod["containers"][0]["resources"]["requests"]) == {"cpu", "memory"}
    assert pod["tolerations"] == [
        {"key": "accelctl.io/pool", "operator": "Equal", "value": "c7i", "effect": "NoSchedule"}
    ]
    assert "limits" not in obj(m, "nodes/nodepool-c7i.yaml")["spec"]


def test_compile_jobs_only_for_neuron_units_with_a_builds_claim():
    m = paper()
    jobs = sorted(p for p in m.files if p.endswith("compile-job.yaml"))
    assert jobs == ["units/sd21-inf2-neuron/compile-job.yaml", "units/sd21-trn1-neuron/compile-job.yaml"]
    job = obj(m, jobs[0])
    assert job["metadata"]["namespace"] == "sd21"
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["accelctl", "compile"] and command[command.index("--target") + 1] == "inf2"
    assert (
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "model-builds"
    )
    server = obj(m, "units/sd21-inf2-neuron/deployment.yaml")["spec"]["template"]["spec"]
    assert {
        "name": "model-builds",
        "persistentVolumeClaim": {"claimName": "model-builds", "readOnly": True},
    } in server["volumes"]
    assert not [p for p in paper(builds_claim=None).files if p.endswith("compile-job.yaml")]


def test_bench_jobs_target_each_units_service():
    m = paper()
    for unit in UNITS:
        job = obj(m, f"units/{unit}/bench-job.yaml")
        assert job["spec"]["suspend"] is True
        pod = job["spec"]["template"]["spec"]
        (bench,), (publish,) = pod["initContainers"], pod["containers"]
        command = bench["command"]
        assert command[:4] == ["accelctl", "bench", "--url", f"http://{unit}.sd21:8000"]
        opts = dict(zip(command[4::2], command[5::2], strict=True))
        # What `bench --url` needs and the server cannot say: instance type, price, SLO, request shape.
        assert (
            opts["--slo"] == "0.9"
            and opts["--region"] == "us-west-2"
            and opts["--request-shape"] == "genimage"
        )
        server = obj(m, f"units/{unit}/deployment.yaml")["spec"]["template"]["spec"]
        (term,) = server["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        assert opts["--instance-type"] in term["matchExpressions"][0]["values"]
        # publish pushes the file bench wrote into the unit's ConfigMap
        assert publish["command"][:3] == ["accelctl", "profile", "push"]
        assert publish["command"][3].startswith(opts["--out-dir"] + "/")
        assert publish["command"][4:] == ["--configmap", f"accelctl-profile-{unit}", "--namespace", "sd21"]
        assert obj(m, f"units/{unit}/service.yaml")["spec"]["ports"][0]["port"] == 8000


def test_only_the_publishing_container_of_a_bench_job_holds_an_api_token():
    m = paper()
    for unit in UNITS:
        pod = obj(m, f"units/{unit}/bench-job.yaml")["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == f"bench-{unit}"
        token = "/var/run/secrets/kubernetes.io/serviceaccount"
        assert [v["mountPath"] for v in pod["initContainers"][0]["volumeMounts"]] == ["/tmp"]
        assert {"name": "api-token", "mountPath": token, "readOnly": True} in pod["containers"][0][
            "volumeMounts"
        ]
        rules = obj(m, f"units/{unit}/bench-role.yaml")["rules"]
        assert rules == [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [f"accelctl-profile-{unit}"],
                "verbs": ["get", "update"],
            }
        ]
        cm = obj(m, f"units/{unit}/profile-configmap.yaml")
        assert cm["metadata"]["name"] == f"accelctl-profile-{unit}" and "data" not in cm


def test_watch_controller_gets_only_the_verbs_it_needs():
    for routing, group, resource, actuator in (
        ("alb", "networking.k8s.io", "ingresses", "alb-ingress"),
        ("gateway", "gateway.networking.k8s.io", "httproutes", "httproute"),
    ):
        m = paper(routing=routing)
        rules = obj(m, "watch/role.yaml")["rules"]
        assert rules[0] == {
            "apiGroups": [group],
            "resources": [resource],
            "resourceNames": ["sd21"],
            "verbs": ["get", "patch"],
        }
        writes = [
            r for r in rules if set(r["verbs"]) & {"patch", "update", "create", "delete", "deletecollection"}
        ]
        assert all(r["resources"] in ([resource], ["leases"]) for r in writes)
        assert all("*" not in r["verbs"] + r["resources"] + r["apiGroups"] for r in rules)
        events = obj(m, "watch/events-role.yaml")
        assert events["metadata"]["namespace"] == "default" and events["rules"][0]["verbs"] == [
            "get",
            "list",
            "watch",
        ]
        container = obj(m, "watch/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
        command = container["command"]
        assert command[command.index("--actuator") + 1] == actuator
        assert [command[i + 1] for i, a in enumerate(command) if a == "--actuator-opt"] == (
            ["action=weighted-routing", "service_port=8000"] if routing == "alb" else ["port=8000"]
        )
        assert "--leader-elect" in command
        assert [command[i + 1] for i, a in enumerate(command) if a == "--source"] == [
            "prometheus",
            "kubernetes",
        ]
        config = obj(m, "watch/configmap.yaml")["data"]
        assert yaml.safe_load(config["fleet.yaml"])["routing"] == routing
        assert set(config) == {
            "fleet.yaml",
            "inf2-neuron.yaml",
            "trn1-neuron.yaml",
            "g5-cuda-compile.yaml",
            "g6-cuda-compile.yaml",
            "g5-cuda.yaml",
        }


def test_watch_reads_pods_and_karpenter_events_when_scaling_on_cloudwatch():
    command = obj(paper(metrics="cloudwatch"), "watch/deployment.yaml")["spec"]["template"]["spec"][
        "containers"
    ][0]["command"]
    assert [command[i + 1] for i, a in enumerate(command) if a == "--source"] == ["kubernetes"]


def test_nothing_is_baked_in_that_the_spec_did_not_give():
    fleet = load_fleet(CPU).model_copy(update={"region": None, "metrics": "prometheus"})
    files = render(fleet, CPU_PROFILES).files
    # The ConfigMap carries the profiles verbatim (their price_source names a region): user text.
    text = "".join(t for p, t in files.items() if p != "watch/configmap.yaml")
    assert "region" not in yaml.safe_load(yaml.safe_load(files["watch/configmap.yaml"])["data"]["fleet.yaml"])
    assert not re.search(r"\b\d{12}\b", text)  # no AWS account id
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text)  # no region
    images = set(re.findall(r"image: (\S+)", text))
    assert images == {"registry.example.com/accelctl:0.1.0"}


def test_rendering_is_deterministic():
    assert _paper.__wrapped__(()).files == _paper.__wrapped__(()).files
    assert render(load_fleet(CPU), CPU_PROFILES).files == render(load_fleet(CPU), CPU_PROFILES).files


def test_templates_folder_overrides_file_by_file(tmp_path):
    (tmp_path / "unit").mkdir()
    stock = (DEFAULT_TEMPLATES / "unit" / "service.yaml.j2").read_text()
    (tmp_path / "unit" / "service.yaml.j2").write_text(
        stock.replace(
            "  labels: {{ u.labels | q }}\n", "  labels: {{ u.labels | q }}\n  annotations: {team: imaging}\n"
        )
    )
    custom = render(load_fleet(PAPER), PAPER_PROFILES, templates=tmp_path)
    stock_render = paper()
    assert obj(custom, "units/sd21-g5-cuda/service.yaml")["metadata"]["annotations"] == {"team": "imaging"}
    changed = [p for p in custom.files if custom.files[p] != stock_render.files[p]]
    assert sorted(changed) == sorted(f"units/{u}/service.yaml" for u in UNITS)


@pytest.mark.parametrize(
    "body, message",
    [
        ("kind: [unclosed\n", "rendered YAML does not parse"),
        ("{% if %}\n", "line 1"),
        ("name: {{ no_such_variable }}\n", "'no_such_variable' is undefined"),
        ("- a list\n", "must render one YAML mapping"),
    ],
)
def test_a_broken_template_names_itself(tmp_path, body, message):
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "unit" / "service.yaml.j2").write_text(body)
    with pytest.raises(InputError) as err:
        render(load_fleet(PAPER), PAPER_PROFILES, templates=tmp_path / "t")
    assert "template unit/service.yaml.j2" in err.value.message and message in err.value.message


def test_missing_templates_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="--templates .*no such folder"):
        render(load_fleet(PAPER), PAPER_PROFILES, templates=tmp_path / "nope")


def test_compile_jobs_build_in_the_dtype_the_profile_was_measured_in(tmp_path):
    # The paper's profiles predate the dtype field: the target's default (bf16 for Neuron). A profile
    # that records its build's dtype is compiled in it, so the deployed build is the benched one.
    def dtype_of(manifests) -> str:
        job = obj(manifests, "units/sd21-inf2-neuron/compile-job.yaml")
        command = job["spec"]["template"]["spec"]["containers"][0]["command"]
        return command[command.index("--dtype") + 1]

    assert dtype_of(paper()) == "bf16"
    shutil.copytree(PAPER_PROFILES, tmp_path, dirs_exist_ok=True)
    inf2 = tmp_path / "inf2-neuron.yaml"
    inf2.write_text(inf2.read_text() + "dtype: fp32\n")
    assert dtype_of(render(load_fleet(PAPER), tmp_path)) == "fp32"
