"""Running a scenario family: every (member, policy) pair in a process pool, then the distribution
per policy, a CSV of every pair and a plot.

Per policy, over the members: SLO attainment (min, p10, median; capped at 100 %, as backlog from the
warm-up served after time 0 can tip it a hair over), cost ÷ the oracle's (median, p90), the most
flaps on one member (times traffic left a short instance type's units during its shortages, summed
over the member's shortages) and `dominated_by_static`: members where the policy is both dearer than
`static` and lower in SLO attainment.

Loss = requests rejected, timed out or served while their unit was over the SLO. A spike shorter than
the lead time (node launch + the fleet's quickest pod start-up) cannot be met by scaling, only by the
headroom already running; the share of each policy's loss that falls inside such spikes says how much
of it no reactive or forecasting controller could have avoided by growing. Wider: the loss within one
lead time of any load jump (a spike's start, cut at its end, or an upward step), the minutes any jump
must be carried on the capacity already running, however long the jump lasts.

And by cause: the loss beyond Ready capacity is, per step, the demand over what the Ready replicas of
every unit carry at their breaking points (at most that step's loss). Those replicas were not there,
however the demand was routed: it is the provisioning share (lead time, headroom, shortages). The rest
was lost with capacity enough in the fleet, to routing (measurement lag behind a jump, a backlog
draining, noise tipping a unit over its breaking point).
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from accelctl.errors import InputError
from accelctl.files import atomic_write
from accelctl.sim.family import FamilySpec, draw_family, family_policies, load_family
from accelctl.sim.fleet import SimFleet
from accelctl.sim.scenario import Scenario, Spike, Step

# Gaps smaller than these are float noise, not a policy doing worse than `static`.
_SLO_EPS_PCT = 1e-6
_COST_EPS = 1e-9


@dataclass(frozen=True)
class MemberResult:
    """One policy on one member."""

    member: str
    policy: str
    slo_pct: float
    cost_usd: float
    requests: float
    lost: float  # rejected + timed out + served over the SLO
    lost_in_short_spikes: float | None  # None for the oracle, which plans buckets, not steps
    short_spikes: int  # spikes shorter than the lead time
    lost_after_jumps: float | None  # lost within one lead time of a spike's or an upward step's start
    lost_beyond_ready_capacity: float | None  # per step: demand over Ready replicas × T, at most the loss
    lead_s: float
    rejected: float
    timed_out: float
    flaps: int | None
    mode_switches: int | None
    peak_replicas: int
    tick_errors: int
    wall_s: float  # this pair's simulation, in its worker
    cpu_s: float  # the worker's CPU time for it: on a busy machine, wall time is mostly waiting


def lead_time(sc: Scenario, targets: list[str]) -> float:
    """Node launch + the quickest start-up of the fleet's targets: the soonest scaling can help."""
    return sc.dynamics.node_launch + min(sc.dynamics.startup_s(t) for t in targets)


def short_spike_steps(sc: Scenario, times: np.ndarray, lead_s: float) -> tuple[np.ndarray, int]:
    """(mask of the steps inside a spike shorter than `lead_s`, how many such spikes)."""
    mask = np.zeros(len(times), dtype=bool)
    spikes = [s for s in sc.load if isinstance(s, Spike) and s.duration < lead_s]
    for s in spikes:
        mask |= (times >= s.at) & (times < s.at + s.duration)
    return mask, len(spikes)


def jump_steps(sc: Scenario, times: np.ndarray, lead_s: float) -> np.ndarray:
    """Mask of the steps within one lead time of a load jump (a spike or an upward step starting),
    cut at a spike's end: what the fleet must carry on the capacity it had when the jump came."""
    mask = np.zeros(len(times), dtype=bool)
    for s in sc.load:
        if isinstance(s, Spike):
            mask |= (times >= s.at) & (times < s.at + min(s.duration, lead_s))
        elif isinstance(s, Step) and s.rps > 0:
            mask |= (times >= s.at) & (times < s.at + lead_s)
    return mask


