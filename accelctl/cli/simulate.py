"""`accelctl simulate`: compare routing policies on a scenario in seconds of CPU time."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from accelctl.cli.common import console, err_console, print_json


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        scenario: Path = typer.Argument(..., help="Scenario file, e.g. examples/scenarios/failover.yaml."),
        policy: list[str] = typer.Option(
            None, "--policy", "-p", help="Policy to compare (repeat); default: the scenario's list."
        ),
        out: Path = typer.Option(
            None, "--out", help="Folder for summary.json and plots; default simulate-results/<scenario>."
        ),
        plots: bool = typer.Option(
            True, "--plots/--no-plots", help="Write PNG plots of throughput, weights and replicas."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
    ) -> None:
        """Replay a scenario against a simulated fleet for each policy, beside baselines and an oracle."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from accelctl.files import atomic_write
        from accelctl.sim import report
        from accelctl.sim.metrics import summarize, summarize_oracle
        from accelctl.sim.run import run_scenario
        from accelctl.sim.scenario import load_scenario
        from accelctl.units import slug

        loaded = load_scenario(scenario, policy or None)
        sc = loaded.scenario
        names = policy or sc.policies
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("simulating", total=len(names))

            def started(name: str) -> None:
                bar.update(task, description=f"simulating {name}", completed=names.index(name))

            trace, runs, oracle = run_scenario(loaded, names, started)
        summaries = [
            summarize_oracle(oracle, trace) if n == "oracle" else summarize(runs[n], trace, sc.capacity)
            for n in names
        ]
        folder = out or Path("simulate-results") / slug(sc.name)
        paths = report.write_plots(loaded, trace, list(runs.values()), summaries, folder) if plots else []
        doc = report.document(loaded, summaries, paths)
        atomic_write(folder / "summary.json", json.dumps(doc, indent=2, default=str) + "\n")
        if json_out:
            print_json(doc)
            return
        console.print(report.table(loaded, summaries))
        for line in report.notes(summaries):
            console.print(line, markup=False, highlight=False)
        console.print(
            f"written: {folder / 'summary.json'}" + (f" and {len(paths)} plots" if paths else ""),
            markup=False,
        )
