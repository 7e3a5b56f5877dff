"""profiles/catalog.yaml and picking a price from it (accelctl.bench.pricing.resolve)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelctl.bench.pricing import PACKAGED_CATALOG, PriceChoice, resolve
from accelctl.errors import InputError
from accelctl.units import load_catalog

CATALOG = Path(__file__).resolve().parents[2] / "profiles" / "catalog.yaml"
REQUIRED = (
    "inf2.xlarge",
    "inf2.8xlarge",
    "trn1.2xlarge",
    "g5.xlarge",
    "g5.2xlarge",
    "g6.xlarge",
    "g6e.xlarge",
    "c7i.2xlarge",
)
# Kissos & Biran 2025, Table 1: us-west-2 on-demand $/h
PAPER = {"inf2.xlarge": 0.7582, "trn1.2xlarge": 1.3438, "g5.xlarge": 1.0060, "g6.xlarge": 0.8048}


def test_catalog_has_every_type_with_a_source_and_date_per_figure():
    cat = load_catalog(CATALOG)
    assert set(REQUIRED) <= set(cat.instances)
    for name in REQUIRED:
        inst = cat.instances[name]
        assert "us-west-2" in inst.prices
        for region, price in inst.prices.items():
            assert (price.source or inst.source) and (price.date or inst.date), (name, region)


def test_paper_prices_are_the_printed_ones():
    cat = load_catalog(CATALOG)
    for name, dollars in PAPER.items():
        assert cat.instance_price_per_hour(name, "us-west-2") == dollars
        assert "Kissos & Biran" in cat.instances[name].prices["us-west-2"].source


def test_figures_not_read_for_a_region_say_so():
    cat = load_catalog(CATALOG)
    for name in set(REQUIRED) - set(PAPER):
        assert cat.instances[name].prices["us-west-2"].source.startswith("NOT read for us-west-2")


def test_resolve_from_the_catalog_and_by_override():
    price, source = resolve(PriceChoice("g5.xlarge", "us-west-2", catalog=CATALOG))
    assert price == 1.006 and source.startswith("catalog us-west-2 on-demand: Kissos & Biran")
    assert resolve(PriceChoice("anything", override=2.5, catalog=Path("/nonexistent"))) == (
        2.5,
        "manual (--price)",
    )


@pytest.mark.parametrize(
    "choice, message",
    [
        (
            PriceChoice("p5.48xlarge", catalog=CATALOG),
            r"instance type 'p5.48xlarge' is not in the catalog .*give --price",
        ),
        (
            PriceChoice("g5.xlarge", region="eu-north-1", catalog=CATALOG),
            r"no price for g5.xlarge in region 'eu-north-1'",
        ),
        (PriceChoice("g5.xlarge", spot=True, catalog=CATALOG), r"no spot price for g5.xlarge"),
        (
            PriceChoice("g5.xlarge", catalog=Path("missing.yaml")),
            r"missing.yaml: no such price catalog; give --catalog",
        ),
        (PriceChoice("g5.xlarge", override=-1.0), r"--price -1.0: must be a positive"),
    ],
)
def test_resolve_refusals_name_the_thing_and_the_fix(choice, message):
    with pytest.raises(InputError, match=message):
        resolve(choice)


def test_without_catalog_the_one_in_profiles_then_the_packaged_one_and_each_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    heard: list[str] = []
    packaged = resolve(PriceChoice("g5.xlarge"), note=heard.append)
    assert packaged == resolve(PriceChoice("g5.xlarge", catalog=CATALOG))
    assert heard == [
        f"price catalog: the packaged one, {PACKAGED_CATALOG} (no --catalog, no profiles/catalog.yaml)"
    ]
    assert PACKAGED_CATALOG.read_bytes() == CATALOG.read_bytes()

    own = tmp_path / "profiles" / "catalog.yaml"
    own.parent.mkdir()
    own.write_text(CATALOG.read_text().replace("on_demand: 1.006,", "on_demand: 2.5,", 1))
    heard.clear()
    assert resolve(PriceChoice("g5.xlarge"), note=heard.append)[0] == 2.5
    assert heard == ["price catalog: profiles/catalog.yaml (no --catalog given)"]

    heard.clear()
    resolve(PriceChoice("g5.xlarge", catalog=CATALOG), note=heard.append)
    assert heard == []  # named on the command line: nothing to say
