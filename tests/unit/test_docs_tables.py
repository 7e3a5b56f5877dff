"""scripts/docs_tables.py: the docs' result tables are a pure function of `simulate --json` output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("docs_tables", REPO / "scripts" / "docs_tables.py")
docs_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_tables)

META = {"commit": "abc1234", "date": "2026-12-01 22:00 UTC", "cpus": 2, "wall_s": {"--family": 61.0}}


def policy(name: str, cost: float, slo: float, shortages=(), **over) -> dict:
    return {
        "policy": name,
        "cost_usd": cost,
        "slo_attainment_pct": slo,
        "rejected": 10.0,
        "timed_out": 2.0,
        "peak_replicas": 7,
        "mode_switches": over.get("mode_switches"),
        "shortages": list(shortages),
    }


SCENARIO = {
    "scenario": "tiny",
    "policies": [
        policy("static", 1500.0, 100.0),
        policy(
            "auto",
            1100.0,
            99.95,
            [{"signal_to_failover_s": 15.0, "fallback_s": 75.0, "flaps": 1}],
            mode_switches=2,
        ),
        policy("oracle", 1000.0, 100.0),
    ],
}
FAMILY = {
    "family": "tiny-family",
    "seed": 1,
    "members": 2,
    "default_policy": "auto",
    "policies": {
        "auto": {
            "slo_min": 99.5,
            "slo_p10": 99.6,
            "slo_median": 99.95,
            "cost_ratio_median": 1.04,
            "cost_ratio_p90": 1.08,
            "flaps_max": 3,
            "dominated_by_static": 0,
        },
        "oracle": {
            "slo_min": 100.0,
            "slo_p10": 100.0,
            "slo_median": 100.0,
            "cost_ratio_median": 1.0,
            "cost_ratio_p90": 1.0,
            "flaps_max": None,
            "dominated_by_static": 0,
        },
    },
    "loss_in_short_spikes": {"auto": {"lost": 100.0, "lost_in_short_spikes": 25.0, "share": 0.25}},
    "loss_after_jumps": {"auto": {"lost": 100.0, "lost_after_jumps": 40.0, "share": 0.4}},
    "loss_beyond_ready_capacity": {
        "auto": {"lost": 100.0, "lost_beyond_ready_capacity": 55.0, "share": 0.55}
    },
}
DOC = """# title

prose before
<!-- BEGIN generated:scenarios -->
stale table
<!-- END generated:scenarios -->
between
<!-- BEGIN generated:family -->
<!-- END generated:family -->
after
"""


def test_rendering_is_deterministic_and_touches_only_the_blocks():
    once = docs_tables.render(DOC, [SCENARIO], FAMILY, META)
    assert once == docs_tables.render(DOC, [SCENARIO], FAMILY, META)
    # Rendering its own output again changes nothing.
    assert docs_tables.render(once, [SCENARIO], FAMILY, META) == once
    assert "stale table" not in once
    assert once.startswith("# title\n\nprose before\n<!-- BEGIN generated:scenarios -->\n")
    assert "<!-- END generated:scenarios -->\nbetween\n<!-- BEGIN generated:family -->\n" in once
    assert once.endswith("<!-- END generated:family -->\nafter\n")
    lines = once.splitlines()
    # auto: 1100 / 1000 = 1.100x; failed 10 + 2; failover 15 s after the signal, fallback 75 s.
    assert "|  | auto | 1,100 | 1.100× | 99.950 | 12 | 15 s | 75 s | 2 | 1 | 7 |" in lines
    assert "| tiny | static | 1,500 | 1.500× | 100.000 | 12 |  |  |  |  | 7 |" in lines
    assert "| `auto` | 99.500 | 99.600 | 99.950 | 1.040 | 1.080 | 3 | 0 | 25.0% | 40.0% | 55.0% |" in lines
    assert "| oracle | 100.000 | 100.000 | 100.000 | 1.000 | 1.000 | — | 0 | — | — | — |" in lines
    assert any(
        "commit abc1234" in line
        and "`accelctl simulate --family 2 --seed 1 --json`" in line
        and "(61 s wall)" in line
        for line in lines
    )


def test_a_missing_marker_is_named():
    with pytest.raises(SystemExit, match="generated:family"):
        docs_tables.render(
            "<!-- BEGIN generated:scenarios -->\n<!-- END generated:scenarios -->\n", [SCENARIO], FAMILY, META
        )


REFERENCE = {
    "family": "tiny-family",
    "members": 2,
    "seed": 1,
    "goal_pct": 99.9,
    "rows": [
        {"key": "fleet", "label": "h = 0.8 (the fleet's), routed up to T", "min": 99.5, "p10": 99.52,
         "median": 99.75, "at_goal": 1, "members": 2},
    ],
    "gaps": {
        "auto": {"min": -0.5, "p10": -0.45, "median": -0.25, "max": 0.0, "behind_by_over_0_1": 1,
                 "members": 2},
    },
}  # fmt: skip


def test_the_reference_block_renders_its_rows_and_the_gaps_with_signs():
    doc = DOC + "<!-- BEGIN generated:reference -->\n<!-- END generated:reference -->\n"
    out = docs_tables.render(doc, [SCENARIO], FAMILY, META, REFERENCE)
    lines = out.splitlines()
    assert "| h = 0.8 (the fleet's), routed up to T | 99.500 | 99.520 | 99.750 | 1 of 2 |" in lines
    # auto lost 0.5 points on its worst member and none on its best; one member behind by over 0.1.
    assert "| auto | -0.500 | -0.450 | -0.250 | +0.000 | 1 of 2 |" in lines
    assert any(
        "`python benchmarks/reactive_reference.py --members 2 --seed 1 --json --against family.json`" in line
        for line in lines
    )
    # Without a reference document the block is left as it is.
    assert docs_tables.render(doc, [SCENARIO], FAMILY, META).endswith(
        "<!-- BEGIN generated:reference -->\n<!-- END generated:reference -->\n"
    )
