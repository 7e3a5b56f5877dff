"""Rendering a simulation: the comparison table, the JSON document and PNG plots like the paper's
figures 10 and 11 (throughput by deployment unit and weights over time)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich import box
from rich.table import Table

from accelctl.files import atomic_write
from accelctl.sim.metrics import PolicySummary
from accelctl.sim.run import PolicyRun, Trace
from accelctl.sim.scenario import LoadedScenario

PLOT_BLOCK_S = 60.0  # plotted values are means over this many seconds


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 120:
        return f"{sign}{s:.0f}s"
    if s < 7200:
        return f"{sign}{s / 60:.1f}m"
    return f"{sign}{s / 3600:.1f}h"


def vs_oracle(summary: PolicySummary, oracle: PolicySummary | None) -> str:
    if oracle is None or summary is oracle or oracle.cost_usd <= 0:
        return "—"
    return f"{(summary.cost_usd / oracle.cost_usd - 1):+.1%}"


def policy_table(title: str, columns: tuple[str, ...]) -> Table:
    """A table of one row per policy, its figures right-aligned: simulate's and the family's look alike."""
    t = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        show_edge=False,
        pad_edge=False,
    )
    t.add_column("policy", no_wrap=True)
    for col in columns:
        t.add_column(col, justify="right", no_wrap=True)
    return t


def table(loaded: LoadedScenario, summaries: list[PolicySummary]) -> Table:
    """One row per policy. $/1k: per 1000 images served; +oracle: cost above the oracle's bound;
    failed: rejected + timed out (--json keeps them apart); peak: most replicas at once."""
    oracle = next((s for s in summaries if s.policy == "oracle"), None)
    sc = loaded.scenario
    t = policy_table(
        f"{sc.name}: {sc.duration / 3600:.0f} h, {summaries[0].requests:,.0f} requests",
        ("cost $", "$/1k", "+oracle", "SLO %", "failed", "failover", "fallback", "peak"),
    )
    for s in summaries:
        first = s.shortages[0] if s.shortages else None
        t.add_row(
            s.policy,
            f"{s.cost_usd:,.0f}" if s.cost_usd >= 1000 else f"{s.cost_usd:.2f}",
            "—" if s.cost_per_1k_images is None else f"{s.cost_per_1k_images:.4f}",
            vs_oracle(s, oracle),
            f"{min(s.slo_attainment_pct, 100.0):.3f}",
            f"{s.rejected + s.timed_out:,.0f}",
            duration(first.failover_s) if first else "—",
            duration(first.fallback_s) if first else "—",
            str(s.peak_replicas),
        )
    return t


def notes(summaries: list[PolicySummary]) -> list[str]:
    out = []
    for s in summaries:
        if s.note:
            out.append(f"{s.policy}: {s.note}")
        for sh in s.shortages:
            if sh.first_signal_s is not None and sh.failover_s is not None:
                out.append(
                    f"{s.policy}: {sh.instance_type} short "
                    f"{duration(sh.start_s)}–{duration(sh.end_s)}: first capacity signal "
                    f"after {duration(sh.first_signal_s - sh.start_s)}, failover "
                    f"{duration(sh.signal_to_failover_s)} after it, "
                    f"traffic left the short units {sh.flaps}x"
                )
        if s.tick_errors:
            out.append(f"{s.policy}: controller ticks failed, e.g. {s.tick_errors[0]}")
    return out


def document(loaded: LoadedScenario, summaries: list[PolicySummary], plots: list[Path]) -> dict:
    sc = loaded.scenario
    return {
        "scenario": sc.name,
        "file": str(loaded.path),
        "seed": sc.seed,
        "duration_s": sc.duration,
        "step_s": sc.dynamics.step,
        "default_policy": loaded.default_policy,
        "policies": [s.to_dict() for s in summaries],
        "plots": [str(p) for p in plots],
    }


# ---------------------------------------------------------------- plots


def _blocks(values: np.ndarray, per: int) -> np.ndarray:
    n = len(values) // per * per
    return values[:n].reshape(n // per, per, *values.shape[1:]).mean(axis=1)


def save_png(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write(path, buf.getvalue())


def plot_run(loaded: LoadedScenario, trace: Trace, run: PolicyRun, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, k0 = run.fleet, trace.first
    per = max(1, round(PLOT_BLOCK_S / trace.step_s))
    hours = _blocks(trace.times[k0:], per) / 3600
    served = _blocks(f.served[k0:], per) / trace.step_s
    offered = _blocks(trace.measured_rates, per)
    weights = _blocks(f.weight_log[k0:].astype(float), per)
    ready = _blocks(f.ready_log[k0:].astype(float), per)
    names = [u.name for u in f.units]

    fig, (a1, a2, a3) = plt.subplots(
        3, 1, figsize=(11, 8.5), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]}
    )
    a1.stackplot(hours, served.T, labels=names, alpha=0.85)
    a1.plot(hours, offered, color="black", lw=0.8, label="offered load")
    a1.set_ylabel("served requests/s")
    a1.set_title(f"{loaded.scenario.name} — {run.policy}: throughput by deployment unit")
    a1.legend(loc="upper left", fontsize=7, ncol=3)
    for i, name in enumerate(names):
        a2.plot(hours, weights[:, i], lw=1.0, label=name)
        a3.plot(hours, ready[:, i], lw=1.0, label=name)
    a2.set_ylabel("routing weight")
    a2.set_ylim(-2, 102)
    a3.set_ylabel("ready replicas")
    a3.set_xlabel("hours from the scenario start")
    for w in loaded.scenario.capacity:
        for ax in (a1, a2, a3):
            ax.axvspan(w.start / 3600, w.end / 3600, color="grey", alpha=0.2, lw=0)
        a3.text(w.start / 3600, a3.get_ylim()[1] * 0.97, f" {w.instance_type} short", fontsize=7, va="top")
    for ax in (a1, a2, a3):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        return save_png(fig, path)
    finally:
        plt.close(fig)


def plot_comparison(loaded: LoadedScenario, summaries: list[PolicySummary], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.policy for s in summaries]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    a1.bar(names, [s.cost_usd for s in summaries], color="tab:blue")
    a1.set_ylabel("cost $")
    a1.set_title("cost over the scenario")
    a2.bar(names, [s.slo_attainment_pct for s in summaries], color="tab:green")
    low = min(s.slo_attainment_pct for s in summaries)
    a2.set_ylim(max(0.0, min(99.0, low - 0.5)), 100.05)
    a2.set_ylabel("% requests within the SLO")
    a2.set_title("SLO attainment")
    for ax in (a1, a2):
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(loaded.scenario.name)
    fig.tight_layout()
    try:
        return save_png(fig, path)
    finally:
        plt.close(fig)


def write_plots(
    loaded: LoadedScenario, trace: Trace, runs: list[PolicyRun], summaries: list[PolicySummary], out: Path
) -> list[Path]:
    paths = [plot_run(loaded, trace, r, out / f"{r.policy}.png") for r in runs]
    paths.append(plot_comparison(loaded, summaries, out / "comparison.png"))
    return paths
