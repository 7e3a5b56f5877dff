"""Built-in presets: Stable Diffusion pipelines from configs with seeded random weights.

A preset is generated once into a cache folder with `save_pretrained`, then loaded through the same
`from_pretrained` call as a hub id or a local diffusers folder, so every later step (compile, trace,
serve) exercises the real loading path. The folder name carries a fingerprint of the recipe, so a
changed recipe never reuses a stale folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from accelctl.models import tokenizer as tok

RECIPE_VERSION = 1

# SD 2.1 base scheduler settings (DDIM: deterministic and stateless across steps).
SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
    "num_train_timesteps": 1000,
}


@dataclass(frozen=True)
class Preset:
    name: str
    height: int
    width: int
    steps: int
    unet: dict
    vae: dict
    text: dict
    seed: int = 0
    description: str = ""
    extra: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        recipe = {
            "v": RECIPE_VERSION,
            "unet": self.unet,
            "vae": self.vae,
            "text": self.text,
            "seed": self.seed,
            "scheduler": SCHEDULER,
            "tokenizer": hashlib.sha256(json.dumps(tok.vocabulary()).encode()).hexdigest(),
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _unet(widths, layers, heads, cross_dim, sample_size, groups=32) -> dict:
    n = len(widths)
    return {
        "sample_size": sample_size,
        "in_channels": 4,
        "out_channels": 4,
        "block_out_channels": list(widths),
        "layers_per_block": layers,
        "down_block_types": ["CrossAttnDownBlock2D"] * (n - 1) + ["DownBlock2D"],
        "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * (n - 1),
        # diffusers reads SD 2.x's attention_head_dim as the number of heads.
        "attention_head_dim": list(heads),
        "cross_attention_dim": cross_dim,
        "use_linear_projection": True,
        "norm_num_groups": groups,
    }


def _vae(widths, layers, sample_size, groups=32) -> dict:
    n = len(widths)
    return {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": list(widths),
        "layers_per_block": layers,
        "down_block_types": ["DownEncoderBlock2D"] * n,
        "up_block_types": ["UpDecoderBlock2D"] * n,
        "norm_num_groups": groups,
        "sample_size": sample_size,
        "scaling_factor": 0.18215,
    }


def _text(hidden, layers, heads, intermediate, act="gelu") -> dict:
    return {
        "vocab_size": tok.vocab_size(),
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "max_position_embeddings": tok.MAX_LENGTH,
        "hidden_act": act,
        "projection_dim": hidden,
        "bos_token_id": tok.vocabulary()[0][tok.BOS],
        "eos_token_id": tok.vocabulary()[0][tok.EOS],
        "pad_token_id": 1,
    }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            64,
            64,
            5,
            unet=_unet((32, 64), 2, (2, 4), 64, 8),
            vae=_vae((32, 32, 32, 32), 1, 64),
            text=_text(64, 2, 4, 128),
            description="~2 M parameters, 64x64: tests and demos",
        ),
        Preset(
            "small",
            256,
            256,
            20,
            unet=_unet((128, 256, 512, 512), 1, (2, 4, 8, 8), 512, 32),
            vae=_vae((64, 128, 256, 256), 1, 256),
            text=_text(512, 6, 8, 2048),
            description="SD-2.1-shaped UNet cut down (~94 M), 256x256: seconds per image on a CPU",
        ),
        Preset(
            "sd21-random",
            512,
            512,
            50,
            unet=_unet((320, 640, 1280, 1280), 2, (5, 10, 20, 20), 1024, 64),
            vae=_vae((128, 256, 512, 512), 2, 768),
            text=_text(1024, 23, 16, 4096),
            description="full SD 2.1 base architecture, random weights: honest large-model timings",
        ),
    )
}


def cache_root() -> Path:
    root = os.environ.get("ACCELCTL_CACHE") or Path.home() / ".cache" / "accelctl"
    return Path(root)


def preset_dir(name: str) -> Path:
    preset = PRESETS[name]
    return cache_root() / "presets" / f"{name}-{preset.fingerprint()}"


def build_pipeline(preset: Preset):
    """The preset as an in-memory StableDiffusionPipeline with seeded random weights."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(preset.seed)
    unet = UNet2DConditionModel(**preset.unet)
    vae = AutoencoderKL(**preset.vae)
    text_encoder = CLIPTextModel(CLIPTextConfig(**preset.text))
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(tok.write_tokenizer(tmp))
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(**SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def ensure_preset(name: str) -> Path:
    """The preset's diffusers folder, generating it on first use (atomically: concurrent callers are safe)."""
    target = preset_dir(name)
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    from accelctl.models import quiet_progress

    quiet_progress()
    try:
        pipe = build_pipeline(PRESETS[name])
        pipe.save_pretrained(tmp, safe_serialization=True)
        # Our own tokenizer files replace whatever this transformers version chose to save, so the
        # folder loads the same way under transformers 4.x and 5.x.
        shutil.rmtree(tmp / "tokenizer")
        tok.write_tokenizer(tmp / "tokenizer")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


DEFAULT_STEPS = 25  # sampling steps of a build of a model that is not a preset


def default_shape(source, height: int | None, width: int | None, steps: int | None):
    """(height, width, steps): what was given, else the preset's, else the UNet's native size."""
    preset = PRESETS.get(source.name) if source.kind == "preset" else None
    if preset:
        return height or preset.height, width or preset.width, steps or preset.steps
    unet = json.loads((source.path / "unet" / "config.json").read_text())
    vae = json.loads((source.path / "vae" / "config.json").read_text())
    size = unet["sample_size"] * 2 ** (len(vae["block_out_channels"]) - 1)
    return height or size, width or size, steps or DEFAULT_STEPS
