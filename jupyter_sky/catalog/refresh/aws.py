"""AWS prices: the Price List Query API (on-demand) and EC2 spot price history (spot).

Authentication: the standard AWS credentials chain of boto3 (environment variables,
``AWS_PROFILE`` / ``~/.aws/credentials``, SSO, instance or container role). The calls need
``pricing:GetProducts``, ``ec2:DescribeAvailabilityZones`` and ``ec2:DescribeSpotPriceHistory``.

API references (the simulated responses in the tests follow them):

- https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
- https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html
- https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAvailabilityZones.html

The snapshot keys AWS offers by availability-zone *ID* (``use1-az1``), the same physical zone
for every account; spot history reports zone *names* (``us-east-1a``), which each account maps
to IDs differently, so the names are translated with ``DescribeAvailabilityZones``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupyter_sky.catalog.refresh.overlay import row
from jupyter_sky.catalog.refresh.progress import Progress

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3-like client
SOURCE = "AWS Price List API (GetProducts) + EC2 DescribeSpotPriceHistory"
NO_CREDENTIALS = "No AWS credentials found; set AWS_PROFILE or run aws configure, then retry."
NO_BOTO3 = "boto3 is not installed; run pip install 'jupyter-sky[aws]', then retry."
PRICING_REGION = "us-east-1"  # the Price List API's endpoint; it prices every region
LINUX_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def credentials_problem() -> str | None:
    """Return one sentence saying why AWS cannot be asked (None when credentials exist)."""
    try:
        import boto3
    except ImportError:
        return NO_BOTO3
    try:
        found = boto3.Session().get_credentials()
    except Exception as exc:  # a broken profile file: say so in one line
        return f"AWS credentials could not be read ({exc}); fix them, then retry."
    return None if found is not None else NO_CREDENTIALS


def boto3_clients() -> ClientFactory:
    """Return a factory of real boto3 clients (imports boto3 now, not at package import)."""
    import boto3

    session = boto3.Session()
    return lambda service, region: session.client(service, region_name=region)


def on_demand_price(item: dict[str, Any]) -> tuple[str, float] | None:
    """Return (instance type, $/h) from one decoded ``PriceList`` entry of GetProducts."""
    attrs = item.get("product", {}).get("attributes", {})
    itype = attrs.get("instanceType")
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            usd = dim.get("pricePerUnit", {}).get("USD")
            if itype and usd is not None and dim.get("unit") == "Hrs":
                return itype, float(usd)
    return None


def fetch_on_demand(pricing: Any, region: str, types: set[str]) -> dict[str, float]:
    """Return {instance type: on-demand Linux $/h} in ``region`` from GetProducts pages."""
    filters = [
        {"Type": "TERM_MATCH", "Field": k, "Value": v}
        for k, v in {"regionCode": region, **LINUX_FILTERS}.items()
    ]
    prices: dict[str, float] = {}
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "ServiceCode": "AmazonEC2",
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            kwargs["NextToken"] = token
        page = pricing.get_products(**kwargs)
        for raw in page.get("PriceList", []):
            found = on_demand_price(json.loads(raw) if isinstance(raw, str) else raw)
            if found and found[0] in types and found[1] > 0:
                prices[found[0]] = found[1]
        token = page.get("NextToken")
        if not token:
            return prices


def fetch_spot(ec2: Any, types: set[str], now: datetime) -> dict[tuple[str, str], float]:
    """Return {(zone ID, instance type): current Linux spot $/h} for one region's client."""
    zones = ec2.describe_availability_zones().get("AvailabilityZones", [])
    zone_ids = {z["ZoneName"]: z["ZoneId"] for z in zones if "ZoneId" in z}
    latest: dict[tuple[str, str], tuple[Any, float]] = {}
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": now,
            "MaxResults": 1000,
        }
        if token:
            kwargs["NextToken"] = token
        page = ec2.describe_spot_price_history(**kwargs)
        for rec in page.get("SpotPriceHistory", []):
            zone = rec.get("AvailabilityZoneId") or zone_ids.get(rec.get("AvailabilityZone", ""))
            itype = rec.get("InstanceType")
            if not zone or itype not in types:
                continue
            stamp, price = str(rec.get("Timestamp", "")), float(rec["SpotPrice"])
            key = (zone, itype)
            if key not in latest or stamp > str(latest[key][0]):
                latest[key] = (stamp, price)
        token = page.get("NextToken")
        if not token:
            return {k: v[1] for k, v in latest.items()}


def fetch_rows(
    offers: Iterable[Offering],
    *,
    clients: ClientFactory | None = None,
    progress: bool = True,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Fetch current AWS prices for the regions and instance types of the snapshot.

    Parameters
    ----------
    offers : iterable of Offering
        The snapshot's AWS offers (they say which regions and types to ask about).
    clients : callable, optional
        ``(service, region) -> client`` with boto3's ``get_products``,
        ``describe_availability_zones`` and ``describe_spot_price_history``; default boto3.
    progress : bool
        Show a progress bar (two steps per region).
    now : datetime, optional
        The spot history's start time; default now (UTC).

    Returns
    -------
    list of dict
        Overlay rows: one per (region, type) with the on-demand price and ``zone`` None, one per
        (region, zone ID, type) with the spot price.
    """
    by_region: dict[str, set[str]] = {}
    for o in offers:
        by_region.setdefault(o.region, set()).add(o.instance_type)
    make = clients or boto3_clients()
    when = now or datetime.now(timezone.utc)
    bar = Progress("aws", 2 * len(by_region), enabled=progress)
    pricing = make("pricing", PRICING_REGION)
    rows: list[dict[str, Any]] = []
    try:
        for region, types in sorted(by_region.items()):
            for itype, price in sorted(fetch_on_demand(pricing, region, types).items()):
                rows.append(row(region, None, itype, price, None))
            bar.step(f"{region} on-demand")
            spot = fetch_spot(make("ec2", region), types, when)
            for (zone, itype), price in sorted(spot.items()):
                rows.append(row(region, zone, itype, None, price))
            bar.step(f"{region} spot")
    finally:
        bar.close()
    return rows
