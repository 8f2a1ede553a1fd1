"""Benchmark the optimizer side by side with SkyPilot's, on the same catalog files.

Usage::

    python benchmarks/bench_optimizer.py [--runs 200] [--sky-runs 3] [--no-sky]

SkyPilot (0.14.1) runs in its own virtual environment, in a subprocess that stages the
catalog snapshot (``../shared/catalog``) under a scratch ``HOME`` and calls its optimizer
in-process, as ``../shared/recipes/skypilot-offline.md`` describes. Set ``SKY_PYTHON`` to
that environment's python (default ``/tmp/skyvenv/bin/python``); without it the SkyPilot
column is skipped with a message. Plans are compared only over the 19 clouds SkyPilot loads
(our other clouds are marked unusable for the comparison), and every plan that differs is
listed with the CSV rows that explain it.
"""

from __future__ import annotations

import argparse
import csv
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
CATALOG = Path(os.environ.get("SKY_CATALOG", REPO.parent / "shared" / "catalog"))
SKY_PYTHON = Path(os.environ.get("SKY_PYTHON", "/tmp/skyvenv/bin/python"))

#: Catalog folder -> SkyPilot cloud name: the clouds SkyPilot 0.14.1 loads from the snapshot.
# fmt: off
SKY_CLOUDS = {
    "aws": "AWS", "gcp": "GCP", "azure": "Azure", "lambda": "Lambda", "cudo": "Cudo",
    "do": "DO", "fluidstack": "Fluidstack", "hyperbolic": "Hyperbolic", "mithril": "Mithril",
    "nebius": "Nebius", "paperspace": "Paperspace", "primeintellect": "PrimeIntellect",
    "seeweb": "Seeweb", "shadeform": "Shadeform", "vast": "Vast", "verda": "Verda",
    "yotta": "Yotta", "runpod": "RunPod", "oci": "OCI",
}
# fmt: on

# A task: (name, SkyPilot resources, hours, output GB). The same request for both optimizers.
PREP, V100, T4 = {"cpus": "4+"}, {"accelerators": "V100:1"}, {"accelerators": "T4:1"}
_CYCLE = [PREP, V100, T4, {"cpus": "8+"}, {"accelerators": "A100:1"}]
CASES: dict[str, dict[str, Any]] = {
    "one task A100:1": {"tasks": [("t", {"accelerators": "A100:1"}, 1, 0)], "edges": []},
    "one task cpus=4+": {"tasks": [("t", PREP, 1, 0)], "edges": []},
    "3-task chain": {
        "tasks": [("prep", PREP, 1, 50), ("train", V100, 4, 10), ("eval", T4, 1, 0)],
        "edges": [("prep", "train"), ("train", "eval")],
    },
    "20-task chain": {
        "tasks": [(f"t{i:02d}", _CYCLE[i % 5], 1, 20) for i in range(20)],
        "edges": [(f"t{i:02d}", f"t{i + 1:02d}") for i in range(19)],
    },
    "4-node diamond": {
        "tasks": [("prep", PREP, 1, 50), ("train", V100, 4, 10), ("tune", T4, 2, 10)]
        + [("eval", PREP, 1, 0)],
        "edges": [("prep", "train"), ("prep", "tune"), ("train", "eval"), ("tune", "eval")],
    },
}

