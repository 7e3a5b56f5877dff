"""`accelctl watch`: the control loop from live metrics to routing weights, with a dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from accelctl.cli.common import console, print_json
from accelctl.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


# Plug-in options a fleet spec already answers; --source-opt / --actuator-opt override them.
FLEET_DEFAULTS = {
    "prometheus": lambda f: {"url": f.prometheus_url},
    "cloudwatch": lambda f: {"region": f.region},
    "elbv2": lambda f: {"region": f.region},
    "alb-ingress": lambda f: {"ingress": f.name, "namespace": f.namespace},
    "httproute": lambda f: {"route": f.name, "namespace": f.namespace},
}


def parse_options(pairs: list[str], flag: str) -> dict:
    """`k=v` pairs into a dict; `a.b=v` nests (for maps such as backends.UNIT=SERVICE); a value
    starting with [ or { is JSON; anything else stays a string for the plug-in's model to coerce."""
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag} {pair!r}: expected KEY=VALUE")
        parsed: object = value
        if value[:1] in "[{":
            try:
                parsed = json.loads(value)
            except ValueError:
                raise InputError(f"{flag} {pair!r}: value starts like JSON but is not valid JSON") from None
        *parents, leaf = key.strip().split(".")
        node = out
        for p in parents:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise InputError(f"{flag} {pair!r}: {p!r} was already given a value")
            node = child
        node[leaf] = parsed
    return out


def plugin_options(name: str, fleet, given: dict) -> dict:
    defaults = {k: v for k, v in FLEET_DEFAULTS.get(name, lambda f: {})(fleet).items() if v is not None}
    return {**defaults, **given}


def watch(
    fleet: Path = typer.Option(
        None, "--fleet", help="Fleet spec (YAML): units, SLO, policy settings.  [required]"
    ),
    profiles: Path = typer.Option(
        None, "--profiles", help="Folder the fleet's profile paths are relative to.  [required]"
    ),
    source: list[str] = typer.Option(
        None,
        "--source",
        help="Metrics source: prometheus, cloudwatch, kubernetes, static, "
        "local. Repeat to combine, e.g. prometheus (traffic) + kubernetes (pods, capacity). "
        "Options of each: --list.  [required]",
    ),
    source_opt: list[str] = typer.Option(
        [],
        "--source-opt",
        help="KEY=VALUE for the source (repeat; a.b=v nests; SOURCE:KEY=VALUE with several sources).",
    ),
    actuator: str = typer.Option(
        None,
        "--actuator",
        help="Actuator: alb-ingress, httproute, elbv2, file, router. Options of each: --list.  [required]",
    ),
    actuator_opt: list[str] = typer.Option([], "--actuator-opt", help="KEY=VALUE for the actuator (repeat)."),
    policy: str = typer.Option(
        None, "--policy", help="plan, cost, capacity or auto; default the fleet's policy.mode."
    ),
    interval: float = typer.Option(
        None, "--interval", help="Seconds between ticks (finite, > 0, at most a day); default the fleet's."
    ),
    once: bool = typer.Option(False, "--once", help="One tick, then exit (1 if it raised an alarm)."),
    ticks: int = typer.Option(
        None, "--ticks", min=1, help="Stop after this many ticks; default run until stopped."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Decide and print the weight changes; write nothing."
    ),
    audit_log: Path = typer.Option(
        None, "--audit-log", help="Append every decision as a JSON line to this file."
    ),
    headless: bool = typer.Option(
        False, "--headless", help="One log line per tick instead of the dashboard."
    ),
    leader_elect: bool = typer.Option(
        False, "--leader-elect", help="Act only while holding a Kubernetes Lease."
    ),
    lease_opt: list[str] = typer.Option(
        [],
        "--lease-opt",
        help="KEY=VALUE for the Lease: name, namespace, identity, lease_s, host, kubeconfig.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="With --once: print the tick's audit record as JSON; with --list: the list."
    ),
    metrics_port: int = typer.Option(
        9464,
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve /metrics, /planned (KEDA's planned-replicas trigger), /healthz, /readyz here; 0 = off.",
    ),
    metrics_host: str = typer.Option(
        "0.0.0.0",
        "--metrics-host",
        help="Address the metrics endpoint binds (KEDA and Prometheus scrape it).",
    ),
    list_plugins: bool = typer.Option(
        False,
        "--list",
        help="Print every source and actuator with its options (types, defaults, descriptions); exit.",
    ),
) -> None:
    """Rewrite routing weights from live metrics: cost mode, capacity mode, failover and fallback."""
    if list_plugins:
        _list_plugins(as_json)
        return
    for value, flag in (
        (fleet, "--fleet"),
        (profiles, "--profiles"),
        (source, "--source"),
        (actuator, "--actuator"),
    ):
        if not value:
            raise InputError(
                f"missing option {flag}; see `accelctl watch --help` (options of plug-ins: --list)"
            )
    from accelctl.control.actuators import ACTUATORS
    from accelctl.control.loop import Controller, jsonl_audit
    from accelctl.control.policy import POLICIES, initial_weights
    from accelctl.control.sources import UnitBinding
    from accelctl.units import load_fleet, resolve_fleet

    if as_json and not once:
        raise InputError("--json needs --once; use --audit-log for a record of every tick")
    spec = load_fleet(fleet)
    settings = spec.policy if interval is None else _with_interval(spec.policy, interval)
    policy = policy or settings.mode
    POLICIES.get(policy)  # an unknown name fails here, listing the valid ones
    models = resolve_fleet(spec, profiles, str(fleet))
    bindings = [UnitBinding(m.name, namespace=spec.namespace, pool=m.pool) for m in models]
    elector = _elector(spec, settings.interval_s, lease_opt) if leader_elect else None
    src = _sources(source, source_opt, spec)
    act = ACTUATORS.create(
        actuator,
        plugin_options(actuator, spec, parse_options(actuator_opt, "--actuator-opt")),
        "--actuator-opt",
    )
    controller = Controller(
        policy,
        models,
        bindings,
        src,
        act,
        settings,
        headroom=spec.headroom,
        # Order to Ready per unit, for the plan's forecast horizon: node launch + the target's start-up.
        lead_s={u.name: settings.lead_s(u.target) for u in models},
        node_launch_s=settings.node_launch_s,
        dry_run=dry_run,
        audit=jsonl_audit(audit_log) if audit_log else None,
        gate=elector,
        seed=initial_weights(models),
    )
    exporter = None
    try:
        if once:
            raise typer.Exit(_once(controller, policy, spec.slo_s, headless, as_json))
        if metrics_port:
            from accelctl.control.exporter import Exporter

            exporter = Exporter(models, settings.interval_s)
            controller.on_tick.append(exporter.observe)
            exporter.serve(metrics_host, metrics_port)
        _run(controller, policy, spec.slo_s, headless, ticks)
    finally:
        if exporter is not None:
            exporter.close()
        if elector is not None:
            elector.release()
        src.close()
        act.close()


def _with_interval(policy, interval: float):
    """The fleet's policy settings with --interval, validated as the fleet file's value would be."""
    from pydantic import ValidationError

    from accelctl.files import validation_message

    try:
        return type(policy).model_validate({**policy.model_dump(), "interval_s": interval})
    except ValidationError as err:
        raise InputError(validation_message("--interval", err).replace("field 'interval_s': ", "")) from None


def _list_plugins(as_json: bool) -> None:
    from accelctl.control.plugins import catalog, render_text

    if as_json:
        print_json(catalog())
    else:
        typer.echo(render_text(catalog()))


def _sources(names: list[str], pairs: list[str], spec):
    """One source, or several read as one; with several, each option names its source (NAME:KEY=VALUE)."""
    from accelctl.control.combined import CombinedSource
    from accelctl.control.sources import SOURCES

    if len(set(names)) != len(names):
        raise InputError(f"--source: {', '.join(names)}: each source at most once")
    given: dict[str, list[str]] = {n: [] for n in names}
    for pair in pairs:
        key = pair.partition("=")[0]
        prefix, colon, rest = key.partition(":")
        if colon:
            if prefix not in given:
                raise InputError(
                    f"--source-opt {pair!r}: {prefix!r} is not one of the sources ({', '.join(names)})"
                )
            given[prefix].append(pair[len(prefix) + 1 :])
        elif len(names) == 1:
            given[names[0]].append(pair)
        else:
            raise InputError(f"--source-opt {pair!r}: with several sources, say which: SOURCE:{pair}")
    sources = []
    try:
        for n in names:
            sources.append(
                SOURCES.create(
                    n, plugin_options(n, spec, parse_options(given[n], "--source-opt")), "--source-opt"
                )
            )
    except BaseException:
        for made in sources:
            made.close()
        raise
    return sources[0] if len(sources) == 1 else CombinedSource(sources)


def _elector(spec, interval_s: float, lease_opt: list[str]):
    import os

    from pydantic import ValidationError

    from accelctl.control.leader import LeaseConfig, lease_elector
    from accelctl.files import validation_message

    # Renewed every tick; three missed ticks before a standby may take over.
    options = {
        "name": f"{spec.name}-watch",
        "namespace": os.environ.get("POD_NAMESPACE", spec.namespace),
        "lease_s": max(15.0, 3 * interval_s),
        **parse_options(lease_opt, "--lease-opt"),
    }
    try:
        config = LeaseConfig.model_validate(options)
    except ValidationError as err:
        raise InputError(validation_message("--lease-opt", err)) from None
    return lease_elector(config)


def _once(controller, policy: str, slo_s: float, headless: bool, as_json: bool) -> int:
    import time

    from accelctl.control.dashboard import Dashboard, summary_line

    result = controller.tick(time.time())
    if as_json:
        print_json(result.audit_record(policy))
    elif headless:
        _print_line(summary_line(result, policy))
    else:
        dash = Dashboard(
            controller.units, policy, slo_s, controller.settings.interval_s, dry_run=controller.dry_run
        )
        dash.update(result)
        console.print(dash)
    if controller.dry_run and not as_json:
        _print_diff(result)
    return 1 if result.alarm or result.error else 0


def _run(controller, policy: str, slo_s: float, headless: bool, ticks: int | None) -> None:
    import signal
    import threading
    import time

    from accelctl.control.dashboard import Dashboard, summary_line

    stop = threading.Event()
    main = (
        threading.current_thread() is threading.main_thread()
    )  # signal handlers live in the main thread only
    previous = (
        signal.signal(signal.SIGTERM, lambda *_: stop.set()) if main else None
    )  # how Kubernetes stops a pod
    dash = Dashboard(
        controller.units, policy, slo_s, controller.settings.interval_s, dry_run=controller.dry_run
    )

    def on_tick(result) -> None:
        dash.update(result)
        if headless:
            _print_line(summary_line(result, policy))
        if controller.dry_run and (headless or not console.is_terminal):
            _print_diff(result)

    controller.on_tick.append(on_tick)
    try:
        if headless:
            controller.run(time.time, stop.wait, stop.is_set, ticks)
        else:
            from rich.live import Live

            # Rendered only on ticks: the dashboard is never read while a tick updates it.
            with Live(dash, console=console, auto_refresh=False, transient=False) as live:
                controller.on_tick.append(lambda _: live.update(dash, refresh=True))
                controller.run(time.time, stop.wait, stop.is_set, ticks)
    except KeyboardInterrupt:
        console.print("stopped", style="dim")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _print_line(line: str) -> None:
    # Plain stdout, one flushed line per tick: container logs, not a terminal.
    print(line, flush=True)


def _print_diff(result) -> None:
    from accelctl.control.dashboard import weights_diff
    from accelctl.control.loop import Hold

    if result.held is Hold.DEADBAND:
        _print_line("dry run: no change beyond the deadband; nothing would be written")
    elif result.held is Hold.DRY_RUN:
        _print_line("dry run: would change weights:")
        for line in weights_diff(result.before, result.decision.weights):
            _print_line(f"  {line}")
