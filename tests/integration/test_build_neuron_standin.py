"""The inf2/trn1 targets against the torch-neuronx API, using a STAND-IN torch_neuronx module.

torch-neuronx cannot be installed here (it comes from AWS's Neuron package index and needs a Neuron
device). The stand-in below is injected into sys.modules; it mirrors the published signatures of
`torch_neuronx.trace(func, example_inputs, *, compiler_workdir, compiler_args,
inline_weights_to_neff)` and `torch_neuronx.DataParallel(module, device_ids, set_dynamic_batching)`,
records how accelctl calls them, and "compiles" with torch.jit.trace so the saved graphs load back
with torch.jit.load the way real Neuron graphs do. It checks the calls and the build layout, not
Neuron performance or numerics.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest

from accelctl import builds

pytestmark = pytest.mark.slow


@pytest.fixture
def standin_neuronx(monkeypatch):
    import torch

    calls = {"trace": [], "data_parallel": []}

    def trace(
        func,
        example_inputs,
        *_,
        input_output_aliases=None,
        compiler_workdir=None,
        compiler_args=None,
        partitioner_config=None,
        inline_weights_to_neff=True,
        **kwargs,
    ):
        assert not _, "torch_neuronx.trace takes everything after example_inputs by keyword"
        calls["trace"].append(
            {
                "module": type(func).__name__,
                "shapes": [tuple(t.shape) for t in example_inputs],
                "compiler_args": compiler_args,
                "inline_weights_to_neff": inline_weights_to_neff,
                "workdir": compiler_workdir,
            }
        )
        return torch.jit.trace(func, example_inputs, strict=False, check_trace=False)

    class DataParallel(torch.nn.Module):
        def __init__(self, module, device_ids=None, dim=0, set_dynamic_batching=True):
            super().__init__()
            self.module, self.device_ids = module, device_ids
            calls["data_parallel"].append({"device_ids": device_ids, "dynamic": set_dynamic_batching})

        def forward(self, *inputs):
            # One chunk of the batch per NeuronCore, like the real DataParallel without dynamic batching.
            chunks = zip(*(t.chunk(len(self.device_ids)) for t in inputs), strict=False)
            return torch.cat([self.module(*chunk) for chunk in chunks])

    fake = types.ModuleType("torch_neuronx")
    fake.trace, fake.DataParallel = trace, DataParallel
    fake.__spec__ = importlib.machinery.ModuleSpec("torch_neuronx", None)
    monkeypatch.setitem(sys.modules, "torch_neuronx", fake)
    return calls


def test_inf2_build_traces_four_graphs_and_runs_unet_data_parallel(standin_neuronx, tmp_path):
    path = builds.compile_build("tiny", "inf2", out=tmp_path)
    manifest = builds.verify(path)
    assert path.name == "inf2-64x64-b1" and manifest.dtype == "bf16"
    traced = {c["module"]: c for c in standin_neuronx["trace"]}
    assert set(traced) == {"TextEncoder", "UNet", "Decoder", "Conv2d"}  # Conv2d: vae.post_quant_conv
    assert all(c["inline_weights_to_neff"] for c in traced.values())
    assert "--model-type=unet-inference" in traced["UNet"]["compiler_args"]
    assert traced["UNet"]["compiler_args"][1:5] == ["--auto-cast", "matmult", "--auto-cast-type", "bf16"]
    assert "--model-type=unet-inference" not in traced["TextEncoder"]["compiler_args"]
    # CFG doubles the batch to 2; each of the two NeuronCores gets one sample.
    assert traced["UNet"]["shapes"] == [(1, 4, 8, 8), (1,), (1, 77, 64)]
    assert traced["Decoder"]["shapes"] == [(1, 4, 8, 8)]
    assert sorted(p.name for p in (path / "neuron").iterdir()) == [
        "text_encoder.pt",
        "unet.pt",
        "vae_decoder.pt",
        "vae_post_quant_conv.pt",
    ]
    assert not list((path / "pipeline" / "unet").glob("*.safetensors"))

    loaded = builds.load_pipeline(path)
    assert standin_neuronx["data_parallel"] == [{"device_ids": [0, 1], "dynamic": False}]
    image = loaded.generate("a red castle", seed=1)
    assert image.size == (64, 64)
    assert builds.png_bytes(image) == builds.png_bytes(loaded.generate("a red castle", seed=1))