SKY_RUNNER = r"""
import json, os, shutil, sys, time
spec = json.load(sys.stdin)
home, catalog = spec["home"], spec["catalog"]
os.environ.update(HOME=home, SKY_RUNTIME_DIR=home, SKYPILOT_DISABLE_USAGE_COLLECTION="1")
base = os.path.join(home, ".sky", "catalogs", "v8")
for folder in list(spec["clouds"]) + ["common"]:  # a CSV without .meta md5 is never refetched
    os.makedirs(os.path.join(base, folder), exist_ok=True)
    for name in os.listdir(os.path.join(catalog, folder)):
        if name.endswith(".csv"):
            shutil.copy(os.path.join(catalog, folder, name), os.path.join(base, folder, name))
start = time.perf_counter()
import sky
from sky.utils import annotations
annotations.is_on_api_server = False
from sky import check, global_user_state, optimizer
from sky.clouds import cloud as cloud_lib
global_user_state.set_enabled_clouds(list(spec["clouds"].values()),
                                     cloud_lib.CloudCapability.COMPUTE, "default")
global_user_state.set_allowed_clouds(check._get_workspace_allowed_clouds("default"), "default")
out = {"version": sky.__version__, "import_s": time.perf_counter() - start, "cases": {}}

def build(case):
    tasks = {}
    with sky.Dag() as dag:
        for name, res, hours, out_gb in case["tasks"]:
            t = sky.Task(name=name, run="true")
            t.set_resources(sky.Resources(**res))
            t.set_time_estimator(lambda r, h=hours: h * 3600)
            if out_gb:
                t.set_outputs("s3://bench/" + name, estimated_size_gigabytes=out_gb)
            tasks[name] = t
        for u, v in case["edges"]:
            dag.add_edge(tasks[u], tasks[v])
    return dag, tasks

def run(case):
    dag, tasks = build(case)  # a fresh Dag for every call
    start = time.perf_counter()
    optimizer.Optimizer.optimize(dag, quiet=True)
    took = time.perf_counter() - start
    plan = {}
    for name, t in tasks.items():
        r = t.best_resources
        plan[name] = {"cloud": str(r.cloud).lower(), "region": r.region, "zone": r.zone,
                      "instance": r.instance_type, "price": r.get_cost(3600),
                      "accelerators": r.accelerators}
    return took, plan

first = True
for label, case in spec["cases"].items():
    if first:
        out["first_call_s"], _ = run(case)
        first = False
    times = []
    for _ in range(spec["runs"]):
        took, plan = run(case)
        times.append(took)
    out["cases"][label] = {"times": times, "plan": plan}
print(json.dumps(out))
"""


