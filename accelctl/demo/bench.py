"""The demo's bench step: one running server -> one Profile, priced from the demo catalog.

It drives `accelctl.bench`'s endpoint mode (latency at concurrency 1, then the closed-loop breaking-
point search) with short probes: a demo wants a profile in tens of seconds, not a publishable curve.
"""

from __future__ import annotations

from pathlib import Path

from accelctl.errors import AccelctlError
from accelctl.units import Catalog, DeploymentUnit, Profile

# Short probes: each ends at 8 answers and 3 s, or at 30 s; at most 6 probes per unit.
MIN_REQUESTS, MIN_SECONDS, MAX_SECONDS, MAX_PROBES = 8, 3.0, 30.0, 6
BASELINE = 10


def bench_unit(
    url: str, build: Path, unit: DeploymentUnit, catalog: Catalog, region: str, slo_s: float
) -> Profile:
    from accelctl.bench import knee
    from accelctl.bench.load import Endpoint, ProbeLength, endpoint_bench
    from accelctl.bench.profiles import endpoint_profile, environment
    from accelctl.bench.shapes import REQUEST_SHAPES
    from accelctl.bench.stats import latency_stats
    from accelctl.builds import read_manifest

    manifest = read_manifest(build)
    search = knee.Search(mode="closed", max_probes=MAX_PROBES, criteria=knee.Criteria(slo_s=slo_s))
    run = endpoint_bench(
        Endpoint(url, REQUEST_SHAPES.get("genimage")),
        search,
        ProbeLength(min_requests=MIN_REQUESTS, min_seconds=MIN_SECONDS, max_seconds=MAX_SECONDS),
        baseline=BASELINE,
    )
    out = run.outcome
    if out.breaking_point_rps is None:
        raise AccelctlError(
            f"bench {unit.name}: no load met p95 <= {slo_s:g} s ({out.reason}; p95 one request at a time "
            f"{latency_stats(run.latencies).p95:.2f} s); the machine is busy or slow: close other work "
            "or give --slo"
        )
    return endpoint_profile(
        run,
        unit=unit,
        shape=manifest.shape,
        method=(
            f"endpoint search (demo-length probes): closed loop, {len(run.probes)} probes, "
            f"stopped: {out.reason}"
        ),
        price=catalog.instance_price_per_hour(unit.instance_type, region, where="demo catalog"),
        price_source=f"demo catalog {region}/on-demand",
        slo_s=slo_s,
        build=str(build),
        env=environment(manifest.versions.model_dump()),
    )
