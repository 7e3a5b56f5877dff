"""The compile-target interface and its registry.

A target turns a loaded pipeline into build artifacts (compile), says whether it can run here
(available), exports the components for a pre-flight report (trace), and turns a build folder back
into the three callables the shared sampling loop drives (load). One module per family registers
its targets by name: cpu.py, cuda.py, neuron.py.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from accelctl.errors import InputError, MissingDependency
from accelctl.registry import Registry
from accelctl.shape import TARGET_DTYPES, Shape, default_dtype

if TYPE_CHECKING:
    from accelctl.models.sampling import Components

# progress(stage, done, total): compile reports each finished stage so the CLI can draw a bar.
Progress = Callable[[str, int, int], None]

PIPELINE_DIR = "pipeline"
WEIGHT_FOLDERS = {"text_encoder": "text_encoder", "unet": "unet", "vae_decoder": "vae"}


def no_progress(stage: str, done: int, total: int) -> None:
    return None


def build_dir_name(target: str, shape: Shape) -> str:
    """The folder of one target's build at one shape (traces use the same name)."""
    return f"{target}-{shape.label}"


class Target(ABC):
    name: ClassVar[str]

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """(True, "") when this machine can compile and run the target, else (False, why + what to do)."""

    @abstractmethod
    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        """Write the artifacts into build_dir; return how each component runs (e.g. unet: aoti)."""

    @abstractmethod
    def load(self, build_dir: Path, shape: Shape) -> Components:
        """The build's components, ready for the sampling loop, without compiling anything again."""

    def load_dtype(self, dtype: str) -> str:
        """The dtype the source pipeline is loaded in before compile (a target may cast later)."""
        return dtype

    def resolve_dtype(self, dtype: str | None) -> str:
        """The dtype a build for this target uses: the one asked for, once checked, else the default."""
        if dtype is None:
            return default_dtype(self.name)
        if dtype not in TARGET_DTYPES[self.name]:
            valid = ", ".join(TARGET_DTYPES[self.name])
            raise InputError(f"target {self.name!r} does not support dtype {dtype!r}; valid: {valid}")
        return dtype

    def require(self) -> None:
        ok, why = self.available()
        if not ok:
            raise MissingDependency(f"target {self.name!r} is not available here: {why}")

    def trace(self, pipe, shape: Shape, out_dir: Path) -> list[dict]:
        """torch.export every component at the build's static shapes; see accelctl.targets.trace."""
        from accelctl.targets.trace import trace_components

        return trace_components(pipe, shape, out_dir)


targets: Registry[type[Target]] = Registry("target")


def get(name: str) -> Target:
    _load_plugins()
    return targets.get(name)()


def names() -> list[str]:
    _load_plugins()
    return targets.names()


def _load_plugins() -> None:
    # The plug-in modules import torch only inside their methods, so importing them here is cheap.
    from accelctl.targets import cpu, cuda, neuron  # noqa: F401


# ------------------------------------------------------------------ helpers the targets share


def save_pipeline(pipe, build_dir: Path, drop_weights: tuple[str, ...] = ()) -> Path:
    """save_pretrained into build/pipeline; weights of compiled components are dropped (the compiled
    artifact holds them), their config.json stays for the shapes."""
    folder = build_dir / PIPELINE_DIR
    pipe.save_pretrained(folder, safe_serialization=True)
    for component in drop_weights:
        for weights in (folder / WEIGHT_FOLDERS[component]).glob("*.safetensors"):
            weights.unlink()
    return folder


def compile_eager(pipe, build_dir: Path, progress: Progress) -> None:
    """An eager target's whole compile: the pipeline saved as it is, loaded and run as it is."""
    progress("save pipeline", 0, 1)
    save_pipeline(pipe, build_dir)
    progress("save pipeline", 1, 1)


def read_config(build_dir: Path, folder: str, name: str = "config.json") -> dict:
    return json.loads((build_dir / PIPELINE_DIR / folder / name).read_text())


def scheduler_and_tokenizer(build_dir: Path):
    """(tokenizer, scheduler class, scheduler config) from the build's pipeline folder."""
    import diffusers
    from transformers import CLIPTokenizer

    index = json.loads((build_dir / PIPELINE_DIR / "model_index.json").read_text())
    scheduler_cls = getattr(diffusers, index["scheduler"][1])
    config = read_config(build_dir, "scheduler", "scheduler_config.json")
    tokenizer = CLIPTokenizer.from_pretrained(str(build_dir / PIPELINE_DIR / "tokenizer"))
    return tokenizer, scheduler_cls, config


def latent_shape(build_dir: Path, shape: Shape) -> tuple[int, int, int, int]:
    unet, vae = read_config(build_dir, "unet"), read_config(build_dir, "vae")
    factor = 2 ** (len(vae["block_out_channels"]) - 1)
    if shape.height % factor or shape.width % factor:
        raise InputError(f"height and width must be multiples of {factor} for this model")
    return (shape.batch, unet["in_channels"], shape.height // factor, shape.width // factor)


def eager_components(pipe, build_dir: Path, shape: Shape, device: str) -> Components:
    """Components that run the pipeline's own modules (cpu and cuda targets)."""
    from accelctl.models.sampling import Components
    from accelctl.targets import export

    mods = export.modules(pipe)
    return Components(
        tokenizer=pipe.tokenizer,
        scheduler_class=type(pipe.scheduler),
        scheduler_config=dict(pipe.scheduler.config),
        encode=mods["text_encoder"],
        denoise=mods["unet"],
        decode=mods["vae_decoder"],
        latent_shape=latent_shape(build_dir, shape),
        scaling_factor=pipe.vae.config.scaling_factor,
        dtype=pipe.unet.dtype,
        device=device,
    )
