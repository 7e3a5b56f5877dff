"""Parsing AWS price answers (accelctl.bench.pricing) with botocore's Stubber: boto3 validates every
request and answer against the service model, no network. moto has no Price List API, so this is how
on-demand parsing is tested; spot history also runs against moto's server in tests/integration."""

from __future__ import annotations

import datetime as dt
import json

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from accelctl.bench.pricing import on_demand_price, spot_price  # noqa: E402


def client(service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def product(usd: str, unit: str = "Hrs") -> str:
    # the shape of one PriceList entry (a JSON string) as the Price List API returns it
    return json.dumps(
        {
            "product": {"sku": "ABC", "attributes": {"instanceType": "g5.xlarge", "regionCode": "us-west-2"}},
            "terms": {
                "OnDemand": {
                    "ABC.JRTCKXETXF": {
                        "priceDimensions": {
                            "ABC.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}
                        }
                    }
                }
            },
        }
    )


def test_on_demand_price_takes_the_hourly_usd_figure():
    pricing = client("pricing")
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [product("1.0060000000"), product("0.0000000000")], "FormatVersion": "aws_v1"},
        )
        assert on_demand_price(pricing, "g5.xlarge", "us-west-2") == 1.006
        stub.assert_no_pending_responses()


def test_on_demand_price_none_when_not_offered():
    pricing = client("pricing")
    with Stubber(pricing) as stub:
        stub.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"})
        assert on_demand_price(pricing, "inf2.xlarge", "eu-north-1") is None


def test_spot_price_is_the_median_of_each_zones_latest():
    ec2 = client("ec2", "us-west-2")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def rec(zone, minutes, price):
        return {
            "AvailabilityZone": zone,
            "InstanceType": "g5.xlarge",  # noqa: E731
            "ProductDescription": "Linux/UNIX",
            "SpotPrice": price,
            "Timestamp": t0 + dt.timedelta(minutes=minutes),
        }

    history = [
        rec("us-west-2a", 0, "0.50"),
        rec("us-west-2a", 5, "0.40"),  # latest in 2a: 0.40
        rec("us-west-2b", 1, "0.30"),
        rec("us-west-2c", 2, "0.90"),
    ]
    with Stubber(ec2) as stub:
        stub.add_response("describe_spot_price_history", {"SpotPriceHistory": history})
        # latest per zone: 0.40, 0.30, 0.90 -> median 0.40
        assert spot_price(ec2, "g5.xlarge") == 0.40
