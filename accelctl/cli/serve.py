"""Placeholder until its issue lands; replaced by the module that owns 'serve'."""

import typer


def register(app: typer.Typer) -> None:
    return None
