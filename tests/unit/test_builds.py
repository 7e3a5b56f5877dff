"""build.yaml: reading, validation errors that name file and field, hash verification, listing.

Builds here are hand-made folders (a few small files and a manifest hashed by the library), so
these tests need no model and no torch.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from accelctl import builds
from accelctl.errors import InputError, IntegrityError
from accelctl.files import save_model
from accelctl.shape import Shape
from accelctl.targets.base import build_dir_name


def _make_build(root, model="tiny", target="cpu", **changes):
    shape = Shape(64, 64, 1, "fp32", 5)
    folder = root / model / build_dir_name(target, shape)
    (folder / "pipeline" / "unet").mkdir(parents=True)
    (folder / "pipeline" / "unet" / "weights.bin").write_bytes(b"\x00\x01weights")
    (folder / "pipeline" / "model_index.json").write_text("{}")
    manifest = builds.BuildManifest(
        target=target,
        model=builds.ModelRef(name=model, source=model, kind="preset", content_sha256="ab" * 32),
        **shape.keys(),
        components={"unet": "eager"},
        versions=builds.versions(),
        compile_seconds=1.5,
        artifacts=builds.hash_artifacts(folder),
        created=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    ).model_copy(update=changes)
    save_model(folder / builds.MANIFEST, manifest)
    return folder


def test_verify_accepts_an_intact_build_given_folder_or_file(tmp_path):
    folder = _make_build(tmp_path)
    assert builds.verify(folder).shape.label == "64x64-b1"
    assert builds.verify(folder / "build.yaml").artifacts == builds.read_manifest(folder).artifacts


def test_verify_names_the_modified_artifact(tmp_path):
    folder = _make_build(tmp_path)
    (folder / "pipeline" / "unet" / "weights.bin").write_bytes(b"\x00\x01weightz")
    with pytest.raises(IntegrityError, match=r"artifact pipeline/unet/weights.bin does not match its sha256"):
        builds.verify(folder)


def test_malformed_manifest_names_file_and_field(tmp_path):
    folder = _make_build(tmp_path)
    data = yaml.safe_load((folder / "build.yaml").read_text())
    data["batch"] = 0
    (folder / "build.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=r"build.yaml: field 'batch'"):
        builds.read_manifest(folder)
    data["batch"], data["colour"] = 1, "blue"
    (folder / "build.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=r"field 'colour': Extra inputs are not permitted"):
        builds.read_manifest(folder)


def test_missing_manifest_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        builds.read_manifest(tmp_path)


def test_list_builds_skips_unreadable_manifests(tmp_path, caplog):
    _make_build(tmp_path, target="cpu")
    _make_build(tmp_path, target="cpu-compile")
    broken = _make_build(tmp_path, model="other")
    (broken / "build.yaml").write_text("target: [")
    found = builds.list_builds(tmp_path)
    assert [(p.parent.name, m.target) for p, m in found] == [("tiny", "cpu"), ("tiny", "cpu-compile")]
    assert "not valid YAML" in caplog.text
    assert builds.list_builds(tmp_path / "nowhere") == []


def test_compile_rejects_bad_requests_before_loading_anything(tmp_path):
    with pytest.raises(InputError, match="does not support dtype 'fp16'"):
        builds.compile_build("tiny", "cpu", dtype="fp16", out=tmp_path)
    with pytest.raises(InputError, match="batch must be at least 1"):
        builds.compile_build("tiny", "cpu", batch=0, out=tmp_path)
    with pytest.raises(InputError, match="unknown target"):
        builds.compile_build("tiny", "gpu", out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_shapes_must_be_multiples_of_eight(tmp_path):
    with pytest.raises(InputError, match="multiples of 8, got 60x64"):
        builds.compile_build("tiny", "cpu", height=60, out=tmp_path)
