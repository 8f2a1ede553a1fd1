"""Generate ``jupyter_sky/catalog/accelerators.txt`` from the catalog snapshot.

Usage::

    python scripts/build_accelerator_names.py [CATALOG_DIR]

``CATALOG_DIR`` defaults to ``../shared/catalog`` next to the repository. The script collects
every ``AcceleratorName`` from ``*/vms.csv`` and ``common/accelerators.csv`` and writes one name
per line, sorted case-insensitively. The committed text file is what the package reads, so a
fresh clone without the catalog still works; rerun this script when the snapshot changes.

Some clouds spell one accelerator with different letter case (``L40S`` and ``L40s``). Names are
looked up case-insensitively, so only one spelling per name is kept: the one in
``common/accelerators.csv`` if it has one, else the spelling used by the most rows.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "jupyter_sky" / "catalog" / "accelerators.txt"


def read_names(path: Path) -> Counter[str]:
    """Count the non-empty ``AcceleratorName`` values of one CSV file."""
    counts: Counter[str] = Counter()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "AcceleratorName" not in (reader.fieldnames or []):
            return counts
        for row in reader:
            name = (row.get("AcceleratorName") or "").strip()
            if name:
                counts[name] += 1
    return counts


def pick_spellings(common: Counter[str], rows: Counter[str]) -> list[str]:
    """Keep one spelling per lower-cased name, preferring the common list, then the most rows."""
    chosen: dict[str, str] = {}
    for name in sorted(set(common) | set(rows)):
        key = name.lower()
        best = chosen.get(key)
        if best is None or (name in common, rows[name]) > (best in common, rows[best]):
            chosen[key] = name
    return sorted(chosen.values(), key=lambda n: (n.lower(), n))


def main(argv: list[str]) -> int:
    catalog = Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared" / "catalog"
    common_csv = catalog / "common" / "accelerators.csv"
    if not common_csv.is_file():
        print(f"{common_csv} not found; pass the catalog folder as the first argument.")
        return 1
    rows: Counter[str] = Counter()
    for vms in sorted(catalog.glob("*/vms.csv")):
        if not vms.parent.name.startswith("_"):
            rows.update(read_names(vms))
    names = pick_spellings(read_names(common_csv), rows)
    OUT.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    print(f"wrote {len(names)} names to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
