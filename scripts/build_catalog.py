"""Build the shipped price catalog from a SkyPilot-layout catalog folder.

Usage::

    python scripts/build_catalog.py [CATALOG_DIR]

``CATALOG_DIR`` defaults to ``scripts/catalog_snapshot`` (the copy of ``../shared/catalog`` the repository carries). Every
``<cloud>/vms.csv`` (folders starting with ``_`` skipped) becomes offers; columns are read by
header name because their order differs between clouds and catalog versions (v6/v7/v8).
Writes ``jupyter_sky/catalog/data/offers.bin.gz`` (JSON header + binary columns, see
:mod:`jupyter_sky.catalog.offers`) and ``data/sources.json`` (provenance read from the
catalog's README table).

GCP lists GPUs apart from their host VMs: accelerator rows have an empty ``InstanceType`` and
price only the GPUs. As in SkyPilot, an offer is host row + accelerator row of the same zone,
with ``price = host + GPUs``. A2/A3/A4/G2 hosts carry a fixed GPU model and count (from the
machine name); T4/V100/P100/P4 attach to any N1 host within GCP's per-count vCPU/memory limit.
TPU rows are whole slices with no priced host, so they stand alone.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jupyter_sky.catalog import offers as om  # noqa: E402
from jupyter_sky.catalog import sanity  # noqa: E402
from jupyter_sky.offering import Offering  # noqa: E402

SNAPSHOT_DATE = "2026-11-24"
Row = dict[str, str]

# GCP machine families that come with a fixed accelerator; the count is in the name (-Ng).
GCP_FIXED_HOSTS = {
    "a2-highgpu": "A100",
    "a2-megagpu": "A100",
    "a2-ultragpu": "A100-80GB",
    "a3-highgpu": "H100",
    "a3-megagpu": "H100-MEGA",
    "a3-ultragpu": "H200",
    "a4-highgpu": "B200",
}
# g2-standard-N -> L4 count (GCP machine-type table).
GCP_G2_L4 = {4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}
# GPUs attached to N1 hosts: count -> (max vCPUs, max memory GiB) allowed by GCP.
GCP_N1_LIMITS = {
    "V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "P100": {1: (16, 104), 2: (32, 208), 4: (96, 624)},
}
N1_HOST_FAMILIES = ("n1-standard-", "n1-highmem-", "n1-highcpu-")


def num(text: str | None) -> float | None:
    """Parse a CSV number; '' (missing) becomes None."""
    text = (text or "").strip()
    return float(text) if text else None


def read_rows(path: Path) -> list[Row]:
    """Read a CSV by header name (column order differs between clouds)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def make_offer(cloud: str, row: Row, acc: str | None, count: float, **over: object) -> Offering:
    """Build an Offering from a row; ``over`` replaces fields (GCP combined prices)."""
    fields: dict[str, object] = {
        "infra": cloud,
        "region": row["Region"],
        "zone": row.get("AvailabilityZone") or None,
        "instance_type": row["InstanceType"],
        "accelerator": acc,
        "accelerator_count": count if acc else 0.0,
        "vcpus": num(row.get("vCPUs")),
        "memory_gb": num(row.get("MemoryGiB")),
        "price": num(row["Price"]),
        "spot_price": sanity.clean_spot(num(row["SpotPrice"])),
        "source_date": date.fromisoformat(SNAPSHOT_DATE),
    }
    fields.update(over)
    return Offering(**fields)  # type: ignore[arg-type]


def plain_offers(cloud: str, rows: Iterable[Row]) -> list[Offering]:
    """Offers of a cloud whose rows are whole instances (every cloud but GCP)."""
    out = []
    for row in rows:
        name, count = row.get("AcceleratorName", ""), num(row.get("AcceleratorCount")) or 0.0
        out.append(make_offer(cloud, row, name if name and count > 0 else None, count))
    return out


# --- GCP ---------------------------------------------------------------------------------------


def gcp_host_accelerator(instance_type: str) -> tuple[str, int] | None:
    """Return (accelerator, count) that a fixed-accelerator GCP machine type carries."""
    family, _, size = instance_type.rpartition("-")
    if family in GCP_FIXED_HOSTS and re.fullmatch(r"\d+g", size):
        return GCP_FIXED_HOSTS[family], int(size[:-1])
    if family == "g2-standard" and size.isdigit() and int(size) in GCP_G2_L4:
        return "L4", GCP_G2_L4[int(size)]
    return None


