"""CPU targets: `cpu` runs the pipeline eagerly; `cpu-compile` ships AOTInductor packages.

Measured on this kind of CPU: inductor is slower than eager unless constant folding of the weights
is on (`torch._inductor.config.freezing = True`), then faster. AOTInductor packages
(torch.export graph -> aoti_compile_and_package) hold the compiled code and the weights, so
loading a build never compiles again.
"""

from __future__ import annotations

from pathlib import Path

from accelctl.shape import Shape
from accelctl.targets.base import (
    PIPELINE_DIR,
    Progress,
    Target,
    compile_eager,
    eager_components,
    latent_shape,
    read_config,
    save_pipeline,
    scheduler_and_tokenizer,
    targets,
)

AOTI_DIR = "aoti"


@targets.register("cpu")
class Cpu(Target):
    name = "cpu"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        compile_eager(pipe, build_dir, progress)
        return {"text_encoder": "eager", "unet": "eager", "vae_decoder": "eager"}

    def load(self, build_dir: Path, shape: Shape):
        from accelctl.models import load

        pipe = load(build_dir / PIPELINE_DIR, shape.dtype)
        return eager_components(pipe, build_dir, shape, "cpu")


@targets.register("cpu-compile")
class CpuCompile(Target):
    name = "cpu-compile"

    def available(self) -> tuple[bool, str]:
        import shutil

        if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
            return False, "inductor needs a C++ compiler (install g++)"
        return True, ""

    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        import torch

        from accelctl.targets import export

        shapes = export.shapes_of(pipe, shape.height, shape.width, shape.batch)
        mods = export.modules(pipe)
        inputs = export.example_inputs(shapes, pipe.unet.dtype)
        (build_dir / AOTI_DIR).mkdir(parents=True)
        total = len(export.COMPONENTS) + 1
        for done, name in enumerate(export.COMPONENTS):
            progress(f"aot-compile {name}", done, total)
            with torch.no_grad(), torch._inductor.config.patch(freezing=True):
                program = torch.export.export(mods[name], inputs[name])
                torch._inductor.aoti_compile_and_package(
                    program, package_path=str(build_dir / AOTI_DIR / f"{name}.pt2")
                )
        progress("save pipeline", total - 1, total)
        # Weights live inside the packages; the pipeline folder keeps configs, tokenizer, scheduler.
        save_pipeline(pipe, build_dir, drop_weights=export.COMPONENTS)
        progress("save pipeline", total, total)
        return dict.fromkeys(export.COMPONENTS, "aoti")

    def load(self, build_dir: Path, shape: Shape):
        import torch

        from accelctl.models import torch_dtype
        from accelctl.models.sampling import Components

        runners = {
            name: torch._inductor.aoti_load_package(str(build_dir / AOTI_DIR / f"{name}.pt2"))
            for name in ("text_encoder", "unet", "vae_decoder")
        }
        tokenizer, scheduler_cls, scheduler_config = scheduler_and_tokenizer(build_dir)
        return Components(
            tokenizer=tokenizer,
            scheduler_class=scheduler_cls,
            scheduler_config=scheduler_config,
            encode=runners["text_encoder"],
            denoise=runners["unet"],
            decode=runners["vae_decoder"],
            latent_shape=latent_shape(build_dir, shape),
            scaling_factor=read_config(build_dir, "vae")["scaling_factor"],
            dtype=torch_dtype(shape.dtype),
        )