def run_sky(runs: int, scratch: Path) -> dict[str, Any] | None:
    """Run SkyPilot's optimizer on every case in its own venv; None if it is not installed."""
    if not SKY_PYTHON.exists():
        print(
            f"SkyPilot column skipped: {SKY_PYTHON} not found (python -m venv /tmp/skyvenv && "
            "/tmp/skyvenv/bin/pip install skypilot==0.14.1, or set SKY_PYTHON)."
        )
        return None
    spec = dict(home=str(scratch), catalog=str(CATALOG), clouds=SKY_CLOUDS, runs=runs, cases=CASES)
    cmd = [str(SKY_PYTHON), "-c", SKY_RUNNER]
    proc = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True)
    if proc.returncode != 0:
        print("SkyPilot run failed:\n" + proc.stderr[-3000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- our side ----------------------------------------------------------------------------


def _resources(sky_res: dict[str, str]) -> Any:
    from jupyter_sky.spec.task import Resources

    if "accelerators" in sky_res:
        name, _, count = sky_res["accelerators"].partition(":")
        return Resources(accelerator=name, accelerator_count=int(count or 1))
    cpus = sky_res["cpus"]
    return Resources(cpus=float(cpus.rstrip("+")), cpus_plus=cpus.endswith("+"))


def our_status() -> dict[str, str]:
    """Clouds SkyPilot loads are usable; every other infra is out of this comparison."""
    from jupyter_sky.catalog.offers import clouds

    status = {c: "not loaded by SkyPilot" for c in clouds()}
    return {**status, **dict.fromkeys(SKY_CLOUDS, "")}


def our_plan(case: dict[str, Any], status: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Plan ``case`` with our optimizer; returns task -> placement summary."""
    from jupyter_sky.infra.readiness import egress
    from jupyter_sky.optimizer import DagTask, InfraFacts, plan_dag, rank

    rates = InfraFacts(egress=egress())  # egress as the infra classes price it; status decides the rest
    if not case["edges"]:
        name, res, hours, _ = case["tasks"][0]
        chosen = rank(_resources(res), status=status, hours=hours, facts=rates).chosen  # 50 rows
        return {name: _summary(chosen)}
    tasks = {n: DagTask(_resources(r), hours=h, output_gb=o) for n, r, h, o in case["tasks"]}
    plan = plan_dag(tasks, case["edges"], status=status, facts=rates)
    return {name: _summary(p) for name, p in plan.placements.items()}


def _summary(p: Any) -> dict[str, Any]:
    o = p.offering
    acc = {o.accelerator: o.accelerator_count} if o.accelerator else None
    place = dict(cloud=o.infra, region=o.region, zone=o.zone, instance=o.instance_type)
    return {**place, "price": p.price_per_hour, "accelerators": acc}


def timed(func: Any, runs: int) -> list[float]:
    """Seconds per call of ``func()`` over ``runs`` calls (after one warm-up)."""
    func()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def cold_catalog(runs: int) -> list[float]:
    """Seconds for ``import`` + ``load_offers()`` in fresh interpreters."""
    code = (
        "import time; t = time.perf_counter()\nfrom jupyter_sky.catalog.offers import "
        "load_offers\nload_offers(); print(time.perf_counter() - t)"
    )
    out = []
    for _ in range(runs):
        res = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        )
        out.append(float(res.stdout))
    return out


def gpus_listing() -> list[Any]:
    """The data behind ``%sky gpus A100``: every A100 offer, cheapest per GPU first."""
    from jupyter_sky.catalog.offers import offers_for

    return sorted(offers_for("A100", None), key=lambda o: o.unit_price() or 0.0)


# --- comparison --------------------------------------------------------------------------

# fmt: off
_SHOWN = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price",
          "SpotPrice", "Region", "AvailabilityZone")
# fmt: on


def csv_rows(p: dict[str, Any]) -> list[str]:
    """Return the snapshot's CSV rows behind placement ``p`` (GCP: host row and GPU row)."""
    path = CATALOG / p["cloud"] / "vms.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("Region") == p["region"]]
    zone = p.get("zone")
    keep = [
        r
        for r in rows
        if r["InstanceType"] == p["instance"]
        and (not zone or r.get("AvailabilityZone") in (zone, None, ""))
    ][:1]
    for name, count in (p.get("accelerators") or {}).items():  # GCP prices GPUs on their own row
        keep += [
            r
            for r in rows
            if not r["InstanceType"]
            and r["AcceleratorName"] == name
            and float(r["AcceleratorCount"] or 0) == float(count)
            and (not zone or r.get("AvailabilityZone") == zone)
        ][:1]
    return [", ".join(f"{k}={r[k]}" for k in _SHOWN if r.get(k)) for r in keep]


def why(sky: dict[str, Any], ours: dict[str, Any]) -> str:
    """Why SkyPilot's pick differs from ours, from our view of SkyPilot's catalog row."""
    from jupyter_sky.catalog.offers import load_offers

    rows = [
        o
        for o in load_offers()
        if o.infra == sky["cloud"]
        and o.region == sky["region"]
        and o.instance_type == sky["instance"]
    ]
    if rows and all(not o.rankable() for o in rows):
        return f"SkyPilot's row is flagged here ({rows[0].flag_note}), so it is never ranked"
    if sky["price"] is not None and ours["price"] is not None:
        if abs(sky["price"] - ours["price"]) < 1e-9:
            return "same price: a tie, broken differently"
        if ours["price"] < sky["price"]:
            return "ours is cheaper per hour"
    return "SkyPilot's is cheaper per hour or saves egress; see the plan costs"


def _where(p: dict[str, Any]) -> str:
    place = p["region"] + (f"/{p['zone']}" if p.get("zone") else "")
    price = "?" if p["price"] is None else f"${p['price']:.4g}/h"
    return f"{p['cloud']} {p['instance']} in {place} at {price}"


def differences(sky: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Markdown bullets for the tasks whose placement differs, grouped by the pair of picks."""
    groups: dict[tuple[str, str], list[str]] = {}
    for task, s in sky.items():
        o = ours[task]
        if (s["cloud"], s["instance"], s["region"]) != (o["cloud"], o["instance"], o["region"]):
            groups.setdefault((_where(s), _where(o)), []).append(task)
    lines = []
    for (s_at, o_at), tasks in groups.items():
        s, o = sky[tasks[0]], ours[tasks[0]]
        names = ", ".join(f"`{t}`" for t in tasks)
        lines.append(f"  - {names}: SkyPilot {s_at}; ours {o_at} — {why(s, o)}.")
        lines += [f"    - SkyPilot CSV `{s['cloud']}/vms.csv`: `{r}`" for r in csv_rows(s)]
        lines += [f"    - ours CSV `{o['cloud']}/vms.csv`: `{r}`" for r in csv_rows(o)]
    return lines


def plan_cost(case: dict[str, Any], plan: dict[str, dict[str, Any]]) -> float:
    """A plan's cost under one model: $/h x hours plus egress between different clouds."""
    from jupyter_sky.infra.readiness import egress

    rates = egress()
    total = sum((plan[n]["price"] or 0.0) * h for n, _, h, _ in case["tasks"])
    out = {n: gb for n, _, _, gb in case["tasks"]}
    for u, v in case["edges"]:
        if plan[u]["cloud"] != plan[v]["cloud"]:
            total += out[u] * rates.get(plan[u]["cloud"], 0.0)
    return total


def _ms(values: list[float]) -> str:
    return f"{min(values) * 1e3:,.2f} / {statistics.median(values) * 1e3:,.2f}"


def measure(args: argparse.Namespace, sky: dict[str, Any] | None) -> tuple[list, list[str]]:
    """Time our optimizer on every case; compare its plans with SkyPilot's."""
    status = our_status()
    rows, diffs = [], []
    for label, case in CASES.items():
        runs = args.runs if not case["edges"] else max(10, args.runs // 10)
        ours_t = timed(lambda c=case: our_plan(c, status), runs)
        plan = our_plan(case, status)
        sky_case = sky["cases"][label] if sky else None
        rows.append((label, ours_t, sky_case["times"] if sky_case else None))
        if sky_case:
            lines = differences(sky_case["plan"], plan)
            costs = (
                f"plan cost ours ${plan_cost(case, plan):,.2f}, SkyPilot "
                f"${plan_cost(case, sky_case['plan']):,.2f}"
            )
            diffs.append(f"- **{label}** ({costs}): " + ("differs" if lines else "same plan"))
            diffs += lines
    return rows, diffs


def report(
    rows: list, sky: dict[str, Any] | None, args: argparse.Namespace, first_dag: float
) -> None:
    """Print the timing table (markdown) and, with SkyPilot, the plan differences."""
    version = sky["version"] if sky else "-"
    print(f"catalog: {CATALOG}; SkyPilot {version}, {args.sky_runs} runs per case")
    print("\n| case | ours min / median (ms) | SkyPilot min / median (ms) | speed-up (median) |")
    print("|---|---:|---:|---:|")
    for label, ours_t, sky_t in rows:
        ratio = f"{statistics.median(sky_t) / statistics.median(ours_t):,.0f}×" if sky_t else "–"
        print(f"| {label} | {_ms(ours_t)} | {_ms(sky_t) if sky_t else '–'} | {ratio} |")
    extra = [
        ("catalog cold load (fresh process)", _ms(cold_catalog(args.cold_runs)), "–"),
        ("`%sky gpus A100` data (offers_for, sorted)", _ms(timed(gpus_listing, 200)), "–"),
        ("first DAG plans (import networkx + scipy)", f"{first_dag * 1e3:,.0f}", "–"),
    ]
    if sky:
        extra += [
            ("SkyPilot `import sky` + setup", "–", f"{sky['import_s'] * 1e3:,.0f}"),
            ("SkyPilot first optimize (loads catalog)", "–", f"{sky['first_call_s'] * 1e3:,.0f}"),
        ]
    for label, ours, theirs in extra:
        print(f"| {label} | {ours} | {theirs} | – |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed calls per task (ours)")
    parser.add_argument("--sky-runs", type=int, default=3, help="timed calls per case (SkyPilot)")
    parser.add_argument("--cold-runs", type=int, default=10, help="fresh processes for cold load")
    parser.add_argument("--no-sky", action="store_true", help="skip the SkyPilot column")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sky-bench-") as scratch:
        sky = None if args.no_sky else run_sky(args.sky_runs, Path(scratch))
    start = time.perf_counter()
    status = our_status()
    our_plan(CASES["3-task chain"], status)  # imports networkx
    our_plan(CASES["4-node diamond"], status)  # imports scipy
    first_dag = time.perf_counter() - start
    rows, diffs = measure(args, sky)
    report(rows, sky, args, first_dag)
    if diffs:
        print("\nPlans that differ from SkyPilot's (its clouds only):\n")
        print("\n".join(diffs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