def gcp_hosts_for(acc: str, count: int, hosts: list[Row]) -> list[Row]:
    """Host rows (of one zone) that ``count`` x ``acc`` can be attached to."""
    if acc in GCP_N1_LIMITS:
        max_cpu, max_mem = GCP_N1_LIMITS[acc].get(count, (0, 0))
        return [
            h
            for h in hosts
            if h["InstanceType"].startswith(N1_HOST_FAMILIES)
            and float(h["vCPUs"]) <= max_cpu
            and float(h["MemoryGiB"]) <= max_mem
        ]
    return [h for h in hosts if gcp_host_accelerator(h["InstanceType"]) == (acc, count)]


def add(a: float | None, b: float | None) -> float | None:
    """Sum two prices; None if either is missing (a part without a price prices nothing)."""
    return None if a is None or b is None else round(a + b, 6)


def gcp_combined(acc_row: Row, host: Row) -> Offering:
    """GCP GPU offer = host VM row + accelerator row of the same zone."""
    acc, count = acc_row["AcceleratorName"], num(acc_row["AcceleratorCount"]) or 0.0
    host_spot, acc_spot = (sanity.clean_spot(num(r["SpotPrice"])) for r in (host, acc_row))
    parts = (
        (host["InstanceType"], num(host["Price"]), host_spot),
        (f"{count:g}x {acc}", num(acc_row["Price"]), acc_spot),
    )
    return make_offer(
        "gcp",
        host,
        acc,
        count,
        price=add(parts[0][1], parts[1][1]),
        spot_price=add(host_spot, acc_spot),
        components=parts,
    )


def gcp_offers(rows: list[Row]) -> list[Offering]:
    """Standalone CPU VMs, TPU slices, and host + GPU combinations."""
    hosts_by_zone: dict[str, list[Row]] = defaultdict(list)
    out: list[Offering] = []
    for row in rows:
        if row["InstanceType"]:
            hosts_by_zone[row["AvailabilityZone"]].append(row)
            if gcp_host_accelerator(row["InstanceType"]) is None:
                out.append(make_offer("gcp", row, None, 0.0))  # CPU-only VM (n1, n2)
    for row in rows:
        acc = row["AcceleratorName"]
        if row["InstanceType"] or not acc:
            continue
        tpu = om.split_tpu(acc)
        if tpu:
            out.append(make_offer("gcp", {**row, "InstanceType": acc}, tpu[0], float(tpu[1])))
            continue
        count = int(num(row["AcceleratorCount"]) or 0)
        for host in gcp_hosts_for(acc, count, hosts_by_zone[row["AvailabilityZone"]]):
            out.append(gcp_combined(row, host))
    return out


# --- names, provenance, encoding --------------------------------------------------------------


def canonical_names(raw: Counter[str], common: list[str]) -> dict[str, str]:
    """Map each raw accelerator name to its canonical spelling.

    A raw name takes the first SkyPilot common name (``common/accelerators.csv``) its keys
    match; otherwise the spelling, among raw names with the same key, used by the most rows.
    """
    known: dict[str, str] = {}
    # A name that is its key with separators removed (H100) beats one that lost packaging
    # words to reach it (H100-NVLINK); among equals the hyphenated spelling wins (RTX6000-Ada).
    for name in sorted(common, key=lambda n: (not _is_plain(n), "-" not in n, n)):
        known.setdefault(next(om.name_keys(name)), name)
    by_key: dict[str, list[str]] = defaultdict(list)
    for name in raw:
        by_key[next(om.name_keys(name))].append(name)
    out = {}
    for name in raw:
        found = om.resolve_name(name, known)
        if found is None:
            spellings = by_key[next(om.name_keys(name))]
            found = max(spellings, key=lambda s: (" " not in s, raw[s], s))
        out[name] = found
    return out


def _is_plain(name: str) -> bool:
    return re.sub(r"[\W_]+", "", name.lower()) == next(om.name_keys(name))


def with_canonical(offers: list[Offering], common: list[str]) -> list[Offering]:
    """Rename accelerators to canonical spellings (TPU families are already canonical)."""
    raw = Counter(o.accelerator for o in offers if o.accelerator)
    names = canonical_names(raw, common)
    return [
        o if o.accelerator is None else _replace(o, accelerator=names[o.accelerator])
        for o in offers
    ]


