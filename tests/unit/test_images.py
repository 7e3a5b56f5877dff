"""The container images (images/*/Dockerfile), read with dockerfile-parse since none can be built here.

Each image must run the way the rendered manifests run it: as their numeric runAsUser/runAsGroup,
with `accelctl` as the entry point, and with every cache under /tmp, which every rendered container
mounts as an emptyDir under its read-only root. Bases are pinned by tag, the final stage carries no
toolchain, and every image a fleet example or template names has a Dockerfile. images/build.sh is run
against a stand-in builder on PATH that records what it was asked to do.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from accelctl.deploy.render import render
from accelctl.shape import Shape
from accelctl.targets.neuron import compile_job
from accelctl.units import load_fleet

dockerfile_parse = pytest.importorskip("dockerfile_parse")

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
NAMES = sorted(p.parent.name for p in IMAGES.glob("*/Dockerfile"))
FLEETS = {
    "examples/paper-sd21.yaml": "examples/paper/profiles",
    "examples/cpu-fleet.yaml": "examples/cpu/profiles",
}
# The extras each image installs: watch needs the kubernetes and AWS plug-ins, units only serve.
EXTRAS = {"accelctl": {"aws", "k8s"}, "accelctl-cuda": set(), "accelctl-neuron": set()}
# Triton compiles its kernel launcher with the host C compiler when a cuda-compile build first runs
# (pytorch/pytorch#116696): the one toolchain piece a final stage may carry, and only there.
RUNTIME_TOOLCHAIN = {"accelctl-cuda": {"gcc", "libc6-dev"}}
TOOLCHAIN = re.compile(
    r"(?<![-\w])(gcc|g\+\+|clang|cc|c\+\+|build-essential|make|cmake|ninja(-build)?|[\w.+]+-dev)(?![-\w])"
)
CACHE_ENV = ("HOME", "TMPDIR", "XDG_CACHE_HOME", "HF_HOME", "ACCELCTL_CACHE")


def stages(name: str) -> list[list[dict]]:
    """The Dockerfile's instructions, split at each FROM (comments dropped)."""
    parser = dockerfile_parse.DockerfileParser(path=str(IMAGES / name / "Dockerfile"))
    out: list[list[dict]] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            out.append([])
        if ins["instruction"] != "COMMENT":
            out[-1].append(ins)
    return out


def final(name: str) -> list[dict]:
    return stages(name)[-1]


def values(stage: list[dict], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


@functools.cache
def rendered_pods() -> list[tuple[str, dict]]:
    """(where, pod spec) of every workload the examples render, the compile Jobs included."""
    pods = []
    for fleet, profiles in FLEETS.items():
        for path, text in render(load_fleet(REPO / fleet), REPO / profiles).files.items():
            obj = yaml.safe_load(text)
            spec = obj.get("spec", {})
            template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
            if obj["kind"] in ("Deployment", "Job") and template:
                pods.append((f"{fleet}: {path}", template["spec"]))
    job = compile_job(model="tiny", target="inf2", shape=Shape(64, 64, 1, "bf16", 5), image="x")
    pods.append(("compile_job()", job["spec"]["template"]["spec"]))
    return pods


def containers(pod: dict) -> list[dict]:
    return pod.get("initContainers", []) + pod["containers"]


def image_name(ref: str) -> str:
    """registry.example.com/accelctl-cuda:0.1.0 -> accelctl-cuda"""
    return ref.rsplit("/", 1)[-1].split("@")[0].split(":")[0]


def test_there_is_one_image_per_kind_of_node():
    assert NAMES == ["accelctl", "accelctl-cuda", "accelctl-neuron"]


@pytest.mark.parametrize("name", NAMES)
def test_every_base_is_pinned_by_tag_and_the_build_is_multi_stage(name):
    bases = [v.split()[0] for s in stages(name) for v in values(s, "FROM")]
    assert len(bases) >= 2, "multi-stage: tools stay in a build stage"
    for base in bases:
        assert re.fullmatch(r"[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})", base), f"{name}: {base} has no tag"
        assert not base.endswith(":latest"), f"{name}: {base} is not pinned"
    assert any(v.startswith("--from=") for v in values(final(name), "COPY")), "the final stage copies a build"


@pytest.mark.parametrize("name", NAMES)
def test_the_user_is_the_numeric_one_every_manifest_runs_as(name):
    (user,) = values(final(name), "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit(), (
        f"{name}: USER {user} must be numeric uid:gid (runAsNonRoot checks it)"
    )
    for where, pod in rendered_pods():
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True, where
        assert (ctx["runAsUser"], ctx["runAsGroup"]) == (int(uid), int(gid)), where


@pytest.mark.parametrize("name", NAMES)
def test_the_entry_point_is_accelctl(name):
    (entry,) = values(final(name), "ENTRYPOINT")
    assert json.loads(entry) == ["accelctl"]  # exec form: signals reach accelctl, not a shell


@pytest.mark.parametrize("name", NAMES)
def test_the_final_stage_carries_no_toolchain(name):
    found = {m[0] for run in values(final(name), "RUN") for m in TOOLCHAIN.findall(run)}
    assert found <= RUNTIME_TOOLCHAIN.get(name, set()), f"{name}: {sorted(found)} in the final stage"


def test_the_toolchain_check_sees_one_where_there_is_one():
    builds = {m[0] for s in stages("accelctl")[:-1] for r in values(s, "RUN") for m in TOOLCHAIN.findall(r)}
    assert builds == {"g++"}  # the CPU image compiles its cpu-compile builds in its build stage
    assert {m[0] for m in TOOLCHAIN.findall("apt-get install -y gcc make python3-dev ca-certificates")} == {
        "gcc",
        "make",
        "python3-dev",
    }


@pytest.mark.parametrize("name", NAMES)
def test_caches_live_on_the_emptydir_every_container_mounts_at_tmp(name):
    parser = dockerfile_parse.DockerfileParser(path=str(IMAGES / name / "Dockerfile"))
    env = parser.envs  # the final stage's
    for key in CACHE_ENV:
        assert key in env and (env[key] == "/tmp" or env[key].startswith("/tmp/")), f"{name}: {key}"
    for where, pod in rendered_pods():
        tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for c in containers(pod):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp for m in c["volumeMounts"]), (
                f"{where}: container {c['name']} has no emptyDir at /tmp"
            )
            home = {e["name"]: e.get("value") for e in c.get("env", [])}.get("HOME")
            assert home in (None, env["HOME"]), f"{where}: HOME {home} is not the image's {env['HOME']}"


