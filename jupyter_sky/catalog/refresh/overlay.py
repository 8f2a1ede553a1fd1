"""The user's price overlay: prices fetched by ``jupyter-sky catalog refresh``, laid over the snapshot.

Storage. One JSON file per cloud, ``$JUPYTER_SKY_HOME/catalog/<cloud>.json``::

    {"format": 1, "cloud": "aws", "fetched_at": "2026-11-24T05:50:00+00:00",
     "source": "AWS Pricing API + EC2 spot price history",
     "rows": [{"region": "us-east-1", "zone": null, "instance_type": "p3.2xlarge",
               "price": 3.06, "spot_price": null}, ...]}

A row with ``zone`` null applies to every zone of its region; a row with a zone wins over it
for that zone. GCP rows also name ``accelerator`` and ``accelerator_count`` (one machine type
carries different GPUs); rows without them price the instance whatever it carries. ``price`` / ``spot_price`` null mean "not fetched": the snapshot value stays.
``components`` (GCP accelerator offers: host VM + GPUs) may accompany a row. Files are written
atomically (temporary file in the same folder, then :func:`os.replace`), so a refresh that
fails half-way leaves the previous overlay intact. Prices are public data: no secret is stored.

Merge. :func:`apply` returns the snapshot's offers with every matched row's prices replaced,
its ``source_date`` set to the fetch date, and the sanity flags recomputed for the
accelerators whose prices changed. It never adds offers: instance types the snapshot does not
know (no vCPU/memory/accelerator description) are counted by the refresh report, not shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_sky.config import sky_home

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering

FORMAT = 1
SUBDIR = "catalog"
Key = tuple[str, "str | None", str, "tuple[str | None, float] | None"]


def overlay_dir(home: Path | None = None) -> Path:
    """Return the folder holding the overlay files (not created)."""
    return (home or sky_home()) / SUBDIR


def overlay_path(cloud: str, home: Path | None = None) -> Path:
    """Return the overlay file of ``cloud``."""
    return overlay_dir(home) / f"{cloud}.json"


def row(
    region: str, zone: str | None, instance_type: str, price: float | None, spot: float | None
) -> dict[str, Any]:
    """Return one overlay row (``zone`` None: every zone of the region; None price: not fetched)."""
    return {
        "region": region,
        "zone": zone,
        "instance_type": instance_type,
        "price": price,
        "spot_price": spot,
    }


def write(
    cloud: str,
    rows: Iterable[dict[str, Any]],
    *,
    source: str,
    fetched_at: datetime | None = None,
    home: Path | None = None,
) -> Path:
    """Atomically replace the overlay file of ``cloud``.

    Parameters
    ----------
    cloud : str
        ``aws``, ``azure`` or ``gcp``.
    rows : iterable of dict
        ``{"region", "zone", "instance_type", "price", "spot_price"[, "components"]}``.
    source : str
        Where the prices came from (shown by ``price_dates``).
    fetched_at : datetime, optional
        When they were fetched; default now (UTC).
    home : Path, optional
        The jupyter-sky home; default :func:`jupyter_sky.config.sky_home`.

    Returns
    -------
    Path
        The file written.
    """
    when = fetched_at or datetime.now(timezone.utc)
    doc = {
        "format": FORMAT,
        "cloud": cloud,
        "fetched_at": when.isoformat(timespec="seconds"),
        "source": source,
        "rows": list(rows),
    }
    path = overlay_path(cloud, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{cloud}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read(cloud: str, home: Path | None = None) -> dict[str, Any] | None:
    """Return the overlay document of ``cloud``, or None if absent, unreadable or foreign."""
    try:
        doc = json.loads(overlay_path(cloud, home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("cloud") != cloud:
        return None
    if not isinstance(doc.get("rows"), list) or not isinstance(doc.get("fetched_at"), str):
        return None
    return doc


def read_all(home: Path | None = None) -> dict[str, dict[str, Any]]:
    """Return every valid overlay document, by cloud (empty when nothing was refreshed)."""
    folder = overlay_dir(home)
    if not folder.is_dir():
        return {}
    docs = {}
    for path in sorted(folder.glob("*.json")):
        doc = read(path.stem, home)
        if doc is not None:
            docs[path.stem] = doc
    return docs


def fetched_date(doc: dict[str, Any]) -> date:
    """Return the (UTC) day an overlay document was fetched."""
    return datetime.fromisoformat(doc["fetched_at"]).date()


def _acc(row: dict[str, Any]) -> tuple[str | None, float] | None:
    if "accelerator" not in row:
        return None  # the row prices the instance whatever it carries (AWS, Azure)
    return (row["accelerator"], float(row.get("accelerator_count") or 0))


def _index(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(r["region"], r.get("zone"), r["instance_type"], _acc(r)): r for r in rows}


def _merged(offer: Offering, rows: dict[Key, dict[str, Any]], when: date) -> Offering | None:
    acc = (offer.accelerator, offer.accelerator_count)
    keys = [(zone, a) for zone in (offer.zone, None) for a in (acc, None)]
    found = [r for z, a in keys if (r := rows.get((offer.region, z, offer.instance_type, a)))]
    if not found:
        return None
    price = next((r["price"] for r in found if r.get("price") is not None), offer.price)
    spot = next((r["spot_price"] for r in found if r.get("spot_price") is not None), None)
    comps = next((r["components"] for r in found if r.get("components")), None)
    return replace(
        offer,
        price=price,
        spot_price=spot if spot is not None else offer.spot_price,
        source_date=when,
        components=tuple(tuple(c) for c in comps) if comps else offer.components,
    )


def apply(offers: Iterable[Offering], home: Path | None = None) -> list[Offering]:
    """Lay the user's refreshed prices over ``offers``.

    Parameters
    ----------
    offers : iterable of Offering
        The snapshot's offers (every cloud).
    home : Path, optional
        The jupyter-sky home; default :func:`jupyter_sky.config.sky_home`.

    Returns
    -------
    list of Offering
        The same offers, in the same order; matched ones carry the fetched prices, the fetch
        date as ``source_date`` and recomputed sanity flags. Without an overlay this is a copy
        of the input (one ``stat`` of the overlay folder).
    """
    offers = list(offers)
    docs = read_all(home)
    if not docs:
        return offers
    from jupyter_sky.catalog import sanity

    indexes = {c: (_index(d["rows"]), fetched_date(d)) for c, d in docs.items()}
    changed: set[str | None] = set()
    for i, offer in enumerate(offers):
        hit = indexes.get(offer.infra)
        new = _merged(offer, *hit) if hit else None
        if new is not None:
            offers[i] = new
            changed.add(offer.accelerator)
    positions = [i for i, o in enumerate(offers) if o.accelerator in changed]
    verdicts = sanity.flag_all([offers[i] for i in positions])
    for i, flags in zip(positions, verdicts, strict=True):
        if tuple(flags) != offers[i].flags:
            offers[i] = replace(offers[i], flags=tuple(flags))
    return offers


def price_dates(home: Path | None = None) -> dict[str, tuple[date, str]]:
    """Return, per cloud, the day its prices are from and where from.

    Returns
    -------
    dict of str to (datetime.date, str)
        ``("snapshot", day)`` from the shipped catalog's ``sources.json``, replaced by
        ``(fetch day, "refreshed")`` for clouds with a newer overlay.
    """
    from jupyter_sky.catalog.offers import source_dates

    out = {c: (d, "snapshot") for c, d in source_dates().items()}
    for cloud, doc in read_all(home).items():
        day = fetched_date(doc)
        if cloud not in out or day >= out[cloud][0]:
            out[cloud] = (day, "refreshed")
    return out


def price_ages(today: date | None = None, home: Path | None = None) -> dict[str, int]:
    """Return how many days old each cloud's prices are (snapshot or refresh, the newer).

    Parameters
    ----------
    today : datetime.date, optional
        The reference day; default the local date.
    home : Path, optional
        The jupyter-sky home.

    Returns
    -------
    dict of str to int
        Days per cloud, never negative.
    """
    ref = today or date.today()
    return {c: max(0, (ref - d).days) for c, (d, _) in price_dates(home).items()}


def stale_clouds(days: int = 30, today: date | None = None, home: Path | None = None) -> list[str]:
    """Return the sorted clouds whose newest prices are more than ``days`` days old.

    Parameters
    ----------
    days : int
        The age limit (the widget warns above 30 days).
    today : datetime.date, optional
        The reference day; default the local date.
    home : Path, optional
        The jupyter-sky home.

    Returns
    -------
    list of str
        Cloud names; empty when every price is recent enough.
    """
    return sorted(c for c, age in price_ages(today, home).items() if age > days)
