"""`accelctl watch` end to end on this machine: the paper fleet, a `static` metrics file, the `file`
actuator."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from accelctl.cli import app
from accelctl.cli.watch import parse_options
from accelctl.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "paper-sd21.yaml"
PROFILES = ROOT / "examples" / "paper" / "profiles"
UNITS = (
    "sd21-inf2-neuron",
    "sd21-trn1-neuron",
    "sd21-g5-cuda-compile",
    "sd21-g6-cuda-compile",
    "sd21-g5-cuda",
)
COST = dict(
    zip(UNITS, (32, 37, 18, 7, 6), strict=False)
)  # cost mode, arithmetic in tests/unit/test_policy.py
CAPACITY_NO_INF2 = dict(
    zip(UNITS, (0, 29, 29, 21, 21), strict=False)
)  # 85.25, 85.25, 61, 60 per minute without inf2

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "sd21",
        "namespace": "sd21",
        "annotations": {
            "alb.ingress.kubernetes.io/actions.weighted-routing": json.dumps(
                {
                    "type": "forward",
                    "forwardConfig": {
                        "targetGroups": [
                            {"serviceName": u, "servicePort": "8000", "weight": w} for u, w in COST.items()
                        ]
                    },
                }
            ),
        },
    },
    "spec": {
        "ingressClassName": "alb",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "weighted-routing", "port": {"name": "use-annotation"}}
                            },
                        }
                    ]
                }
            }
        ],
    },
}

runner = CliRunner()


def live_weights(path: Path) -> dict[str, int]:
    doc = yaml.safe_load(path.read_text())
    action = json.loads(doc["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted-routing"])
    return {tg["serviceName"]: tg["weight"] for tg in action["forwardConfig"]["targetGroups"]}


@pytest.fixture
def fleet(tmp_path):
    ingress = tmp_path / "ingress.yaml"
    ingress.write_text(yaml.safe_dump(INGRESS, sort_keys=False))
    metrics = tmp_path / "metrics.yaml"

    def write_metrics(short: set[str] = frozenset(), **overrides) -> None:
        units = {u: {"rps": 1.0, "p95": 0.5, "ready": 2, "desired": 2} for u in UNITS}
        for u in short:
            units[u]["capacity_events"] = 1
        units.update(overrides)
        metrics.write_text(yaml.safe_dump({"units": units}))

    write_metrics()
    return tmp_path, ingress, metrics, write_metrics


def watch(metrics: Path, ingress: Path, *extra: str):
    args = [
        "watch",
        "--fleet",
        str(FLEET),
        "--profiles",
        str(PROFILES),
        "--source",
        "static",
        "--source-opt",
        f"path={metrics}",
        "--actuator",
        "file",
        "--actuator-opt",
        f"path={ingress}",
        # No exporter unless a test asks for one: its default port would bind every interface.
        *([] if "--metrics-port" in extra else ["--metrics-port", "0"]),
        # The weights below are the paper's modes' arithmetic: auto unless a test names its policy.
        *([] if "--policy" in extra else ["--policy", "auto"]),
        *extra,
    ]
    return runner.invoke(app, args, env={"COLUMNS": "160"})


def test_dry_run_prints_the_diff_and_writes_nothing(fleet):
    _, ingress, metrics, write_metrics = fleet
    write_metrics(short={"sd21-inf2-neuron"})
    before = ingress.read_text()
    r = watch(metrics, ingress, "--once", "--dry-run", "--headless")
    assert r.exit_code == 0, r.output
    # inf2's pool is short: cost pool at 68 % < 80 % -> capacity mode over the other four.
    assert "mode=capacity held (dry_run)" in r.output
    assert "dry run: would change weights:" in r.output
    for line in (
        "sd21-inf2-neuron  32 -> 0 (-32)",
        "sd21-trn1-neuron  37 -> 29 (-8)",
        "sd21-g5-cuda-compile  18 -> 29 (+11)",
        "sd21-g6-cuda-compile  7 -> 21 (+14)",
        "sd21-g5-cuda  6 -> 21 (+15)",
    ):
        assert line in r.output
    assert ingress.read_text() == before


def test_once_applies_failover_weights_and_audits_the_decision(fleet):
    tmp, ingress, metrics, write_metrics = fleet
    write_metrics(short={"sd21-inf2-neuron"})
    audit = tmp / "audit" / "watch.jsonl"
    r = watch(metrics, ingress, "--once", "--audit-log", str(audit))
    assert r.exit_code == 0, r.output
    assert live_weights(ingress) == CAPACITY_NO_INF2
    # The dashboard: mode, the reason, the unit's capacity signal.
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert "mode capacity (failover)" in r.output
    assert {"failover", "capacity_events"} <= set(record["reason_codes"])
    assert all(text in r.output for text in record["reasons"])  # each rendered once, in the dashboard
    assert record["weights_before"] == COST and record["weights_after"] == CAPACITY_NO_INF2
    assert record["applied"] is True and record["mode"] == "capacity" and record["policy"] == "auto"
    assert record["inputs"]["sd21-inf2-neuron"]["capacity_events"] == 1


def test_once_json_shows_the_planned_replicas_per_unit(fleet):
    # 5 rps, every unit 2 Ready: every unit's min_replicas of 1 carries 5.95 rps at headroom, so the
    # plan is one replica each (arithmetic in test_watch_publishes_planned_replicas_on_its_exporter).
    _, ingress, metrics, _ = fleet
    r = watch(metrics, ingress, "--once", "--json", "--policy", "plan")
    assert r.exit_code == 0, r.output
    record = json.loads(r.output)
    assert record["policy"] == "plan" and record["planned_replicas"] == dict.fromkeys(UNITS, 1)
    assert record["can_grow"] == dict.fromkeys(UNITS, True)


def test_json_record_for_scripts(fleet):
    _, ingress, metrics, _ = fleet
    r = watch(metrics, ingress, "--once", "--json", "--policy", "cost")
    assert r.exit_code == 0, r.output
    record = json.loads(r.output)
    assert record["proposed"] == COST and record["held"] == "deadband" and record["applied"] is False


def test_nothing_available_writes_nothing_and_exits_1(fleet):
    _, ingress, metrics, write_metrics = fleet
    write_metrics(short=set(UNITS))
    before = ingress.read_text()
    r = watch(metrics, ingress, "--once", "--json")
    assert r.exit_code == 1
    record = json.loads(r.output)
    assert record["held"] == "nothing_available" and record["alarm_code"] == "nothing_available"
    assert ingress.read_text() == before
    r = watch(metrics, ingress, "--once", "--headless")  # the log line renders the alarm
    assert r.exit_code == 1 and r.output.strip().endswith(f"| ALARM: {record['alarm']}")


def test_source_down_holds_and_alarms(fleet):
    tmp, ingress, _, _ = fleet
    before = ingress.read_text()
    r = watch(tmp / "gone.yaml", ingress, "--once", "--json")
    assert r.exit_code == 1
    record = json.loads(r.output)
    assert record["held"] == "source_error" and record["alarm_code"] == "source_failed"
    assert "gone.yaml" in record["alarm"]  # the source's error names the file
    r = watch(tmp / "gone.yaml", ingress, "--once")  # the dashboard shows the hold and the alarm
    assert r.exit_code == 1 and "held (source_error)" in r.output and "gone.yaml" in r.output
    assert ingress.read_text() == before


def test_continuous_run_ticks_on_the_interval(fleet):
    tmp, ingress, metrics, write_metrics = fleet
    write_metrics(short={"sd21-g5-cuda"})  # 0.94 of the cost pool: cost mode carries on without it
    audit = tmp / "audit.jsonl"
    r = watch(
        metrics,
        ingress,
        "--ticks",
        "3",
        "--interval",
        "0.01",
        "--headless",
        "--policy",
        "auto",
        "--audit-log",
        str(audit),
    )
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 3
    assert " mode=cost applied " in lines[0] and "sd21-g5-cuda=0" in lines[0]
    assert all("held (deadband)" in line for line in lines[1:])
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["applied"] for r in records] == [True, False, False]
    assert live_weights(ingress)["sd21-g5-cuda"] == 0 and sum(live_weights(ingress).values()) == 100


def test_dashboard_run(fleet):
    _, ingress, metrics, _ = fleet
    r = watch(metrics, ingress, "--ticks", "2", "--interval", "0.01", "--policy", "plan")
    assert r.exit_code == 0, r.output
    assert "policy plan" in r.output and "deployment units, p95 SLO 0.9s" in r.output
    assert "total throughput" in r.output


def test_leader_election_without_a_reachable_api_server_stands_by(fleet):
    _, ingress, metrics, write_metrics = fleet
    write_metrics(short={"sd21-inf2-neuron"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    before = ingress.read_text()
    r = watch(
        metrics,
        ingress,
        "--once",
        "--json",
        "--leader-elect",
        "--lease-opt",
        f"host=http://127.0.0.1:{port}",
        "--lease-opt",
        "timeout_s=2",
    )
    assert r.exit_code == 0, r.output
    record = json.loads(r.output)
    assert (record["held"], record["standby_code"]) == ("standby", "unreachable")
    assert ingress.read_text() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--actuator", "nope"], "unknown actuator 'nope'"),
        (["--policy", "cheapest"], "unknown policy 'cheapest'; valid: auto, capacity, cost, plan"),
        (["--source-opt", "paht=/x"], "--source-opt of metrics source 'static': field 'paht'"),
        (["--actuator-opt", "port"], "--actuator-opt 'port': expected KEY=VALUE"),
        (["--json", "--ticks", "1"], "--json needs --once"),
        (["--leader-elect", "--lease-opt", "lease_s=0"], "--lease-opt: field 'lease_s'"),
        (["--interval", "inf"], "--interval inf: must be a finite number"),
        (["--interval", "nan"], "--interval nan: must be a finite number"),
        (["--interval", "0"], "--interval: Input should be greater than 0"),
        (["--interval", "-2"], "--interval: Input should be greater than 0"),
        (["--audit-log", "."], "the audit log is a directory; give a file path (--audit-log)"),
        (["--audit-log", "/proc/nope/audit.jsonl"], "cannot append to the audit log"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fleet, extra, message):
    _, ingress, metrics, _ = fleet
    before = ingress.read_text()
    r = watch(metrics, ingress, *extra, *([] if "--ticks" in extra else ["--once"]))
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.startswith("error: ")
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert ingress.read_text() == before


def test_a_truncated_metrics_file_moves_no_traffic(fleet):
    """The static file cut after its first unit (a half-written copy): the others are unknown, not gone."""
    _, ingress, metrics, _ = fleet
    before = ingress.read_text()
    metrics.write_text(yaml.safe_dump({"units": {UNITS[0]: {"rps": 1.0, "ready": 2, "desired": 2}}}))
    r = watch(metrics, ingress, "--once", "--json")
    assert r.exit_code == 0, r.output
    record = json.loads(r.output)
    assert record["held"] == "deadband" and record["applied"] is False and record["alarm_code"] is None
    assert record["proposed"] == COST and set(record["missing"]) == set(UNITS[1:])
    assert ingress.read_text() == before and live_weights(ingress) == COST
    # Confirmation moves it: the one unit read reports no ready replica of the two it wants.
    metrics.write_text(yaml.safe_dump({"units": {UNITS[0]: {"rps": 1.0, "ready": 0, "desired": 2}}}))
    record = json.loads(watch(metrics, ingress, "--once", "--json").output)
    assert record["applied"] is True and record["weights_after"][UNITS[0]] == 0


@pytest.mark.parametrize("value", [".inf", ".nan", "-1"])
def test_a_metrics_file_with_numbers_no_fleet_produces_is_an_alarm(fleet, value):
    _, ingress, metrics, write_metrics = fleet
    before = ingress.read_text()
    write_metrics()
    metrics.write_text(metrics.read_text().replace("rps: 1.0", f"rps: {value}", 1))
    r = watch(metrics, ingress, "--once", "--json")
    assert r.exit_code == 1, r.output
    record = json.loads(r.output)
    assert record["held"] == "invalid_metrics" and record["alarm_code"] == "invalid_metrics"
    assert "field 'units." in record["alarm"]  # names the field
    assert "Traceback" not in r.output and ingress.read_text() == before


def test_a_metrics_file_nobody_updated_holds_with_an_alarm(fleet):
    _, ingress, metrics, write_metrics = fleet
    before = ingress.read_text()
    write_metrics()
    metrics.write_text("as_of: 2020-01-01T00:00:00Z\n" + metrics.read_text())
    r = watch(metrics, ingress, "--once", "--json")
    assert r.exit_code == 1, r.output
    record = json.loads(r.output)
    assert record["held"] == "stale_metrics" and set(record["stale"]) == set(UNITS)
    assert record["alarm_code"] == "stale_metrics" and ingress.read_text() == before


def test_list_shows_every_plugin_option_with_type_default_and_description():
    from accelctl.control.actuators import ACTUATORS
    from accelctl.control.sources import SOURCES

    r = runner.invoke(app, ["watch", "--list", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.output)
    for family, registry in (("sources", SOURCES), ("actuators", ACTUATORS)):
        assert sorted(listed[family]) == registry.names()
        for name, plugin in listed[family].items():
            model = registry.get(name).config_model
            assert [o["name"] for o in plugin["options"]] == list(model.model_fields)
            assert plugin["summary"]
            for o in plugin["options"] + [o for rows in plugin["models"].values() for o in rows]:
                assert o["description"], f"{family} {name}: option {o['name']} has no description"
    elbv2 = {o["name"]: o for o in listed["actuators"]["elbv2"]["options"]}
    assert {"listener_arn", "rule_arn", "target_groups", "endpoint_url"} <= set(elbv2)
    assert elbv2["target_groups"]["type"] == "dict[str, str]" and elbv2["target_groups"]["required"]
    prom = {o["name"]: o for o in listed["sources"]["prometheus"]["options"]}
    assert prom["window"]["default"] == "1m" and "as_of" in prom["queries"]["type"]
    text = runner.invoke(app, ["watch", "--list"])
    assert text.exit_code == 0 and "  static: per-unit metrics from a YAML file" in text.output
    assert "    kube_state_metrics (bool; default false): " in text.output


def test_the_required_options_are_named_when_missing():
    r = runner.invoke(app, ["watch", "--fleet", str(FLEET), "--once"])
    assert r.exit_code == 2 and r.output.startswith("error: missing option --profiles")


def test_unknown_source(fleet):
    _, ingress, metrics, _ = fleet
    r = runner.invoke(
        app,
        [
            "watch",
            "--fleet",
            str(FLEET),
            "--profiles",
            str(PROFILES),
            "--source",
            "nope",
            "--actuator",
            "file",
            "--actuator-opt",
            f"path={ingress}",
            "--once",
        ],
    )
    assert r.exit_code == 2 and r.output.startswith("error: unknown metrics source 'nope'; valid: ")


def test_several_sources_take_options_by_name(fleet):
    _, ingress, metrics, _ = fleet
    before = ingress.read_text()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = [
        "watch",
        "--fleet",
        str(FLEET),
        "--profiles",
        str(PROFILES),
        "--source",
        "static",
        "--source",
        "prometheus",
        "--actuator",
        "file",
        "--actuator-opt",
        f"path={ingress}",
        "--once",
        "--headless",
    ]
    r = runner.invoke(app, base + ["--source-opt", f"path={metrics}"])
    assert r.exit_code == 2 and f"with several sources, say which: SOURCE:path={metrics}" in r.output
    r = runner.invoke(app, base + ["--source-opt", "kubernetes:host=http://x"])
    assert r.exit_code == 2 and "'kubernetes' is not one of the sources (static, prometheus)" in r.output
    # Both configured; Prometheus does not answer, so the combined read fails as a whole and the loop holds.
    both = [
        "--source-opt",
        f"static:path={metrics}",
        "--source-opt",
        f"prometheus:url=http://127.0.0.1:{port}",
    ]
    r = runner.invoke(app, [*base[:-1], *both, "--json"])  # --json in place of --headless
    assert r.exit_code == 1, r.output
    record = json.loads(r.output)
    assert record["held"] == "source_error" and record["alarm_code"] == "source_failed"
    assert f"prometheus at http://127.0.0.1:{port}" in record["alarm"]  # says which source failed
    assert ingress.read_text() == before


def test_missing_fleet_file(tmp_path):
    r = runner.invoke(
        app,
        [
            "watch",
            "--fleet",
            str(tmp_path / "f.yaml"),
            "--profiles",
            str(PROFILES),
            "--source",
            "static",
            "--actuator",
            "file",
            "--once",
        ],
    )
    assert r.exit_code == 2 and "f.yaml: no such file" in r.output


def test_parse_options():
    assert parse_options(["a=1", "b.c=x=y", "b.d=[1, 2]", 'e={"k": 3}'], "--opt") == {
        "a": "1",
        "b": {"c": "x=y", "d": [1, 2]},
        "e": {"k": 3},
    }
    with pytest.raises(InputError, match="not valid JSON"):
        parse_options(["a=[1,"], "--opt")
    with pytest.raises(InputError, match="'a' was already given a value"):
        parse_options(["a=1", "a.b=2"], "--opt")


def test_importing_the_cli_loads_no_client_library():
    code = (
        "import sys, accelctl.cli; bad = {'kubernetes', 'boto3', 'scipy', 'torch'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_watch_publishes_planned_replicas_on_its_exporter(fleet, tmp_path):
    """`watch` against a fake metrics backend (the static file), scraped over HTTP while it runs.

    20 rps, every unit 2 Ready, inf2's pool short (an insufficient-capacity event). Every unit keeps
    its min_replicas of 1 (5.95 rps at headroom 0.8); inf2 is frozen at the 2 it holds (+1.4 rps);
    the 12.65 rps left go to the next cheapest per rps, trn1: ceil(12.65 / (2.167 × 0.8)) = 8 more.
    The Ready replicas take 2 × 7.433 × 0.9 = 13.38 rps now, so plan's bridge (docs/policy.md) plans the
    6.62 rps short on the unit with the shortest lead, g5 cuda: ceil(6.62 / (1.0 × 0.8)) = 9 more.
    """
    import httpx

    _, ingress, metrics, write_metrics = fleet
    write_metrics(
        **{u: {"rps": 4.0, "p95": 0.5, "ready": 2, "desired": 2} for u in UNITS},
    )
    units = yaml.safe_load(metrics.read_text())["units"]
    units["sd21-inf2-neuron"]["capacity_events"] = 1
    metrics.write_text(yaml.safe_dump({"units": units}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [
        "watch", "--fleet", str(FLEET), "--profiles", str(PROFILES), "--source", "static",
        "--source-opt", f"path={metrics}", "--actuator", "file", "--actuator-opt", f"path={ingress}",
        "--policy", "plan", "--interval", "0.2", "--headless",
        "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
    ]  # fmt: skip
    code = "import sys; from accelctl.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        planned = None
        with httpx.Client(timeout=5.0) as http:
            for _ in range(300):  # at most ~60 s on a loaded machine: the CLI's start-up, then one tick
                if proc.poll() is not None:
                    break
                try:
                    planned = http.get(f"{base}/planned").json()
                except httpx.HTTPError:
                    planned = None
                if planned and planned["time"] is not None:
                    break
                time.sleep(0.2)
            assert planned and planned["time"] is not None, (
                proc.stderr.read() if proc.poll() is not None else ""
            )
            assert planned["units"] == {
                "sd21-inf2-neuron": {"planned_replicas": 2},
                "sd21-trn1-neuron": {"planned_replicas": 9},
                "sd21-g5-cuda-compile": {"planned_replicas": 1},
                "sd21-g6-cuda-compile": {"planned_replicas": 1},
                "sd21-g5-cuda": {"planned_replicas": 10},
            }
            text = http.get(f"{base}/metrics").text
            assert 'accelctl_controller_planned_replicas{unit="sd21-trn1-neuron"} 9.0' in text
            assert 'accelctl_controller_can_grow{unit="sd21-inf2-neuron"} 0.0' in text
            assert 'accelctl_controller_mode{mode="capacity"} 1.0' in text
            assert (
                "accelctl_controller_ticks_total{" in text
                and "accelctl_controller_decision_seconds_count" in text
            )
            # $/h of the plan: 2 × 0.758 + 9 × 1.344 + 1.006 + 0.805 + 10 × 1.006 = 25.48 (per replica-hour).
            cost = next(
                line for line in text.splitlines() if line.startswith("accelctl_controller_planned_cost_per")
            )
            assert abs(float(cost.split()[-1]) - 25.48) < 0.01
            assert http.get(f"{base}/healthz").status_code == 200
            assert http.get(f"{base}/readyz").status_code == 200
            assert http.get(f"{base}/nothing").status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # inf2 is short but serving: it keeps traffic (the plan freezes it, it does not drain it).
    assert live_weights(ingress)["sd21-inf2-neuron"] > 0
