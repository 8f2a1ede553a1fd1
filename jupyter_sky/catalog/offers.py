"""Priced offers from the shipped catalog: one :class:`~jupyter_sky.offering.Offering` per
purchasable placement.

The data lives in ``data/offers.bin.gz``, written by ``scripts/build_catalog.py`` from a
SkyPilot-layout catalog folder. Inside the gzip: one JSON header line (string table, flag and
component tables, source dates) and then one little-endian binary column per field (uint16
string indexes, float64 numbers with NaN for missing). A cold load is one inflate, a small
``json.loads`` and ``array.frombytes`` per column: the same data as JSON took ~30 ms to parse,
the columns take ~1 ms.

Accelerator names are canonicalised case-insensitively (``a100`` = ``A100``). Vendor spellings
that carry only packaging words (``A100_80G_PCIE``, ``H100-80G-SXM5``, ``Tesla-V100``) map to the
SkyPilot name (``A100-80GB``, ``H100-SXM``, ``V100``). TPU slices are stored as a family plus a
size: ``tpu-v5p-8`` is accelerator ``tpu-v5p`` with ``accelerator_count`` 8, and asking for
``tpu-v5p-8`` (count 1) or ``tpu-v5p`` (count 8) finds the same offers.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import repeat, takewhile
from pathlib import Path
from typing import cast

from jupyter_sky.offering import Offering

DATA_DIR = Path(__file__).with_name("data")
OFFERS_FILE = DATA_DIR / "offers.bin.gz"
SOURCES_FILE = DATA_DIR / "sources.json"
FORMAT_VERSION = 1

# --- accelerator names ---------------------------------------------------------------------

_TPU = re.compile(r"^(tpu-v[0-9a-z]+)-(\d+)$")
_SPLIT = re.compile(r"[\s_\-()/]+")
_MEMORY = re.compile(r"^(\d+)g(?:b)?$")
_SXM = re.compile(r"^sxm\d?$")
# Packaging words: they say how a card is mounted or sold, not which accelerator it is.
_PACKAGING = frozenset({"pcie", "baremetal", "nvlink", "high", "perf", "low", "ram", "tesla"})


def split_tpu(name: str) -> tuple[str, int] | None:
    """Split a TPU slice name such as ``tpu-v5p-8`` into (``tpu-v5p``, 8); None if not a slice."""
    match = _TPU.match(name.strip().lower())
    return (match.group(1), int(match.group(2))) if match else None


def _tokens(name: str) -> list[str]:
    out: list[str] = []
    for token in _SPLIT.split(name.strip().lower()):
        if not token or (token in _PACKAGING) or (token == "nvidia" and not out):
            continue
        mem = _MEMORY.match(token)
        out.append(f"{mem.group(1)}gb" if mem else "sxm" if _SXM.match(token) else token)
    return out


def name_keys(name: str) -> Iterator[str]:
    """Yield lookup keys for ``name``, most specific first.

    The first key keeps every token; later ones drop a trailing total-memory token
    (``A100-80GB-160GB``) and then every memory token (``H100-80G-SXM5`` -> ``H100-SXM``),
    because vendors add memory sizes that the canonical name leaves implicit.
    """
    tokens = _tokens(name)
    yield "".join(tokens)
    mem = [i for i, t in enumerate(tokens) if _MEMORY.match(t)]
    if len(mem) >= 2:
        yield "".join(t for i, t in enumerate(tokens) if i != mem[-1])
    if mem:
        yield "".join(t for i, t in enumerate(tokens) if i not in mem)


def resolve_name(name: str, table: dict[str, str]) -> str | None:
    """Return ``table``'s canonical name for the first key of ``name`` it holds, else None."""
    for key in name_keys(name):
        if key in table:
            return table[key]
    return None


@lru_cache(maxsize=1)
def _name_table() -> dict[str, str]:
    names = {o.accelerator for o in _offers() if o.accelerator}
    return {next(name_keys(n)): n for n in sorted(names)}


