"""Plan the SkyPilot compat corpus (261 task files) in one process, beside SkyPilot's optimizer.

Usage::

    python benchmarks/bench_compat.py [--runs 3] [--no-sky]

Each file is read and planned as written (``jupyter_sky.notebook.planfile.plan_file``), the
same as ``%sky plan -f FILE``; the time per file is the median of ``--runs`` warm calls. The
SkyPilot column loads the same file (``dag_utils.load_chain_dag_from_yaml``) and runs
``Optimizer.optimize`` on it in its own virtual environment, on the same catalog snapshot,
with no credentials, as ``../shared/recipes/skypilot-offline.md`` describes. Set
``SKY_PYTHON`` to that environment's python (default
``~/.cache/jupyter-sky-bench/skyvenv/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
CORPUS = REPO / "tests" / "compat" / "skypilot-yamls"
SKY_PYTHON = Path(
    os.environ.get("SKY_PYTHON", Path.home() / ".cache/jupyter-sky-bench/skyvenv/bin/python")
)

SKY_RUNNER = r"""
import json, os, shutil, sys, time
spec = json.load(sys.stdin)
home, catalog = spec["home"], spec["catalog"]
os.environ.update(HOME=home, SKY_RUNTIME_DIR=home, SKYPILOT_DISABLE_USAGE_COLLECTION="1")
base = os.path.join(home, ".sky", "catalogs", "v8")
for folder in list(spec["clouds"]) + ["common"]:
    os.makedirs(os.path.join(base, folder), exist_ok=True)
    for name in os.listdir(os.path.join(catalog, folder)):
        if name.endswith(".csv"):
            shutil.copy(os.path.join(catalog, folder, name), os.path.join(base, folder, name))
import sky
from sky.utils import annotations, dag_utils
annotations.is_on_api_server = False
from sky import global_user_state, check, optimizer
from sky.clouds import cloud as cloud_lib
global_user_state.set_enabled_clouds(list(spec["clouds"].values()),
                                     cloud_lib.CloudCapability.COMPUTE, "default")
global_user_state.set_allowed_clouds(check._get_workspace_allowed_clouds("default"), "default")
os.chdir(spec["corpus"])
out = {"version": sky.__version__, "files": {}}
for path in spec["files"]:
    times, error, where = [], "", ""
    for _ in range(spec["runs"]):
        start = time.perf_counter()
        try:
            dag = dag_utils.load_chain_dag_from_yaml(path)
            optimizer.Optimizer.optimize(dag, quiet=True)
            r = dag.tasks[0].best_resources
            where = f"{str(r.cloud).lower()} {r.instance_type} {r.region}"
        except BaseException as exc:  # SkyPilot raises many kinds; record and go on
            error = type(exc).__name__ + ": " + str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        times.append(time.perf_counter() - start)
    out["files"][path] = {"times": times, "error": error, "where": where}
print(json.dumps(out))
"""


def ours(files: list[Path], runs: int) -> dict[str, dict[str, Any]]:
    """Plan every file ``runs`` times in this process; times and outcome per file."""
    from jupyter_sky.errors import SkyError
    from jupyter_sky.notebook.planfile import plan_file

    out: dict[str, dict[str, Any]] = {}
    for path in files:
        times, error, where = [], "", ""
        for _ in range(runs):
            start = time.perf_counter()
            try:
                plan = plan_file(str(path), CORPUS)
                rows = getattr(plan, "rows", ())
                where = rows[0].where() if rows else plan.explain()[:80]
            except SkyError as exc:
                error = str(exc)[:120]
            times.append(time.perf_counter() - start)
        out[str(path.relative_to(CORPUS))] = {"times": times, "error": error, "where": where}
    return out


def run_sky(files: list[Path], runs: int, scratch: Path) -> dict[str, Any] | None:
    from bench_optimizer import CATALOG, SKY_CLOUDS

    if not SKY_PYTHON.exists():
        print(
            f"SkyPilot column skipped: {SKY_PYTHON} not found (pip install skypilot==0.14.1 there)."
        )
        return None
    spec = dict(home=str(scratch), catalog=str(CATALOG), clouds=SKY_CLOUDS, runs=runs,
                corpus=str(CORPUS), files=[str(p.relative_to(CORPUS)) for p in files])  # fmt: skip
    proc = subprocess.run([str(SKY_PYTHON), "-c", SKY_RUNNER], input=json.dumps(spec),
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        print("SkyPilot run failed:\n" + proc.stderr[-3000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _stats(results: dict[str, dict[str, Any]]) -> tuple[float, float, float, int]:
    per_file = [statistics.median(r["times"]) * 1000 for r in results.values()]
    ok = sum(1 for r in results.values() if not r["error"])
    return statistics.median(per_file), max(per_file), sum(per_file) / 1000, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sky", action="store_true")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus {CORPUS} is absent; nothing to measure")
        return 1
    files = sorted(CORPUS.rglob("*.y*ml"))
    start = time.perf_counter()
    mine = ours(files[:1], 1)
    first = time.perf_counter() - start
    mine = ours(files, args.runs)
    sky = None
    if not args.no_sky:
        with tempfile.TemporaryDirectory() as scratch:
            sky = run_sky(files, args.runs, Path(scratch))
    rows = [("", "files planned", "median ms/file", "max ms/file", "total s")]
    med, top, total, ok = _stats(mine)
    rows.append(("jupyter-sky", f"{ok}/{len(files)}", f"{med:.2f}", f"{top:.1f}", f"{total:.2f}"))
    if sky is not None:
        med, top, total, ok = _stats(sky["files"])
        rows.append((f"SkyPilot {sky['version']}", f"{ok}/{len(files)}", f"{med:.2f}", f"{top:.1f}",
                     f"{total:.2f}"))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        f"(jupyter-sky first file, cold: {first * 1000:.0f} ms; median of {args.runs} warm runs per file)"
    )
    if sky is not None:
        errors: dict[str, int] = {}
        for r in sky["files"].values():
            if r["error"]:
                errors[r["error"].split(":")[0]] = errors.get(r["error"].split(":")[0], 0) + 1
        print("SkyPilot errors by type:", ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
