"""`accelctl serve BUILD`: the model server one deployment unit runs."""

from __future__ import annotations

from pathlib import Path

import typer

from accelctl.cli.common import console
from accelctl.errors import InputError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    build: Path = typer.Argument(
        ..., help="Build folder (holds build.yaml), as written by `accelctl compile`."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on; 0.0.0.0 inside a container."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port; 0 picks a free one (printed on start)."),
    max_concurrency: int = typer.Option(
        1,
        min=1,
        help=(
            "Model calls admitted at once. A build generates one image at a time, "
            "so more slots only overlap encoding."
        ),
    ),
    max_queue: int = typer.Option(
        8, min=0, help="Requests that may wait for a model slot; beyond that, 503 at once."
    ),
    unit_name: str = typer.Option(
        None, help="Deployment unit name in metrics; default model-instance_type-target."
    ),
    instance_type: str = typer.Option(
        "local", help="Instance type this replica runs on, for the unit-info metric."
    ),
    timeout: float = typer.Option(
        60.0, min=0.001, help="Per-request timeout in seconds, queueing included (504)."
    ),
    body_timeout: float = typer.Option(
        10.0,
        min=0.001,
        max=3600,
        help="Seconds for a request body to arrive; then 408 and the connection closes.",
    ),
    grace: float = typer.Option(
        30.0, min=1.0, help="Seconds from SIGTERM to exit: admitted requests finish within it."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug."),
    access_log: bool = typer.Option(False, help="Log every request (probes included)."),
) -> None:
    """Serve a build over HTTP: /genimage, /v1/images/generations, /health, /readiness, /metrics."""
    # fastapi/uvicorn load here, not at import, so `accelctl --help` stays instant
    if log_level.lower() not in LOG_LEVELS:
        raise InputError(f"--log-level {log_level!r} is not a level; use one of {', '.join(LOG_LEVELS)}")
    from accelctl.builds import load_pipeline
    from accelctl.serve.app import ServeSettings, create_app
    from accelctl.serve.runner import serve as run_server

    pipeline = load_pipeline(build)
    settings = ServeSettings(
        unit_name=unit_name,
        instance_type=instance_type,
        max_concurrency=max_concurrency,
        max_queue=max_queue,
        timeout_s=timeout,
        body_timeout_s=body_timeout,
    )
    app = create_app(pipeline, settings)
    unit = app.state.server.metrics.unit

    def listening(bound_host: str, bound_port: int) -> None:
        # One plain line that scripts and tests parse for the port chosen by --port 0.
        console.print(
            f"serving {unit} on http://{bound_host}:{bound_port}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    code = run_server(
        app, host, port, grace, log_level=log_level.lower(), access_log=access_log, on_listening=listening
    )
    if code:
        raise typer.Exit(code)
