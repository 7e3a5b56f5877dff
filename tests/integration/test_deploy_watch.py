"""The rendered watch controller's inputs work with `accelctl watch` as it is.

The ConfigMap is materialised as the pod would mount it; `accelctl watch --once` then runs on it
with the static source and the `file` actuator pointed at the rendered route: it writes the initial
weights into the route (rendered without them) and, when a pool runs short, rewrites them. The options the
rendered Deployment passes are checked against the watch plug-ins' own configs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import accelctl.cli
from accelctl.cli.watch import parse_options, plugin_options
from accelctl.control.actuators import ACTUATORS
from accelctl.control.sources import SOURCES
from accelctl.deploy import output
from accelctl.deploy.render import render
from accelctl.units import load_fleet

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"


def mount_config(out: Path, etc: Path) -> None:
    """Write the watch ConfigMap's items where the Deployment mounts them (/etc/accelctl)."""
    configmap = yaml.safe_load((out / "watch" / "configmap.yaml").read_text())
    deployment = yaml.safe_load((out / "watch" / "deployment.yaml").read_text())
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    for item in volume["configMap"]["items"]:
        (etc / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (etc / item["path"]).write_text(configmap["data"][item["key"]])


def watch_once(etc: Path, metrics: dict, route: Path, tmp_path: Path) -> dict:
    static = tmp_path / "metrics.yaml"
    static.write_text(yaml.safe_dump({"units": metrics}))
    result = CliRunner().invoke(
        accelctl.cli.app,
        [
            "watch",
            "--fleet",
            str(etc / "fleet.yaml"),
            "--profiles",
            str(etc / "profiles"),
            "--source",
            "static",
            "--source-opt",
            f"path={static}",
            "--actuator",
            "file",
            "--actuator-opt",
            f"path={route}",
            "--policy",
            "cost",
            "--once",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    "routing, route", [("alb", "routing/ingress.yaml"), ("gateway", "routing/httproute.yaml")]
)
def test_watch_reads_and_rewrites_the_rendered_route(tmp_path, routing, route):
    fleet = load_fleet(PAPER).model_copy(update={"routing": routing})
    manifests = render(fleet, PROFILES)
    out, etc = tmp_path / "out", tmp_path / "etc"
    output.write(manifests.files, out)
    mount_config(out, etc)
    up = {name: {"rps": 1.0, "p95": 0.5, "ready": 1, "desired": 1} for name in manifests.weights}

    record = watch_once(etc, up, out / route, tmp_path)
    # The rendered route carries no weights (docs/gitops.md): watch writes the initial ones first, the
    # same cost-mode weights deploy reports, then finds nothing to change.
    assert record["weights_before"] == manifests.weights
    assert record["proposed"] == manifests.weights  # the same cost-mode policy on the same profiles
    seeded = (out / route).read_text()
    assert seeded != manifests.files[route]
    record = watch_once(etc, up, out / route, tmp_path)
    assert record["weights_before"] == manifests.weights and not record["applied"]
    assert (out / route).read_text() == seeded  # nothing to write

    short = {**up, "sd21-trn1-neuron": {**up["sd21-trn1-neuron"], "capacity_events": 1}}
    record = watch_once(etc, short, out / route, tmp_path)
    assert record["applied"] and record["weights_after"]["sd21-trn1-neuron"] == 0
    assert sum(record["weights_after"].values()) == 100
    rewritten = yaml.safe_load((out / route).read_text())
    assert rewritten["kind"] == yaml.safe_load(manifests.files[route])["kind"]


@pytest.mark.parametrize("routing", ["alb", "gateway"])
@pytest.mark.parametrize("metrics", ["prometheus", "cloudwatch"])
def test_the_rendered_watch_options_build_the_plugins(routing, metrics):
    fleet = load_fleet(PAPER).model_copy(update={"routing": routing, "metrics": metrics})
    deployment = yaml.safe_load(render(fleet, PROFILES).files["watch/deployment.yaml"])
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    sources = [command[i + 1] for i, a in enumerate(command) if a == "--source"]
    actuator = command[command.index("--actuator") + 1]
    actuator_opts = [command[i + 1] for i, a in enumerate(command) if a == "--actuator-opt"]
    # host= keeps the kubernetes client from looking for a kubeconfig; nothing is contacted.
    connection = {"host": "http://127.0.0.1:9"}
    act = ACTUATORS.create(
        actuator,
        {**plugin_options(actuator, fleet, parse_options(actuator_opts, "--actuator-opt")), **connection},
    )
    assert (getattr(act.config, "ingress", None) or act.config.route) == fleet.name
    assert act.config.namespace == fleet.namespace
    assert sources == (["prometheus", "kubernetes"] if metrics == "prometheus" else ["kubernetes"])
    for source in sources:
        src = SOURCES.create(
            source, {**plugin_options(source, fleet, {}), **(connection if source == "kubernetes" else {})}
        )
        assert type(src).__name__.lower().startswith(source)
        src.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_rendered_watch_serves_its_probes_and_the_series_the_dashboard_and_alerts_use(tmp_path):
    """The rendered watch Deployment's own command (sources and actuator swapped for the static file
    and the file actuator, no leader election, the metrics port moved to a free loopback one), probed
    where its liveness and readiness probes point and scraped where its Service and annotations point."""
    import re
    import subprocess
    import sys
    import time

    import httpx

    from accelctl.deploy import observability

    manifests = render(load_fleet(PAPER), PROFILES)
    out, etc = tmp_path / "out", tmp_path / "etc"
    output.write(manifests.files, out)
    mount_config(out, etc)
    deployment = yaml.safe_load(manifests.files["watch/deployment.yaml"])
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    service = yaml.safe_load(manifests.files["watch/service.yaml"])

    # The wiring between Service, container port, probes, annotations and the --metrics-port argument.
    [port] = [p for p in container["ports"] if p["name"] == "metrics"]
    command = container["command"]
    assert command[command.index("--metrics-port") + 1] == str(port["containerPort"]) == "9464"
    assert service["metadata"]["name"] == "accelctl-watch"  # what the ScaledObjects' /planned URL names
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert {p["port"] for p in probes.values()} == {"metrics"}
    assert [p["path"] for p in probes.values()] == ["/healthz", "/readyz"]

    static = tmp_path / "metrics.yaml"
    units = {n: {"rps": 1.0, "p95": 0.5, "ready": 1, "desired": 1} for n in manifests.weights}
    static.write_text(yaml.safe_dump({"units": units}))
    free = _free_port()
    args, skip = [], 0
    for a in command[1:]:
        if skip:
            skip -= 1
        elif a in ("--source", "--actuator", "--actuator-opt", "--metrics-port"):
            skip = 1
        elif a != "--leader-elect":
            args.append(a.replace("/etc/accelctl", str(etc)))
    args += ["--source", "static", "--source-opt", f"path={static}", "--actuator", "file"]
    args += ["--actuator-opt", f"path={out / 'routing' / 'ingress.yaml'}", "--interval", "0.5"]
    args += ["--metrics-host", "127.0.0.1", "--metrics-port", str(free)]
    code = "import sys; from accelctl.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{free}"
    try:
        answers: dict[str, int] = {}
        with httpx.Client(timeout=5.0) as http:
            for _ in range(300):  # at most ~60 s on a loaded machine: start-up, then a tick
                if proc.poll() is not None:
                    break
                try:
                    answers = {p["path"]: http.get(base + p["path"]).status_code for p in probes.values()}
                except (OSError, httpx.HTTPError):
                    answers = {}
                if answers and all(code == 200 for code in answers.values()):
                    break
                time.sleep(0.2)
            assert answers == {"/healthz": 200, "/readyz": 200}, (
                proc.stderr.read().decode() if proc.poll() is not None else answers
            )
            text = http.get(base + "/metrics").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    served = set(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    names = {n for n, _ in served} | {f"{n}_total" for n, t in served if t == "counter"}
    wanted = {
        getattr(observability, k)
        for k in dir(observability)
        if isinstance(getattr(observability, k), str)
        and getattr(observability, k).startswith("accelctl_controller_")
    }
    assert len(wanted) >= 10 and wanted <= names, sorted(wanted - names)
