"""Pre-flight before a long compile: torch.export each component at the build's static shapes.

Reports what a compiler will face (parameters, input shapes, op counts, graph breaks) and saves the
exported programs, so a model that cannot be captured fails in seconds here rather than an hour
into neuronx-cc or inductor. Runs on the CPU whatever the target: only shapes and dtype matter.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from accelctl.files import atomic_write
from accelctl.shape import Shape
from accelctl.targets.base import build_dir_name

TOP_OPS = 5


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def trace_component(name: str, module, inputs: tuple, out_dir: Path) -> dict:
    import torch

    report = {
        "component": name,
        "parameters": sum(p.numel() for p in module.parameters()),
        "inputs": [f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}" for t in inputs],
    }
    with torch.no_grad():
        torch._dynamo.reset()
        explained = torch._dynamo.explain(module)(*inputs)
        report["graph_breaks"] = explained.graph_break_count
        report["break_reasons"] = [str(r.reason) for r in explained.break_reasons][:3]
        torch._dynamo.reset()
        try:
            program = torch.export.export(module, inputs)
        except Exception as exc:  # any capture failure is the finding this pre-flight exists for
            report.update(exported=False, error=_first_line(exc), ops=0, top_ops={})
            return report
    ops = Counter(str(node.target) for node in program.graph.nodes if node.op == "call_function")
    torch.export.save(program, str(out_dir / f"{name}.pt2"))
    atomic_write(out_dir / f"{name}.graph.txt", program.graph_module.print_readable(print_output=False))
    report.update(
        exported=True, ops=sum(ops.values()), top_ops=dict(ops.most_common(TOP_OPS)), graph=f"{name}.pt2"
    )
    return report


def trace_components(pipe, shape: Shape, out_dir: Path) -> list[dict]:
    from accelctl.targets import export

    shapes = export.shapes_of(pipe, shape.height, shape.width, shape.batch)
    modules = export.modules(pipe)
    inputs = export.example_inputs(shapes, pipe.unet.dtype)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [trace_component(name, modules[name], inputs[name], out_dir) for name in export.COMPONENTS]


def trace_model(
    model: str,
    target: str,
    *,
    height: int | None = None,
    width: int | None = None,
    batch: int = 1,
    dtype: str | None = None,
    out: Path | str = "model_builds",
) -> tuple[Path, list[dict]]:
    """Export `model`'s components at `target`'s build shapes into out/<model>/traces/<target>-<shape>/
    (one .pt2 and one readable .graph.txt each, plus report.json); the target need not be installed."""
    from accelctl import models, targets
    from accelctl.models.presets import default_shape

    plugin = targets.get(target)
    dtype = plugin.resolve_dtype(dtype)
    source = models.resolve(model)
    height, width, steps = default_shape(source, height, width, None)
    shape = Shape(height, width, batch, dtype, steps)
    out_dir = Path(out) / source.name / "traces" / build_dir_name(target, shape)
    pipe = models.load(source.path, plugin.load_dtype(dtype))
    report = plugin.trace(pipe, shape, out_dir)
    atomic_write(out_dir / "report.json", json.dumps(report, indent=2))
    return out_dir, report
