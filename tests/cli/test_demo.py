"""`accelctl demo` options: bad ones fail at once with one line and exit 2, before anything starts."""

from typer.testing import CliRunner

from accelctl.cli import app


def test_too_short_a_run_is_refused_before_anything_is_written(tmp_path):
    work = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--headless", "--duration", "30", "--workdir", str(work)])
    assert result.exit_code == 2
    assert "error: --duration 30: the demo needs at least 60 s" in result.output
    assert not work.exists()


def test_slo_must_be_positive(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--slo", "0", "--workdir", str(tmp_path / "demo")])
    assert result.exit_code == 2
    assert "--slo" in result.output


def test_help_names_the_story():
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0
    for word in ("--headless", "--duration", "--workdir", "failover", "fallback"):
        assert word in result.output
