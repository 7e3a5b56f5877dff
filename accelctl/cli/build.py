"""trace, compile, builds, generate: turning a Stable Diffusion pipeline into builds and using them."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from accelctl import __version__
from accelctl.cli.common import console, err_console, print_json

MODEL_HELP = "preset (tiny, small, sd21-random), local diffusers folder, or hub id (HF_HUB_OFFLINE works)"


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.command("compile")(compile_)
    app.command("builds")(builds_)
    app.command("generate")(generate)


def trace(
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    target: str = typer.Option("cpu", "--target", "-t", help="compile target whose shapes to export at"),
    height: int | None = typer.Option(None, help="image height (default: the model's)"),
    width: int | None = typer.Option(None, help="image width (default: the model's)"),
    batch: int = typer.Option(1, help="images per call"),
    dtype: str | None = typer.Option(None, help="fp32, fp16 or bf16 (default: the target's)"),
    out: Path = typer.Option(Path("model_builds"), help="root folder; graphs go to <out>/<model>/traces/"),
    json_: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Export each component at the build's static shapes: a fast pre-flight before a long compile."""
    from rich.table import Table

    from accelctl.targets.trace import trace_model

    with err_console.status("exporting components"):
        folder, report = trace_model(
            model, target, height=height, width=width, batch=batch, dtype=dtype, out=out
        )
    failed = [r["component"] for r in report if not r["exported"]]
    if json_:
        print_json({"path": str(folder), "components": report})
    else:
        table = Table(title=f"trace {model} for {target} -> {folder}")
        for col in ("component", "parameters", "inputs", "ops", "graph breaks", "top ops / error"):
            table.add_column(col, justify="right" if col in ("parameters", "ops", "graph breaks") else "left")
        for r in report:
            detail = r.get("error") or ", ".join(
                f"{op.removeprefix('aten.')} {n}" for op, n in r["top_ops"].items()
            )
            table.add_row(
                r["component"],
                f"{r['parameters']:,}",
                "\n".join(r["inputs"]),
                str(r["ops"]),
                str(r["graph_breaks"]),
                detail,
            )
        console.print(table)
    if failed:
        err_console.print(f"error: could not export {', '.join(failed)}; see the report", markup=False)
        raise typer.Exit(1)


def compile_(
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    target: str = typer.Option(
        "cpu", "--target", "-t", help="cpu, cpu-compile, cuda, cuda-compile, inf2, trn1"
    ),
    height: int | None = typer.Option(None, help="image height (default: the model's)"),
    width: int | None = typer.Option(None, help="image width (default: the model's)"),
    batch: int = typer.Option(1, help="images per call (static in compiled builds)"),
    dtype: str | None = typer.Option(None, help="fp32, fp16 or bf16 (default: the target's)"),
    steps: int | None = typer.Option(None, help="default denoising steps (default: the model's)"),
    out: Path = typer.Option(Path("model_builds"), help="root of the build folders"),
    force: bool = typer.Option(False, "--force", help="recompile even if a matching build exists"),
    emit_job: Path | None = typer.Option(
        None,
        "--emit-job",
        help=(
            "Neuron targets: write a Kubernetes Job that compiles on an inf2/trn1 node, "
            "instead of compiling here"
        ),
    ),
    image: str = typer.Option(
        f"accelctl-neuron:{__version__}",
        help="container image for --emit-job: images/accelctl-neuron, pushed to your registry",
    ),
    namespace: str = typer.Option("default", help="namespace for --emit-job"),
    instance_type: str | None = typer.Option(
        None, help="node instance type for --emit-job (default: inf2.8xlarge / trn1.2xlarge)"
    ),
    json_: bool = typer.Option(False, "--json", help="print the build manifest as JSON"),
) -> None:
    """Compile a model for a target into <out>/<model>/<target>-<H>x<W>-b<batch>/ with a build.yaml."""
    if emit_job is not None:
        _emit_job(
            model, target, height, width, batch, dtype, steps, image, namespace, instance_type, emit_job
        )
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from accelctl.builds import compile_build, read_manifest

    compiled = False  # compile_build reports progress only when it compiles, never on reuse
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{model} -> {target}: loading", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal compiled
            compiled = True
            bar.update(task, description=f"{model} -> {target}: {stage}", completed=done, total=total)

        folder = compile_build(
            model,
            target,
            height=height,
            width=width,
            batch=batch,
            dtype=dtype,
            steps=steps,
            out=out,
            reuse=not force,
            progress=progress,
        )
    manifest = read_manifest(folder)
    if json_:
        print_json({"path": str(folder), **manifest.model_dump(mode="json", exclude_none=True)})
        return
    what = "reused" if not compiled else f"compiled in {manifest.compile_seconds:.1f} s"
    console.print(
        f"{folder}  ({manifest.target}, {manifest.shape.label}, {manifest.dtype}; {what})", markup=False
    )


