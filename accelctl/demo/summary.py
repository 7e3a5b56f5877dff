"""What the demo prints at the end, computed from what it recorded (pure: no clock, no I/O)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from accelctl.demo.load import Outcome
from accelctl.units import SECONDS_PER_HOUR


@dataclass(frozen=True)
class DemoSummary:
    requests: int
    served: int  # answered 200
    failed: int  # any other status, or no answer
    slo_s: float
    within_slo: int  # served within the SLO
    slo_attainment: float  # within_slo / requests
    p50_s: float | None
    p95_s: float | None
    served_by_unit: dict[str, int]
    failover_s: float | None  # fault -> the loop stops growing the faulted unit (control/timeline.py)
    fallback_s: float | None  # restore -> its planned replicas Ready again (or its traffic back)
    min_dwell_s: float
    cost_usd: float  # served inferences × each unit's cost per inference
    fleet_cost_usd: float  # instance-hours the servers ran × $/h
    cost_per_million_usd: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(
    outcomes: list[Outcome],
    slo_s: float,
    served_by_unit: dict[str, int],
    cost_per_inference: dict[str, float],
    replica_price_per_hour: dict[str, float],
    uptime_s: dict[str, float],
    fault_at: float | None,
    restored_at: float | None,
    failed_over: float | None,
    fell_back: float | None,
    min_dwell_s: float,
) -> DemoSummary:
    ok = np.array([o.latency for o in outcomes if o.status == 200])
    within = int(np.sum(ok <= slo_s))
    cost = sum(n * cost_per_inference.get(u, 0.0) for u, n in served_by_unit.items())
    total = sum(served_by_unit.values())
    return DemoSummary(
        requests=len(outcomes),
        served=int(ok.size),
        failed=len(outcomes) - int(ok.size),
        slo_s=slo_s,
        within_slo=within,
        slo_attainment=within / len(outcomes) if outcomes else 0.0,
        p50_s=float(np.percentile(ok, 50)) if ok.size else None,
        p95_s=float(np.percentile(ok, 95)) if ok.size else None,
        served_by_unit=dict(served_by_unit),
        failover_s=failed_over - fault_at if failed_over is not None and fault_at is not None else None,
        fallback_s=fell_back - restored_at if fell_back is not None and restored_at is not None else None,
        min_dwell_s=min_dwell_s,
        cost_usd=cost,
        fleet_cost_usd=sum(
            replica_price_per_hour.get(u, 0.0) * s / SECONDS_PER_HOUR for u, s in uptime_s.items()
        ),
        cost_per_million_usd=cost / total * 1e6 if total else None,
    )
