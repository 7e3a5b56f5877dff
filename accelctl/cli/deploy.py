"""`accelctl deploy`: Kubernetes manifests for a fleet, rendered from its spec and profiles."""

from __future__ import annotations

from pathlib import Path

import typer

from accelctl.cli.common import console, err_console, print_json
from accelctl.errors import AccelctlError, InputError


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    fleet: Path = typer.Option(..., "--fleet", help="Fleet spec (YAML); see docs/fleet-spec.md."),
    profiles: Path = typer.Option(
        ..., "--profiles", help="Folder the fleet's profile paths are relative to."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder; replaced as a whole on each render."),
    routing: str = typer.Option(None, help="Override the fleet's routing: alb or gateway."),
    metrics: str = typer.Option(None, help="Override the fleet's metrics backend: prometheus or cloudwatch."),
    templates: Path = typer.Option(
        None, help="Folder of templates that replace deploy_templates/ file by file."
    ),
    diff: bool = typer.Option(
        False,
        "--diff",
        help="Show what would change in --out and write nothing; exit 0 no change, 1 changes, 2 error "
        "(as `kubectl diff`).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of tables."),
) -> None:
    """Render the Deployments, Services, ScaledObjects, NodePools, route and watch controller of a fleet.

    Every rendered object is checked against the Kubernetes and CRD schemas before anything is written.
    """
    from accelctl.deploy import output, validate
    from accelctl.deploy.render import number, render
    from accelctl.units import load_fleet

    try:
        spec = _override(load_fleet(fleet), routing=routing, metrics=metrics)
        manifests = render(spec, profiles, where=str(fleet), templates=templates)
        objects = validate.check_files(manifests.files)
        if diff:
            lines, changes = output.diff(manifests.files, out)
    except AccelctlError as exc:
        if diff and exc.exit_code < 2:  # 1 means "changes" to a script reading --diff's exit code
            raise InputError(exc.message) from None
        raise
    except OSError as exc:  # an unreadable --out or profile: an error, never "changes"
        raise InputError(f"{exc.filename or out}: {exc.strerror}") from None
    unchecked = validate.skipped_core(objects)
    if unchecked:
        err_console.print(
            f"note: {unchecked} core Kubernetes objects not validated: kubernetes-validate is not "
            "installed (pip install 'accelctl[validate]')",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    if diff:
        if as_json:
            print_json({"out": str(out), **changes, "diff": "".join(lines)})
        else:
            for line in lines:
                console.print(line.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
            counts = ", ".join(f"{len(v)} {k}" for k, v in changes.items())
            console.print(
                f"{out}: {counts}" if lines else f"{out}: no changes", markup=False, highlight=False
            )
        raise typer.Exit(1 if lines else 0)

    output.write(manifests.files, out)
    if as_json:
        print_json(
            {
                "out": str(out),
                "files": list(manifests.files),
                "weights": manifests.weights,
                "node_pools": {p.name: list(p.instance_types) for p in manifests.pools.values()},
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"fleet {spec.name}: {spec.routing} routing, {spec.metrics} scaling")
    for col in ("unit", "node pool", "T (rps)", "scale at (rps)", "cost / 1M", "weight"):
        table.add_column(col, justify="left" if col in ("unit", "node pool") else "right")
    for u in manifests.units:
        table.add_row(
            u.name,
            u.pool,
            number(u.throughput_rps),
            number(u.throughput_rps * spec.headroom),
            f"${u.cost_per_inference * 1e6:,.2f}",
            str(manifests.weights.get(u.name, 0)),
        )
    console.print(table)
    console.print(
        f"wrote {len(manifests.files)} files to {out}; apply with `kubectl apply -k {out}`; "
        f"`kubectl apply -k {out / 'capacity'}` switches to capacity mode by hand",
        markup=False,
        highlight=False,
    )


def _override(spec, **flags):
    """The fleet with --routing/--metrics applied, checked by the same schema as the file."""
    from pydantic import ValidationError

    from accelctl.units import FleetSpec

    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return spec
    try:
        return FleetSpec.model_validate({**spec.model_dump(), **given})
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"--{first['loc'][0]} {given.get(first['loc'][0])!r}: {first['msg']}") from None