def _emit_job(
    model, target, height, width, batch, dtype, steps, image, namespace, instance_type, path: Path
) -> None:
    from accelctl import targets
    from accelctl.errors import InputError
    from accelctl.files import atomic_write, dump_yaml
    from accelctl.models.presets import DEFAULT_STEPS, PRESETS
    from accelctl.shape import Shape
    from accelctl.targets.neuron import compile_job

    preset = PRESETS.get(model)
    if preset is None and (height is None or width is None):
        raise InputError(f"--emit-job for {model!r} needs --height and --width (only presets have defaults)")
    dtype = targets.get(target).resolve_dtype(dtype)
    shape = Shape(
        height=height or preset.height,
        width=width or preset.width,
        batch=batch,
        dtype=dtype,
        steps=steps or (preset.steps if preset else DEFAULT_STEPS),
    )
    job = compile_job(
        model=model,
        target=target,
        shape=shape,
        image=image,
        namespace=namespace,
        instance_type=instance_type,
    )
    atomic_write(path, dump_yaml(job))
    console.print(f"wrote {path}: Job {job['metadata']['name']} (kubectl apply -f {path})", markup=False)


def builds_(
    root: Path = typer.Option(Path("model_builds"), "--root", help="root of the build folders"),
    verify: bool = typer.Option(False, "--verify", help="also check every artifact's sha256"),
    json_: bool = typer.Option(False, "--json", help="print the list as JSON"),
) -> None:
    """List the builds under a root folder."""
    from rich.table import Table

    from accelctl.builds import list_builds
    from accelctl.builds import verify as verify_build
    from accelctl.errors import AccelctlError

    rows = []
    for folder, manifest in list_builds(root):
        status = "not checked"
        if verify:
            try:
                verify_build(folder)
                status = "ok"
            except AccelctlError as exc:
                status = exc.message
        rows.append((folder, manifest, status))
    if json_:
        print_json(
            [
                {"path": str(f), "integrity": s, **m.model_dump(mode="json", exclude_none=True)}
                for f, m, s in rows
            ]
        )
        return
    table = Table(title=f"builds under {root}")
    for col in ("model", "target", "shape", "dtype", "steps", "compile s", "created", "path"):
        table.add_column(col)
    if verify:
        table.add_column("integrity")
    for folder, m, status in rows:
        cells = [
            m.model.name,
            m.target,
            m.shape.label,
            m.dtype,
            str(m.steps),
            f"{m.compile_seconds:.1f}",
            m.created.strftime("%Y-%m-%d %H:%M"),
            str(folder),
        ]
        table.add_row(*cells, *([status] if verify else []))
    console.print(table)


def generate(
    build: Path = typer.Option(..., "--build", "-b", help="build folder (or its build.yaml)"),
    prompt: str = typer.Option(..., "--prompt", "-p"),
    seed: int = typer.Option(0, "--seed", "-s", help="same build, prompt and seed give the same PNG bytes"),
    steps: int | None = typer.Option(None, help="denoising steps (default: the build's)"),
    output: Path = typer.Option(Path("out.png"), "--output", "-o", help="PNG to write"),
    json_: bool = typer.Option(False, "--json", help="print path and timings as JSON"),
) -> None:
    """Generate one image from a build (hashes are verified before loading)."""
    from accelctl.builds import load_pipeline, png_bytes
    from accelctl.files import atomic_write

    started = time.perf_counter()
    with err_console.status(f"loading {build}"):
        loaded = load_pipeline(build)
    loaded_at = time.perf_counter()
    with err_console.status("generating"):
        image = loaded.generate(prompt, seed=seed, steps=steps)
    done = time.perf_counter()
    atomic_write(output, png_bytes(image))
    result = {
        "path": str(output),
        "build": str(loaded.path),
        "seed": seed,
        "steps": steps or loaded.manifest.steps,
        "load_seconds": round(loaded_at - started, 3),
        "generate_seconds": round(done - loaded_at, 3),
    }
    if json_:
        print_json(result)
    else:
        console.print(
            f"wrote {output} ({image.width}x{image.height}, seed {seed}, {result['steps']} steps, "
            f"{result['generate_seconds']:.2f} s)",
            markup=False,
        )
