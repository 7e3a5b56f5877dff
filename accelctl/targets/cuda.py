"""CUDA targets: `cuda` runs fp16/bf16 eagerly with scaled-dot-product attention; `cuda-compile`
adds channels_last and torch.compile(mode="max-autotune-no-cudagraphs", fullgraph=True), the way
the paper's GPU deployments ran. The inductor cache produced while compiling ships inside the build
and is copied out at load time, so a loaded build reuses the tuned kernels instead of re-tuning.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from accelctl.shape import Shape
from accelctl.targets.base import (
    PIPELINE_DIR,
    Progress,
    Target,
    compile_eager,
    eager_components,
    save_pipeline,
    targets,
)

CACHE_DIR = "inductor-cache"


def _cuda_available() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, "no CUDA device visible to torch (needs an NVIDIA GPU and a CUDA build of torch)"
    return True, ""


def _load_on_gpu(build_dir: Path, shape: Shape):
    from diffusers.models.attention_processor import AttnProcessor2_0

    from accelctl.models import load

    pipe = load(build_dir / PIPELINE_DIR, shape.dtype).to("cuda")
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    return pipe


@targets.register("cuda")
class Cuda(Target):
    name = "cuda"

    def available(self) -> tuple[bool, str]:
        return _cuda_available()

    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        compile_eager(pipe, build_dir, progress)
        return {"text_encoder": "eager", "unet": "eager-sdpa", "vae_decoder": "eager-sdpa"}

    def load(self, build_dir: Path, shape: Shape):
        return eager_components(_load_on_gpu(build_dir, shape), build_dir, shape, "cuda")


@targets.register("cuda-compile")
class CudaCompile(Target):
    name = "cuda-compile"

    def available(self) -> tuple[bool, str]:
        return _cuda_available()

    def _compiled(self, build_dir: Path, shape: Shape, cache: Path):
        import torch

        # Inductor reads its cache folder from the environment when it compiles.
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
        pipe = _load_on_gpu(build_dir, shape)
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        components = eager_components(pipe, build_dir, shape, "cuda")
        options = {"mode": "max-autotune-no-cudagraphs", "fullgraph": True}
        components.denoise = torch.compile(components.denoise, **options)
        components.decode = torch.compile(components.decode, **options)
        return components

    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        from accelctl.models.sampling import sample

        progress("save pipeline", 0, 3)
        save_pipeline(pipe, build_dir)
        progress("compile + autotune (warm-up image)", 1, 3)
        components = self._compiled(build_dir, shape, build_dir / CACHE_DIR)
        sample(components, ["warm-up"] * shape.batch, seed=0, steps=2, guidance_scale=7.5)
        progress("compile + autotune (warm-up image)", 3, 3)
        return {
            "text_encoder": "eager",
            "unet": "inductor-max-autotune",
            "vae_decoder": "inductor-max-autotune",
        }

    def load(self, build_dir: Path, shape: Shape):
        # A private copy: inductor writes to its cache, and the build's files must keep their hashes.
        cache = Path(tempfile.mkdtemp(prefix="accelctl-inductor-"))
        shutil.copytree(build_dir / CACHE_DIR, cache, dirs_exist_ok=True)
        return self._compiled(build_dir, shape, cache)
