"""The accelctl command line: one module per command group, joined here.

Modules register their commands on the root app. Nothing here imports torch, boto3 or kubernetes:
those load inside the command that needs them, so `accelctl --help` stays instant.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from accelctl import __version__
from accelctl.cli import bench, build, demo, deploy, router, serve, simulate, watch
from accelctl.cli.common import err_console
from accelctl.errors import AccelctlError


class _Group(TyperGroup):
    """Turns AccelctlError from any command into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AccelctlError as exc:
            err_console.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
            ctx.exit(exc.exit_code)


app = typer.Typer(
    cls=_Group,
    name="accelctl",
    help="Serve Stable Diffusion on the cheapest heterogeneous fleet that meets its latency target.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (build, bench, serve, deploy, watch, simulate, router, demo):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"accelctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """accelctl: compile, bench, deploy, watch and simulate deployment units."""


def main() -> None:
    app()
