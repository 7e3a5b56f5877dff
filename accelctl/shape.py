"""The shape of a build: the static height, width and batch it is compiled for, the dtype it runs in
and its default denoising steps. One value from `compile` (build.yaml) through `bench` (the profile)
to `deploy` (the Neuron compile Job); the files keep them as flat keys (height, width, batch, dtype,
steps), which `Shape.keys()` gives and `Shape.of()` reads back."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

DtypeName = Literal["fp32", "fp16", "bf16"]

# The dtypes each target builds in, its default first (Neuron: bf16, the torch-neuronx recipe; CUDA:
# fp16). The target plug-ins read this, and so does a profile that predates recording its dtype, so
# the lowest layer knows a target's default without importing the plug-ins.
TARGET_DTYPES: dict[str, tuple[DtypeName, ...]] = {
    "cpu": ("fp32", "bf16"),
    "cpu-compile": ("fp32", "bf16"),
    "cuda": ("fp16", "bf16", "fp32"),
    "cuda-compile": ("fp16", "bf16"),
    "inf2": ("bf16", "fp32"),
    "trn1": ("bf16", "fp32"),
}


def default_dtype(target: str) -> DtypeName:
    return TARGET_DTYPES[target][0]


@dataclass(frozen=True)
class Shape:
    height: int
    width: int
    batch: int
    dtype: DtypeName
    steps: int

    @property
    def label(self) -> str:
        """What names a build folder: steps and dtype are not part of it (one build per static shape)."""
        return f"{self.height}x{self.width}-b{self.batch}"

    def keys(self) -> dict[str, Any]:
        """The flat keys build.yaml and a profile store."""
        return asdict(self)

    @classmethod
    def of(cls, record: Any) -> Shape:
        """The shape a file's flat keys hold (a BuildManifest or a Profile)."""
        return cls(record.height, record.width, record.batch, record.dtype, record.steps)
