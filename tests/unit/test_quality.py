"""Output quality (accelctl.bench.quality): PSNR and SSIM from scikit-image against a reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from accelctl.bench.quality import PROMPTS, SEEDS, assess, cases, compare


def img(value: int, size: int = 32) -> Image.Image:
    return Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8))


def noisy(seed: int, size: int = 32) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_identical_images_are_infinite_psnr_and_ssim_one():
    images = [noisy(0), noisy(1)]
    psnr, ssim = compare(images, [im.copy() for im in images])
    assert math.isinf(psnr) and ssim == pytest.approx(1.0)
    q = assess(images, images, "cpu", threshold_db=30)
    assert q.passed and math.isinf(q.psnr_db)


def test_psnr_by_hand_and_the_flag():
    # every pixel off by 10: MSE = 100, PSNR = 10 log10(255^2 / 100) = 28.13 dB
    psnr, _ = compare([img(10)], [img(0)])
    assert psnr == pytest.approx(28.1308, abs=1e-4)
    assert not assess([img(10)], [img(0)], "cpu", threshold_db=30).passed  # flagged
    assert assess([img(10)], [img(0)], "cpu", threshold_db=25).passed


def test_psnr_pools_the_error_over_all_images():
    # one identical pair (MSE 0) and one off by 10 (MSE 100): pooled MSE 50
    # -> 10 log10(65025 / 50) = 31.14 dB,
    # where a mean of per-image PSNRs would be infinite
    psnr, _ = compare([img(0), img(10)], [img(0), img(0)])
    assert psnr == pytest.approx(31.1411, abs=1e-4)


def test_mismatched_inputs():
    with pytest.raises(ValueError, match="shapes differ"):
        compare([img(0, 32)], [img(0, 16)])
    with pytest.raises(ValueError, match="equal"):
        compare([img(0)], [])


def test_cases_cycle_through_the_fixed_set():
    assert cases(3) == [(PROMPTS[0], SEEDS[0]), (PROMPTS[1], SEEDS[0]), (PROMPTS[2], SEEDS[0])]
    n = len(PROMPTS) * len(SEEDS)
    assert cases(n + 1)[-1] == cases(1)[0]
