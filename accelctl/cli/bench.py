"""`accelctl bench`, `bench report`, `catalog refresh`, `profile add`: builds and units to profiles.

`accelctl bench BUILD...` times builds in this process; `accelctl bench --url URL` searches a running
unit's breaking point over HTTP. Both write one profile per deployment unit under --out-dir.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from typer.core import TyperGroup

from accelctl.cli.common import console, err_console, print_json
from accelctl.errors import AccelctlError, InputError

PRICE = "Price"
INPROCESS = "In-process mode (BUILD...)"
ENDPOINT = "Endpoint mode (--url)"
CATALOG_HELP = "Price catalog; default profiles/catalog.yaml, else the one packaged with accelctl."


class _RunByDefault(TyperGroup):
    """Anything that is not a subcommand goes to `run`: `bench BUILD...` and `bench --url` both work."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


bench_app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    help="`accelctl bench BUILD...` times builds here; `accelctl bench --url URL` searches a running unit's "
    "breaking point (both are `bench run`); `accelctl bench report` compares the profiles.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="The instance price catalog (profiles/catalog.yaml).")
profile_app = typer.Typer(
    no_args_is_help=True,
    help="Profiles by hand (add) and from the cluster's bench Jobs (push in the Job, pull on your machine).",
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(profile_app, name="profile")


def _price(instance_type, region, catalog, price, spot):
    from accelctl.bench.pricing import PriceChoice, resolve

    if not instance_type:
        raise InputError(
            "--instance-type is required: the instance type the unit runs on (e.g. inf2.xlarge); it "
            "prices the profile"
        )
    return resolve(
        PriceChoice(instance_type, region, spot, catalog, price),
        note=lambda line: err_console.print(line, highlight=False, soft_wrap=True),
    )


@bench_app.command("run")
def run(
    builds: list[Path] | None = typer.Argument(
        None, help="Build folders to time in this process.", show_default=False
    ),
    url: str | None = typer.Option(
        None, help="Base URL of one running replica (`accelctl serve`): endpoint mode."
    ),
    instance_type: str | None = typer.Option(
        None, help="Instance type the unit runs on, e.g. inf2.xlarge.", rich_help_panel=PRICE
    ),
    region: str = typer.Option("us-west-2", help="Catalog region.", rich_help_panel=PRICE),
    catalog: Path | None = typer.Option(None, help=CATALOG_HELP, show_default=False, rich_help_panel=PRICE),
    price: float | None = typer.Option(
        None, help="$ per instance-hour; overrides the catalog.", rich_help_panel=PRICE
    ),
    spot: bool = typer.Option(False, help="Use the catalog's spot price.", rich_help_panel=PRICE),
    replicas_per_instance: int = typer.Option(
        1, min=1, help="Replicas one instance holds (GPUs, NeuronCore groups)."
    ),
    slo: float = typer.Option(0.9, min=0.001, help="p95 latency target in seconds."),
    steps: int | None = typer.Option(None, min=1, help="Denoising steps per image; default: the build's."),
    out_dir: Path = typer.Option(Path("profiles"), "--out-dir", "-o", help="Folder the profiles go to."),
    json_out: bool = typer.Option(False, "--json", help="Print the profiles as JSON."),
    images: int = typer.Option(
        10, "--images", "-n", min=2, help="Timed images per build.", rich_help_panel=INPROCESS
    ),
    warmup: int = typer.Option(
        1, min=0, help="Untimed images first (endpoint: untimed requests).", rich_help_panel=INPROCESS
    ),
    reference: str | None = typer.Option(
        None,
        help="Build to compare images with; default the cpu fp32 build beside each build; 'none' skips.",
        rich_help_panel=INPROCESS,
    ),
    quality_images: int = typer.Option(
        4, min=1, help="Images compared with the reference.", rich_help_panel=INPROCESS
    ),
    quality_threshold: float = typer.Option(
        30.0, help="PSNR in dB below which a build is flagged.", rich_help_panel=INPROCESS
    ),
    mode: str = typer.Option(
        "closed", help="closed: fixed concurrency; open: Poisson arrivals.", rich_help_panel=ENDPOINT
    ),
    request_shape: str = typer.Option(
        "genimage", help="Server API: genimage or openai.", rich_help_panel=ENDPOINT
    ),
    baseline: int = typer.Option(
        20, min=1, help="Requests one at a time for the latency L.", rich_help_panel=ENDPOINT
    ),
    min_requests: int = typer.Option(
        20, min=1, help="Each probe: at least this many requests...", rich_help_panel=ENDPOINT
    ),
    min_seconds: float = typer.Option(
        5.0, min=0, help="...and at least this many seconds.", rich_help_panel=ENDPOINT
    ),
    max_seconds: float = typer.Option(
        120.0, min=0.1, help="Each probe: at most this many seconds.", rich_help_panel=ENDPOINT
    ),
    max_probes: int = typer.Option(12, min=1, help="Probe budget of the search.", rich_help_panel=ENDPOINT),
    start: float = typer.Option(
        1.0, min=0.001, help="First load: clients (closed) or requests/s (open).", rich_help_panel=ENDPOINT
    ),
    tolerance: float = typer.Option(
        0.05, min=0.001, help="Stop when the bracket is within this fraction.", rich_help_panel=ENDPOINT
    ),
    max_error_rate: float = typer.Option(
        0.001, min=0, help="Error rate a passing probe may have.", rich_help_panel=ENDPOINT
    ),
    timeout: float = typer.Option(
        60.0, min=0.001, help="Per-request timeout, seconds.", rich_help_panel=ENDPOINT
    ),
    model: str | None = typer.Option(
        None, help="Unit's model; default: what the server says.", rich_help_panel=ENDPOINT
    ),
    target: str | None = typer.Option(
        None, help="Unit's target; default: what the server says.", rich_help_panel=ENDPOINT
    ),
    height: int | None = typer.Option(
        None, min=1, help="Image height; default: what the server says.", rich_help_panel=ENDPOINT
    ),
    width: int | None = typer.Option(
        None, min=1, help="Image width; default: what the server says.", rich_help_panel=ENDPOINT
    ),
) -> None:
    """Bench builds in this process (BUILD...) or a running unit's breaking point (--url)."""
    if bool(builds) == bool(url):
        raise InputError("give build folders (in-process mode) or --url URL (endpoint mode), one of the two")
    the_price = _price(instance_type, region, catalog, price, spot)
    common = dict(
        instance_type=instance_type,
        price=the_price,
        replicas=replicas_per_instance,
        slo=slo,
        steps=steps,
        out_dir=out_dir,
        json_out=json_out,
    )
    if builds:
        from accelctl.bench.inprocess import Settings

        settings = Settings(
            images=images, warmup=warmup, steps=steps, quality_images=min(quality_images, images)
        )
        _inprocess(builds, settings, reference, quality_threshold, **common)
    else:
        from accelctl.bench import knee
        from accelctl.bench.load import ProbeLength

        if mode not in ("closed", "open"):
            raise InputError(f"--mode {mode!r}: use closed (fixed concurrency) or open (Poisson arrivals)")
        search = knee.Search(
            mode=mode,
            start=start,
            tolerance=tolerance,
            max_probes=max_probes,
            criteria=knee.Criteria(slo_s=slo, max_error_rate=max_error_rate),
        )
        length = ProbeLength(min_requests, min_seconds, max(max_seconds, min_seconds))
        named = dict(model=model, target=target, height=height, width=width)
        _endpoint(url, search, length, request_shape, timeout, baseline, warmup, named, **common)


def _inprocess(
    builds, settings, reference, threshold, *, instance_type, price, replicas, slo, steps, out_dir, json_out
):
    from dataclasses import replace

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from accelctl.bench import inprocess, quality
    from accelctl.bench.profiles import assemble, environment, profile_path, unit
    from accelctl.files import save_model

    manifests = [inprocess.check_build(b) for b in builds]  # every path checked before any work
    refs = []
    for b, m in zip(builds, manifests, strict=False):
        if reference and reference.lower() == "none":
            refs.append(None)
        elif reference:
            ref = inprocess.check_build(reference)
            if (ref.height, ref.width) != (m.height, m.width):
                raise InputError(
                    f"--reference {reference} draws {ref.height}x{ref.width} images, build {b} "
                    f"{m.height}x{m.width}; give a reference of the same shape or --reference none"
                )
            refs.append(Path(reference))
        else:
            refs.append(inprocess.default_reference(b, m))
    units = [unit(m.model.name, instance_type, m.target) for m in manifests]
    names = [u.name for u in units]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InputError(
                f"{builds[names.index(name)]} and {builds[i]} are the same deployment unit ({name}) "
                "and would "
                "write one profile; bench them in separate runs with different --out-dir"
            )
    ref_cache: dict = {}
    written = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    for build, m, ref, u in zip(builds, manifests, refs, units, strict=False):
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task(f"bench {build}", total=settings.warmup + settings.images)
            run = inprocess.run_build(build, settings, lambda task=task: progress.advance(task))
            q = None
            if ref is not None:
                progress.update(task, description=f"reference {ref}")
                key = (ref.resolve(), run.steps, len(run.images))
                if key not in ref_cache:
                    ref_cache[key] = inprocess.reference_images(ref, run.steps, len(run.images))
                q = quality.assess(run.images, ref_cache[key], str(ref), threshold)
        env = environment(m.versions.model_dump())
        profile = assemble(
            unit=u,
            shape=replace(m.shape, steps=run.steps),
            latency=run.latencies,
            breaking_point_rps=run.breaking_point_rps,
            method=inprocess.ESTIMATE,
            price=price[0],
            price_source=price[1],
            replicas_per_instance=replicas,
            slo_s=slo,
            quality=q,
            build=str(build),
            peak_memory_mib=run.peak_memory_mib,
            env=env,
        )
        path = save_model(profile_path(out_dir, profile), profile)
        written.append((path, profile))
        if not json_out:
            _show_inprocess(path, profile, run)
    if json_out:
        from accelctl.bench.report import strict_json

        print_json(
            strict_json(
                [{"path": str(p), **prof.model_dump(mode="json", exclude_none=True)} for p, prof in written]
            )
        )


def _show_inprocess(path, profile, run) -> None:
    s = profile.latency
    console.print(f"[bold]{profile.unit.name}[/] ({run.path}, {profile.steps} steps, {s.n} images)")
    console.print(
        f"  latency mean {s.mean:.4f} s (95% CI {s.ci95_low:.4f}-{s.ci95_high:.4f}); "
        f"p0 {s.p0:.4f} p50 {s.p50:.4f} p90 {s.p90:.4f} p95 {s.p95:.4f} p99 {s.p99:.4f} p100 {s.p100:.4f}"
    )
    console.print(
        f"  {run.images_per_s:.3f} images/s; peak memory {profile.peak_memory_mib:.0f} MiB (process RSS)"
    )
    console.print(
        f"  breaking point {profile.breaking_point_rps:.3f} rps (estimate: 1 / mean latency, 1 worker; "
        f"`bench --url` measures it); ${profile.cost_per_inference:.3g} per inference, "
        f"${profile.cost_per_million:,.2f} per 1M images at ${profile.instance_price_per_hour}/h"
    )
    if s.p95 is not None and s.p95 > profile.slo_s:
        console.print(
            f"  [yellow]p95 {s.p95:.3f} s is above the SLO {profile.slo_s} s even one request at a time[/]"
        )
    q = profile.quality
    if q is not None:
        verdict = "ok" if q.passed else f"[red]FLAGGED: below {q.threshold_db} dB[/]"
        console.print(f"  quality vs {q.reference}: PSNR {q.psnr_db:.2f} dB, SSIM {q.ssim:.4f} {verdict}")
    console.print(f"  wrote {path}", highlight=False)


def _endpoint(
    url,
    search,
    length,
    request_shape,
    timeout,
    baseline,
    warmup,
    named,
    *,
    instance_type,
    price,
    replicas,
    slo,
    steps,
    out_dir,
    json_out,
):
    from accelctl.bench.knee import meets
    from accelctl.bench.load import Endpoint, endpoint_bench
    from accelctl.bench.profiles import endpoint_profile, environment, profile_path, unit
    from accelctl.bench.shapes import REQUEST_SHAPES
    from accelctl.files import save_model
    from accelctl.shape import Shape, default_dtype

    ep = Endpoint(url, REQUEST_SHAPES.get(request_shape), steps, timeout)
    said: dict = {}

    def ready(info: dict) -> None:
        # Fail before the search, not after it, when the unit cannot be named from GET / and the options.
        shapes = info.get("shapes") if isinstance(info.get("shapes"), dict) else {}
        said.update(
            model=named["model"] or info.get("model"),
            target=named["target"] or info.get("target"),
            height=named["height"] or shapes.get("height"),
            width=named["width"] or shapes.get("width"),
            batch=shapes.get("batch", 1),
            steps=steps or info.get("steps"),
        )
        missing = [k for k in ("model", "target", "height", "width", "steps") if not said[k]]
        if missing:
            raise InputError(
                f"{url}: GET / does not say the unit's {', '.join(missing)}; give "
                + " ".join(f"--{k}" for k in missing)
            )
        said["unit"] = unit(
            str(said["model"]), instance_type, str(said["target"]), where=f"{url} (GET / or --target)"
        )

    def show(probe, out) -> None:
        ok = "meets SLO" if meets(probe, search.criteria) else "fails"
        load = f"{probe.offered:g} clients" if probe.mode == "closed" else f"{probe.offered:.3g} req/s"
        p95 = "-" if probe.p95 is None else f"{probe.p95:.3f}"
        err_console.print(
            f"probe {load:>14}: {probe.achieved_rps:8.3f} rps  p95 {p95} s  errors "
            f"{probe.errors}/{probe.requests} {ok}",
            highlight=False,
        )

    with err_console.status(f"searching the breaking point of {url}"):
        result = endpoint_bench(ep, search, length, baseline, warmup, on_probe=show, on_ready=ready)
    out = result.outcome
    if out.breaking_point_rps is None:
        raise AccelctlError(
            f"{url}: no load met p95 <= {slo} s with errors <= {search.criteria.max_error_rate:.1%} "
            f"({out.reason}); "
            "the unit cannot meet the SLO; no profile written"
        )
    method = (
        f"endpoint search: {search.mode} loop, {len(result.probes)} probes, stopped: {out.reason}; "
        f"T = best throughput with p95 <= {slo} s and errors <= {search.criteria.max_error_rate:.1%}"
    )
    env = environment(result.info.get("versions"))
    env["url"] = url
    profile = endpoint_profile(
        result,
        unit=said["unit"],
        shape=Shape(
            height=int(said["height"]),
            width=int(said["width"]),
            batch=int(said["batch"]),
            dtype=result.info.get("dtype") or default_dtype(said["unit"].target),
            steps=int(said["steps"]),
        ),
        method=method,
        price=price[0],
        price_source=price[1],
        replicas_per_instance=replicas,
        slo_s=slo,
        build=result.info.get("build"),
        env=env,
    )
    path = save_model(profile_path(out_dir, profile), profile)
    if json_out:
        print_json([{"path": str(path), **profile.model_dump(mode="json", exclude_none=True)}])
        return
    if not out.converged:
        console.print(
            f"[yellow]not converged ({out.reason}): T is the best probe that met the SLO, a lower bound[/]"
        )
    console.print(
        f"[bold]{profile.unit.name}[/]: breaking point {out.breaking_point_rps:.3f} rps "
        f"(upper estimate {out.upper_rps if out.upper_rps is None else round(out.upper_rps, 3)}), "
        f"{len(result.probes)} probes, {out.reason}; latency L {profile.latency.mean:.4f} s; "
        f"${profile.cost_per_inference:.3g} per inference"
    )
    console.print(f"wrote {path}", highlight=False)


@bench_app.command("report")
def report(
    directory: Path = typer.Argument(Path("profiles"), help="Folder of profiles."),
    json_out: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    plot: Path | None = typer.Option(None, help="Write a PNG of the latency-throughput curves here."),
    fleet: Path | None = typer.Option(
        None,
        help="Report the fleet's units (its names, checked against their profiles) instead of every "
        "profile in the folder.",
        show_default=False,
    ),
) -> None:
    """All units side by side: cost (paper Table 1) and capacity (Table 2) columns."""
    from accelctl.bench import report as rep
    from accelctl.units import load_fleet, load_profiles, resolve_fleet

    if fleet is not None:
        units = resolve_fleet(load_fleet(fleet), directory, where=str(fleet))
        profiles = {u.spec.profile: u.profile for u in units}
    else:
        profiles = load_profiles(directory)
        if not profiles:
            raise InputError(
                f"{directory}: no profiles in it; run `accelctl bench` or `accelctl profile add` first"
            )
        units = rep.profile_units(profiles)
    table = rep.rows(units)
    if plot is not None:
        from accelctl.bench.plot import plot_curves

        plot_curves(profiles, plot)
    if json_out:
        print_json(rep.as_json(table))
        return
    for t in rep.render(table):
        console.print(t)
    if plot is not None:
        console.print(f"wrote {plot}", highlight=False)


@catalog_app.command("refresh")
def catalog_refresh(
    catalog: Path | None = typer.Option(
        None,
        help="Catalog to update in place; default profiles/catalog.yaml (from the packaged one if missing).",
        show_default=False,
    ),
    region: str = typer.Option("us-west-2", help="Region whose prices to read."),
    instance_type: list[str] | None = typer.Option(
        None, help="Only these types (repeat); default every type in the catalog."
    ),
    endpoint_url: str | None = typer.Option(None, help="AWS endpoint (a test server); default AWS's own."),
) -> None:
    """Read on-demand (Price List API) and spot prices (spot price history) through boto3."""
    from accelctl.bench.pricing import DEFAULT_CATALOG, PACKAGED_CATALOG, aws_clients, refresh

    if catalog is not None and not catalog.is_file():
        raise InputError(f"{catalog}: no such price catalog; give --catalog PATH")
    clients = aws_clients(region, endpoint_url)
    start = catalog
    if catalog is None:
        # Never write into the installed package: a refresh of the packaged figures lands in ./profiles.
        catalog = DEFAULT_CATALOG
        start = catalog if catalog.is_file() else PACKAGED_CATALOG
        err_console.print(f"price catalog: {start} -> {catalog}", highlight=False, soft_wrap=True)
    done = refresh(start, region, instance_type, clients, dt.date.today(), out=catalog)
    for r in done:
        if r.on_demand is None:
            console.print(f"{r.instance_type}: not offered in {region}; left as it was", highlight=False)
        else:
            spot = "no spot price" if r.spot is None else f"spot ${r.spot:.4f}/h"
            console.print(f"{r.instance_type}: on-demand ${r.on_demand:.4f}/h, {spot}", highlight=False)
    console.print(f"wrote {catalog}", highlight=False)


@profile_app.command("add")
def profile_add(
    model: str = typer.Option(..., help="Model of the unit, e.g. stabilityai/stable-diffusion-2-1-base."),
    instance_type: str = typer.Option(..., help="Instance type the numbers were measured on."),
    target: str = typer.Option(..., help="Target: cpu, cpu-compile, cuda, cuda-compile, inf2, trn1."),
    latency: float = typer.Option(..., min=0.0001, help="Mean latency in seconds at low load."),
    breaking_point: float = typer.Option(
        ..., min=0.0001, help="Requests/s one replica sustains within the SLO."
    ),
    source: str = typer.Option(..., help="Where the numbers were measured (kept in the profile)."),
    p95: float | None = typer.Option(None, min=0.0001, help="p95 latency in seconds, if known."),
    samples: int = typer.Option(1, min=1, help="How many requests the latency figure is over."),
    height: int = typer.Option(512, min=1),
    width: int = typer.Option(512, min=1),
    batch: int = typer.Option(1, min=1),
    steps: int = typer.Option(25, min=1, help="Denoising steps the numbers were measured at."),
    replicas_per_instance: int = typer.Option(1, min=1),
    slo: float = typer.Option(0.9, min=0.001, help="p95 target the breaking point was found at."),
    region: str = typer.Option("us-west-2", rich_help_panel=PRICE),
    catalog: Path | None = typer.Option(None, help=CATALOG_HELP, show_default=False, rich_help_panel=PRICE),
    price: float | None = typer.Option(
        None, help="$ per instance-hour; overrides the catalog.", rich_help_panel=PRICE
    ),
    spot: bool = typer.Option(False, rich_help_panel=PRICE),
    out: Path | None = typer.Option(None, "--out", "-o", help="Profile file; default profiles/<unit>.yaml."),
    force: bool = typer.Option(False, help="Overwrite an existing profile."),
) -> None:
    """Write a profile from numbers measured elsewhere (a GPU or Neuron host); cost fields are derived."""
    from accelctl.bench.profiles import assemble, environment, profile_path, unit
    from accelctl.files import save_model
    from accelctl.shape import Shape, default_dtype
    from accelctl.units import LatencyStats

    the_price = _price(instance_type, region, catalog, price, spot)
    u = unit(model, instance_type, target, where="profile add")
    profile = assemble(
        unit=u,
        shape=Shape(height, width, batch, default_dtype(target), steps),
        latency=LatencyStats(n=samples, mean=latency, p95=p95),
        breaking_point_rps=breaking_point,
        method=f"by hand: {source}",
        price=the_price[0],
        price_source=the_price[1],
        replicas_per_instance=replicas_per_instance,
        slo_s=slo,
        env={"source": source, **environment()},
    )
    path = out or profile_path("profiles", profile)
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; give --force to overwrite it or --out for another file")
    save_model(path, profile)
    console.print(
        f"wrote {path}: ${profile.cost_per_inference:.3g} per inference, "
        f"efficiency T/(C·L) {profile.efficiency:.4g}",
        highlight=False,
    )


def _kube(kubeconfig: Path | None, context: str | None):
    from accelctl.control.clients import KubeConnection

    return KubeConnection(kubeconfig=str(kubeconfig) if kubeconfig else None, context=context)


KUBE = "Kubernetes"


@profile_app.command("push")
def profile_push(
    profile: Path = typer.Argument(..., help="Profile file to publish (what `bench` wrote)."),
    configmap: str = typer.Option(..., help="ConfigMap to put it in: accelctl-profile-<unit>."),
    namespace: str = typer.Option(..., help="Namespace of the ConfigMap."),
    kubeconfig: Path | None = typer.Option(
        None, help="kubeconfig; default in-cluster, else $KUBECONFIG.", rich_help_panel=KUBE
    ),
    context: str | None = typer.Option(None, help="kubeconfig context.", rich_help_panel=KUBE),
) -> None:
    """Put a profile into its ConfigMap (the bench Job's last step); `profile pull` reads it back."""
    from accelctl.bench.publish import check_profile, push

    if not profile.is_file():
        raise InputError(f"{profile}: no such profile; run `accelctl bench` first")
    text = profile.read_text()
    check_profile(text, str(profile))
    push(_kube(kubeconfig, context), namespace, configmap, text)
    console.print(f"published {profile} to configmap {namespace}/{configmap}", highlight=False)


@profile_app.command("pull")
def profile_pull(
    namespace: str = typer.Option(..., help="Namespace the fleet is deployed to."),
    unit: str | None = typer.Option(None, help="Only this unit's profile; default every unit's."),
    out_dir: Path = typer.Option(
        Path("profiles"), "--out-dir", "-o", help="Profiles folder (the fleet's --profiles)."
    ),
    kubeconfig: Path | None = typer.Option(
        None, help="kubeconfig; default $KUBECONFIG or ~/.kube/config.", rich_help_panel=KUBE
    ),
    context: str | None = typer.Option(None, help="kubeconfig context.", rich_help_panel=KUBE),
) -> None:
    """Write the profiles the bench Jobs published, under the file names the fleet spec gives them."""
    from accelctl.bench.publish import check_profile, pull
    from accelctl.files import atomic_write

    found = pull(_kube(kubeconfig, context), namespace, unit)
    ready = [p for p in found if p.text is not None]
    for p in ready:  # every profile checked before any file is written
        check_profile(p.text, f"configmap {namespace}/{p.configmap}")
    for p in found:
        if p.text is None:
            err_console.print(
                f"{p.unit}: no profile yet; unsuspend Job bench-{p.unit} "
                f'(kubectl -n {namespace} patch job bench-{p.unit} -p \'{{"spec":{{"suspend":false}}}}\') '
                "and pull again when it completes",
                highlight=False,
                soft_wrap=True,
            )
    if not ready:
        where = f"unit {unit}" if unit else f"namespace {namespace}"
        raise AccelctlError(f"{where}: no bench Job has published a profile yet; nothing written")
    for p in ready:
        path = atomic_write(out_dir / p.file, p.text)
        console.print(f"wrote {path} (configmap {namespace}/{p.configmap})", highlight=False)
