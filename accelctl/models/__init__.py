"""Where a pipeline comes from: a built-in preset, a local diffusers folder, or a hub id.

All three end in the same `StableDiffusionPipeline.from_pretrained(folder)` call. A hub id is first
resolved to its local snapshot through huggingface_hub, which honours HF_HUB_OFFLINE (a cached model
works without network); the snapshot's commit is the revision recorded in build manifests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from accelctl.errors import InputError
from accelctl.models.presets import PRESETS, ensure_preset

PIPELINE_FILES = ["model_index.json", "*/config.json", "*/*.json", "*/*.txt", "*/*.safetensors"]


@dataclass(frozen=True)
class ModelSource:
    name: str  # folder name under model_builds/
    source: str  # what the user gave
    kind: str  # preset | folder | hub
    path: Path  # local diffusers folder that from_pretrained reads
    revision: str | None = None
    content_sha256: str | None = None


def folder_sha256(folder: Path) -> str:
    """One hash over every file's relative path and bytes: a revision for folders without one."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(model: str, revision: str | None = None) -> ModelSource:
    if model in PRESETS:
        path = ensure_preset(model)
        return ModelSource(model, model, "preset", path, content_sha256=folder_sha256(path))
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "model_index.json").is_file():
            raise InputError(f"{local}: not a diffusers pipeline folder (no model_index.json)")
        return ModelSource(
            local.resolve().name, model, "folder", local.resolve(), content_sha256=folder_sha256(local)
        )
    if model.count("/") != 1:
        raise InputError(
            f"model {model!r}: not a preset ({', '.join(PRESETS)}), a folder, or a hub id 'owner/name'"
        )
    from huggingface_hub import snapshot_download

    try:
        snap = Path(snapshot_download(model, revision=revision, allow_patterns=PIPELINE_FILES))
    except Exception as exc:  # hub errors differ by version: offline, auth, not found
        raise InputError(
            f"model {model!r}: could not get it from the hub or its cache ({type(exc).__name__}); "
            f"with HF_HUB_OFFLINE=1 it must already be cached, or pass a local diffusers folder"
        ) from None
    return ModelSource(model.replace("/", "--"), model, "hub", snap, revision=snap.name)


def torch_dtype(name: str):
    import torch

    try:
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]
    except KeyError:
        raise InputError(f"dtype {name!r}: valid are fp32, fp16, bf16") from None


def load(path: Path, dtype: str = "fp32"):
    """The pipeline at a local diffusers folder, through diffusers' own from_pretrained."""
    import warnings

    quiet_progress()
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import is_accelerate_available

    with warnings.catch_warnings():
        # diffusers 0.42 renamed torch_dtype to dtype; 0.35 (Neuron environments) knows only torch_dtype.
        warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
        return StableDiffusionPipeline.from_pretrained(
            str(path),
            torch_dtype=torch_dtype(dtype),
            safety_checker=None,
            requires_safety_checker=False,
            # Ask for accelerate's low-memory loading only where it is installed: otherwise diffusers
            # turns the request down with a five-line warning before every command's own output.
            low_cpu_mem_usage=is_accelerate_available(),
        )


def quiet_progress() -> None:
    """diffusers and transformers draw their own tqdm bars and chatter about optional image
    processors a text-to-image pipeline never uses; accelctl draws one rich bar instead."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