@pytest.mark.parametrize("name", NAMES)
def test_each_image_installs_accelctl_with_its_extras(name):
    runs = [r for s in stages(name) for r in values(s, "RUN")]
    installs = [r for r in runs if re.search(r"pip install\s+(\S+\s+)*\"?\.(\[[\w,]+\])?\"?(\s|$)", r)]
    assert len(installs) == 1, f"{name}: accelctl installed {len(installs)} times"
    extras = re.search(r"\.\[([\w,]+)\]", installs[0])
    assert (set(extras[1].split(",")) if extras else set()) == EXTRAS[name]


def test_torch_comes_from_the_right_place_per_image():
    cpu = " ".join(r for s in stages("accelctl") for r in values(s, "RUN"))
    assert "--index-url https://download.pytorch.org/whl/cpu torch==" in cpu
    (cuda_base,) = {v.split()[0] for s in stages("accelctl-cuda") for v in values(s, "FROM")}
    assert re.fullmatch(r"pytorch/pytorch:[\d.]+-cuda[\d.]+-cudnn\d+-runtime", cuda_base)
    neuron = " ".join(r for s in stages("accelctl-neuron") for r in values(s, "RUN"))
    assert "--extra-index-url https://pip.repos.neuron.amazonaws.com" in neuron
    assert re.search(r'"torch-neuronx==[\d.*]+"', neuron) and re.search(r'"neuronx-cc==[\d.*]+"', neuron)
    assert "apt.repos.neuron.amazonaws.com" in neuron and "aws-neuronx-runtime-lib=" in neuron


def test_every_image_the_examples_and_templates_name_has_a_dockerfile():
    named = set()
    for fleet in REPO.glob("examples/*.yaml"):
        spec = yaml.safe_load(fleet.read_text())
        named |= {spec["image"], *(u["image"] for u in spec["units"] if "image" in u)}
    named |= {c["image"] for _, pod in rendered_pods() for c in containers(pod) if c["image"] != "x"}
    assert named and {image_name(ref) for ref in named} <= set(NAMES), named


@pytest.fixture
def builder(tmp_path):
    """A stand-in `docker` (buildx) and `podman` on PATH that log their arguments."""
    log = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "podman"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {shlex.quote(str(log))}\n')
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    return log, env


def build(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(IMAGES / "build.sh"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_build_script_builds_and_pushes_every_image_with_buildx(builder):
    log, env = builder
    done = build(env, "--registry", "reg.example/team", "--tag", "1.2.3")
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    builds = [c for c in calls if c.startswith("docker buildx build")]
    assert sorted(builds) == sorted(
        f"docker buildx build --platform linux/amd64 -f {IMAGES / name / 'Dockerfile'} "
        f"-t reg.example/team/{name}:1.2.3 --push {REPO}"
        for name in NAMES
    )
    assert sorted(done.stdout.split()) == sorted(f"reg.example/team/{n}:1.2.3" for n in NAMES)


def test_build_script_falls_back_to_podman_and_defaults_the_tag_to_the_version(builder):
    log, env = builder
    os.remove(Path(env["PATH"].split(":")[0]) / "docker")
    done = build(env, "--registry", "reg.example", "accelctl")
    assert done.returncode == 0, done.stderr
    version = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)[1]
    assert log.read_text().splitlines() == [
        f"podman build --platform linux/amd64 -f {IMAGES / 'accelctl' / 'Dockerfile'} "
        f"-t reg.example/accelctl:{version} {REPO}",
        f"podman push reg.example/accelctl:{version}",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "--registry is required"),
        (("--registry", "r", "nope"), "images/nope/Dockerfile: no such image"),
        (("--registry", "r", "--builder", "kaniko"), "--builder kaniko: use docker or podman"),
    ],
)
def test_build_script_refusals_are_one_line(builder, args, message):
    log, env = builder
    done = build(env, *args)
    assert done.returncode == 2 and message in done.stderr
    assert not log.exists()
