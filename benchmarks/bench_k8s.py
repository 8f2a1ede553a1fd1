"""Benchmark the ``k8s`` infra on the Kubernetes test engine (SIMULATED CONTAINERS: real
kube-apiserver, kube-scheduler, etcd and KWOK; the pod's container is a process in its own
network namespace, see ``tests/k8s/runtime.py``).

Usage (as root; the engine is built by ``scripts/k8s_engine_build.sh`` when missing)::

    .venv-test/bin/python benchmarks/bench_k8s.py [--launches 5] [--cells 300]

1. Pod created -> kernel ready, split: the Secret and pod create calls; create -> Running
   (the real scheduler binds, the simulated runtime starts the container); Running -> the
   pod's bootstrap answered (its Python probed; the image has everything, so no wheels are
   sent); -> the kernel answers a heartbeat through the API server's port-forward. The same
   functions :func:`jupyter_sky.infra.kubernetes.starting.start` calls, timed one by one.
2. A warm trivial cell ``x = 1`` through the same path a ``%%sky`` cell takes
   (:class:`~jupyter_sky.kernel.cluster.LiveCluster` + ``run_cell``), over port-forward on
   ``k8s`` and beside it on ``local`` and — with ``--ssh`` (starts the Slurm/SSH lab with
   ``scripts/lab_up.sh``, as ``bench_slurm.py`` does) — on ``ssh`` to the lab's login host,
   in the same run, interleaved. Median and p90.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def start_engine(work: Path):  # noqa: ANN201 - the tests' own engine objects
    import subprocess

    from kubernetes import config

    from tests.k8s.conftest import IMAGE_KERNEL
    from tests.k8s.engine import BUILD_SCRIPT, Engine, engine_dir
    from tests.k8s.objects import create_namespaces, create_nodes, grant_user, install_crds
    from tests.k8s.runtime import PodRuntime

    subprocess.run(["bash", str(BUILD_SCRIPT)], check=True)
    directory = engine_dir()
    engine = Engine(directory / "bin", directory / "crds", work)
    engine.start()
    api = config.new_client_from_config(str(engine.admin_kubeconfig))
    install_crds(api, engine.crd_dir)
    engine.start_clients()
    create_namespaces(api)
    grant_user(api)
    create_nodes(api, engine.nodes)
    runtime = PodRuntime(api, {n.name for n in engine.nodes}, {IMAGE_KERNEL: Path(sys.executable).parent},
                         directory / "bin" / "skyk8s-relay", work / "pods")  # fmt: skip
    runtime.start()
    return engine, runtime, IMAGE_KERNEL


def launch_split(infra, image: str, n: int) -> list[tuple[float, float, float, float]]:  # noqa: ANN001
    from jupyter_sky.config_sections import Config
    from jupyter_sky.infra.base import Launch
    from jupyter_sky.infra.kubernetes.bootstrap import bootstrap
    from jupyter_sky.infra.kubernetes.config import KubernetesConfig
    from jupyter_sky.infra.kubernetes.kernel import PodKernel
    from jupyter_sky.infra.kubernetes.objects import create, remove
    from jupyter_sky.infra.kubernetes.sizing import node_for
    from jupyter_sky.infra.kubernetes.starting import plan_for
    from jupyter_sky.infra.kubernetes.waiting import wait_running
    from jupyter_sky.spec.task import Resources, Task

    cfg = KubernetesConfig(image=image)
    core = infra._core("skyk8s")
    out = []
    for i in range(n):
        res = Resources(infra="k8s/skyk8s", cpus=1)
        request = Launch(f"bench{i}", Task(resources=res), Config(infras={"k8s": cfg}))
        plan, _ = plan_for(request, cfg, node_for(res, infra._rooms("skyk8s"), "", "skyk8s"))
        key = secrets.token_hex(32)
        t0 = time.perf_counter()
        create(core, "sky-team", plan, key, [])
        t1 = time.perf_counter()
        wait_running(core, plan.name, "sky-team", 60, lambda s: None, lambda: False)
        t2 = time.perf_counter()
        bootstrap(core.api_client.configuration, plan.name, "sky-team", lambda s: None, 60)
        t3 = time.perf_counter()
        kernel = PodKernel(core.api_client, plan.name, "sky-team", key)
        kernel.wait_ready(60, lambda: None)
        t4 = time.perf_counter()
        kernel.close()
        remove(core, "sky-team", plan.labels)
        out.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
    return out


def warm_cells(clusters: dict, cells: int) -> dict[str, list[float]]:  # noqa: ANN001
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    times: dict[str, list[float]] = {name: [] for name in clusters}
    for live in clusters.values():
        for _ in range(20):  # warm-up
            run_cell(live, "x = 1", CellRelay(None))
    order = [name for name in clusters for _ in range(cells)]
    random.shuffle(order)
    for name in order:
        t0 = time.perf_counter()
        outcome = run_cell(clusters[name], "x = 1", CellRelay(None))
        times[name].append(time.perf_counter() - t0)
        assert outcome.status == "ok", outcome.error
    return times


def ssh_place(work: Path):  # noqa: ANN201 - (name, SshInfra, --infra) like the others
    """The Slurm/SSH lab's login host as an ``ssh`` target (``scripts/lab_up.sh``, idempotent)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_slurm import lab_up

    from jupyter_sky.infra.ssh import SshInfra

    info = lab_up()
    alias = info["ssh_alias"]
    return "ssh", SshInfra({"config_file": info["ssh_config"], "hosts": {alias: {}}}), f"ssh/{alias}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--ssh", action="store_true", help="also ssh to the Slurm/SSH lab's login host")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-k8s-"))
    os.environ["JUPYTER_SKY_HOME"] = str(work / "home")
    (work / "home").mkdir()
    t0 = time.perf_counter()
    engine, runtime, image = start_engine(work)
    print(f"engine up in {time.perf_counter() - t0:.1f} s")
    os.environ["KUBECONFIG"] = str(engine.user_kubeconfig)
    from jupyter_sky.config_sections import Config
    from jupyter_sky.infra.base import Launch
    from jupyter_sky.infra.kubernetes import KubernetesInfra
    from jupyter_sky.infra.kubernetes.config import KubernetesConfig
    from jupyter_sky.infra.local import LocalInfra
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.spec.task import Resources, Task

    k8s = KubernetesInfra(KubernetesConfig(image=image))
    local = LocalInfra()
    handles = {}
    try:
        split = launch_split(k8s, image, opts.launches)
        print("\npod created -> kernel ready (s), per launch: create calls, create -> Running, "
              "Running -> bootstrap answered, -> kernel answers")
        for row in split:
            print("  " + "  ".join(f"{v:.3f}" for v in row) + f"  = {sum(row):.3f}")
        for part, name in enumerate(("create calls", "create -> Running", "Running -> bootstrap", "-> kernel")):
            print(f"  median {name}: {statistics.median(r[part] for r in split) * 1000:.1f} ms")
        print(f"  median total: {statistics.median(sum(r) for r in split) * 1000:.1f} ms")
        clusters = {}
        places = [("k8s", k8s, "k8s/skyk8s"), ("local", local, "local")]
        if opts.ssh:
            places.append(ssh_place(work))
        for name, infra, where in places:
            request = Launch(f"warm-{name}", Task(resources=Resources(infra=where)), Config())
            handles[name] = (infra, infra.launch(request))
            live = LiveCluster(f"warm-{name}", infra, handles[name][1])
            live.connect()
            clusters[name] = live
        times = warm_cells(clusters, opts.cells)
        print(f"\nwarm trivial cell `x = 1`, {opts.cells} each, interleaved (ms): median / p90")
        for name, values in times.items():
            print(f"  {name:<6} {statistics.median(values) * 1000:.2f} / {pct(values, 0.9) * 1000:.2f}")
        for live in clusters.values():
            live.detach()
    finally:
        for infra, handle in handles.values():
            infra.down(handle)
        runtime.close()
        engine.stop()


if __name__ == "__main__":
    main()
