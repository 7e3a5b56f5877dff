"""Assembling a Profile from measurements (or from numbers measured elsewhere) and where it is written."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from accelctl.bench.stats import latency_stats
from accelctl.errors import InputError
from accelctl.files import validation_message
from accelctl.shape import Shape
from accelctl.units import DeploymentUnit, LatencyStats, Probe, Profile, Quality

if TYPE_CHECKING:
    from accelctl.bench.load import EndpointRun


def environment(versions: dict | None = None) -> dict[str, str]:
    """Library versions of the build (or bench process) and the host the numbers were taken on."""
    env = {k: str(v) for k, v in (versions or {}).items() if v is not None}
    env.update(
        host=platform.node(),
        machine=platform.machine(),
        os=platform.platform(terse=True),
        cpus=str(os.cpu_count()),
        python=platform.python_version(),
    )
    return env


def unit(model: str, instance_type: str, target: str, where: str = "options") -> DeploymentUnit:
    try:
        return DeploymentUnit(model=model, instance_type=instance_type, target=target)
    except ValidationError as err:
        raise InputError(validation_message(where, err)) from None


def assemble(
    *,
    unit: DeploymentUnit,
    shape: Shape,
    latency: LatencyStats | Sequence[float],
    breaking_point_rps: float,
    method: str,
    price: float,
    price_source: str,
    replicas_per_instance: int = 1,
    slo_s: float = 0.9,
    curve: Sequence[Probe] = (),
    quality: Quality | None = None,
    build: str | None = None,
    peak_memory_mib: float | None = None,
    env: dict[str, str] | None = None,
) -> Profile:
    stats = latency if isinstance(latency, LatencyStats) else latency_stats(latency)
    data = dict(
        unit=unit,
        build=build,
        **shape.keys(),
        latency=stats,
        breaking_point_rps=breaking_point_rps,
        breaking_point_method=method,
        slo_s=slo_s,
        replicas_per_instance=replicas_per_instance,
        instance_price_per_hour=price,
        price_source=price_source,
        curve=list(curve),
        quality=quality,
        environment=env if env is not None else environment(),
        peak_memory_mib=peak_memory_mib,
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
    )
    try:
        return Profile(**data)
    except ValidationError as err:
        raise InputError(validation_message("profile", err)) from None


def endpoint_profile(
    run: EndpointRun,
    *,
    unit: DeploymentUnit,
    shape: Shape,
    method: str,
    price: float,
    price_source: str,
    slo_s: float,
    replicas_per_instance: int = 1,
    build: str | None = None,
    env: dict[str, str] | None = None,
) -> Profile:
    """Endpoint bench -> Profile, for `bench --url` and the demo alike: L from the one-at-a-time
    latencies, T the search's breaking point, the probes its curve. The caller checks T was found."""
    if run.outcome.breaking_point_rps is None:
        raise ValueError("endpoint_profile needs a breaking point; the caller reports a failed search")
    return assemble(
        unit=unit,
        shape=shape,
        latency=run.latencies,
        breaking_point_rps=run.outcome.breaking_point_rps,
        method=method,
        price=price,
        price_source=price_source,
        replicas_per_instance=replicas_per_instance,
        slo_s=slo_s,
        curve=run.probes,
        build=build,
        env=env,
    )


def profile_path(out_dir: Path | str, profile: Profile) -> Path:
    return Path(out_dir) / f"{profile.unit.name}.yaml"
