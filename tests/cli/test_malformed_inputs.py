"""Issue 13, acceptance 1: malformed options and files are one `error:` line, exit 2, no traceback,
nothing written.

Options: for every command, every numeric option accelctl.cli.params bounds gets values hypothesis
draws outside its bounds (and .inf/.nan for every float), and every output path a file where a
folder is meant, a folder where a file is meant, or a place nobody may write. The commands run
in-process (CliRunner): the checks come before any work, so each example costs milliseconds.
Files: fleet, profile, catalog and scenario documents that load, with one numeric leaf spoiled.
"""

from __future__ import annotations

import inspect
import math
import os
import shutil
import socket
from pathlib import Path

import pytest
import typer.main
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from typer.testing import CliRunner

import accelctl.cli
from accelctl.cli import params

REPO = Path(__file__).resolve().parents[2]
PAPER_FLEET = REPO / "examples" / "paper-sd21.yaml"
PAPER_PROFILES = REPO / "examples" / "paper" / "profiles"
CATALOG = REPO / "accelctl" / "data" / "catalog.yaml"
SCENARIO = REPO / "examples" / "scenarios" / "cost-wave.yaml"
EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# The least each command needs to reach its option checks (nothing here exists: it is never read).
BASE = {
    "compile": ["compile", "-m", "tiny"],
    "trace": ["trace", "-m", "tiny"],
    "generate": ["generate", "-b", "no-build", "-p", "a cat"],
    "bench run": ["bench", "run"],
    "bench report": ["bench", "report", "no-profiles"],
    "profile add": [
        *("profile", "add", "--model", "m", "--instance-type", "i", "--target", "cpu"),
        *("--latency", "1", "--breaking-point", "1", "--source", "s"),
    ],
    "serve": ["serve", "no-build"],
    "deploy": ["deploy", "--fleet", "no-fleet.yaml", "--profiles", "no-profiles", "--out", "rendered"],
    "router": ["router", "--backend", "a=http://127.0.0.1:1"],
    "simulate": ["simulate", "no-scenario.yaml"],
    "demo": ["demo"],
    "watch": ["watch", "--fleet", "no-fleet.yaml", "--profiles", "no-profiles"],
}


def _command(path: str):
    cmd = typer.main.get_command(accelctl.cli.app)
    for part in path.split():
        cmd = cmd.commands[part]
    return cmd


def _options(path: str) -> dict[str, object]:
    """Option name -> annotation, for the command's bounded or float options."""
    sig = inspect.signature(_command(path).callback).parameters
    return {n: p.annotation for n, p in sig.items() if n in params.TYPES or "float" in str(p.annotation)}


OPTIONS = [(c, n) for c in BASE for n in _options(c)]


def invoke(tmp: Path, args: list[str]):
    before = sorted(os.listdir(tmp))
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        result = CliRunner().invoke(accelctl.cli.app, [str(a) for a in args])
    finally:
        os.chdir(cwd)
    return result, before, sorted(os.listdir(tmp))


def assert_refused(tmp: Path, args: list[str], fragment: str = "") -> str:
    result, before, after = invoke(tmp, args)
    out = result.output
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2, (args, out, result.exception)
    assert len(errors) == 1, (args, out)
    assert "Traceback" not in out, (args, out)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert before == after, f"{args} wrote {set(after) - set(before)}"
    assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def _bounds(tp) -> dict:
    return TypeAdapter(tp).json_schema() if tp is not None else {}


def bad_values(name: str, annotation) -> st.SearchStrategy:
    """Values of option `name` its type refuses."""
    schema = _bounds(params.TYPES.get(name))
    floaty = "float" in str(annotation)
    wrong: list[st.SearchStrategy] = []
    if floaty:
        wrong.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    if schema.get("type") == "string":
        if name == "prompt":
            return st.text(st.sampled_from(" \t\n\r\x00\x1b\x7f\u200b"), min_size=0, max_size=8)
        return st.tuples(st.text(max_size=5), st.sampled_from("\n\r\x00\x1b"), st.text(max_size=5)).map(
            "".join
        )
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    num = st.floats if floaty else st.integers
    step = 1e-9 if floaty else 1
    if lo is not None:
        top = lo if "exclusiveMinimum" in schema else lo - step
        wrong.append(num(max_value=top, min_value=-1e12 if floaty else -(2**70)))
    if hi is not None:
        bottom = hi if "exclusiveMaximum" in schema else hi + step
        wrong.append(num(min_value=bottom, max_value=1e15 if floaty else 2**70))
    return st.one_of(wrong)


