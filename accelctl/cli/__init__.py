"""The accelctl command line: one module per command group, joined here.

Modules register their commands on the root app. Nothing here imports torch, boto3 or kubernetes:
those load inside the command that needs them, so `accelctl --help` stays instant.
"""

from __future__ import annotations

import sys
from types import MethodType

import typer
from typer.core import TyperGroup

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # older typer runs on click itself
    from click import exceptions as click_errors

from accelctl import __version__
from accelctl.cli import bench, build, demo, deploy, router, serve, simulate, watch
from accelctl.cli.common import err_console
from accelctl.errors import AccelctlError


def _error_line(message: str) -> None:
    err_console.print(f"error: {' '.join(message.split())}", markup=False, highlight=False, soft_wrap=True)


def _checked_invoke(cmd, ctx):
    """Every command's options pass accelctl.cli.params before the command runs."""
    from accelctl.cli.params import check_command

    check_command(ctx.command_path.split(" ", 1)[-1], ctx.params)
    return type(cmd).invoke(cmd, ctx)


def _check_before_invoke(cmd) -> None:
    """Route a command (or each command of a sub-group, as it is resolved) through _checked_invoke."""
    if not hasattr(cmd, "commands"):
        cmd.invoke = MethodType(_checked_invoke, cmd)
        return
    resolve = cmd.resolve_command

    def resolve_and_wrap(ctx, args):
        name, sub, rest = resolve(ctx, args)
        if sub is not None:
            _check_before_invoke(sub)
        return name, sub, rest

    cmd.resolve_command = resolve_and_wrap


class _Group(TyperGroup):
    """Turns AccelctlError from any command, and click's usage errors (a flag out of range, a missing
    option), into one `error:` line on stderr and their exit code (1, or 2 for bad input)."""

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            _check_before_invoke(cmd)
        return name, cmd, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AccelctlError as exc:
            _error_line(exc.message)
            ctx.exit(exc.exit_code)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.ClickException as exc:
            if not standalone_mode:
                raise
            if isinstance(exc, getattr(click_errors, "NoArgsIsHelpError", ())) and exc.ctx is not None:
                typer.echo(exc.ctx.get_help())  # `accelctl` alone: the help, as click would show it
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "accelctl"
            hint = f" (see {where} --help)" if isinstance(exc, click_errors.UsageError) else ""
            _error_line(f"{exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            _error_line("aborted")
            sys.exit(1)
        if not standalone_mode:
            return rv
        # Without standalone mode click hands back the exit code of a typer.Exit / ctx.exit.
        sys.exit(rv if isinstance(rv, int) else 0)


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
