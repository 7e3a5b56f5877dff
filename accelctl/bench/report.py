"""The fleet's profiles side by side: the paper's Table 1 (cost) and Table 2 (capacity) columns.

Table 1: cost of compute per hour, throughput, cost per inference. Table 2: latency, max throughput
and the capacity-mode adjusted throughput, min(mean of max throughputs, own max), over the units
shown. Throughputs are per replica (one pod), as the breaking point is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from accelctl.units import Profile, capacity_adjusted_throughput


@dataclass(frozen=True)
class Row:
    file: str
    unit: str
    instance_type: str
    target: str
    price_per_hour: float
    replicas_per_instance: int
    throughput_rps: float  # breaking point T, per replica
    cost_per_inference: float
    cost_per_million: float
    latency_s: float  # mean at low load
    p95_s: float | None
    adjusted_throughput_rps: float
    efficiency: float
    method: str | None
    psnr_db: float | None
    ssim: float | None
    quality_passed: bool | None
    price_source: str


def rows(profiles: dict[str, Profile]) -> list[Row]:
    names = list(profiles)
    adjusted = capacity_adjusted_throughput([profiles[n].breaking_point_rps for n in names])
    out = []
    for name, adj in zip(names, adjusted):
        p = profiles[name]
        q = p.quality
        out.append(Row(
            file=name, unit=p.unit.name, instance_type=p.unit.instance_type, target=p.unit.target,
            price_per_hour=p.price_per_hour, replicas_per_instance=p.replicas_per_instance,
            throughput_rps=p.breaking_point_rps, cost_per_inference=p.cost_per_inference,
            cost_per_million=p.cost_per_million, latency_s=p.latency.mean, p95_s=p.latency.p95,
            adjusted_throughput_rps=adj, efficiency=p.efficiency, method=p.breaking_point_method,
            psnr_db=q.psnr_db if q else None, ssim=q.ssim if q else None, quality_passed=q.passed if q else None,
            price_source=p.price_source,
        ))
    return sorted(out, key=lambda r: r.cost_per_inference)


def as_json(table: list[Row]) -> list[dict]:
    """Plain JSON: an infinite PSNR (identical images) becomes the string "inf"."""
    def clean(v):
        return "inf" if isinstance(v, float) and math.isinf(v) else v

    return [{k: clean(v) for k, v in asdict(r).items()} for r in table]


def render(table: list[Row]):
    """A rich Table, cheapest cost per inference first."""
    from rich.table import Table

    t = Table(title="Deployment units (cheapest cost per inference first)", show_lines=False)
    for col, justify in [("unit", "left"), ("instance", "left"), ("$/h", "right"), ("replicas", "right"),
                         ("throughput rps", "right"), ("$/inference", "right"), ("$/1M images", "right"),
                         ("latency s", "right"), ("p95 s", "right"), ("adjusted rps", "right"),
                         ("T/(C·L)", "right"), ("quality", "left"), ("T from", "left")]:
        t.add_column(col, justify=justify, overflow="fold")
    for r in table:
        t.add_row(
            r.unit, r.instance_type, f"{r.price_per_hour:.4f}", str(r.replicas_per_instance),
            f"{r.throughput_rps:.3f}", f"{r.cost_per_inference:.3g}", f"{r.cost_per_million:,.2f}",
            f"{r.latency_s:.3f}", "-" if r.p95_s is None else f"{r.p95_s:.3f}", f"{r.adjusted_throughput_rps:.3f}",
            f"{r.efficiency:.3g}", _quality(r), _method(r.method),
        )
    return t


def _quality(r: Row) -> str:
    if r.psnr_db is None:
        return "-"
    psnr = "inf" if math.isinf(r.psnr_db) else f"{r.psnr_db:.1f}"
    flag = "ok" if r.quality_passed else "FLAGGED"
    return f"{psnr} dB / {r.ssim:.3f} {flag}"


def _method(method: str | None) -> str:
    if not method:
        return "-"
    return "estimate" if method.startswith("in-process") else method.split(":")[0]
