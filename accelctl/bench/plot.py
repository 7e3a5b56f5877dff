"""Latency-throughput curves of profiles as a PNG, with the SLO line each breaking point was found at."""

from __future__ import annotations

import io
from pathlib import Path

from accelctl.files import atomic_write
from accelctl.units import Profile


def plot_curves(profiles: dict[str, Profile], out: Path | str) -> Path:
    from matplotlib.figure import Figure  # a bare Figure renders with Agg: no display, no pyplot state

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.subplots()
    latencies = []
    for p in profiles.values():
        curve = sorted((q for q in p.curve if q.p95 is not None), key=lambda q: q.offered)
        if curve:
            xs, ys = [q.achieved_rps for q in curve], [q.p95 for q in curve]
            (line,) = ax.plot(xs, ys, marker="o", label=f"{p.unit.name}")
            # the breaking point: where the search settled, on the same curve
            at = min(curve, key=lambda q: abs(q.achieved_rps - p.breaking_point_rps))
            ax.plot([p.breaking_point_rps], [at.p95], marker="X", markersize=11, color=line.get_color())
        else:
            ys = [p.latency.p95 or p.latency.mean]
            ax.plot(
                [p.breaking_point_rps],
                ys,
                marker="s",
                linestyle="none",
                label=f"{p.unit.name} (no curve: {_short(p.breaking_point_method)})",
            )
        latencies += ys
    for slo in sorted({p.slo_s for p in profiles.values()}):
        ax.axhline(slo, color="red", linestyle="--", linewidth=1.2, label=f"SLO: p95 = {slo:g} s")
        latencies.append(slo)
    if latencies and max(latencies) / max(min(latencies), 1e-9) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("throughput achieved (requests/s per replica)")
    ax.set_ylabel("p95 latency (s)")
    ax.set_title("Latency-throughput per deployment unit (X = breaking point)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write(out, buf.getvalue())


def _short(method: str | None) -> str:
    if not method:
        return "breaking point given"
    return method.split(":")[0]
