"""Regenerates the result tables in docs/simulate.md from `accelctl simulate --json` output.

    python scripts/docs_tables.py --run          # run the simulations, then rewrite the tables
    python scripts/docs_tables.py                # rewrite the tables from the last run's JSON

`--run` runs, from the repository root, `accelctl simulate examples/scenarios/<file> --json --no-plots`
for each shipped scenario, `accelctl simulate --family 50 --seed 1 --json` (the family of
examples/families/sd21-day.yaml) and `python benchmarks/reactive_reference.py --json --against` that
family's document, saving each document and a meta.json (commit, date, wall times, CPUs) in --results
(default simulate-results/docs/). The tables go between marker comments
`<!-- BEGIN generated:NAME -->` and `<!-- END generated:NAME -->` in the docs file; everything else in
it is left as it is. Rendering is a pure function of the JSON documents: same documents, same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from accelctl.files import atomic_write

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("cost-wave", "capacity-g6-shortage", "failover")
FAMILY_ARGS = ("--family", "50", "--seed", "1")
DOCS = REPO / "docs" / "simulate.md"
RESULTS = REPO / "simulate-results" / "docs"


# ---------------------------------------------------------------- rendering (pure)


def _num(v: float | None, fmt: str, dash: str = "—") -> str:
    return dash if v is None else format(v, fmt)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s < 120:
        return f"{sign}{s:.0f} s"
    if s < 7200:
        return f"{sign}{s / 60:.1f} min"
    return f"{sign}{s / 3600:.1f} h"


def _slowest(shortages: list[dict], key: str) -> float | None:
    vals = [s.get(key) for s in shortages if s.get(key) is not None]
    return max(vals) if vals else None


def scenario_rows(doc: dict) -> list[str]:
    """One markdown row per policy of one scenario's summary; failover is the slowest over its
    shortages from the first capacity signal, fallback the slowest from the shortage's end."""
    pols = doc["policies"]
    oracle = next((p for p in pols if p["policy"] == "oracle"), None)
    out = []
    for i, p in enumerate(pols):
        ratio = p["cost_usd"] / oracle["cost_usd"] if oracle and oracle["cost_usd"] > 0 else None
        sh = p.get("shortages") or []
        flaps = sum(s.get("flaps", 0) for s in sh) if sh else None
        out.append(
            "| "
            + " | ".join(
                [
                    doc["scenario"] if i == 0 else "",
                    p["policy"],
                    f"{p['cost_usd']:,.0f}",
                    _num(ratio, ".3f") + ("×" if ratio is not None else ""),
                    f"{min(p['slo_attainment_pct'], 100.0):.3f}",
                    "" if p["policy"] == "oracle" else f"{p['rejected'] + p['timed_out']:,.0f}",
                    _duration(_slowest(sh, "signal_to_failover_s")) if sh else "",
                    _duration(_slowest(sh, "fallback_s")) if sh else "",
                    _num(p.get("mode_switches"), "d", ""),
                    _num(flaps, "d", ""),
                    str(p["peak_replicas"]),
                ]
            )
            + " |"
        )
    return out


