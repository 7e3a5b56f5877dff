"""`accelctl simulate`: compare routing policies on a scenario in seconds of CPU time."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from accelctl.cli.common import console, err_console, print_json


def simulate_family(
    path: Path | None,
    n: int,
    seed: int,
    policies: list[str] | None,
    out: Path | None,
    plots: bool,
    json_out: bool,
    dump: Path | None,
) -> None:
    """`simulate --family N --seed S`: N members drawn from the family file, every policy on each,
    in a process pool; the distribution per policy, a CSV of every (member, policy) and a plot."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from accelctl.sim import family_run
    from accelctl.sim.family import dump_members

    fam = family_run.prepare(path or family_run.DEFAULT_FAMILY, n, seed, policies)
    folder = out or family_run.default_out(fam)
    files = dump_members(fam.members, fam.base_path, dump) if dump else []
    if err_console.is_terminal:
        with Progress(
            TextColumn("simulating the family"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("family", total=len(fam.members) * len(fam.policies))
            results = family_run.run_family(
                fam.members, fam.base_path, fam.policies, progress=lambda _r: bar.advance(task)
            )
    else:
        results = family_run.run_family(fam.members, fam.base_path, fam.policies)
    doc = family_run.write_results(fam, results, folder, plots, files)
    if json_out:
        print_json(doc)
        return
    console.print(family_run.table(doc))
    console.print(family_run.LEGEND, markup=False, highlight=False)
    console.print(f"written: {folder / 'family.json'}, {', '.join(doc['files'])}", markup=False)


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        scenario: Path = typer.Argument(
            None,
            help="Scenario file, e.g. examples/scenarios/failover.yaml; with --family a family file "
            "(default examples/families/sd21-day.yaml).",
        ),
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
        family: int = typer.Option(
            None, "--family", min=1, help="Draw this many one-day scenarios from the family file's ranges."
        ),
        seed: int = typer.Option(
            0, "--seed", min=0, help="With --family: the seed the members are drawn from."
        ),
        family_dump: Path = typer.Option(
            None, "--family-dump", help="With --family: also write each member as a scenario file here."
        ),
    ) -> None:
        """Replay a scenario against a simulated fleet for each policy, beside baselines and an oracle."""
        if family is not None:
            simulate_family(scenario, family, seed, policy or None, out, plots, json_out, family_dump)
            return
        if scenario is None:
            raise typer.BadParameter("give a scenario file, or --family N")
        if family_dump is not None:
            raise typer.BadParameter("--family-dump needs --family N")
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from accelctl.files import atomic_write
        from accelctl.sim import report
        from accelctl.sim.metrics import summarize, summarize_oracle
        from accelctl.sim.run import run_scenario
        from accelctl.sim.scenario import load_scenario
        from accelctl.units import slug

        loaded = load_scenario(scenario, policy or None)
        sc = loaded.scenario
        names = policy or loaded.policies
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
            summarize_oracle(oracle, trace)
            if n == "oracle"
            else summarize(runs[n], trace, sc.capacity, loaded.settings.deadband)
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
