"""Fixtures for the Kubernetes test engine (simulated containers; API server, scheduler,
events, RBAC, port-forward are real).

- ``k8s`` (session): builds the engine when missing (``scripts/k8s_engine_build.sh``),
  starts etcd, kube-apiserver (RBAC), kube-scheduler and kwok on 127.0.0.1 with three
  KWOK nodes (``skyk8s-h100``: 8 H100, ``skyk8s-a100``: 4 A100, both tainted
  ``nvidia.com/gpu=present:NoSchedule``; ``skyk8s-cpu``), creates the namespaces, RBAC and
  kwok CRDs, and runs the simulated container runtime (:mod:`runtime`).  Images it
  knows: :data:`IMAGE_KERNEL` (this test venv's Python, with ipykernel) and
  :data:`IMAGE_BARE` (a bare venv without ipykernel or cloudpickle).

Needs root (network namespaces) and Go; without them the tests are skipped, except
under ``CI`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .engine import BUILD_SCRIPT, Engine, engine_dir
from .objects import create_namespaces, create_nodes, grant_user, install_crds

IMAGE_KERNEL = "skyk8s.test/python-kernel:3"
IMAGE_BARE = "skyk8s.test/python-bare:3"


@dataclass
class K8sEngine:
    """The running engine and what tests need to reach it."""

    engine: Engine
    runtime: object  # runtime.PodRuntime (imported lazily with the kubernetes client)
    admin_kubeconfig: Path
    user_kubeconfig: Path
    startup_seconds: float


def _unusable() -> str | None:
    if os.geteuid() != 0:
        return "the Kubernetes test engine needs root (a network namespace per pod)"
    if shutil.which("go") is None and not _built():
        return "the Kubernetes test engine needs Go to build kube-apiserver, etcd and kwok"
    return None


def _built() -> bool:
    bin_dir = engine_dir() / "bin"
    return all((bin_dir / b).exists() for b in ("kube-apiserver", "kube-scheduler", "etcd", "kwok"))


def _bare_image(root: Path) -> Path:
    """A venv with nothing in it: the image that lacks ipykernel and cloudpickle."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(root)], check=True)
    return root / "bin"


@pytest.fixture(scope="session")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[K8sEngine]:
    reason = _unusable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    subprocess.run(["bash", str(BUILD_SCRIPT)], check=True)
    from kubernetes import config

    from .runtime import PodRuntime

    work = tmp_path_factory.mktemp("skyk8s")
    directory = engine_dir()
    started = time.monotonic()
    engine = Engine(directory / "bin", directory / "crds", work)
    runtime: PodRuntime | None = None
    try:
        engine.start()
        api = config.new_client_from_config(str(engine.admin_kubeconfig))
        install_crds(api, engine.crd_dir)
        engine.start_clients()
        create_namespaces(api)
        grant_user(api)
        create_nodes(api, engine.nodes)
        images = {IMAGE_KERNEL: Path(sys.executable).parent, IMAGE_BARE: _bare_image(work / "bare")}
        runtime = PodRuntime(
            api,
            {n.name for n in engine.nodes},
            images,
            directory / "bin" / "skyk8s-relay",
            work / "pods",
        )
        runtime.start()
        yield K8sEngine(
            engine,
            runtime,
            engine.admin_kubeconfig,
            engine.user_kubeconfig,
            time.monotonic() - started,
        )
    finally:
        if runtime is not None:
            runtime.close()
        engine.stop()
