"""The fleet's profiles side by side: the paper's Table 1 (cost) and Table 2 (capacity) columns.

Table 1: cost of compute per hour, throughput, cost per inference. Table 2: latency, max throughput
and the capacity-mode adjusted throughput, min(mean of max throughputs, own max), over the units
shown. Throughputs are per replica (one pod), as the breaking point is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from accelctl.units import (
    Profile,
    ResolvedUnit,
    UnitSpec,
    capacity_adjusted_throughput,
    efficiency,
    resolve_unit,
)


@dataclass(frozen=True)
class Row:
    file: str
    unit: str
    instance_type: str
    target: str
    instance_price_per_hour: float
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


def profile_units(profiles: dict[str, Profile]) -> tuple[ResolvedUnit, ...]:
    """Without a fleet, each profile is a unit of its own (named by its profile, on the instance type it
    was measured on), so the report reads T, L and C from a ResolvedUnit either way."""
    return tuple(
        resolve_unit(p.unit.name, UnitSpec(profile=file, instance_types=[p.unit.instance_type]), p)
        for file, p in profiles.items()
    )


def rows(units: tuple[ResolvedUnit, ...]) -> list[Row]:
    """One row per unit (resolve_fleet's, or profile_units'), cheapest inference first."""
    adjusted = capacity_adjusted_throughput([u.throughput_rps for u in units])
    out = []
    for u, adj in zip(units, adjusted, strict=True):
        p = u.profile
        q = p.quality
        out.append(
            Row(
                file=u.spec.profile,
                unit=u.name,
                instance_type=u.instance_type,
                target=u.target,
                instance_price_per_hour=u.instance_price_per_hour,
                replicas_per_instance=u.replicas_per_instance,
                throughput_rps=u.throughput_rps,
                cost_per_inference=u.cost_per_inference,
                cost_per_million=u.cost_per_inference * 1e6,
                latency_s=u.latency_s,
                p95_s=p.latency.p95,
                adjusted_throughput_rps=adj,
                efficiency=efficiency(u.throughput_rps, u.cost_per_inference, u.latency_s),
                method=p.breaking_point_method,
                psnr_db=q.psnr_db if q else None,
                ssim=q.ssim if q else None,
                quality_passed=q.passed if q else None,
                price_source=p.price_source,
            )
        )
    return sorted(out, key=lambda r: r.cost_per_inference)


def strict_json(value):
    """JSON has no infinity: an infinite PSNR (identical images) becomes the string "inf"."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict_json(v) for v in value]
    return "inf" if isinstance(value, float) and math.isinf(value) else value


def as_json(table: list[Row]) -> list[dict]:
    return strict_json([asdict(r) for r in table])


def render(table: list[Row]) -> list:
    """Two rich Tables, as the paper has them: cost (Table 1) and capacity (Table 2), cheapest first."""
    from rich import box
    from rich.table import Table

    def table_of(title: str, columns: tuple[str, ...]) -> Table:
        t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for i, col in enumerate(columns):
            # the profile name folds on a narrow terminal; the numbers never do
            t.add_column(
                col,
                justify="left" if i == 0 or col in ("instance", "quality", "T from") else "right",
                overflow="fold",
                no_wrap=i != 0,
                min_width=None if i == 0 else len(col),
            )
        return t

    cost = table_of(
        "Cost (paper Table 1), cheapest per inference first",
        ("profile", "instance", "$/h", "rps", "$/inf", "$/1M img", "T/(C·L)"),
    )
    capacity = table_of(
        "Capacity (paper Table 2), requests/s per replica",
        ("profile", "latency s", "p95 s", "max rps", "adjusted", "quality", "T from"),
    )
    for r in table:
        name = r.file.removesuffix(".yaml")
        cost.add_row(
            name,
            r.instance_type,
            f"{r.instance_price_per_hour:.4f}",
            f"{r.throughput_rps:.3f}",
            f"{r.cost_per_inference:.3g}",
            f"{r.cost_per_million:,.2f}",
            f"{r.efficiency:,.0f}",
        )
        capacity.add_row(
            name,
            f"{r.latency_s:.3f}",
            "-" if r.p95_s is None else f"{r.p95_s:.3f}",
            f"{r.throughput_rps:.3f}",
            f"{r.adjusted_throughput_rps:.3f}",
            _quality(r),
            _method(r.method),
        )
    return [cost, capacity]


def _quality(r: Row) -> str:
    """PSNR dB / SSIM, FLAGGED below the threshold."""
    if r.psnr_db is None:
        return "-"
    psnr = "inf" if math.isinf(r.psnr_db) else f"{r.psnr_db:.1f}"
    return f"{psnr}/{r.ssim:.3f}" + ("" if r.quality_passed else " FLAGGED")


def _method(method: str | None) -> str:
    if not method:
        return "-"
    if method.startswith("in-process"):
        return "estimate"
    return "search" if method.startswith("endpoint") else method.split(":")[0]
