"""In-process mode: load a build here, warm it up, time N images, keep a few for the quality check.

One worker generates one image at a time, so the breaking point recorded from this mode is an
estimate, 1 / mean latency (one replica serving back to back); `bench --url` against a running
server measures the real one.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from accelctl.bench.quality import cases
from accelctl.errors import InputError

ESTIMATE = "in-process estimate: 1 / mean latency of 1 worker generating back to back; no load search was run"


@dataclass(frozen=True)
class Settings:
    images: int = 10
    warmup: int = 1
    steps: int | None = None  # None: the build's default
    quality_images: int = 4


@dataclass
class BuildRun:
    path: Path
    manifest: object  # accelctl.builds.BuildManifest
    steps: int
    latencies: list[float]
    wall_s: float
    peak_memory_mib: float
    images: list = field(default_factory=list)  # the first quality_images, for the quality check

    @property
    def images_per_s(self) -> float:
        return len(self.latencies) * self.manifest.batch / self.wall_s

    @property
    def breaking_point_rps(self) -> float:
        return len(self.latencies) / sum(self.latencies)


def check_build(path: Path | str):
    """The build's manifest, read without loading it; a bad path is one line naming the fix."""
    from accelctl.builds import MANIFEST, read_manifest

    p = Path(path)
    if not p.is_dir():
        raise InputError(
            f"{p}: no such build folder; compile one with `accelctl compile --model MODEL --target "
            "TARGET` or fix the path"
        )
    if not (p / MANIFEST).is_file():
        raise InputError(f"{p}: not a build (no {MANIFEST}); point at a folder made by `accelctl compile`")
    return read_manifest(p)


def default_reference(path: Path | str, manifest) -> Path | None:
    """The `cpu` fp32 build of the same model and shape beside this one, if there is one."""
    from accelctl.builds import read_manifest
    from accelctl.targets.base import build_dir_name

    candidate = Path(path).parent / build_dir_name("cpu", manifest.shape)
    if not (candidate / "build.yaml").is_file():
        return None
    ref = read_manifest(candidate)
    return candidate if ref.dtype == "fp32" and ref.model.name == manifest.model.name else None


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def run_build(path: Path | str, settings: Settings, on_image: Callable[[], None] = lambda: None) -> BuildRun:
    from accelctl.builds import load_pipeline

    build = load_pipeline(path)
    steps = settings.steps or build.manifest.steps
    for prompt, seed in cases(settings.warmup):
        build.generate(prompt, seed, steps)
        on_image()
    latencies, images = [], []
    start = time.perf_counter()
    for i, (prompt, seed) in enumerate(cases(settings.images)):
        t = time.perf_counter()
        image = build.generate(prompt, seed, steps)
        latencies.append(time.perf_counter() - t)
        if i < settings.quality_images:
            images.append(image)
        on_image()
    wall = time.perf_counter() - start
    return BuildRun(Path(path), build.manifest, steps, latencies, wall, peak_rss_mib(), images)


def reference_images(path: Path | str, steps: int, n: int) -> list:
    """The reference build's images for the first n quality cases, at the benched build's steps."""
    from accelctl.builds import load_pipeline

    build = load_pipeline(path)
    return [build.generate(prompt, seed, steps) for prompt, seed in cases(n)]