def beyond_ready_capacity(fleet: SimFleet, first: int, lost_per_step: np.ndarray) -> float:
    """Requests lost because the Ready replicas could not carry them within the SLO: per step from
    `first`, the demand over every Ready replica at its breaking point, at most that step's loss."""
    t = np.array([u.model.throughput_rps for u in fleet.units])
    carried = fleet.ready_log[first:] @ t * fleet.dt
    over = np.maximum(fleet.offered[first:].sum(axis=1) - carried, 0.0)
    return float(np.minimum(over, lost_per_step).sum())


def run_member(member: Scenario, path: str, policy: str) -> MemberResult:
    """One (member, policy) pair; top-level so a worker process can run it."""
    from accelctl.sim.metrics import summarize, summarize_oracle
    from accelctl.sim.run import make_trace, run_oracle, run_policy
    from accelctl.sim.scenario import resolve_scenario

    started, cpu = time.perf_counter(), time.process_time()
    loaded = resolve_scenario(member, Path(path), [policy])
    trace = make_trace(loaded)
    targets = sorted({u.target for u in loaded.units})
    lead = lead_time(member, targets)
    spikes, n_spikes = short_spike_steps(member, trace.times[trace.first :], lead)
    jumps = jump_steps(member, trace.times[trace.first :], lead)
    if policy == "oracle":
        s = summarize_oracle(run_oracle(loaded, trace), trace)
        lost, in_spikes, in_jumps, beyond, flaps = s.requests - s.within_slo, None, None, None, None
    else:
        run = run_policy(loaded, trace, policy)
        s = summarize(run, trace, member.capacity, loaded.settings.deadband)
        f, k0 = run.fleet, trace.first
        per_step = (f.rejected[k0:] + f.timed_out[k0:] + f.served[k0:] - f.within[k0:]).sum(axis=1)
        lost, in_spikes, in_jumps, beyond = (
            float(per_step.sum()),
            float(per_step[spikes].sum()),
            float(per_step[jumps].sum()),
            beyond_ready_capacity(f, k0, per_step),
        )
        flaps = sum(sh.flaps for sh in s.shortages)
    return MemberResult(
        member=member.name,
        policy=policy,
        slo_pct=min(s.slo_attainment_pct, 100.0),
        cost_usd=s.cost_usd,
        requests=s.requests,
        lost=lost,
        lost_in_short_spikes=in_spikes,
        short_spikes=n_spikes,
        lost_after_jumps=in_jumps,
        lost_beyond_ready_capacity=beyond,
        lead_s=lead,
        rejected=s.rejected,
        timed_out=s.timed_out,
        flaps=flaps,
        mode_switches=s.mode_switches,
        peak_replicas=s.peak_replicas,
        tick_errors=len(s.tick_errors),
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu,
    )


def run_family(
    members: list[Scenario],
    path: Path,
    policies: list[str],
    workers: int | None = None,
    progress: Callable[[MemberResult], None] | None = None,
) -> list[MemberResult]:
    """Every member under every policy, in member then policy order whatever order they finish in.
    Workers come from a fork server: forking this process could copy a lock held by a thread
    (the progress bar's)."""
    tasks = [(m, str(path), p) for m in members for p in policies]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    results: dict[tuple[str, str], MemberResult] = {}
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_member, *t) for t in tasks]
        for fut in as_completed(futures):
            r = fut.result()
            results[(r.member, r.policy)] = r
            if progress:
                progress(r)
    return [results[(m.name, p)] for m in members for p in policies]


DEFAULT_FAMILY = Path("examples/families/sd21-day.yaml")


@dataclass(frozen=True)
class Family:
    """A family file's members, drawn and checked, and the policies they run."""

    spec: FamilySpec
    path: Path
    seed: int
    base_path: Path  # the base scenario's file: members' fleet and profiles are relative to it
    default_policy: str
    policies: list[str]
    members: list[Scenario]


def prepare(path: Path, n: int, seed: int, policies: list[str] | None = None) -> Family:
    """Read the family file and its base scenario, draw the members and check every one, so a bad
    range or policy fails before anything runs."""
    from accelctl.sim.scenario import load_scenario, resolve_scenario

    if not path.is_file():
        raise InputError(
            f"{path}: no such family file; give one, e.g. {DEFAULT_FAMILY} (run from the repository)"
        )
    spec = load_family(path)
    base_path = path.parent / spec.base
    base = load_scenario(base_path)
    names = family_policies(spec, base, policies)
    members = draw_family(spec, base, n, seed, names)
    for m in members:
        resolve_scenario(m, base_path, names)
    return Family(spec, path, seed, base_path, base.default_policy, names, members)


