"""Issue 14, acceptance 2: the rendered bench Job, run against the fake Kubernetes API and a stand-in
server, leaves a profile that `accelctl profile pull` writes byte for byte, and that profile is what
`bench --url` writes when run by hand.

The Job's two containers are run as the kubelet would run them, one after the other, with their
command lines taken from the rendered YAML: the pod's /tmp emptyDir is a temporary folder, the URL
of the unit's Service is the stand-in's (tests/integration/bench_capacity_server.py), and the probes
are shortened (later options win) so the search takes seconds, not minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bench_capacity_server import running
from fake_kube import FakeKube
from test_gitops_reapply import APPLIERS
from typer.testing import CliRunner

from accelctl.bench.publish import FILE_ANNOTATION, KEY, push
from accelctl.cli import app
from accelctl.control.clients import KubeConnection
from accelctl.deploy.render import render
from accelctl.units import load_fleet, load_profile

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"
UNIT = "sd21-g5-cuda"
SHORT = ["--min-requests", "10", "--min-seconds", "0.5", "--max-seconds", "5", "--baseline", "3"]
SHORT += ["--warmup", "1", "--max-probes", "6"]
# What differs between two runs of the same bench: the measurements and when they were taken.
MEASURED = {"latency", "curve", "breaking_point_rps", "breaking_point_method", "created"}
MEASURED |= {"cost_per_inference", "cost_per_million", "efficiency"}
runner = CliRunner()


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result


def rendered() -> dict[str, dict]:
    files = render(load_fleet(FLEET), PROFILES).files
    return {path: yaml.safe_load(text) for path, text in files.items() if path.startswith(f"units/{UNIT}/")}


def kubeconfig(path: Path, url: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": url}}],
                "users": [{"name": "fake", "user": {"token": "fake"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    return path


def with_url(command: list[str], url: str) -> list[str]:
    i = command.index("--url")
    return [*command[: i + 1], url, *command[i + 2 :]]


def test_the_bench_job_publishes_what_profile_pull_writes(tmp_path, monkeypatch):
    objs = rendered()
    job, cm = objs[f"units/{UNIT}/bench-job.yaml"], objs[f"units/{UNIT}/profile-configmap.yaml"]
    role, binding = objs[f"units/{UNIT}/bench-role.yaml"], objs[f"units/{UNIT}/bench-rolebinding.yaml"]
    pod = job["spec"]["template"]["spec"]
    (bench,), (publish,) = pod["initContainers"], pod["containers"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "sd21"}
    ]
    assert "data" not in cm  # rendered empty: a re-apply never wipes a published profile

    pod_tmp = tmp_path / "pod-tmp"  # the pod's /tmp emptyDir, shared by both containers

    def in_pod(command: list[str]) -> list[str]:
        return [a.replace("/tmp/", f"{pod_tmp}/", 1) if a.startswith("/tmp/") else a for a in command]

    empty = tmp_path / "workdir"  # the container's working directory: no profiles/catalog.yaml in it
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with FakeKube() as kube, running(2, 0.05) as url:
        kube.add(cm)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kubeconfig", kube.url)))
        assert bench["command"][:2] == ["accelctl", "bench"] and publish["command"][:3] == [
            "accelctl",
            "profile",
            "push",
        ]
        measured = invoke(in_pod(with_url(bench["command"], url))[1:] + SHORT)
        assert "price catalog: the packaged one" in measured.stderr  # the image's catalog prices it
        (written,) = (pod_tmp / "profiles").glob("*.yaml")
        invoke(in_pod(publish["command"])[1:])

        # Every call the Job made is one its Role grants, on the one ConfigMap it names.
        (rule,) = role["rules"]
        verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}
        calls = [(verbs[r.method], r.path) for r in kube.requests]
        assert calls == [
            ("get", f"/api/v1/namespaces/sd21/configmaps/{name}") for name in rule["resourceNames"]
        ] + [("update", f"/api/v1/namespaces/sd21/configmaps/{name}") for name in rule["resourceNames"]]
        assert {v for v, _ in calls} <= set(rule["verbs"]) and rule["resources"] == ["configmaps"]

        operator = tmp_path / "operator"
        operator.mkdir()
        monkeypatch.chdir(operator)
        pulled = invoke(["profile", "pull", "--namespace", "sd21", "--unit", UNIT, "-o", "profiles"])
        # The file name is the one the fleet spec gives the unit's profile: the next deploy reads it.
        fleet_file = next(u.profile for u in load_fleet(FLEET).units if u.name == UNIT)
        assert (operator / "profiles" / fleet_file).read_bytes() == written.read_bytes()
        assert f"profiles/{fleet_file}" in pulled.stdout
        assert [p.name for p in (operator / "profiles").iterdir()] == [fleet_file]
        # Without --unit every published profile of the namespace comes down.
        (operator / "profiles" / fleet_file).unlink()
        invoke(["profile", "pull", "--namespace", "sd21", "-o", "profiles"])
        assert (operator / "profiles" / fleet_file).read_bytes() == written.read_bytes()

        # By hand, the same bench command writes the same profile but for what it measured.
        by_hand = tmp_path / "by-hand"
        monkeypatch.chdir(empty)
        invoke(with_url(bench["command"], url)[1:] + SHORT + ["--out-dir", str(by_hand)])
    (local,) = by_hand.glob("*.yaml")
    assert local.name == written.name
    ours, theirs = yaml.safe_load(written.read_text()), yaml.safe_load(local.read_text())
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in MEASURED} == {
        k: v for k, v in theirs.items() if k not in MEASURED
    }
    profile = load_profile(written)
    assert (profile.unit.instance_type, profile.unit.target, profile.slo_s) == ("g5.xlarge", "cuda", 0.9)
    assert profile.price_source.startswith("catalog us-west-2 on-demand: ")
    # Half-second probes measure the stand-in's capacity roughly (test_bench_endpoint checks accuracy).
    assert profile.breaking_point_rps > 0 and profile.curve


def test_pull_says_which_jobs_have_not_published_and_writes_nothing_when_none_has(tmp_path, monkeypatch):
    cm = rendered()[f"units/{UNIT}/profile-configmap.yaml"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with FakeKube() as kube:
        kube.add(cm)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kubeconfig", kube.url)))
        result = runner.invoke(app, ["profile", "pull", "--namespace", "sd21"])
    assert result.exit_code == 1, result.output
    assert f"{UNIT}: no profile yet; unsuspend Job bench-{UNIT}" in result.stderr
    assert "no bench Job has published a profile yet; nothing written" in result.stderr
    assert not (tmp_path / "profiles").exists()


def test_push_refuses_a_file_that_is_not_a_profile(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("unit: {model: m}\n")
    result = runner.invoke(app, ["profile", "push", str(bad), "--configmap", "c", "--namespace", "n"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}: field 'unit.instance_type'")


@pytest.mark.parametrize("applier", sorted(APPLIERS))
def test_reapplying_the_fleet_keeps_a_published_profile(applier):
    """The ConfigMap is rendered without data; the bench Job's update owns profile.yaml, so an Argo CD
    sync, a Flux reconcile or a `kubectl apply -k` of the same manifests leaves it alone."""
    cm = rendered()[f"units/{UNIT}/profile-configmap.yaml"]
    profile = (PROFILES / "g5-cuda.yaml").read_text()
    with FakeKube() as kube:
        APPLIERS[applier](kube, cm)
        push(KubeConnection(host=kube.url), "sd21", cm["metadata"]["name"], profile)
        APPLIERS[applier](kube, cm)
        live = kube.get("ConfigMap", cm["metadata"]["name"], "sd21")
    assert live["data"] == {KEY: profile}
    assert live["metadata"]["annotations"][FILE_ANNOTATION] == "g5-cuda.yaml"
