"""docs/fleet-spec.md documents every FleetSpec field and is what the schema generates."""

from __future__ import annotations

from pathlib import Path

from accelctl.deploy.docs import fleet_spec_markdown
from accelctl.units import FleetSpec, PolicySettings, UnitSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "fleet-spec.md"


def test_fleet_spec_doc_is_in_sync_with_the_schema():
    assert DOC.read_text() == fleet_spec_markdown(), (
        "docs/fleet-spec.md is stale: python -m accelctl.deploy.docs > docs/fleet-spec.md"
    )


def test_every_field_has_a_row_and_a_description():
    sections = {part.split(" ", 1)[0]: part for part in DOC.read_text().split("\n## ")}
    for model in (FleetSpec, UnitSpec, PolicySettings):
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in sections[model.__name__], f"{model.__name__}.{name} is not documented"
            assert field.description, f"{model.__name__}.{name} has no description to document"
