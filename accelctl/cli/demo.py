"""`accelctl demo`: the whole loop on this machine — local fleet, router, watch, and a capacity fault."""

from __future__ import annotations

from pathlib import Path

import typer

from accelctl.cli.common import console, err_console, print_json


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    headless: bool = typer.Option(False, "--headless", help="Plain log lines instead of the dashboard."),
    duration: float = typer.Option(
        90.0, "--duration", help="Seconds of load; the fault, restore and fallback fit inside."
    ),
    workdir: Path = typer.Option(
        Path("accelctl-demo"), "--workdir", help="Profiles, fleet.yaml, audit log, logs, summary."
    ),
    builds: Path = typer.Option(
        Path("model_builds"), "--builds", help="Build root; builds already there are reused."
    ),
    slo: float = typer.Option(
        0.9, "--slo", min=0.01, help="p95 latency target in seconds (the paper's 0.9)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the load's arrival times."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (implies --headless)."),
) -> None:
    """Build tiny for cpu and cpu-compile, bench them into profiles, serve each unit, route through the
    local router, run watch on a cosine load, inject a capacity fault, show failover and fallback.

    Every process the demo starts is stopped when it ends, on Ctrl-C and on errors.
    """
    from accelctl.demo.run import DemoConfig, run
    from accelctl.demo.view import HeadlessView, LiveView
    from accelctl.files import atomic_write

    headless = headless or as_json
    out = err_console if as_json else console  # --json keeps stdout for the JSON alone

    def say(line: str) -> None:
        if headless:
            print(line, file=out.file, flush=True)
        else:
            out.print(line, markup=False, highlight=False, soft_wrap=True)

    def view(controller, record, load, plan):
        if headless:
            return HeadlessView(controller, load, plan, say, slo)
        return LiveView(controller, record.events, load, plan, console, slo)

    config = DemoConfig(
        duration_s=duration, workdir=workdir, builds=builds, headless=headless, slo_s=slo, seed=seed
    )
    try:
        summary = run(config, say, view)
    except KeyboardInterrupt:
        err_console.print("interrupted; every process the demo started has been stopped")
        raise typer.Exit(130) from None
    import json

    atomic_write(workdir / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    if as_json:
        print_json(summary.to_dict())
    else:
        console.print(render(summary))
    if summary.failover_s is None or summary.fallback_s is None:
        missing = " and ".join(
            w for w, v in (("failover", summary.failover_s), ("fallback", summary.fallback_s)) if v is None
        )
        err_console.print(f"error: the demo ended without observing {missing}; see {workdir / 'audit.jsonl'}")
        raise typer.Exit(1)


def render(s):
    from rich.table import Table

    def secs(v: float | None) -> str:
        return "not observed" if v is None else f"{v:.1f} s"

    t = Table(title="accelctl demo: summary", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("requests", f"{s.requests} sent, {s.served} served, {s.failed} failed")
    t.add_row(
        "SLO attainment",
        f"{s.slo_attainment:.1%} within {s.slo_s:g} s"
        + (f" (p50 {s.p50_s:.2f} s, p95 {s.p95_s:.2f} s)" if s.p95_s is not None else ""),
    )
    t.add_row("served by unit", ", ".join(f"{u} {n}" for u, n in sorted(s.served_by_unit.items())) or "none")
    t.add_row(
        "failover", f"{secs(s.failover_s)} from the fault to capacity mode with the faulted unit at weight 0"
    )
    t.add_row("fallback", f"{secs(s.fallback_s)} from the restore to cost mode (dwell {s.min_dwell_s:.0f} s)")
    per_m = f", ${s.cost_per_million_usd:.2f} per 1M images" if s.cost_per_million_usd is not None else ""
    t.add_row(
        "cost",
        f"${s.cost_usd:.6f} for the images served at each unit's cost per inference{per_m}; "
        f"${s.fleet_cost_usd:.4f} of instance time at the demo catalog's prices",
    )
    return t
