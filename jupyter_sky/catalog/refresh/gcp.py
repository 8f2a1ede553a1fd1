"""GCP prices: the Cloud Billing Catalog API's Compute Engine SKUs.

Authentication: an API key (the Catalog API is public data but needs a key of a project with
the Cloud Billing API enabled), from ``GOOGLE_API_KEY`` or ``gcp.api_key`` in the config file.

API reference (the simulated responses in the tests follow it):
https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list
(SKU schema: https://cloud.google.com/billing/docs/reference/rest/v1/services.skus#Sku).

GCP does not price machine types; it prices vCPU-hours and GiB-hours per machine family and
region ("N2 Instance Core running in Americas", "... Instance Ram ...") and each attached GPU
("Nvidia Tesla T4 GPU running in ..."). A snapshot offer is repriced as vCPUs x core price +
memory x RAM price (+ count x GPU price, kept as the offer's components). Shared-core types,
TPUs and machine types whose family has no plain core/RAM SKU keep their snapshot price.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from jupyter_sky.catalog.refresh.progress import Progress
from jupyter_sky.catalog.refresh.web import Http, urllib_get

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering

COMPUTE_SERVICE = "6F81-5844-456A"  # Compute Engine's service id in the Billing Catalog
ENDPOINT = f"https://cloudbilling.googleapis.com/v1/services/{COMPUTE_SERVICE}/skus"
KEY_ENV = "GOOGLE_API_KEY"
SOURCE = "GCP Cloud Billing Catalog API (Compute Engine SKUs)"
NO_KEY = (
    f"No GCP API key found; set {KEY_ENV} (a key of a project with the Cloud Billing API "
    "enabled), then retry."
)
MAX_PAGES = 200
SHARED_CORE = frozenset({"e2-micro", "e2-small", "e2-medium", "f1-micro", "g1-small"})
_PREFIX = r"^(?:Spot Preemptible |Preemptible )?"
_CORE_RAM = re.compile(_PREFIX + r"(\w+) (?:Predefined )?Instance (Core|Ram) running in ")
_GPU = re.compile(_PREFIX + r"Nvidia (.+?) GPU\b")
_SKIP = ("Custom", "Sole Tenancy", "Commitment", "Reserved", "Workstation", "Extended", "DWS")

# (kind, name, spot, region) -> $ per unit-hour; kind is "core", "ram" or "gpu".
UnitPrices = dict[tuple[str, str, bool, str], float]


def api_key() -> str | None:
    """Return the API key from ``$GOOGLE_API_KEY``, else ``gcp.api_key`` in the config."""
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        return key
    try:
        from jupyter_sky.config import load_config
        from jupyter_sky.infra.gcp.config import GcpConfig

        value = load_config().of(GcpConfig).api_key
    except Exception:  # an unreadable config is reported by the commands that need it
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def credentials_problem() -> str | None:
    """Return one sentence saying why GCP cannot be asked (None when a key is set)."""
    return None if api_key() else NO_KEY


def page_url(key: str, token: str | None = None) -> str:
    """Return the URL of one page of Compute Engine SKUs in USD."""
    query = {"key": key, "currencyCode": "USD", "pageSize": "5000"}
    if token:
        query["pageToken"] = token
    return f"{ENDPOINT}?{urllib.parse.urlencode(query)}"


def unit_price(sku: dict[str, Any]) -> float | None:
    """Return the hourly unit price of a SKU (last tier of its newest pricing), or None."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    expr = infos[-1].get("pricingExpression", {})
    tiers = expr.get("tieredRates") or []
    if not tiers or expr.get("usageUnit") not in ("h", "GiBy.h"):
        return None
    money = tiers[-1].get("unitPrice", {})
    return int(money.get("units", 0) or 0) + int(money.get("nanos", 0) or 0) / 1e9


def parse_sku(sku: dict[str, Any]) -> Iterator[tuple[tuple[str, str, bool, str], float]]:
    """Yield ((kind, name, spot, region), $/unit-hour) for a core, RAM or GPU SKU."""
    cat = sku.get("category", {})
    desc = sku.get("description", "")
    usage = cat.get("usageType")
    if cat.get("resourceFamily") != "Compute" or usage not in ("OnDemand", "Preemptible"):
        return
    if any(word in desc for word in _SKIP):
        return
    price = unit_price(sku)
    if price is None:
        return
    core_ram = _CORE_RAM.match(desc)
    gpu = _GPU.match(desc) if cat.get("resourceGroup") == "GPU" else None
    if core_ram:
        kind, name = core_ram.group(2).lower(), core_ram.group(1).lower()
    elif gpu:
        kind, name = "gpu", gpu.group(1)
    else:
        return
    for region in sku.get("serviceRegions", []):
        yield (kind, name, usage == "Preemptible", region), price


