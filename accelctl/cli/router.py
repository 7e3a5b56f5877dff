"""`accelctl router`: the local weighted reverse proxy that stands in for the ALB / Gateway."""

from __future__ import annotations

import typer

from accelctl.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("router")(router)


def router(
    backend: list[str] = typer.Option(..., "--backend", help="NAME=URL of a unit's server; repeat per unit."),
    weights: list[str] = typer.Option([], "--weights", help="NAME=W integer weight; default 1 each; repeat."),
    pool: list[str] = typer.Option([], "--pool", help="NAME=POOL capacity pool of a unit; default its name."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(
        8080, min=0, max=65535, help="Port to listen on; 0 picks a free one (printed on start)."
    ),
    health_interval: float = typer.Option(1.0, help="Seconds between /readiness checks of each backend."),
    max_attempts: int = typer.Option(20, help="Most tries per request across backends."),
    retry_budget: float = typer.Option(
        10.0, help="Seconds a request may be retried (Retry-After waits included) before a 503."
    ),
    request_timeout: float = typer.Option(300.0, help="Seconds one upstream attempt may take."),
    admin_token: str | None = typer.Option(
        None,
        "--admin-token",
        envvar="ACCELCTL_ROUTER_ADMIN_TOKEN",
        show_envvar=True,
        help="Bearer token the admin API requires (the router actuator reads the same variable).",
    ),
) -> None:
    """Split requests across unit servers by integer weights, with health checks and retries.

    Serves /metrics (per-backend requests, status codes, latency) and an admin API:
    GET/PUT /admin/weights, GET /admin/backends, PUT /admin/pools/POOL {"available": false}.
    A request refused by one backend goes to another, then again after the Retry-After asked for,
    until --retry-budget is spent; a backend that refuses connections is skipped for a while.
    """
    from accelctl.router.config import config_from_flags
    from accelctl.router.serve import run_forever

    config = config_from_flags(
        backend,
        weights,
        pool,
        health_interval_s=health_interval,
        max_attempts=max_attempts,
        retry_budget_s=retry_budget,
        request_timeout_s=request_timeout,
        admin_token=admin_token or None,
    )

    def ready(bound: int) -> None:
        # First stdout line: `accelctl demo` and scripts read the bound port from it.
        print(f"router listening on http://{host}:{bound}", flush=True)
        for b in config.backends:
            console.print(
                f"  {b.name:<24} weight {b.weight:<4} pool {b.pool:<16} {b.url}",
                highlight=False,
                soft_wrap=True,
            )

    run_forever(config, host, port, ready)
