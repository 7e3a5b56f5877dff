"""The paper's five deployment units (examples/paper/profiles) as the policy sees them, for tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from accelctl.control.types import MetricsSnapshot, UnitMetrics
from accelctl.units import ResolvedUnit, UnitSpec, load_profile, resolve_unit

PROFILES = Path(__file__).resolve().parents[2] / "examples" / "paper" / "profiles"

# Fleet order as in the paper's tables.
NAMES = ("inf2-neuron", "trn1-neuron", "g5-cuda-compile", "g6-cuda-compile", "g5-cuda")


def paper_units(min_replicas: int = 0, max_replicas: int = 10) -> tuple[ResolvedUnit, ...]:
    out = []
    for name in NAMES:
        profile = load_profile(PROFILES / f"{name}.yaml")
        spec = UnitSpec(
            profile=f"{name}.yaml",
            instance_types=[profile.unit.instance_type],
            min_replicas=min_replicas,
            max_replicas=max_replicas,
        )
        out.append(resolve_unit(name, spec, profile))
    return tuple(out)


def healthy(rps: float = 0.0, ready: int = 1) -> UnitMetrics:
    return UnitMetrics(rps=rps, p95=0.5, ready=ready, desired=ready)


SHORT = UnitMetrics(ready=1, desired=1, capacity_events=1)  # Karpenter could not launch a node for its pool


def snapshot(
    t: float,
    short: set[str] = frozenset(),
    rps: dict[str, float] | None = None,
    names=NAMES,
    as_of: float | None = None,
) -> MetricsSnapshot:
    """At time t: every unit in `names` healthy (or short), its data as of `as_of` (default: t)."""
    rps = rps or {}
    return MetricsSnapshot(
        t,
        {n: replace(SHORT if n in short else healthy(rps.get(n, 0.0)), as_of=as_of) for n in names},
    )
