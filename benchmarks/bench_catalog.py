"""Benchmark the shipped price catalog: cold load in a fresh process, warm ``offers_for``.

Usage::

    python benchmarks/bench_catalog.py [--runs 10]

Prints a small table. "cold load" is timed inside a fresh interpreter, from before
``import jupyter_sky.catalog.offers`` to after ``load_offers()`` returns (target: 150 ms);
"process wall" adds interpreter start-up and exit, and "bare python" is that overhead alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COLD = (
    "import time; t = time.perf_counter()\n"
    "from jupyter_sky.catalog.offers import load_offers\n"
    "t1 = time.perf_counter(); n = len(load_offers()); t2 = time.perf_counter()\n"
    "print(t1 - t, t2 - t1, t2 - t, n)"
)


def cold_runs(runs: int) -> dict[str, list[float]]:
    """Time ``runs`` fresh processes; returns seconds per phase."""
    out: dict[str, list[float]] = {"import": [], "load": [], "cold": [], "wall": [], "bare": []}
    for _ in range(runs):
        start = time.perf_counter()
        fields = subprocess.run(
            [sys.executable, "-c", COLD], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
        out["wall"].append(time.perf_counter() - start)
        for key, value in zip(("import", "load", "cold"), fields[:3], strict=True):
            out[key].append(float(value))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out["bare"].append(time.perf_counter() - start)
    return out


def warm_offers_for(repeat: int = 200) -> list[float]:
    """Seconds per ``offers_for('A100', 1)`` call once the catalog is loaded."""
    from jupyter_sky.catalog.offers import offers_for

    offers_for("A100", 1)  # load and index once
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        offers_for("A100", 1)
        times.append(time.perf_counter() - start)
    return times


def row(label: str, values: list[float], unit: float, suffix: str) -> str:
    """One table line: min and median of ``values`` scaled by ``unit``."""
    lo, med = min(values) * unit, statistics.median(values) * unit
    return f"| {label:<44} | {lo:>9.2f} | {med:>9.2f} | {suffix:<4} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes to time")
    args = parser.parse_args()
    cold = cold_runs(args.runs)
    warm = warm_offers_for()
    from jupyter_sky.catalog.offers import OFFERS_FILE, load_offers, offers_for

    print(
        f"catalog: {len(load_offers())} offers, {OFFERS_FILE.stat().st_size} bytes on disk; "
        f"offers_for('A100', 1) -> {len(offers_for('A100', 1))} offers; {args.runs} runs"
    )
    print(f"| {'measure':<44} | {'min':>9} | {'median':>9} | unit |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 11}|------|")
    print(row("cold load: import + load_offers()", cold["cold"], 1e3, "ms"))
    print(row("  of which import jupyter_sky.catalog.offers", cold["import"], 1e3, "ms"))
    print(row("  of which load_offers()", cold["load"], 1e3, "ms"))
    print(row("process wall (python -c, incl. start-up)", cold["wall"], 1e3, "ms"))
    print(row("bare python start-up (python -c pass)", cold["bare"], 1e3, "ms"))
    print(row("warm offers_for('A100', 1)", warm, 1e6, "us"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
