"""The reactive reference of benchmarks/reactive_reference.py, step by step (5 s steps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "reactive_reference", Path(__file__).resolve().parents[2] / "benchmarks" / "reactive_reference.py"
)
reactive_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reactive_reference)
attainment = reactive_reference.reference_attainment


def test_steady_demand_is_carried_whole():
    assert attainment(np.full(100, 10.0), 10, 5.0, 60.0, 600.0, 0.8) == 100.0


def test_a_spike_inside_the_lead_is_carried_on_the_capacity_held_before_it():
    # 10 rps, then 20 rps for 30 s (6 steps) from step 50; lead 60 s = 12 steps, so the spike is over
    # before capacity ordered at its start is Ready. Held: 10 / 0.8 = 12.5 rps; each spike step loses
    # 20 - 12.5 = 7.5 rps. Total demand 94 x 10 + 6 x 20 = 1060; lost 6 x 7.5 = 45 -> 1015 / 1060.
    rates = np.full(100, 10.0)
    rates[50:56] = 20.0
    assert abs(attainment(rates, 0, 5.0, 60.0, 600.0, 0.8) - 100.0 * 1015 / 1060) < 1e-9


def test_a_step_is_carried_once_the_lead_has_passed():
    # 10 -> 20 rps at step 50, lead 60 s = 12 steps: steps 50..61 carry 12.5 of 20 (7.5 lost each),
    # from step 62 on the window [t - lead - hold, t - lead] holds the 20 rps: 20 / 0.8 >= 20, none lost.
    # Demand 50 x 10 + 50 x 20 = 1500; lost 12 x 7.5 = 90.
    rates = np.where(np.arange(100) < 50, 10.0, 20.0)
    assert abs(attainment(rates, 0, 5.0, 60.0, 600.0, 0.8) - 100.0 * 1410 / 1500) < 1e-9


def test_gaps_are_each_members_attainment_minus_the_reference_and_skip_the_oracle():
    doc = {
        "rows": [
            {"member": "m0", "policy": "plan", "slo_pct": 99.5},
            {"member": "m1", "policy": "plan", "slo_pct": 100.0},
            {"member": "m0", "policy": "oracle", "slo_pct": 100.0},
        ]
    }
    # m0: 99.5 - 99.9 = -0.4; m1: 100.0 - 99.8 = +0.2; the oracle has foresight and no gap.
    g = reactive_reference.gaps(doc, {"m0": 99.9, "m1": 99.8})
    assert set(g) == {"plan"} and np.allclose(g["plan"], [-0.4, 0.2])


def test_gaps_refuse_a_document_of_another_draw(capsys):
    doc = {"rows": [{"member": "other-000", "policy": "plan", "slo_pct": 99.0}]}
    with pytest.raises(SystemExit) as exc:
        reactive_reference.gaps(doc, {"m0": 99.9})
    assert exc.value.code == 2 and "other-000" in capsys.readouterr().err


def test_document_orders_its_rows_by_the_capacity_each_may_use():
    from accelctl.sim import family_run

    fam = family_run.prepare(reactive_reference.FAMILY, 2, 1)
    rows = {r["key"]: r for r in reactive_reference.document(fam, None, None)["rows"]}
    assert list(rows) == ["fleet", "margin", "budget"]
    # The same held capacity routed only up to 0.9 T carries less of every step; capacity bought at
    # h / 1.10 carries more. So, member by member and in each statistic: margin <= fleet <= budget.
    for stat in ("min", "p10", "median"):
        assert rows["margin"][stat] <= rows["fleet"][stat] <= rows["budget"][stat] <= 100.0
    assert all(r["members"] == 2 for r in rows.values())


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"rows": 3}', '{"rows": [{"member": 1, "slo_pct": 99.0}]}', '{"rows": [{}]}']
)
def test_a_malformed_against_file_is_one_line_naming_it(tmp_path, capsys, text):
    path = tmp_path / "family.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        reactive_reference.read_family_doc(path)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "family.json: not a family document" in err
