"""Builds: one folder per (model, target, shape) under model_builds/, described by build.yaml.

A build is what every deployment unit runs. build.yaml records what was built from what (model
source and revision or content hash), how (target, dtype, static shapes, library versions, compile
seconds) and the sha256 of every artifact; loading verifies those hashes first, so a tampered or
half-copied build refuses to run instead of serving something else.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from accelctl import __version__
from accelctl.errors import InputError, IntegrityError
from accelctl.files import load_model, save_model
from accelctl.models.presets import default_shape
from accelctl.schema import Strict
from accelctl.shape import DtypeName, Shape
from accelctl.targets.base import Progress, build_dir_name, no_progress
from accelctl.units import TargetName

log = logging.getLogger(__name__)

MANIFEST = "build.yaml"
GUIDANCE_SCALE = 7.5


class ModelRef(Strict):
    name: str = Field(description="folder name under model_builds/")
    source: str = Field(description="preset name, local folder or hub id the build came from")
    kind: Literal["preset", "folder", "hub"]
    revision: str | None = Field(default=None, description="hub commit of the snapshot")
    content_sha256: str | None = Field(default=None, description="hash over the source folder's files")


class Versions(Strict):
    accelctl: str
    python: str
    torch: str
    diffusers: str
    transformers: str
    torch_neuronx: str | None = None
    neuronx_cc: str | None = None


class BuildManifest(Strict):
    target: TargetName
    model: ModelRef
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    batch: int = Field(gt=0)
    dtype: DtypeName
    steps: int = Field(gt=0, description="default denoising steps per image")
    guidance_scale: float = Field(default=GUIDANCE_SCALE, ge=0)
    components: dict[str, str] = Field(description="how each component runs: eager, aoti, neuron, ...")
    versions: Versions
    compile_seconds: float = Field(ge=0)
    artifacts: dict[str, str] = Field(description="relative path -> sha256")
    created: dt.datetime

    @property
    def shape(self) -> Shape:
        return Shape.of(self)


def versions() -> Versions:
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return Versions(
        accelctl=__version__,
        python=platform.python_version(),
        torch=version("torch") or "?",
        diffusers=version("diffusers") or "?",
        transformers=version("transformers") or "?",
        torch_neuronx=version("torch-neuronx"),
        neuronx_cc=version("neuronx-cc"),
    )


def _manifest_path(path: Path | str) -> Path:
    p = Path(path)
    return p / MANIFEST if p.is_dir() or p.name != MANIFEST else p


def read_manifest(path: Path | str) -> BuildManifest:
    """The build.yaml of a build folder (or the file itself); errors name the file and field."""
    return load_model(_manifest_path(path), BuildManifest)


def hash_artifacts(build_dir: Path) -> dict[str, str]:
    from accelctl.models import file_sha256

    files = sorted(p for p in build_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {f.relative_to(build_dir).as_posix(): file_sha256(f) for f in files}


def verify(path: Path | str) -> BuildManifest:
    """Read build.yaml and check every artifact's sha256; IntegrityError names the first mismatch."""
    manifest_file = _manifest_path(path)
    manifest = read_manifest(manifest_file)
    build_dir = manifest_file.parent
    actual = hash_artifacts(build_dir)
    for rel, digest in manifest.artifacts.items():
        if rel not in actual:
            raise IntegrityError(f"build {build_dir}: artifact {rel} is missing; recompile the build")
        if actual[rel] != digest:
            raise IntegrityError(
                f"build {build_dir}: artifact {rel} does not match its sha256 in {MANIFEST} "
                f"(modified or corrupted); refusing to load it, recompile the build"
            )
    extra = sorted(set(actual) - set(manifest.artifacts))
    if extra:
        raise IntegrityError(
            f"build {build_dir}: file {extra[0]} is not listed in {MANIFEST}; refusing to load"
        )
    return manifest


def list_builds(root: Path | str = "model_builds") -> list[tuple[Path, BuildManifest]]:
    """Every build under root (root/<model>/<target>-<shape>/build.yaml); unreadable ones are logged."""
    found = []
    for manifest_file in sorted(Path(root).glob(f"*/*/{MANIFEST}")):
        try:
            found.append((manifest_file.parent, read_manifest(manifest_file)))
        except InputError as exc:
            log.warning("skipping %s", exc.message)
    return found


