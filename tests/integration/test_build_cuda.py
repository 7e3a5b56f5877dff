"""cuda and cuda-compile builds of `tiny`: run only where torch sees a CUDA device."""

from __future__ import annotations

import numpy as np
import pytest

from accelctl import builds

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
PROMPT = "a photo of an astronaut riding a horse"


@pytest.mark.parametrize("target", ["cuda", "cuda-compile"])
def test_cuda_build_generates_deterministically_close_to_cpu(target, tiny_cpu_build, tmp_path):
    from skimage.metrics import peak_signal_noise_ratio

    path = builds.compile_build("tiny", target, out=tmp_path)
    loaded = builds.load_pipeline(path)
    assert loaded.manifest.dtype == "fp16"
    first = loaded.generate(PROMPT, seed=3)
    assert builds.png_bytes(first) == builds.png_bytes(loaded.generate(PROMPT, seed=3))
    reference = np.asarray(builds.load_pipeline(tiny_cpu_build).generate(PROMPT, seed=3))
    # fp16 against fp32: looser than cpu-compile's 35 dB, still the same picture.
    assert peak_signal_noise_ratio(reference, np.asarray(first), data_range=255) >= 25
    if target == "cuda-compile":
        assert (path / "inductor-cache").is_dir()
