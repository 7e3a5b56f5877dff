"""Instance prices: picking one from the catalog for a profile, and refreshing the catalog from AWS.

The refresh reads on-demand prices from the AWS Price List API (pricing.get_products) and spot prices
from EC2's spot price history, through boto3 (the `aws` extra), with whatever credentials boto3 finds.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accelctl.errors import InputError, MissingDependency
from accelctl.files import save_model
from accelctl.units import Catalog, Price, load_catalog

DEFAULT_CATALOG = Path("profiles/catalog.yaml")
# The same figures ship in the wheel (accelctl/data/catalog.yaml links to profiles/catalog.yaml in a
# checkout), so `pip install accelctl` prices profiles without a checkout.
PACKAGED_CATALOG = Path(__file__).resolve().parent.parent / "data" / "catalog.yaml"
DEFAULT_REGION = "us-west-2"
# The Price List API answers in a few regions only; us-east-1 serves every region's prices.
PRICING_API_REGION = "us-east-1"


@dataclass(frozen=True)
class PriceChoice:
    instance_type: str
    region: str = DEFAULT_REGION
    spot: bool = False
    catalog: Path | None = None  # None: profiles/catalog.yaml, else the packaged catalog
    override: float | None = None  # --price: $ per instance-hour measured or negotiated elsewhere


def catalog_path(given: Path | None) -> tuple[Path, str | None]:
    """The catalog a command reads, and a note saying which when the user did not name one.

    --catalog PATH as given; else ./profiles/catalog.yaml; else the catalog in the package.
    """
    if given is not None:
        return Path(given), None
    if DEFAULT_CATALOG.is_file():
        return DEFAULT_CATALOG, f"price catalog: {DEFAULT_CATALOG} (no --catalog given)"
    return PACKAGED_CATALOG, (
        f"price catalog: the packaged one, {PACKAGED_CATALOG} (no --catalog, no {DEFAULT_CATALOG})"
    )


def resolve(choice: PriceChoice, note: Callable[[str], None] = lambda _: None) -> tuple[float, str]:
    """($ per instance-hour, where it came from) for a profile; `note` hears which default catalog."""
    if choice.override is not None:
        if choice.override <= 0:
            raise InputError(f"--price {choice.override}: must be a positive $ per instance-hour")
        return choice.override, "manual (--price)"
    path, said = catalog_path(choice.catalog)
    catalog = _load(path)
    if said:
        note(said)
    where = str(path)
    if choice.instance_type not in catalog.instances:
        raise InputError(
            f"{where}: instance type {choice.instance_type!r} is not in the catalog "
            f"(known: {', '.join(sorted(catalog.instances))}); add it there or give --price"
        )
    price = catalog.instance_price_per_hour(choice.instance_type, choice.region, choice.spot, where)
    inst = catalog.instances[choice.instance_type]
    figure = inst.prices[choice.region]
    kind = "spot" if choice.spot else "on-demand"
    return (
        price,
        f"catalog {choice.region} {kind}: {figure.source or inst.source} ({figure.date or inst.date})",
    )


def _load(path: Path) -> Catalog:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such price catalog; give --catalog PATH or --price DOLLARS_PER_HOUR")
    return load_catalog(path)


# ---------------------------------------------------------------- refresh through boto3


@dataclass(frozen=True)
class Refreshed:
    instance_type: str
    on_demand: float | None
    spot: float | None


def aws_clients(region: str, endpoint_url: str | None = None):
    """(pricing, ec2) boto3 clients; a missing boto3 or missing credentials is one clear line."""
    try:
        import boto3
    except ImportError:
        raise MissingDependency("catalog refresh needs boto3: pip install 'accelctl[aws]'") from None
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise InputError(
            "catalog refresh: no AWS credentials found; set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or edit the catalog by hand"
        )
    pricing = session.client("pricing", region_name=PRICING_API_REGION, endpoint_url=endpoint_url)
    ec2 = session.client("ec2", region_name=region, endpoint_url=endpoint_url)
    return pricing, ec2


def on_demand_price(pricing, instance_type: str, region: str) -> float | None:
    """Linux, shared tenancy, no pre-installed software: the price every other figure is quoted in."""
    filters = {
        "instanceType": instance_type,
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
        "marketoption": "OnDemand",
    }
    found = []
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2",
        FormatVersion="aws_v1",
        Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
    )
    for page in pages:
        for item in page["PriceList"]:
            doc = json.loads(item) if isinstance(item, str) else item
            for term in doc.get("terms", {}).get("OnDemand", {}).values():
                for dim in term.get("priceDimensions", {}).values():
                    usd = float(dim.get("pricePerUnit", {}).get("USD", 0) or 0)
                    if dim.get("unit") == "Hrs" and usd > 0:
                        found.append(usd)
    return min(found) if found else None


def spot_price(ec2, instance_type: str) -> float | None:
    """Median over availability zones of each zone's latest Linux spot price."""
    latest: dict[str, tuple[dt.datetime, float]] = {}
    pages = ec2.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=[instance_type],
        ProductDescriptions=["Linux/UNIX"],
        StartTime=dt.datetime.now(dt.timezone.utc),
    )
    for page in pages:
        for rec in page["SpotPriceHistory"]:
            zone, when, price = rec["AvailabilityZone"], rec["Timestamp"], float(rec["SpotPrice"])
            if zone not in latest or when > latest[zone][0]:
                latest[zone] = (when, price)
    return statistics.median(p for _, p in latest.values()) if latest else None


SOURCE = (
    "AWS Price List API (pricing.get_products: Linux, shared tenancy, on-demand); spot: median over "
    "availability zones of the latest EC2 spot price (describe_spot_price_history, Linux/UNIX)"
)


def refresh(
    path: Path,
    region: str,
    instance_types: list[str] | None,
    clients,
    today: dt.date,
    out: Path | None = None,
) -> list[Refreshed]:
    """Rewrite `region`'s figures of the catalog's instance types (or the ones named) from AWS, into
    `out` (default: the catalog itself)."""
    catalog = _load(path)
    wanted = instance_types or sorted(catalog.instances)
    unknown = [t for t in wanted if t not in catalog.instances]
    if unknown:
        raise InputError(
            f"{path}: instance type {unknown[0]!r} is not in the catalog; add it by hand (hardware fields), "
            f"then refresh its prices"
        )
    pricing, ec2 = clients
    done = []
    for name in wanted:
        od, spot = on_demand_price(pricing, name, region), spot_price(ec2, name)
        done.append(Refreshed(name, od, spot))
        if od is None:
            continue  # not offered in this region: leave the catalog as it was
        catalog.instances[name].prices[region] = Price(on_demand=od, spot=spot, source=SOURCE, date=today)
    save_model(out or path, catalog)
    return done
