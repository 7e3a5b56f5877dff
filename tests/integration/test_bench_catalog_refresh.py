"""`catalog refresh` against moto's server on 127.0.0.1.

moto implements EC2's describe_spot_price_history (it answers a fixed $0.00001 for every zone that
offers the type) but not the Price List API, so on-demand answers come from botocore's Stubber on the
pricing client while spot history comes from moto over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("moto")
from botocore.stub import Stubber  # noqa: E402
from moto_endpoint import moto_endpoint  # noqa: E402

from accelctl.bench.pricing import PACKAGED_CATALOG, SOURCE, aws_clients, refresh  # noqa: E402
from accelctl.errors import InputError  # noqa: E402
from accelctl.units import load_catalog  # noqa: E402

CATALOG = Path(__file__).resolve().parents[2] / "profiles" / "catalog.yaml"


def price_list(usd: str) -> dict:
    doc = {
        "product": {"attributes": {}},
        "terms": {
            "OnDemand": {"T": {"priceDimensions": {"D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}
        },
    }
    return {"PriceList": [json.dumps(doc)], "FormatVersion": "aws_v1"}


def test_refresh_rewrites_the_region_with_source_and_date(tmp_path):
    path = tmp_path / "catalog.yaml"
    shutil.copy(CATALOG, path)
    before = load_catalog(path)
    with moto_endpoint() as url:
        pricing, ec2 = aws_clients("us-west-2", url)
        with Stubber(pricing) as stub:
            stub.add_response("get_products", price_list("1.1000000000"))
            stub.add_response("get_products", price_list("0.0000000000"))  # no hourly figure: not offered
            done = refresh(
                path, "us-west-2", ["g5.xlarge", "g6.xlarge"], (pricing, ec2), dt.date(2026, 11, 28)
            )
    assert [(d.instance_type, d.on_demand) for d in done] == [("g5.xlarge", 1.1), ("g6.xlarge", None)]
    after = load_catalog(path)
    g5 = after.instances["g5.xlarge"].prices["us-west-2"]
    assert g5.on_demand == 1.1 and g5.source == SOURCE and g5.date == dt.date(2026, 11, 28)
    assert g5.spot == pytest.approx(0.00001)  # moto's fixed spot answer, median over its zones
    # a type AWS did not price, and every other region, stay as they were
    assert after.instances["g6.xlarge"].prices == before.instances["g6.xlarge"].prices
    assert (
        after.instances["g5.xlarge"].prices["us-east-1"] == before.instances["g5.xlarge"].prices["us-east-1"]
    )


def test_refresh_of_the_packaged_catalog_writes_elsewhere_and_leaves_the_package_alone(tmp_path):
    before = PACKAGED_CATALOG.read_bytes()
    out = tmp_path / "profiles" / "catalog.yaml"
    with moto_endpoint() as url:
        pricing, ec2 = aws_clients("us-west-2", url)
        with Stubber(pricing) as stub:
            stub.add_response("get_products", price_list("1.2000000000"))
            refresh(
                PACKAGED_CATALOG, "us-west-2", ["g5.xlarge"], (pricing, ec2), dt.date(2026, 11, 28), out=out
            )
    assert PACKAGED_CATALOG.read_bytes() == before
    assert load_catalog(out).instances["g5.xlarge"].prices["us-west-2"].on_demand == 1.2


def test_refresh_refuses_a_type_the_catalog_lacks(tmp_path):
    path = tmp_path / "catalog.yaml"
    shutil.copy(CATALOG, path)
    with (
        moto_endpoint() as url,
        pytest.raises(InputError, match="'p5.48xlarge' is not in the catalog; add it by hand"),
    ):
        refresh(path, "us-west-2", ["p5.48xlarge"], aws_clients("us-west-2", url), dt.date.today())
    assert path.read_bytes() == CATALOG.read_bytes()


def test_no_credentials_is_one_line(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(InputError, match="no AWS credentials found"):
        aws_clients("us-west-2")