def _replace(offer: Offering, **changes: object) -> Offering:
    fields = {f: getattr(offer, f) for f in Offering.__dataclass_fields__}
    fields.update(changes)
    return Offering(**fields)  # type: ignore[arg-type]


def read_sources(catalog: Path, clouds: list[str]) -> dict[str, dict[str, str]]:
    """Per-cloud provenance from the README's 'Files and provenance' table."""
    text = (catalog / "README.md").read_text(encoding="utf-8")
    pattern = re.compile(
        r"^\| `([\w-]+)/` \| (?:\*\*)?(v\d)(?:\*\*)?(/\S+) \| ([0-9a-f]{40}) \|", re.M
    )
    found = {
        m[1]: {
            "source": f"catalogs/{m[2]}{m[3]}",
            "commit": m[4],
            "version": m[2],
            "snapshot_date": SNAPSHOT_DATE,
        }
        for m in pattern.finditer(text)
    }
    missing = [c for c in clouds if c not in found]
    if missing:
        raise SystemExit(f"README has no provenance row for {missing}")
    return {c: found[c] for c in clouds}


def encode(offers: list[Offering]) -> bytes:
    """The data file's content: a JSON header line, then the binary columns (see offers.py)."""
    strings: dict[str | None, int] = {None: 0}
    tables: dict[str, dict] = {"flags": {(): 0}, "components": {(): 0}}
    cols: dict[str, list] = defaultdict(list)
    for o in offers:
        for field in om.STRING_FIELDS:
            cols[field].append(strings.setdefault(getattr(o, field), len(strings)))
        for field in om.NUMBER_FIELDS:
            value = getattr(o, field)
            cols[field].append(float("nan") if value is None else value)
        comps = tuple(
            (strings.setdefault(label, len(strings)), p, s) for label, p, s in o.components
        )
        for field, value in (("flags", o.flags), ("components", comps)):
            cols[field].append(tables[field].setdefault(value, len(tables[field])))
    header = {
        "format": om.FORMAT_VERSION,
        "rows": len(offers),
        "strings": list(strings),
        "source_dates": {o.infra: o.source_date.isoformat() for o in offers},
        "flagsets": [list(f) for f in tables["flags"]],
        "componentsets": [[list(p) for p in c] for c in tables["components"]],
    }
    blob = b"".join(_column_bytes(cols[name], code) for name, code in om.COLUMNS)
    return json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + blob


def _column_bytes(values: list, code: str) -> bytes:
    arr = array(code, values)  # raises OverflowError if an index outgrows uint16
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def build(catalog: Path) -> tuple[list[Offering], dict[str, dict[str, str]]]:
    """Read every cloud, combine GCP, canonicalise names, dedupe and flag."""
    offers: list[Offering] = []
    clouds = sorted(
        p.parent.name for p in catalog.glob("*/vms.csv") if not p.parent.name.startswith("_")
    )
    for cloud in clouds:
        rows = read_rows(catalog / cloud / "vms.csv")
        offers.extend(gcp_offers(rows) if cloud == "gcp" else plain_offers(cloud, rows))
    common = [r["AcceleratorName"] for r in read_rows(catalog / "common" / "accelerators.csv")]
    offers = list(dict.fromkeys(with_canonical(offers, common)))  # source has exact duplicates
    flags = sanity.flag_all(offers)
    offers = [_replace(o, flags=tuple(f)) for o, f in zip(offers, flags, strict=True)]
    return offers, read_sources(catalog, clouds)


def main(argv: list[str]) -> int:
    catalog = Path(argv[1]) if len(argv) > 1 else REPO / "scripts" / "catalog_snapshot"
    if not (catalog / "README.md").is_file():
        print(f"{catalog} is not a catalog folder; pass it as the first argument.")
        return 1
    offers, sources = build(catalog)
    om.DATA_DIR.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the .gz byte-identical across rebuilds of the same data.
    om.OFFERS_FILE.write_bytes(gzip.compress(encode(offers), 9, mtime=0))
    om.SOURCES_FILE.write_text(
        json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    flagged = Counter(f for o in offers for f in o.flags)
    print(
        f"wrote {len(offers)} offers from {len(sources)} clouds to {om.OFFERS_FILE} "
        f"({om.OFFERS_FILE.stat().st_size} bytes); flags: {dict(flagged)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