@pytest.mark.parametrize("command, name", OPTIONS, ids=[f"{c}--{n}" for c, n in OPTIONS])
def test_numeric_options_out_of_bounds(tmp_path, command, name):
    annotation = _options(command)[name]

    @EXAMPLES
    @given(value=bad_values(name, annotation))
    def check(value):
        text = repr(value) if isinstance(value, float) and math.isfinite(value) else str(value)
        assert_refused(tmp_path, [*BASE[command], params.flag(name), text], params.flag(name))

    check()


OUTPUTS = [
    ("compile", "--out", "folder"),
    ("compile", "--emit-job", "file"),
    ("trace", "--out", "folder"),
    ("generate", "--output", "file"),
    ("bench run", "--out-dir", "folder"),
    ("bench report", "--plot", "file"),
    ("profile add", "--out", "file"),
    ("deploy", "--out", "folder"),
    ("simulate", "--out", "folder"),
    ("simulate", "--family-dump", "folder"),
    ("demo", "--workdir", "folder"),
]


@pytest.mark.parametrize("command, flag, kind", OUTPUTS)
def test_output_paths_are_checked_before_any_work(tmp_path, command, flag, kind):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    wrong = "a-file" if kind == "folder" else "a-folder"
    assert_refused(tmp_path, [*BASE[command], flag, wrong], f"{flag} {wrong}")
    assert_refused(tmp_path, [*BASE[command], flag, "/proc/accelctl/x"], "cannot write under /proc")
    assert_refused(tmp_path, [*BASE[command], flag, "a-file/below"], "is a file")


# ---------------------------------------------------------------- the cases the issue lists


def test_the_issue_option_cases(tmp_path):
    cases = [
        (["compile", "-m", "tiny", "--steps", "-1"], "--steps -1"),
        (["compile", "-m", "tiny", "--height", "0"], "--height 0"),
        (["compile", "-m", "tiny", "--height", "10000000", "--width", "10000000"], "--height"),
        (["generate", "-b", "b", "-p", "x", "--seed", "18446744073709551616"], "--seed"),
        (["generate", "-b", "b", "-p", "x", "--steps", "100000"], "--steps 100000"),
        (["generate", "-b", "b", "-p", ""], "--prompt"),
        (["generate", "-b", "b", "-p", "x", "--seed", "-1"], "--seed -1"),
        (["bench", "run", "--price", "inf"], "--price inf"),
        (["bench", "run", "--price", "nan"], "--price nan"),
        (["bench", "run", "--quality-threshold", "nan"], "--quality-threshold nan"),
        (["bench", "run", "-o", "/proc/x"], "--out-dir /proc/x"),
        (["router", "--backend", "a=http://127.0.0.1:1", "--port", "70000"], "--port"),
        (["compile", "-m", "tiny", "--emit-job", "j.yaml", "--image", "repo/img\n:latest"], "--image"),
    ]
    for args, fragment in cases:
        assert_refused(tmp_path, args, fragment)
    assert not (tmp_path / "model_builds").exists()  # compile --steps -1 made no folder


def test_router_on_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        line = assert_refused(
            tmp_path, ["router", "--backend", "a=http://127.0.0.1:1", "--port", str(port)], "cannot listen"
        )
    assert str(port) in line


# ---------------------------------------------------------------- files