def scenarios_table(docs: list[dict], meta: dict) -> str:
    head = [
        _provenance(
            meta, [f"accelctl simulate examples/scenarios/{d['scenario']}.yaml --json" for d in docs]
        ),
        "",
        "| scenario | policy | cost $ | ÷ oracle | SLO % | failed | failover after signal | fallback "
        "| mode changes | flaps | peak replicas |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(head + [r for d in docs for r in scenario_rows(d)])


def family_table(doc: dict, meta: dict) -> str:
    spikes, jumps = doc.get("loss_in_short_spikes", {}), doc.get("loss_after_jumps", {})
    beyond = doc.get("loss_beyond_ready_capacity", {})
    lines = [
        _provenance(meta, [f"accelctl simulate --family {doc['members']} --seed {doc['seed']} --json"]),
        "",
        f"{doc['members']} members of `{doc['family']}`, seed {doc['seed']}; the fleet's default policy is "
        f"`{doc['default_policy']}`.",
        "",
        "| policy | SLO % min | p10 | median | cost ÷ oracle median | p90 | flaps max | dominated by static "
        "| loss in spikes < lead time | loss ≤ lead time after a jump | loss beyond Ready capacity |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in doc["policies"].items():
        share = spikes.get(name, {}).get("share")
        after = jumps.get(name, {}).get("share")
        over = beyond.get(name, {}).get("share")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{name}`" if name == doc["default_policy"] else name,
                    _num(d["slo_min"], ".3f"),
                    _num(d["slo_p10"], ".3f"),
                    _num(d["slo_median"], ".3f"),
                    _num(d["cost_ratio_median"], ".3f"),
                    _num(d["cost_ratio_p90"], ".3f"),
                    _num(d["flaps_max"], "d"),
                    str(d["dominated_by_static"]),
                    "—" if share is None else f"{share:.1%}",
                    "—" if after is None else f"{after:.1%}",
                    "—" if over is None else f"{over:.1%}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def reference_table(doc: dict, meta: dict) -> str:
    """The idealised reactive reference's rows and each policy's per-member gap to it."""
    lines = [
        _provenance(
            meta,
            [
                f"python benchmarks/reactive_reference.py --members {doc['members']} --seed {doc['seed']} "
                "--json --against family.json"
            ],
        ),
        "",
        f"| reference | SLO % min | p10 | median | members ≥ {doc['goal_pct']:g} % |",
        "|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lines.append(
            f"| {r['label']} | {r['min']:.3f} | {r['p10']:.3f} | {r['median']:.3f} "
            f"| {r['at_goal']} of {r['members']} |"
        )
    if doc.get("gaps"):
        lines += [
            "",
            "| policy − the reference at the fleet's headroom, per member (points) | min | p10 | median "
            "| max | members behind by > 0.1 |",
            "|---|---|---|---|---|---|",
        ]
        for policy, g in doc["gaps"].items():
            lines.append(
                f"| {policy} | {g['min']:+.3f} | {g['p10']:+.3f} | {g['median']:+.3f} | {g['max']:+.3f} "
                f"| {g['behind_by_over_0_1']} of {g['members']} |"
            )
    return "\n".join(lines)


def _provenance(meta: dict, commands: list[str]) -> str:
    walls = meta.get("wall_s", {})

    def took(command: str) -> str:
        secs = [v for k, v in walls.items() if k in command]
        return f" ({secs[0]:.0f} s wall)" if secs else ""

    return (
        f"Generated by `python scripts/docs_tables.py --run` at commit {meta.get('commit', '?')} "
        f"({meta.get('date', '?')}, {meta.get('cpus', '?')} CPUs) from "
        + ", ".join(f"`{c}`{took(c)}" for c in commands)
        + "."
    )


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with what lies between the markers of block `name` replaced by `body`."""
    pattern = re.compile(
        rf"(<!-- BEGIN generated:{re.escape(name)} -->\n).*?(<!-- END generated:{re.escape(name)} -->)", re.S
    )
    if not pattern.search(text):
        raise SystemExit(f"no '<!-- BEGIN generated:{name} -->' ... '<!-- END generated:{name} -->' block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)


def render(
    text: str,
    scenario_docs: list[dict],
    family_doc: dict | None,
    meta: dict,
    reference_doc: dict | None = None,
) -> str:
    text = replace_block(text, "scenarios", scenarios_table(scenario_docs, meta))
    if family_doc is not None:
        text = replace_block(text, "family", family_table(family_doc, meta))
    if reference_doc is not None:
        text = replace_block(text, "reference", reference_table(reference_doc, meta))
    return text


# ---------------------------------------------------------------- running


SIMULATE = [sys.executable, "-c", "from accelctl.cli import main; main()", "simulate"]
REFERENCE = [sys.executable, str(REPO / "benchmarks" / "reactive_reference.py")]


def _run_json(command: list[str], args: list[str], out: Path) -> tuple[dict, float]:
    """Run `command` with `args` from the repository root, save the JSON it prints to `out`."""
    started = time.perf_counter()
    proc = subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{Path(command[-1]).name} {' '.join(args)} failed:\n{proc.stderr}")
    doc = json.loads(proc.stdout)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return doc, wall


def run_all(results: Path, commit: str | None) -> None:
    results.mkdir(parents=True, exist_ok=True)
    commit = (
        commit
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    walls = {}
    for name in SCENARIOS:
        _, walls[f"{name}.yaml"] = _run_json(
            SIMULATE,
            [f"examples/scenarios/{name}.yaml", "--json", "--no-plots", "--out", str(results / name)],
            results / f"{name}.json",
        )
    _, walls["--family"] = _run_json(
        SIMULATE, [*FAMILY_ARGS, "--json", "--out", str(results / "family")], results / "family.json"
    )
    _, walls["reactive_reference.py"] = _run_json(
        REFERENCE,
        [
            "--members",
            FAMILY_ARGS[1],
            "--seed",
            FAMILY_ARGS[3],
            "--json",
            "--against",
            str(results / "family.json"),
        ],
        results / "reference.json",
    )
    meta = {
        "commit": commit,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "wall_s": walls,
    }
    (results / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the simulations first (minutes)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON documents")
    parser.add_argument("--docs", type=Path, default=DOCS, help="markdown file with the marker blocks")
    parser.add_argument(
        "--commit", help="commit the tables are of (default: git's HEAD; for a copy of the tree without .git)"
    )
    args = parser.parse_args()
    if args.run:
        run_all(args.results, args.commit)

    def read(name: str) -> dict:
        return json.loads((args.results / f"{name}.json").read_text())

    def optional(name: str) -> dict | None:
        return read(name) if (args.results / f"{name}.json").exists() else None

    text = render(
        args.docs.read_text(),
        [read(n) for n in SCENARIOS],
        optional("family"),
        read("meta"),
        optional("reference"),
    )
    atomic_write(args.docs, text)
    print(f"rewrote the generated tables in {args.docs}")


if __name__ == "__main__":
    main()