def _reusable(existing: BuildManifest, wanted: dict) -> bool:
    current = versions()
    return (
        # Default steps are not compiled in: a build of other steps is reused and its steps updated.
        all(getattr(existing, key) == value for key, value in wanted.items() if key != "steps")
        and existing.versions.torch == current.torch
        and existing.versions.diffusers == current.diffusers
        and existing.versions.transformers == current.transformers
        and existing.versions.accelctl == current.accelctl
    )


def compile_build(
    model: str,
    target: str,
    *,
    height: int | None = None,
    width: int | None = None,
    batch: int = 1,
    dtype: str | None = None,
    steps: int | None = None,
    out: Path | str = "model_builds",
    reuse: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Compile `model` for `target` into out/<model>/<target>-<H>x<W>-b<batch>/ and return that folder.

    With reuse, an existing build of the same source, shapes, dtype and library versions that
    verifies is returned as is (only its default steps are updated)."""
    from accelctl import models, targets

    progress = progress or no_progress
    plugin = targets.get(target)
    dtype = plugin.resolve_dtype(dtype)
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    plugin.require()
    source = models.resolve(model)
    height, width, steps = default_shape(source, height, width, steps)
    if height % 8 or width % 8 or height <= 0 or width <= 0:
        raise InputError(f"height and width must be positive multiples of 8, got {height}x{width}")
    ref = ModelRef(
        name=source.name,
        source=source.source,
        kind=source.kind,
        revision=source.revision,
        content_sha256=source.content_sha256,
    )
    shape = Shape(height, width, batch, dtype, steps)
    build_dir = Path(out) / source.name / build_dir_name(target, shape)
    wanted = {"target": target, "model": ref, **shape.keys()}
    if reuse and (build_dir / MANIFEST).is_file():
        try:
            existing = verify(build_dir)
        except (InputError, IntegrityError) as exc:
            log.warning("recompiling: %s", exc.message)
        else:
            if _reusable(existing, wanted):
                if existing.steps != steps:
                    save_model(build_dir / MANIFEST, existing.model_copy(update={"steps": steps}))
                return build_dir

    build_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=build_dir.parent, prefix=f".{build_dir.name}."))
    try:
        started = time.perf_counter()
        pipe = models.load(source.path, plugin.load_dtype(dtype))
        components = plugin.compile(pipe, shape, staging, progress)
        seconds = time.perf_counter() - started
        manifest = BuildManifest(
            **wanted,
            components=components,
            versions=versions(),
            compile_seconds=round(seconds, 3),
            artifacts=hash_artifacts(staging),
            created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        )
        save_model(staging / MANIFEST, manifest)
        _replace_dir(staging, build_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return build_dir


def _replace_dir(new: Path, dest: Path) -> None:
    """Swap a finished staging folder into place so readers see the old build or the new, never half."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(dest, old)
    os.rename(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class LoadedBuild:
    """A verified build, loaded once, generating images; one generation at a time per instance."""

    def __init__(self, manifest: BuildManifest, path: Path, components):
        self.manifest = manifest
        self.path = path
        self._components = components
        self._lock = threading.Lock()

    def generate_batch(self, prompts: list[str], seed: int, steps: int | None = None):
        """One image per prompt; exactly `manifest.batch` prompts (the build's static batch)."""
        from accelctl.models.sampling import sample

        if steps is not None and steps < 1:
            raise InputError(f"steps must be at least 1, got {steps}")
        with self._lock:
            return sample(
                self._components, prompts, seed, steps or self.manifest.steps, self.manifest.guidance_scale
            )

    def generate(self, prompt: str, seed: int, steps: int | None = None):
        """One image; same build, prompt, seed and steps give byte-identical PNGs."""
        return self.generate_batch([prompt] * self.manifest.batch, seed, steps)[0]


def load_pipeline(path: Path | str) -> LoadedBuild:
    """Verify the build's hashes, then load it with its target (no compiling)."""
    from accelctl import targets

    manifest_file = _manifest_path(path)
    manifest = verify(manifest_file)
    plugin = targets.get(manifest.target)
    plugin.require()
    return LoadedBuild(manifest, manifest_file.parent, plugin.load(manifest_file.parent, manifest.shape))


def png_bytes(image) -> bytes:
    """PNG encoding without timestamps or other varying metadata: same pixels, same bytes."""
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
