"""How much SLO a controller without foresight can reach on the scenario family, at a given headroom.

Issue 12 asks, on `accelctl simulate --family 50 --seed 1`, for median SLO >= 99.9 % and p10 >= 99.5 %
at a median cost <= 1.10x the oracle. This script measures what an idealised *reactive* controller
reaches on the same members, to tell a controller's shortfall from the lead time's.

The reference controller, at headroom h, is generous in every respect but foresight:
- it sees each step's true demand at once (no rate window, no scrape or polling lag);
- it holds, at every moment, capacity for the highest demand of the last `hold` seconds at h × T
  (by default each member's HPA scale-down stabilisation window, `dynamics.scale_down_stabilization`:
  it never gives capacity up sooner), fractional replicas;
- every replica it orders is Ready after the fleet's quickest lead (node launch + the fastest
  target's start-up), whichever unit it is on, and no capacity shortage ever stops it;
- it routes every replica right up to T, the SLO point, and a request is lost only where demand
  passes that capacity.
So at time t it carries  cap(t) = max{ d(s) : t - lead - hold <= s <= t - lead } / h  within the SLO,
and its attainment is  sum(min(d, cap)) / sum(d)  over the member's day. `plan` sizes at h and routes
up to 0.9 T; the oracle sizes at h with foresight, so at equal cost a reactive controller has h at
most; h / 1.10 is the most capacity the issue's 1.10x cost budget could buy (the stabilisation hold
costs more on top, so that row is generous too).

With `--against RESULTS/family.json` (the JSON `accelctl simulate --family N --seed S --json` or
`benchmarks/family.py` wrote for the same members and seed), it also prints, per policy run there,
how far each member's SLO attainment falls from the reference's at the fleet's headroom: what a
controller loses to its own lags, shortages and routing margin rather than to the lead time.

A third row routes the same replicas only up to `route_utilization` × T (the margin `plan` keeps
under the breaking point): the reference with plan's routing margin, lags and shortages still absent.
`--json` prints the whole document (scripts/docs_tables.py renders it into docs/simulate.md).

    python benchmarks/reactive_reference.py [--members 50] [--seed 1] [--hold SECONDS] [--against JSON]
                                            [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
from rich.console import Console
from rich.table import Table

from accelctl.sim import family_run
from accelctl.sim.run import make_trace
from accelctl.sim.scenario import resolve_scenario

REPO = Path(__file__).resolve().parents[1]
FAMILY = REPO / "examples" / "families" / "sd21-day.yaml"


def reference_attainment(
    rates: np.ndarray, first: int, step_s: float, lead_s: float, hold_s: float, headroom: float
) -> float:
    """SLO attainment (%) of the reference controller over rates[first:] (see the module docstring)."""
    lag, span = round(lead_s / step_s), max(1, round(hold_s / step_s))
    pad = np.concatenate([np.full(lag + span, rates[0]), rates])  # the warm-up's level before the trace
    # cap[k] = max of pad over [k, k + span]: the window [t - lead - hold, t - lead] for step k.
    windows = np.lib.stride_tricks.sliding_window_view(pad, span + 1)
    cap = windows.max(axis=1)[: len(rates)] / headroom
    d = rates[first:]
    return float(100.0 * np.minimum(d, cap[first:]).sum() / d.sum())


GOAL_PCT = 99.9  # issue 12's median goal: how many members reach it


def spread(a: np.ndarray) -> dict:
    """min / p10 / median over members (numpy percentiles) and how many there are."""
    return {
        "min": float(a.min()),
        "p10": float(np.percentile(a, 10)),
        "median": float(np.median(a)),
        "members": len(a),
    }


def distribution(values: list[float]) -> dict:
    """The spread of per-member attainments and how many reach the goal."""
    a = np.array(values)
    return {**spread(a), "at_goal": int((a >= GOAL_PCT).sum())}


def document(fam: family_run.Family, hold_s: float | None, against: dict | None) -> dict:
    """The reference on every member of `fam` at three settings, and with `against` (a family
    document of the same draw) each policy's per-member gap to the reference at the fleet's headroom."""
    per_row: dict[str, list[float]] = {}
    labels: dict[str, dict] = {}
    at_fleet: dict[str, float] = {}  # member -> reference attainment at the fleet's headroom
    for member in fam.members:
        loaded = resolve_scenario(member, fam.base_path, fam.policies)
        h, share = loaded.fleet.headroom, loaded.settings.route_utilization
        trace = make_trace(loaded)
        lead = family_run.lead_time(member, sorted({u.target for u in loaded.units}))
        hold = member.dynamics.scale_down_stabilization if hold_s is None else hold_s
        # Routing only up to share × T carries share × (capacity / h), i.e. headroom h / share at T.
        for key, label, eff in (
            ("fleet", f"h = {h:g} (the fleet's), routed up to T", h),
            ("margin", f"h = {h:g}, routed up to {share:g} × T (plan's margin)", h / share),
            ("budget", f"h = {h:g} / 1.10 (the cost budget), routed up to T", h / 1.10),
        ):
            labels[key] = {"key": key, "label": label}
            per_row.setdefault(key, []).append(
                reference_attainment(trace.rates, trace.first, trace.step_s, lead, hold, eff)
            )
        at_fleet[member.name] = per_row["fleet"][-1]
    doc = {
        "family": fam.spec.name,
        "members": len(fam.members),
        "seed": fam.seed,
        "goal_pct": GOAL_PCT,
        "rows": [{**labels[k], **distribution(v)} for k, v in per_row.items()],
    }
    if against is not None:
        doc["gaps"] = {
            p: {**spread(g), "max": float(g.max()), "behind_by_over_0_1": int((g < -0.1).sum())}
            for p, g in gaps(against, at_fleet).items()
        }
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default=str(FAMILY), help="family file")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        help="seconds capacity is held; default: the member's stabilisation",
    )
    parser.add_argument(
        "--against", default=None, help="family.json of a run on the same members: per-member gaps"
    )
    parser.add_argument("--json", action="store_true", help="print the document as JSON")
    args = parser.parse_args()

    fam = family_run.prepare(Path(args.family), args.members, args.seed)
    against = read_family_doc(Path(args.against)) if args.against else None
    doc = document(fam, args.hold, against)
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    console = Console(width=120)
    table = Table(
        title=f"reactive reference on --family {doc['members']} --seed {doc['seed']} (SLO attainment %)"
    )
    for col in ("headroom", "min", "p10", "median", f"members >= {GOAL_PCT} %"):
        table.add_column(col, justify="right")
    for r in doc["rows"]:
        table.add_row(
            r["label"],
            f"{r['min']:.3f}",
            f"{r['p10']:.3f}",
            f"{r['median']:.3f}",
            f"{r['at_goal']} / {r['members']}",
        )
    console.print(table)
    if "gaps" in doc:
        console.print(gap_table(doc["gaps"]))


def refuse(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit 2."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def read_family_doc(path: Path) -> dict:
    """A family document's rows, or one line naming what is wrong with the file."""
    try:
        doc = json.loads(path.read_text())
        rows = doc["rows"]
        if not all(isinstance(r["member"], str) and isinstance(r["slo_pct"], float | int) for r in rows):
            raise TypeError
    except OSError as exc:
        refuse(f"--against {path}: cannot read it ({exc.strerror})")
    except (ValueError, KeyError, TypeError):
        refuse(
            f"--against {path}: not a family document (rows of member and slo_pct); write one with "
            "accelctl simulate --family N --seed S --json"
        )
    return doc


