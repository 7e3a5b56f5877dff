"""The denoising loop every target shares: tokenize, encode, DDIM/PNDM/... steps with CFG, decode.

Targets differ only in how the three components run (eager module, AOTInductor package, Neuron
graph), so they hand this loop three callables at the build's static shapes. Keeping the loop here
rather than in diffusers' pipeline __call__ is what lets a compiled component with a fixed signature
stand in for the eager one, and keeps results identical across diffusers versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass
class Components:
    tokenizer: object
    scheduler_class: type
    scheduler_config: dict
    encode: Callable[[torch.Tensor], torch.Tensor]  # input_ids [2B, 77] -> embeddings
    denoise: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x, t[2B], emb) -> eps
    decode: Callable[[torch.Tensor], torch.Tensor]  # latents [B, C, h, w] -> images [B, 3, H, W] in [-1, 1]
    latent_shape: tuple[int, int, int, int]
    scaling_factor: float
    dtype: torch.dtype
    device: str = "cpu"


def sample(
    c: Components, prompts: list[str], seed: int, steps: int, guidance_scale: float
) -> list[Image.Image]:
    batch = c.latent_shape[0]
    if len(prompts) != batch:
        raise ValueError(f"this build takes {batch} prompt(s) at a time, got {len(prompts)}")
    tokens = c.tokenizer(
        [""] * batch + list(prompts),
        padding="max_length",
        max_length=c.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids.to(c.device)
    # A fresh scheduler per image: some (PNDM) keep per-run state, and builds serve many threads.
    scheduler = c.scheduler_class.from_config(c.scheduler_config)
    scheduler.set_timesteps(steps)
    with torch.inference_mode():
        embeddings = c.encode(tokens).to(c.dtype)
        generator = torch.Generator("cpu").manual_seed(seed)
        latents = torch.randn(c.latent_shape, generator=generator, dtype=torch.float32)
        latents = (latents * scheduler.init_noise_sigma).to(c.device)
        for t in scheduler.timesteps:
            model_in = scheduler.scale_model_input(torch.cat([latents, latents]), t).to(c.dtype)
            # repeat, not expand: compiled graphs (AOTInductor) assume contiguous inputs and would
            # read a stride-0 tensor wrongly.
            timestep = t.reshape(1).repeat(2 * batch).to(c.device)
            eps_uncond, eps_text = c.denoise(model_in, timestep, embeddings).float().chunk(2)
            eps = eps_uncond + guidance_scale * (eps_text - eps_uncond)
            latents = scheduler.step(eps, t, latents, return_dict=False)[0]
        images = c.decode((latents / c.scaling_factor).to(c.dtype)).float()
    pixels = ((images / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    array = pixels.permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(np.ascontiguousarray(a)) for a in array]
