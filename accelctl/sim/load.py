"""Load shapes -> requests/s on the simulation's time grid (pure; the CSV replay reads its file once)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from accelctl.errors import InputError
from accelctl.sim.scenario import LoadShape, Noise, Replay, Spike, Step, Wave


def shape_rate(shape: LoadShape, t: np.ndarray, base_dir: Path, where: str) -> np.ndarray:
    """Requests/s of one shape at times `t` (seconds from the start)."""
    if isinstance(shape, Wave):
        phase = 2 * np.pi * (t - shape.peak_at) / shape.period
        return shape.min_rps + (shape.max_rps - shape.min_rps) * (1 + np.cos(phase)) / 2
    if isinstance(shape, Step):
        until = np.inf if shape.until is None else shape.until
        return np.where((t >= shape.at) & (t < until), shape.rps, 0.0)
    if isinstance(shape, Spike):
        return np.where((t >= shape.at) & (t < shape.at + shape.duration), shape.rps, 0.0)
    times, rps = read_replay(shape, base_dir, where)
    return np.interp(t, times, rps)


def read_replay(shape: Replay, base_dir: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    path = base_dir / shape.path
    if not path.is_file():
        raise InputError(f"{where}.path: {path} not found; give a CSV relative to the scenario file")
    times, rps = [], []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        for col in (shape.time_column, shape.rps_column):
            if col not in (reader.fieldnames or []):
                raise InputError(
                    f"{path}: no column {col!r}; columns: {', '.join(reader.fieldnames or [])}; set "
                    f"{where}'s column names"
                )
        for line, row in enumerate(reader, start=2):
            try:
                t, r = float(row[shape.time_column]), float(row[shape.rps_column])
            except (TypeError, ValueError):
                raise InputError(f"{path}: line {line}: time and rps must be numbers") from None
            if r < 0 or (times and t <= times[-1]):
                raise InputError(f"{path}: line {line}: rps must be >= 0 and times increasing")
            times.append(t)
            rps.append(r)
    if not times:
        raise InputError(f"{path}: no rows; give at least one time,rps row")
    return np.array(times), np.array(rps)


def load_rate(shapes: list[LoadShape], t: np.ndarray, base_dir: Path, where: str = "load") -> np.ndarray:
    """The shapes summed, never below 0."""
    total = np.zeros_like(t, dtype=float)
    for i, shape in enumerate(shapes):
        total += shape_rate(shape, t, base_dir, f"{where}.{i}")
    return np.maximum(total, 0.0)


def jitter(noise: Noise, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A factor around 1 per `noise.period` block (held within it), never below 0."""
    if noise.sd == 0:
        return np.ones_like(t, dtype=float)
    block = np.floor((t - t[0]) / noise.period).astype(int)
    factors = np.maximum(rng.normal(1.0, noise.sd, size=int(block[-1]) + 1), 0.0)
    return factors[block]


def cycle(shapes: list[LoadShape]) -> tuple[float, float]:
    """(period, origin) of the load's cycle: the first wave's, starting at its trough; else one day from 0."""
    for shape in shapes:
        if isinstance(shape, Wave):
            return shape.period, shape.trough_at % shape.period
    return 86400.0, 0.0
