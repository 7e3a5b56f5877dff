"""Resolved units made from a few figures, for tests: a profile and a fleet entry, then the one
constructor every command uses (accelctl.units.resolve_unit), so tests see what production sees."""

from __future__ import annotations

from accelctl.units import DeploymentUnit, LatencyStats, Profile, ResolvedUnit, UnitSpec, resolve_unit


def fake_unit(
    name: str,
    throughput_rps: float,
    latency_s: float,
    replica_price_per_hour: float,
    pool: str,
    min_replicas: int = 0,
    max_replicas: int = 10,
    *,
    instance_type: str = "x.large",
    startup_s: float | None = None,
) -> ResolvedUnit:
    """One replica per instance, so the instance price is the replica price; C follows from it."""
    profile = Profile(
        unit=DeploymentUnit(model="tiny", instance_type=instance_type, target="cpu"),
        height=64,
        width=64,
        steps=1,
        latency=LatencyStats(n=1, mean=latency_s),
        breaking_point_rps=throughput_rps,
        instance_price_per_hour=replica_price_per_hour,
    )
    spec = UnitSpec(
        name=name,
        profile=f"{name}.yaml",
        instance_types=[instance_type],
        node_pool=pool,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
    )
    return resolve_unit(name, spec, profile, startup_s)