def gaps(doc: dict, reference: dict[str, float]) -> dict[str, np.ndarray]:
    """Per policy in a family document: SLO attainment minus the reference's, member by member (the
    oracle, which has foresight, is left out). Members the document and the reference do not share
    are a different draw: refused."""
    rows = [r for r in doc["rows"] if r["policy"] != "oracle"]
    missing = sorted({r["member"] for r in rows} - set(reference))
    if missing:
        refuse(f"--against: members {', '.join(missing[:3])} are not in this draw (members, seed?)")
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["policy"], []).append(r["slo_pct"] - reference[r["member"]])
    return {p: np.array(v) for p, v in out.items()}


def gap_table(gap_rows: dict) -> Table:
    table = Table(title="SLO attainment minus the reference's at the fleet's headroom, per member (points)")
    for col in ("policy", "min", "p10", "median", "max", "members behind by > 0.1"):
        table.add_column(col, justify="right")
    for policy, g in gap_rows.items():
        table.add_row(
            policy,
            f"{g['min']:+.3f}",
            f"{g['p10']:+.3f}",
            f"{g['median']:+.3f}",
            f"{g['max']:+.3f}",
            f"{g['behind_by_over_0_1']} / {g['members']}",
        )
    return table


if __name__ == "__main__":
    main()