def default_out(fam: Family) -> Path:
    return Path("simulate-results") / f"{fam.spec.name}-seed{fam.seed}-n{len(fam.members)}"


def write_results(
    fam: Family, results: list[MemberResult], folder: Path, plots: bool, files: list[Path] | None = None
) -> dict:
    """family.csv, family.png (with `plots`) and family.json (the document, returned) in `folder`."""
    files = [*(files or []), write_csv(folder / "family.csv", results)]
    if plots:
        files.append(write_plot(folder / "family.png", fam.spec.name, results, fam.policies))
    doc = document(
        fam.spec.name, fam.seed, len(fam.members), fam.default_policy, fam.policies, results, files
    )
    atomic_write(folder / "family.json", json.dumps(doc, indent=2, default=str) + "\n")
    return doc


# ---------------------------------------------------------------- the distribution


def cost_ratios(results: list[MemberResult]) -> dict[tuple[str, str], float | None]:
    oracle = {r.member: r.cost_usd for r in results if r.policy == "oracle"}
    return {
        (r.member, r.policy): (r.cost_usd / oracle[r.member] if oracle.get(r.member, 0) > 0 else None)
        for r in results
    }


def dominated(results: list[MemberResult]) -> dict[tuple[str, str], bool]:
    """(member, policy) -> the policy was dearer than `static` and lower in SLO on that member."""
    static = {r.member: r for r in results if r.policy == "static"}
    out = {}
    for r in results:
        s = static.get(r.member)
        out[(r.member, r.policy)] = bool(
            s is not None
            and r.cost_usd > s.cost_usd * (1 + _COST_EPS)
            and r.slo_pct < s.slo_pct - _SLO_EPS_PCT
        )
    return out


def _stat(values: list[float | None], fn) -> float | None:
    vals = np.array([v for v in values if v is not None], dtype=float)
    return float(fn(vals)) if vals.size else None


def distribution(results: list[MemberResult], policies: list[str]) -> dict[str, dict]:
    """Per policy: exactly the keys the issue names (slo_min ... dominated_by_static)."""
    ratio, dom = cost_ratios(results), dominated(results)
    out = {}
    for p in policies:
        rows = [r for r in results if r.policy == p]
        slo = [r.slo_pct for r in rows]
        cr = [ratio[(r.member, p)] for r in rows]
        flaps = [r.flaps for r in rows if r.flaps is not None]
        out[p] = {
            "slo_min": _stat(slo, np.min),
            "slo_p10": _stat(slo, lambda v: np.percentile(v, 10)),
            "slo_median": _stat(slo, np.median),
            "cost_ratio_median": _stat(cr, np.median),
            "cost_ratio_p90": _stat(cr, lambda v: np.percentile(v, 90)),
            "flaps_max": int(max(flaps)) if flaps else None,
            "dominated_by_static": sum(dom[(r.member, p)] for r in rows),
        }
    return out


def loss_share(results: list[MemberResult], policies: list[str], field: str) -> dict[str, dict]:
    """Per policy: its loss counted in `field` ÷ all its loss, over the family."""
    out = {}
    for p in policies:
        rows = [r for r in results if r.policy == p and getattr(r, field) is not None]
        if not rows:
            continue
        lost = float(sum(r.lost for r in rows))
        inside = float(sum(getattr(r, field) for r in rows))
        out[p] = {"lost": lost, field: inside, "share": inside / lost if lost > 0 else None}
    return out


def short_spike_loss(results: list[MemberResult], policies: list[str]) -> dict[str, dict]:
    """Per policy: loss inside spikes shorter than the lead time ÷ all its loss, over the family."""
    return loss_share(results, policies, "lost_in_short_spikes")


def rows(results: list[MemberResult]) -> list[dict]:
    ratio, dom = cost_ratios(results), dominated(results)
    return [
        {
            **asdict(r),
            "cost_ratio": ratio[(r.member, r.policy)],
            "dominated_by_static": dom[(r.member, r.policy)],
        }
        for r in results
    ]


