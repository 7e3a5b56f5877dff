"""Builds of the `tiny` preset, end to end: compile, load (hash-verified), generate."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from accelctl import builds
from accelctl.errors import IntegrityError

pytestmark = pytest.mark.slow
PROMPT = "a photo of an astronaut riding a horse"


def test_same_seed_gives_identical_png_and_other_seed_differs(tiny_cpu_build):
    loaded = builds.load_pipeline(tiny_cpu_build)
    first = builds.png_bytes(loaded.generate(PROMPT, seed=7))
    second = builds.png_bytes(loaded.generate(PROMPT, seed=7))
    other = builds.png_bytes(loaded.generate(PROMPT, seed=8))
    assert first == second
    assert first != other
    assert first.startswith(b"\x89PNG")
    assert loaded.generate(PROMPT, seed=7, steps=2).size == (64, 64)


def test_manifest_records_source_shapes_versions_and_hashes(tiny_cpu_build):
    manifest = builds.verify(tiny_cpu_build)
    assert (manifest.target, manifest.height, manifest.width, manifest.batch) == ("cpu", 64, 64, 1)
    assert manifest.model.kind == "preset" and len(manifest.model.content_sha256) == 64
    assert manifest.versions.torch and manifest.versions.diffusers and manifest.versions.transformers
    assert "pipeline/unet/diffusion_pytorch_model.safetensors" in manifest.artifacts
    assert tiny_cpu_build.name == "cpu-64x64-b1" and tiny_cpu_build.parent.name == "tiny"


def test_tampered_artifact_refuses_to_load(tiny_cpu_build, tmp_path):
    copy = tmp_path / "tiny" / tiny_cpu_build.name
    shutil.copytree(tiny_cpu_build, copy)
    weights = copy / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="pipeline/unet/diffusion_pytorch_model.safetensors"):
        builds.load_pipeline(copy)


def test_missing_and_unlisted_files_refuse(tiny_cpu_build, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(tiny_cpu_build, copy)
    (copy / "pipeline" / "extra.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError, match="extra.bin is not listed"):
        builds.verify(copy)
    (copy / "pipeline" / "extra.bin").unlink()
    (copy / "pipeline" / "vae" / "config.json").unlink()
    with pytest.raises(IntegrityError, match="vae/config.json is missing"):
        builds.verify(copy)


def test_reuse_returns_existing_build_without_recompiling(tiny_cpu_build):
    before = builds.read_manifest(tiny_cpu_build)
    again = builds.compile_build("tiny", "cpu", out=tiny_cpu_build.parent.parent)
    assert again == tiny_cpu_build
    assert builds.read_manifest(again).created == before.created


def test_cpu_compile_matches_cpu_within_35_db(tiny_cpu_build, tiny_cpu_compile_build):
    eager = builds.load_pipeline(tiny_cpu_build)
    compiled = builds.load_pipeline(tiny_cpu_compile_build)
    assert set(compiled.manifest.components.values()) == {"aoti"}
    # The compiled build ships no eager weights for the components it compiled.
    assert not list((tiny_cpu_compile_build / "pipeline" / "unet").glob("*.safetensors"))
    for seed in (0, 1):
        a = np.asarray(eager.generate(PROMPT, seed=seed))
        b = np.asarray(compiled.generate(PROMPT, seed=seed))
        assert a.std() > 1  # a real picture, not a constant one
        psnr = peak_signal_noise_ratio(a, b, data_range=255) if (a != b).any() else float("inf")
        assert psnr >= 35, f"seed {seed}: PSNR {psnr:.1f} dB"


def test_list_builds_finds_session_builds(tiny_cpu_build, build_root):
    found = {(p.name, m.target) for p, m in builds.list_builds(build_root)}
    assert ("cpu-64x64-b1", "cpu") in found