def _leaves(doc, path=()):
    """(path, value) of every number in a YAML document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, (*path, i))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path, doc


def _spoil(doc, path, value):
    doc = yaml.safe_load(yaml.safe_dump(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def spoiled(doc) -> st.SearchStrategy:
    """`doc` with one number replaced by one no field takes: .inf/.nan for floats, text for ints."""
    leaves = list(_leaves(doc))

    def bad(leaf):
        path, v = leaf
        values = [math.nan, math.inf, -math.inf] if isinstance(v, float) else ["many", -(10**30)]
        return st.sampled_from(values).map(lambda x: (path, _spoil(doc, path, x)))

    return st.sampled_from(leaves).flatmap(bad)


def _fleet_dir(tmp: Path) -> Path:
    work = tmp / "in"
    if not work.exists():
        shutil.copytree(PAPER_PROFILES, work / "profiles")
        shutil.copy(PAPER_FLEET, work / "fleet.yaml")
    return work


def test_a_spoiled_fleet_is_refused(tmp_path):
    work = _fleet_dir(tmp_path)
    doc = yaml.safe_load(PAPER_FLEET.read_text())

    @EXAMPLES
    @given(case=spoiled(doc))
    def check(case):
        path, bad = case
        (work / "fleet.yaml").write_text(yaml.safe_dump(bad))
        args = ["deploy", "--fleet", work / "fleet.yaml", "--profiles", work / "profiles", "--out", "out"]
        assert_refused(tmp_path, args, "fleet.yaml")

    check()


def test_a_spoiled_profile_is_refused(tmp_path):
    work = _fleet_dir(tmp_path)
    name = "inf2-neuron.yaml"
    doc = yaml.safe_load((PAPER_PROFILES / name).read_text())

    @EXAMPLES
    @given(case=spoiled(doc))
    def check(case):
        path, bad = case
        (work / "profiles" / name).write_text(yaml.safe_dump(bad))
        args = ["deploy", "--fleet", work / "fleet.yaml", "--profiles", work / "profiles", "--out", "out"]
        assert_refused(tmp_path, args, name)

    check()


def test_a_spoiled_catalog_is_refused(tmp_path):
    doc = yaml.safe_load(CATALOG.read_text())
    instance = next(iter(doc["instances"]))
    region = next(iter(doc["instances"][instance]["prices"]))

    @EXAMPLES
    @given(case=spoiled(doc))
    def check(case):
        path, bad = case
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / "catalog.yaml").write_text(yaml.safe_dump(bad))
        args = [
            *BASE["profile add"],
            *("--instance-type", instance, "--region", region, "--catalog", tmp_path / "in" / "catalog.yaml"),
            *("--out", "p.yaml"),
        ]
        assert_refused(tmp_path, args, "catalog.yaml")

    check()


def test_a_spoiled_scenario_is_refused(tmp_path):
    doc = yaml.safe_load(SCENARIO.read_text())
    doc["fleet"], doc["profiles"] = str(PAPER_FLEET), str(PAPER_PROFILES)

    @EXAMPLES
    @given(case=spoiled(doc))
    def check(case):
        path, bad = case
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / "scenario.yaml").write_text(yaml.safe_dump(bad))
        assert_refused(
            tmp_path, ["simulate", tmp_path / "in" / "scenario.yaml", "--out", "out"], "scenario.yaml"
        )

    check()


@pytest.mark.parametrize(
    "where, change, fragment",
    [
        ("profile", {"breaking_point_rps": math.inf}, "field 'breaking_point_rps'"),
        ("profile", {"latency": {"n": 10, "mean": 1e-320}}, "field 'latency.mean'"),
        ("fleet", {"max_replicas": 10**12}, "field 'units.0.max_replicas'"),
        ("fleet", {"image": "repo/sd21\n:latest"}, "field 'units.0.image'"),
    ],
)
def test_the_issue_file_cases(tmp_path, where, change, fragment):
    work = _fleet_dir(tmp_path)
    if where == "profile":
        target = work / "profiles" / "inf2-neuron.yaml"
        doc = yaml.safe_load(target.read_text())
        doc.update(change)
    else:
        target = work / "fleet.yaml"
        doc = yaml.safe_load(target.read_text())
        doc["units"][0].update(change)
    target.write_text(yaml.safe_dump(doc))
    args = ["deploy", "--fleet", work / "fleet.yaml", "--profiles", work / "profiles", "--out", "out"]
    assert_refused(tmp_path, args, fragment)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"duration": "100000d"}, "field 'duration'"),
        ({"load": [{"kind": "step", "at": "10:00", "until": "09:00", "rps": 5}]}, "must be after at"),
        (
            {"capacity": [{"instance_type": "inf2.xlarge", "start": "d2 01:00", "end": "d2 02:00"}]},
            "after the scenario ends",
        ),
    ],
)
def test_the_issue_scenario_cases(tmp_path, change, fragment):
    doc = yaml.safe_load(SCENARIO.read_text())
    doc["fleet"], doc["profiles"] = str(PAPER_FLEET), str(PAPER_PROFILES)
    doc.update(change)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "s.yaml").write_text(yaml.safe_dump(doc))
    assert_refused(tmp_path, ["simulate", tmp_path / "in" / "s.yaml", "--out", "out"], fragment)
