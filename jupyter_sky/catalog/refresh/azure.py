"""Azure prices: the public Azure Retail Prices REST API (no authentication).

API reference (the simulated responses in the tests follow it):
https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices

One query per region of the snapshot, ``serviceName eq 'Virtual Machines' and priceType eq
'Consumption'``, following ``NextPageLink``. Linux prices only: Windows meters, Low Priority
meters and Cloud Services are skipped; a ``skuName`` ending in ``Spot`` is the spot price.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jupyter_sky.catalog.refresh.overlay import row
from jupyter_sky.catalog.refresh.progress import Progress
from jupyter_sky.catalog.refresh.web import Http, urllib_get

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering

ENDPOINT = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
SOURCE = "Azure Retail Prices API"
MAX_PAGES = 1000  # a safety stop: one region has a few dozen pages


def region_url(region: str) -> str:
    """Return the first-page URL of the Linux VM consumption prices of ``region``."""
    flt = (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        f"and armRegionName eq '{region}'"
    )
    query = urllib.parse.urlencode({"api-version": API_VERSION, "$filter": flt})
    return f"{ENDPOINT}?{query}"


def classify(item: dict[str, Any]) -> tuple[str, bool] | None:
    """Return (instance type, is spot) for a Linux VM price item, None for anything else."""
    product = item.get("productName", "")
    sku = item.get("skuName", "")
    if (
        "Windows" in product
        or "Cloud Services" in product
        or "Low Priority" in sku
        or item.get("unitOfMeasure") != "1 Hour"
        or item.get("currencyCode", "USD") != "USD"
        or float(item.get("tierMinimumUnits", 0) or 0) != 0
        or not item.get("armSkuName")
    ):
        return None
    return item["armSkuName"], sku.endswith("Spot")


def fetch_region(http: Http, region: str, types: set[str]) -> dict[str, list[float | None]]:
    """Return {instance type: [on-demand, spot]} $/h in ``region`` (cheapest meter wins)."""
    prices: dict[str, list[float | None]] = {}
    url: str | None = region_url(region)
    for _ in range(MAX_PAGES):
        if not url:
            break
        page = http(url)
        for item in page.get("Items", []):
            found = classify(item)
            if found is None or found[0] not in types:
                continue
            itype, spot = found
            value = float(item.get("retailPrice", item.get("unitPrice")))
            slot = prices.setdefault(itype, [None, None])
            old = slot[spot]
            if value > 0 and (old is None or value < old):
                slot[spot] = value
        url = page.get("NextPageLink")
    return prices


def fetch_rows(
    offers: Iterable[Offering], *, http: Http | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Fetch current Azure prices for the regions and instance types of the snapshot.

    Parameters
    ----------
    offers : iterable of Offering
        The snapshot's Azure offers.
    http : callable, optional
        ``url -> decoded JSON``; default a stdlib urllib GET.
    progress : bool
        Show a progress bar (one step per region).

    Returns
    -------
    list of dict
        Overlay rows, one per (region, instance type) found, ``zone`` None.
    """
    get = http or urllib_get
    by_region: dict[str, set[str]] = {}
    for o in offers:
        by_region.setdefault(o.region, set()).add(o.instance_type)
    bar = Progress("azure", len(by_region), enabled=progress)
    rows: list[dict[str, Any]] = []
    try:
        for region, types in sorted(by_region.items()):
            for itype, (price, spot) in sorted(fetch_region(get, region, types).items()):
                rows.append(row(region, None, itype, price, spot))
            bar.step(region)
    finally:
        bar.close()
    return rows