def canonical_accelerator_name(name: str) -> tuple[str, float] | None:
    """Return (canonical accelerator, units per requested one) for a user-typed name.

    Parameters
    ----------
    name : str
        ``a100``, ``A100-80GB``, ``h100-sxm``, ``tpu-v5p`` or a slice such as ``tpu-v5p-8``.

    Returns
    -------
    tuple of (str, float) or None
        ``('A100', 1.0)``, or ``('tpu-v5p', 8.0)`` for a slice name; None if no offer has it.
    """
    tpu = split_tpu(name)
    base, units = (tpu[0], float(tpu[1])) if tpu else (name, 1.0)
    found = resolve_name(base, _name_table())
    return (found, units) if found else None


# --- loading ---------------------------------------------------------------------------------

# Column layout of the data file, in file order: (field, array typecode). Strings and the flag /
# component tables are uint16 indexes; numbers are float64 with NaN for "missing".
STRING_FIELDS = ("infra", "region", "zone", "instance_type", "accelerator")
NUMBER_FIELDS = ("accelerator_count", "vcpus", "memory_gb", "price", "spot_price")
COLUMNS = (
    tuple((f, "H") for f in STRING_FIELDS)
    + tuple((f, "d") for f in NUMBER_FIELDS)
    + (("flags", "H"), ("components", "H"))
)


def read_columns(blob: memoryview, rows: int) -> dict[str, list]:
    """Split the little-endian column block of the data file into Python lists."""
    cols: dict[str, list] = {}
    pos = 0
    for name, code in COLUMNS:
        arr = array(code)
        size = rows * arr.itemsize
        arr.frombytes(blob[pos : pos + size])
        if sys.byteorder == "big":
            arr.byteswap()
        cols[name] = arr.tolist()
        pos += size
    return cols


def _plain_twin(cls: type) -> type:
    """A non-frozen dataclass with ``cls``'s fields, hence the same slot layout."""
    namespace = {"__annotations__": dict(cls.__annotations__), "__module__": cls.__module__}
    return dataclass(slots=True, eq=False, repr=False)(type("_OfferRow", (), namespace))


_OfferRow = _plain_twin(Offering)
# Offering's fields before ``source_date``, each a column of the data file; the rows are built
# positionally from them, then ``source_date``, ``flags``, ``components`` and ``note``.
_FIELD_ORDER = tuple(takewhile(lambda name: name != "source_date", Offering.__dataclass_fields__))


def _decode(header: dict, blob: memoryview) -> list[Offering]:
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{OFFERS_FILE.name} has format {header.get('format')}, "
            f"expected {FORMAT_VERSION}; rerun scripts/build_catalog.py"
        )
    col = read_columns(blob, header["rows"])
    s = header["strings"]  # s[0] is None: index 0 stands for a missing string
    for name in STRING_FIELDS:
        col[name] = [s[i] for i in col[name]]
    for name in NUMBER_FIELDS:
        col[name] = [None if x != x else x for x in col[name]]  # NaN -> None
    dates = {c: date.fromisoformat(d) for c, d in header["source_dates"].items()}
    flagsets = [tuple(f) for f in header["flagsets"]]
    compsets = [tuple((s[a], b, c) for a, b, c in cs) for cs in header["componentsets"]]
    rows = list(
        map(
            _OfferRow,
            *(col[f] for f in _FIELD_ORDER),
            [dates[c] for c in col["infra"]],
            [flagsets[i] for i in col["flags"]],
            [compsets[i] for i in col["components"]],
            repeat(""),  # note: live offerings only
        )
    )
    # A frozen dataclass's __init__ calls object.__setattr__ per field, which made the cold
    # load ~5x slower; rows built by the plain twin become Offerings (identical slots) instead.
    for row in rows:
        row.__class__ = Offering
    return cast(list[Offering], rows)


