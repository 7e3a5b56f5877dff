"""The three traced components of a Stable Diffusion pipeline, as plain tensor-in/tensor-out modules.

Every compiled target (torch.export + AOTInductor, torch.compile, torch-neuronx trace) needs the same
thing: modules whose forward takes only tensors at static shapes. These wrappers and the example
inputs built from a build's shapes are that common ground. Imports torch: load only inside targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

COMPONENTS = ("text_encoder", "unet", "vae_decoder")


@dataclass(frozen=True)
class Shapes:
    """Static shapes of one build. CFG doubles the batch seen by the text encoder and the UNet."""

    height: int
    width: int
    batch: int
    latent_channels: int
    vae_scale_factor: int
    max_length: int
    text_hidden: int

    @property
    def latent(self) -> tuple[int, int, int, int]:
        return (
            self.batch,
            self.latent_channels,
            self.height // self.vae_scale_factor,
            self.width // self.vae_scale_factor,
        )

    @property
    def cfg_batch(self) -> int:
        return 2 * self.batch


def shapes_of(pipe, height: int, width: int, batch: int) -> Shapes:
    return Shapes(
        height=height,
        width=width,
        batch=batch,
        latent_channels=pipe.unet.config.in_channels,
        vae_scale_factor=2 ** (len(pipe.vae.config.block_out_channels) - 1),
        max_length=pipe.tokenizer.model_max_length,
        text_hidden=pipe.text_encoder.config.hidden_size,
    )


class TextEncoder(nn.Module):
    def __init__(self, text_encoder: nn.Module):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(input_ids, return_dict=False)[0]


class UNet(nn.Module):
    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class VaeDecoder(nn.Module):
    """post_quant_conv followed by the decoder: what `vae.decode` does, as one module."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.post_quant_conv = vae.post_quant_conv
        self.decoder = vae.decoder

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(latents))


def modules(pipe) -> dict[str, nn.Module]:
    return {
        "text_encoder": TextEncoder(pipe.text_encoder).eval(),
        "unet": UNet(pipe.unet).eval(),
        "vae_decoder": VaeDecoder(pipe.vae).eval(),
    }


def example_inputs(shapes: Shapes, dtype: torch.dtype, device: str = "cpu") -> dict[str, tuple]:
    n = shapes.cfg_batch
    return {
        "text_encoder": (torch.zeros(n, shapes.max_length, dtype=torch.long, device=device),),
        "unet": (
            torch.zeros((n,) + shapes.latent[1:], dtype=dtype, device=device),
            torch.zeros(n, dtype=torch.long, device=device),
            torch.zeros(n, shapes.max_length, shapes.text_hidden, dtype=dtype, device=device),
        ),
        "vae_decoder": (torch.zeros(shapes.latent, dtype=dtype, device=device),),
    }
