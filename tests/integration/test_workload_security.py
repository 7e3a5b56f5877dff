"""Every workload `accelctl deploy` renders (unit Deployments, bench and compile Jobs, the watch
controller, and whatever a later template adds) runs locked down the same way, so a new template
cannot forget it: non-root with a numeric uid, no privilege escalation, every capability dropped, a
read-only root filesystem, the RuntimeDefault seccomp profile, CPU and memory requests and limits,
and no service-account token unless the pod runs under its own ServiceAccount (one that a Role grants
what the pod does with the API)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "paper-sd21": (REPO / "examples" / "paper-sd21.yaml", REPO / "examples" / "paper" / "profiles"),
    "cpu-fleet": (REPO / "examples" / "cpu-fleet.yaml", REPO / "examples" / "cpu" / "profiles"),
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def findings(obj: dict, service_accounts: set[str], bound: set[str]) -> list[str]:
    """What is wrong with one workload's security settings, as readable lines (empty: nothing)."""
    spec = pod_spec(obj)
    pod = spec.get("securityContext") or {}
    bad: list[str] = []
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        bad.append("shares a host namespace")
    account = spec.get("serviceAccountName")
    if account is None:
        if spec.get("automountServiceAccountToken") is not False:
            bad.append("mounts the default ServiceAccount's token (set automountServiceAccountToken: false)")
    elif account not in service_accounts or account not in bound:
        bad.append(f"runs as ServiceAccount {account!r}, which is not rendered with a RoleBinding")
    for c in spec.get("initContainers", []) + spec["containers"]:
        ctx = {**pod, **(c.get("securityContext") or {})}
        name = f"container {c['name']}"
        if ctx.get("runAsNonRoot") is not True:
            bad.append(f"{name}: runAsNonRoot is not true")
        if not isinstance(ctx.get("runAsUser"), int) or ctx["runAsUser"] == 0:
            bad.append(f"{name}: runAsUser is not a numeric non-root uid")
        if ctx.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name}: allowPrivilegeEscalation is not false")
        if ctx.get("privileged"):
            bad.append(f"{name}: privileged")
        if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
            bad.append(f"{name}: capabilities do not drop ALL")
        if (ctx.get("capabilities") or {}).get("add"):
            bad.append(f"{name}: adds capabilities")
        if ctx.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{name}: readOnlyRootFilesystem is not true")
        if (ctx.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            bad.append(f"{name}: seccompProfile is not RuntimeDefault")
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(part) or {})
            if missing:
                bad.append(f"{name}: no {part} for {', '.join(sorted(missing))}")
    return bad


def test_the_check_catches_a_workload_that_forgets_its_settings():
    bare = {
        "kind": "Job",
        "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "i", "resources": {}}]}}},
    }
    found = "\n".join(findings(bare, set(), set()))
    for what in (
        "token",
        "runAsNonRoot",
        "runAsUser",
        "allowPrivilegeEscalation",
        "drop ALL",
        "readOnlyRootFilesystem",
        "seccompProfile",
        "no requests for cpu, memory",
        "no limits for cpu, memory",
    ):
        assert what in found
    stranger = {"kind": "Pod", "spec": {"serviceAccountName": "admin", "containers": []}}
    assert findings(stranger, set(), set()) == [
        "runs as ServiceAccount 'admin', which is not rendered with a RoleBinding"
    ]


@pytest.mark.parametrize("routing", ["alb", "gateway"])
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_rendered_workload_is_locked_down(example, routing):
    fleet_path, profiles = EXAMPLES[example]
    fleet = load_fleet(fleet_path).model_copy(update={"routing": routing})
    objects = [yaml.safe_load(t) for t in render(fleet, profiles, where=str(fleet_path)).files.values()]
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    bound = {
        s["name"]
        for o in objects
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding")
        for s in o.get("subjects", [])
        if s["kind"] == "ServiceAccount"
    }
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    components = {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in workloads}
    # The kinds of workload this fleet renders, so the test cannot pass by finding none.
    assert {"server", "bench", "controller"} <= components
    assert ("compile" in components) == (example == "paper-sd21")  # only Neuron units with a builds claim
    problems = [
        f"{o['kind']} {o['metadata']['name']}: {line}"
        for o in workloads
        for line in findings(o, accounts, bound)
    ]
    assert not problems, "\n".join(problems)
