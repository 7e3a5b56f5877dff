"""Output quality: a build's images against a reference build's, for a fixed prompt set and seeds.

The paper claims consistent output across hardware; this checks it per build with PSNR and SSIM from
scikit-image. PSNR is taken over all compared pixels at once (the PSNR of the pooled mean squared
error), so one identical image cannot turn the figure into infinity; SSIM is the mean over images.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from accelctl.units import Quality

PROMPTS = (
    "a lighthouse on a rocky cliff at dusk, oil painting",
    "a bowl of ramen on a wooden table, studio photo",
    "a red bicycle leaning against a brick wall",
    "an astronaut riding a horse across a desert",
)
SEEDS = (0, 1)
DEFAULT_THRESHOLD_DB = 30.0


def cases(n: int) -> list[tuple[str, int]]:
    """The first n (prompt, seed) pairs of the fixed set, cycling when n is larger than the set."""
    pairs = [(p, s) for s, p in itertools.product(SEEDS, PROMPTS)]
    return [pairs[i % len(pairs)] for i in range(n)]


def _pixels(images: Sequence):
    import numpy as np

    return np.stack([np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images])


def compare(images: Sequence, references: Sequence) -> tuple[float, float]:
    """(PSNR dB, mean SSIM) of PIL images against references of the same prompts and seeds."""
    import numpy as np
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    if len(images) != len(references) or not images:
        raise ValueError(
            f"compare needs equal, non-zero numbers of images, got {len(images)} and {len(references)}"
        )
    a, b = _pixels(images), _pixels(references)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape[1:]} vs reference {b.shape[1:]}")
    # skimage divides by a zero MSE with a warning; identical images are PSNR = inf by definition.
    psnr = (
        float("inf")
        if mean_squared_error(b, a) == 0
        else float(peak_signal_noise_ratio(b, a, data_range=255))
    )
    ssim = float(
        np.mean(
            [structural_similarity(r, x, channel_axis=-1, data_range=255) for r, x in zip(b, a, strict=False)]
        )
    )
    return psnr, ssim


def assess(
    images: Sequence, references: Sequence, reference: str, threshold_db: float = DEFAULT_THRESHOLD_DB
) -> Quality:
    """The profile's quality entry; passed is False (the build is flagged) below the PSNR threshold."""
    psnr, ssim = compare(images, references)
    return Quality(
        reference=reference,
        psnr_db=psnr,
        ssim=min(ssim, 1.0),
        threshold_db=threshold_db,
        passed=psnr >= threshold_db,
    )
