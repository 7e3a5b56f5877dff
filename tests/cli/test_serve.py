"""`accelctl serve` on the command line: its flags, its refusals, and an import that stays light."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

import accelctl.cli

runner = CliRunner()


def test_help_lists_the_flags():
    result = runner.invoke(accelctl.cli.app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in (
        "--host",
        "--port",
        "--max-concurrency",
        "--max-queue",
        "--unit-name",
        "--instance-type",
        "--timeout",
        "--grace",
    ):
        assert flag in result.output


def test_bad_log_level_is_exit_2_naming_the_flag(tmp_path):
    result = runner.invoke(accelctl.cli.app, ["serve", str(tmp_path), "--log-level", "loud"])
    assert result.exit_code == 2
    assert "--log-level" in result.output and "info" in result.output


def test_out_of_range_flags_are_exit_2():
    for args in (["--max-concurrency", "0"], ["--max-queue", "-1"], ["--port", "70000"], ["--grace", "0"]):
        result = runner.invoke(accelctl.cli.app, ["serve", "b", *args])
        assert result.exit_code == 2, args


def test_importing_the_cli_does_not_load_the_web_stack():
    code = (
        "import sys, accelctl.cli; "
        "loaded = [m for m in ('fastapi', 'uvicorn', 'starlette', 'prometheus_client', 'torch') if m "
        "in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_build_is_exit_2_naming_the_path(tmp_path):
    result = runner.invoke(accelctl.cli.app, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "nope" in result.output
