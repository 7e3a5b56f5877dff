"""In-process bench of the tiny cpu build through the CLI, the report and plot over its profile, and the
quality check: two builds of the same model and target agree exactly, a perturbed build is flagged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bench_capacity_server import running
from typer.testing import CliRunner

from accelctl.cli import app
from accelctl.units import load_profile

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "profiles" / "catalog.yaml"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def perturbed_copy(src: Path, dst: Path, scale: float = 0.2) -> Path:
    """A copy of a build whose VAE decoder weights carry Gaussian noise (scale x each tensor's std),
    re-hashed so that it loads: a build that runs but draws different pictures."""
    import torch
    from safetensors.torch import load_file, save_file

    from accelctl.builds import MANIFEST, hash_artifacts, read_manifest
    from accelctl.files import save_model

    shutil.copytree(src, dst)
    weights = dst / "pipeline" / "vae" / "diffusion_pytorch_model.safetensors"
    g = torch.Generator().manual_seed(0)
    tensors = {
        k: v + scale * v.std() * torch.randn(v.shape, generator=g)
        if v.is_floating_point() and v.numel() > 1
        else v
        for k, v in load_file(weights).items()
    }
    save_file(tensors, weights)
    manifest = read_manifest(dst)
    save_model(dst / MANIFEST, manifest.model_copy(update={"artifacts": hash_artifacts(dst)}))
    return dst


@pytest.mark.slow
def test_inprocess_profile_report_and_plot(tiny_cpu_build, tmp_path):
    out = tmp_path / "profiles"
    result = invoke(
        "bench",
        tiny_cpu_build,
        "--instance-type",
        "c7i.2xlarge",
        "--catalog",
        CATALOG,
        "-n",
        3,
        "--warmup",
        1,
        "--quality-images",
        2,
        "-o",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert len(written) == 1 and written[0]["quality"]["psnr_db"] == "inf"
    p = load_profile(written[0]["path"])
    assert (p.unit.model, p.unit.instance_type, p.unit.target) == ("tiny", "c7i.2xlarge", "cpu")
    s = p.latency
    assert s.n == 3 and s.p0 <= s.p50 <= s.p90 <= s.p95 <= s.p99 <= s.p100
    assert s.ci95_low <= s.mean <= s.ci95_high
    assert p.breaking_point_rps == pytest.approx(1 / s.mean)  # the in-process estimate, and it says so
    assert p.breaking_point_method.startswith("in-process estimate")
    assert p.instance_price_per_hour == 0.357 and p.price_source.startswith("catalog us-west-2 on-demand")
    assert p.cost_per_inference == pytest.approx(0.357 / (p.breaking_point_rps * 3600))
    assert p.peak_memory_mib > 0 and p.environment["torch"]
    # the default reference is the cpu fp32 build beside it, here the build itself: deterministic, identical
    assert (
        p.quality.reference == str(tiny_cpu_build) and p.quality.psnr_db == float("inf") and p.quality.passed
    )

    # an endpoint-mode profile in the same folder gives the plot a measured curve
    with running(2, 0.1) as url:
        result = invoke(
            "bench",
            "--url",
            url,
            "--instance-type",
            "c7i.2xlarge",
            "--price",
            "0.357",
            "-o",
            out,
            "--min-requests",
            10,
            "--min-seconds",
            1,
            "--baseline",
            3,
        )
    assert result.exit_code == 0, result.output
    assert "breaking point" in result.stdout

    png = tmp_path / "curves.png"
    report = invoke("bench", "report", out, "--plot", png)
    assert report.exit_code == 0, report.output
    assert "estimate" in report.stdout and "search" in report.stdout  # how each T was found
    rows = json.loads(invoke("bench", "report", out, "--json").stdout)
    assert {r["unit"] for r in rows} == {"tiny-c7i-2xlarge-cpu", "capacity-server-c7i-2xlarge-cpu"}
    assert next(r for r in rows if r["unit"].startswith("tiny"))["psnr_db"] == "inf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.slow
def test_same_model_and_target_agree_and_a_perturbed_build_is_flagged(tiny_cpu_build, tmp_path):
    from accelctl.bench.inprocess import reference_images
    from accelctl.bench.quality import assess
    from accelctl.builds import compile_build

    second = compile_build("tiny", "cpu", out=tmp_path / "second")  # compiled anew, not copied
    assert second != tiny_cpu_build
    q = assess(reference_images(second, 2, 2), reference_images(tiny_cpu_build, 2, 2), str(tiny_cpu_build))
    assert q.psnr_db == float("inf") and q.ssim == 1.0 and q.passed

    bad = perturbed_copy(tiny_cpu_build, tmp_path / "perturbed" / "tiny" / tiny_cpu_build.name)
    out = tmp_path / "profiles"
    result = invoke(
        "bench",
        bad,
        "--reference",
        tiny_cpu_build,
        "--instance-type",
        "c7i.2xlarge",
        "--price",
        "0.357",
        "-n",
        2,
        "--warmup",
        0,
        "--quality-images",
        2,
        "--steps",
        2,
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "FLAGGED" in result.stdout
    flagged = load_profile(out / "tiny-c7i-2xlarge-cpu.yaml").quality
    assert not flagged.passed and flagged.psnr_db < flagged.threshold_db == 30.0 and flagged.ssim < 1.0
