"""The pydantic base of every file a user writes or reads, and the bounded types its numbers use.

One set of annotated types for files, flags and requests alike, so a number means the same and is
bounded the same wherever it enters: finite floats (no .inf/.nan), ints within what the consumers
downstream hold (KEDA's int32, numpy's seed), durations with a ceiling.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Base for user files: unknown keys are an error, so a typo names its field; no float may be
    .inf or .nan (a field that means 'infinite' says so with allow_inf_nan=True)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ---------------------------------------------------------------- ceilings (stated in docs/limits.md)

MAX_SECONDS = 30 * 86400.0  # a timeout, interval or latency longer than a month is a typo
MAX_RPS = 1e6  # requests/s one replica or one fleet could plausibly see
MAX_PRICE_PER_HOUR = 10_000.0  # $ per instance-hour; the dearest cloud instance is ~$220
MIN_LATENCY_S = 1e-6  # below a microsecond, cost arithmetic (C·L) underflows to 0
MAX_REPLICAS = 10_000  # per unit; KEDA and Kubernetes take int32, this is far below and plenty
MAX_PIXELS = 4096  # image side; Stable Diffusion's VAE works in multiples of 8
MAX_STEPS = 1000  # denoising steps
MAX_BATCH = 64
MAX_SEED = 2**32 - 1  # numpy's bound; pipelines seed numpy as well as torch
MAX_COUNT = 1_000_000  # requests, images, probes, ticks: anything counted by a loop


def _printable(v: str) -> str:
    if not any(c.isprintable() and not c.isspace() for c in v):
        raise ValueError("must contain text, not only whitespace or control characters")
    return v


def _single_line(v: str) -> str:
    if any(not c.isprintable() for c in v):
        raise ValueError(f"{v!r} holds a control character (a newline?); remove it")
    return v


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
SecondsOrZero = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Latency = Annotated[float, Field(ge=MIN_LATENCY_S, le=MAX_SECONDS, allow_inf_nan=False)]
Rps = Annotated[float, Field(gt=0, le=MAX_RPS, allow_inf_nan=False)]
PricePerHour = Annotated[float, Field(gt=0, le=MAX_PRICE_PER_HOUR, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Decibels = Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)]
Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
Pixels = Annotated[int, Field(ge=8, le=MAX_PIXELS, multiple_of=8)]
Steps = Annotated[int, Field(ge=1, le=MAX_STEPS)]
Batch = Annotated[int, Field(ge=1, le=MAX_BATCH)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Port = Annotated[int, Field(ge=0, le=65535)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Prompt = Annotated[str, AfterValidator(_printable)]
OneLine = Annotated[str, AfterValidator(_single_line)]  # names, image references, labels