def document(
    name: str,
    seed: int,
    n: int,
    default: str,
    policies: list[str],
    results: list[MemberResult],
    files: list[Path],
) -> dict:
    return {
        "family": name,
        "seed": seed,
        "members": n,
        "default_policy": default,
        "policies": distribution(results, policies),
        "loss_in_short_spikes": short_spike_loss(results, policies),
        "loss_after_jumps": loss_share(results, policies, "lost_after_jumps"),
        "loss_beyond_ready_capacity": loss_share(results, policies, "lost_beyond_ready_capacity"),
        "files": [str(f) for f in files],
        "rows": rows(results),
    }


# ---------------------------------------------------------------- files


CSV_COLUMNS = [f.name for f in fields(MemberResult)] + ["cost_ratio", "dominated_by_static"]


def write_csv(path: Path, results: list[MemberResult]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows(results):
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return atomic_write(path, buf.getvalue())


def write_plot(path: Path, name: str, results: list[MemberResult], policies: list[str]) -> Path:
    """Left: cost ÷ oracle against SLO attainment, one point per member; right: the SLO's ECDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from accelctl.sim.report import save_png

    ratio = cost_ratios(results)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for p in (p for p in policies if p != "oracle"):
        rs = [r for r in results if r.policy == p]
        a1.scatter(
            [ratio[(r.member, p)] or np.nan for r in rs], [r.slo_pct for r in rs], s=14, label=p, alpha=0.8
        )
        slo = np.sort([r.slo_pct for r in rs])
        a2.step(slo, np.arange(1, len(slo) + 1) / len(slo), where="post", label=p)
    a1.set_xlabel("cost ÷ oracle")
    a1.set_ylabel("% requests within the SLO")
    a1.set_title("each member")
    a2.set_xlabel("% requests within the SLO")
    a2.set_ylabel("share of members at or below")
    a2.set_title("SLO attainment over the family")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(name)
    fig.tight_layout()
    try:
        return save_png(fig, path)
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- table


LEGEND = (
    "SLO: % of requests within it; cost med/p90: cost ÷ the oracle's; flaps: most on one member; "
    "dom: members where the policy was dearer and lower in SLO than static; in spikes: share of the "
    "loss (rejected, timed out, over the SLO) inside spikes shorter than the lead time; jumps: share "
    "within one lead time of a spike's or upward step's start; beyond ready: share over what the Ready "
    "replicas carry at T (provisioning; the rest is routing)"
)


def _pct(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def table(doc: dict):
    """The distribution per policy as a rich table, from the JSON document (so both say the same)."""
    from accelctl.sim.report import policy_table

    # SLO % min/p10/median; cost ÷ oracle median/p90; most flaps on a member; members dominated by
    # static; shares of the loss inside spikes shorter than the lead time, within a lead time of a
    # jump, and beyond what the Ready replicas carry.
    t = policy_table(
        f"family {doc['family']}: {doc['members']} members, seed {doc['seed']}, "
        f"default policy {doc['default_policy']}",
        ("SLO min", "p10", "median", "cost med", "p90", "flaps", "dom", "in spikes", "jumps", "beyond ready"),
    )
    spikes, jumps = doc["loss_in_short_spikes"], doc["loss_after_jumps"]
    beyond = doc["loss_beyond_ready_capacity"]
    for p, d in doc["policies"].items():
        share = spikes.get(p, {}).get("share")
        after = jumps.get(p, {}).get("share")
        over = beyond.get(p, {}).get("share")
        t.add_row(
            p,
            _pct(d["slo_min"]),
            _pct(d["slo_p10"]),
            _pct(d["slo_median"]),
            _pct(d["cost_ratio_median"], 2),
            _pct(d["cost_ratio_p90"], 2),
            "—" if d["flaps_max"] is None else str(d["flaps_max"]),
            str(d["dominated_by_static"]),
            "—" if share is None else f"{share:.1%}",
            "—" if after is None else f"{after:.1%}",
            "—" if over is None else f"{over:.1%}",
        )
    return t