def fetch_unit_prices(http: Http, key: str, bar: Progress) -> UnitPrices:
    """Return every core, RAM and GPU unit price, following ``nextPageToken``."""
    prices: UnitPrices = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = http(page_url(key, token))
        for sku in page.get("skus", []):
            prices.update(parse_sku(sku))
        bar.step(f"page {bar.done + 1}")
        token = page.get("nextPageToken") or None
        if not token:
            break
    return prices


def _gpu_names(prices: UnitPrices, offers: list[Offering]) -> dict[str, str]:
    """Map SKU GPU names ("Tesla A100 80GB") to the snapshot's accelerator names."""
    from jupyter_sky.catalog.offers import name_keys, resolve_name

    table = {next(name_keys(o.accelerator)): o.accelerator for o in offers if o.accelerator}
    out = {}
    for kind, name, _, _ in prices:
        if kind == "gpu":
            found = resolve_name(name, table)
            if found:
                out[found] = name
    return out


def price_offer(offer: Offering, prices: UnitPrices, gpus: dict[str, str]) -> dict[str, Any] | None:
    """Return the overlay row of one snapshot offer, or None if the SKUs cannot price it."""
    family = offer.instance_type.split("-")[0]
    acc = offer.accelerator
    if (
        offer.instance_type in SHARED_CORE
        or offer.vcpus is None
        or offer.memory_gb is None
        or (acc or "").startswith("tpu")
        or (acc is None and "gpu" in offer.instance_type)  # GPUs we could not price
    ):
        return None
    parts: list[list[Any]] = []
    totals: list[float | None] = []
    for spot in (False, True):
        core = prices.get(("core", family, spot, offer.region))
        ram = prices.get(("ram", family, spot, offer.region))
        host = None if core is None or ram is None else offer.vcpus * core + offer.memory_gb * ram
        gpu = None
        if acc is not None and acc in gpus:
            each = prices.get(("gpu", gpus[acc], spot, offer.region))
            gpu = None if each is None else each * offer.accelerator_count
        total = None if host is None or (acc is not None and gpu is None) else host + (gpu or 0)
        totals.append(None if total is None else round(total, 5))
        parts.append([host, gpu])
    if totals[0] is None and totals[1] is None:
        return None
    row: dict[str, Any] = {
        "region": offer.region,
        "zone": None,
        "instance_type": offer.instance_type,
        "accelerator": acc,
        "accelerator_count": offer.accelerator_count,
        "price": totals[0],
        "spot_price": totals[1],
    }
    if offer.components and acc is not None and len(offer.components) == 2:
        (host_label, *_), (gpu_label, *_) = offer.components
        rnd = [[None if v is None else round(v, 5) for v in kind] for kind in parts]
        row["components"] = [[host_label, rnd[0][0], rnd[1][0]], [gpu_label, rnd[0][1], rnd[1][1]]]
    return row


def fetch_rows(
    offers: Iterable[Offering],
    *,
    http: Http | None = None,
    key: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fetch current GCP prices and reprice the snapshot's GCP offers with them.

    Parameters
    ----------
    offers : iterable of Offering
        The snapshot's GCP offers (machine shapes and accelerator counts come from them).
    http : callable, optional
        ``url -> decoded JSON``; default a stdlib urllib GET.
    key : str, optional
        The API key; default :func:`api_key`.
    progress : bool
        Show a progress bar (one step per page of SKUs).

    Returns
    -------
    list of dict
        Overlay rows, one per (region, machine type, accelerators) the SKUs price, ``zone`` None.
    """
    offers = list(offers)
    key = key or api_key()
    if not key:
        raise PermissionError(NO_KEY)
    bar = Progress("gcp", 10, enabled=progress)  # ~10 pages of 5000 SKUs; a guess for the bar
    try:
        prices = fetch_unit_prices(http or urllib_get, key, bar)
    finally:
        bar.close()
    gpus = _gpu_names(prices, offers)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for offer in offers:
        slot = (offer.region, offer.instance_type, offer.accelerator, offer.accelerator_count)
        if slot not in rows:
            row = price_offer(offer, prices, gpus)
            if row is not None:
                rows[slot] = row
    return list(rows.values())
