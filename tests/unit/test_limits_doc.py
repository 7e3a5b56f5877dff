"""docs/limits.md states every ceiling with the value the code enforces."""

from __future__ import annotations

from pathlib import Path

from accelctl import schema
from accelctl.router import config as router
from accelctl.serve import schemas as requests
from accelctl.sim import scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def test_every_limit_is_documented_with_its_value():
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
        for line in DOC.read_text().splitlines()
        if line.startswith("| `")
    }
    for module in (schema, router, requests, scenario):
        for name in rows:
            if hasattr(module, name):
                assert rows[name].split()[0] == str(getattr(module, name)), name
    expected = {n for m in (schema,) for n in dir(m) if n.startswith(("MAX_", "MIN_"))}
    assert expected <= set(rows)