@lru_cache(maxsize=1)
def _offers() -> tuple[Offering, ...]:
    raw = gzip.decompress(OFFERS_FILE.read_bytes())
    split = raw.index(b"\n")  # one JSON header line, then the binary columns
    offers = _decode(json.loads(raw[:split]), memoryview(raw)[split + 1 :])
    # Prices fetched by `jupyter-sky catalog refresh` replace the snapshot's (0.4 ms without).
    from jupyter_sky.catalog.refresh.overlay import apply

    return tuple(apply(offers))


def load_offers() -> list[Offering]:
    """Return every offer of the shipped catalog, flagged ones included (cached after first call).

    Returns
    -------
    list of Offering
        A fresh list each call; the Offering objects are shared and immutable.
    """
    return list(_offers())


@lru_cache(maxsize=1)
def _index() -> dict[str | None, tuple[Offering, ...]]:
    groups: dict[str | None, list[Offering]] = {}
    for offer in _offers():
        groups.setdefault(offer.accelerator, []).append(offer)
    return {acc: tuple(group) for acc, group in groups.items()}


def offers_for(
    accelerator: str | None,
    count: float | None,
    cloud: str | None = None,
    *,
    spot: bool = False,
    include_flagged: bool = False,
) -> list[Offering]:
    """Return the offers with exactly ``count`` of ``accelerator``.

    Parameters
    ----------
    accelerator : str or None
        Any spelling :func:`canonical_accelerator_name` accepts; None for CPU-only offers.
    count : float or None
        Accelerators per instance (fractions allowed); None for any count. For a TPU slice
        name the count multiplies the slice size (``tpu-v5p-8`` with 1 or None means 8
        ``tpu-v5p`` units).
    cloud : str or None
        Only this cloud (case-insensitive); None for all.
    spot : bool
        Keep offers whose spot price may be ranked, instead of their on-demand price.
    include_flagged : bool
        Return every matching offer, priced or not, flagged or not (to show what was skipped
        and why, via :attr:`Offering.flag_note`).

    Returns
    -------
    list of Offering
        In catalog order; empty when the name is unknown.
    """
    key: str | None = None
    units = 1.0
    if accelerator is not None:
        found = canonical_accelerator_name(accelerator)
        if found is None:
            return []
        key, units = found
    if count is None and accelerator is not None and split_tpu(accelerator):
        count = 1  # a slice name already says how big it is
    want = None if count is None else count * units
    cloud_l = cloud.lower() if cloud else None
    return [
        o
        for o in _index().get(key, ())
        if (want is None or abs(o.accelerator_count - want) < 1e-9)
        and (cloud_l is None or o.infra == cloud_l)
        and (include_flagged or o.rankable(spot))
    ]


# --- provenance ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def sources() -> dict[str, dict[str, str]]:
    """Return per-cloud provenance: source file, commit, catalog version and snapshot date.

    Returns
    -------
    dict
        ``{cloud: {"source": ..., "commit": ..., "version": "v8", "snapshot_date": ...}}``.
    """
    doc: dict[str, dict[str, str]] = json.loads(SOURCES_FILE.read_text(encoding="utf-8"))
    return doc


def source_dates() -> dict[str, date]:
    """Return the snapshot date of each cloud's prices."""
    return {c: date.fromisoformat(info["snapshot_date"]) for c, info in sources().items()}


def source_ages(today: date | None = None) -> dict[str, int]:
    """Return how many days old each cloud's prices are on ``today`` (default: today).

    Parameters
    ----------
    today : datetime.date or None
        The reference day; None means the local date now.

    Returns
    -------
    dict of str to int
        Days since the snapshot, per cloud (never negative).
    """
    ref = today or date.today()
    return {c: max(0, (ref - d).days) for c, d in source_dates().items()}


def clouds(offers: Iterable[Offering] | None = None) -> list[str]:
    """Return the sorted cloud names that have at least one offer."""
    return sorted({o.infra for o in (offers if offers is not None else _offers())})
