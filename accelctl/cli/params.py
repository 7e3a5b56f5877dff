"""Every command's numeric and path options, checked before the command does any work.

Options are matched by name across commands (one name, one meaning: `--steps` is denoising steps
wherever it appears), each to a bounded type from accelctl.schema; every float is finite whatever its
name. Output paths are checked to be writable, and a file where a folder is meant (or the reverse) is
refused, before anything is compiled, benchmarked or written. A refusal is an InputError: one line
naming the flag, exit 2.
"""

from __future__ import annotations

import math
import tempfile
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from accelctl import schema
from accelctl.errors import InputError

# option name -> type; options not named here still get the finite-float check
TYPES: dict[str, object] = {
    "batch": schema.Batch,
    "height": schema.Pixels,
    "width": schema.Pixels,
    "steps": schema.Steps,
    "seed": schema.Seed,
    "port": schema.Port,
    "metrics_port": schema.Port,
    "family": schema.Count,
    "images": schema.Count,
    "quality_images": schema.Count,
    "warmup": schema.Count,
    "baseline": schema.Count,
    "min_requests": schema.Count,
    "max_probes": schema.Count,
    "samples": schema.Count,
    "ticks": schema.Count,
    "max_attempts": schema.Count,
    "max_concurrency": schema.Count,
    "max_queue": schema.Count,
    "replicas_per_instance": schema.Count,
    "price": schema.PricePerHour,
    "breaking_point": schema.Rps,
    "start": schema.Rps,
    "latency": schema.Latency,
    "p95": schema.Latency,
    "slo": schema.Seconds,
    "timeout": schema.Seconds,
    "body_timeout": schema.Seconds,
    "request_timeout": schema.Seconds,
    "retry_budget": schema.Seconds,
    "health_interval": schema.Seconds,
    "grace": schema.Seconds,
    "duration": schema.Seconds,
    "min_seconds": schema.SecondsOrZero,
    "max_seconds": schema.Seconds,
    "max_error_rate": schema.Fraction,
    "tolerance": schema.Fraction,
    "quality_threshold": schema.Decibels,
    "prompt": schema.Prompt,
    "image": schema.OneLine,
    "namespace": schema.OneLine,
    "unit_name": schema.OneLine,
}
# Output paths: a folder the command fills, or one file it writes. Per command where a name differs.
FOLDERS = {"out", "out_dir", "family_dump", "workdir"}
FILES = {"output", "plot", "emit_job"}
FILE_IN = {("profile add", "out")}  # `profile add --out` names the profile file


@cache
def _adapter(tp: object) -> TypeAdapter:
    return TypeAdapter(tp)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_value(name: str, value: object) -> None:
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if v is None:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"{flag(name)} {v}: must be a finite number")
        tp = TYPES.get(name)
        if tp is None or isinstance(v, bool):
            continue
        try:
            _adapter(tp).validate_python(v)
        except ValidationError as err:
            msg = err.errors()[0]["msg"].removeprefix("Value error, ")
            raise InputError(f"{flag(name)} {v!r}: {msg}") from None


def _nearest_existing(p: Path) -> Path:
    p = p.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_folder(path: Path, what: str) -> None:
    """`path` may be created as a folder and written into; nothing is created to find out."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path}: is a file, not a folder; give a folder")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise InputError(f"{what} {path}: {base} is a file, so no folder can be made under it")
    try:
        with tempfile.TemporaryFile(dir=base):  # gone on close: the probe leaves nothing behind
            pass
    except OSError as exc:
        raise InputError(
            f"{what} {path}: cannot write under {base} ({exc.strerror}); pick another folder"
        ) from None


def writable_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise InputError(f"{what} {path}: is a folder; give a file name")
    writable_folder(path.parent, what)


def check_command(command: str, params: dict[str, object]) -> None:
    """Refuse the command's options before it starts; `command` as typed, e.g. 'bench run'."""
    for name, value in params.items():
        check_value(name, value)
        if not isinstance(value, Path):
            continue
        if (command, name) in FILE_IN or name in FILES:
            writable_file(value, flag(name))
        elif name in FOLDERS:
            writable_folder(value, flag(name))
