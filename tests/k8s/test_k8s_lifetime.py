"""A k8s cluster's lifetime on the engine (SIMULATED CONTAINERS: API server, scheduler,
events, RBAC and port-forward are real; containers are processes in network namespaces).

The autostop watchdog inside the pod ends the kernel, so the pod ends itself; an evicted pod
is reported as evicted; orphans are found by label and ended; down leaves nothing labelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from jupyter_sky.config_sections import Config
from jupyter_sky.infra.base import Launch, State
from jupyter_sky.infra.kubernetes import KubernetesInfra
from jupyter_sky.infra.kubernetes.config import KubernetesConfig
from jupyter_sky.spec.task import Resources, Task

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import wait_for

NS = USER_NAMESPACE


@pytest.fixture
def infra(k8s: K8sEngine, monkeypatch: pytest.MonkeyPatch) -> KubernetesInfra:
    monkeypatch.setenv("KUBECONFIG", str(k8s.user_kubeconfig))
    monkeypatch.setenv("JUPYTER_SKY_WATCHDOG_INTERVAL", "0.3")  # travels to the pod's kernel
    return KubernetesInfra()


@pytest.fixture(scope="module")
def admin(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def launch(cluster: str, autostop: float | None = None) -> Launch:
    task = Task(resources=Resources(infra="k8s/skyk8s", cpus=1), autostop_minutes=autostop)
    config = Config(infras={"k8s": KubernetesConfig(image=IMAGE_KERNEL)})
    return Launch(cluster, task, config)


def labelled(core: client.CoreV1Api, cluster: str) -> list[str]:
    sel = f"jupyter-sky/cluster={cluster}"
    pods = [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector=sel).items]
    return pods + [s.metadata.name for s in core.list_namespaced_secret(NS, label_selector=sel).items]


def test_simulated_containers_autostop_ends_the_pod_itself(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    handle = infra.launch(launch("auto", autostop=0.05))  # 3 s without a cell
    assert infra.is_alive(handle)
    started = time.monotonic()
    wait_for(lambda: not infra.is_alive(handle), 30, "the autostopped kernel's pod to end")
    assert time.monotonic() - started < 30
    assert admin.read_namespaced_pod(handle.pod, NS).status.phase == "Succeeded"
    status = infra.status(handle)
    assert status.state is State.GONE and "its pod ended (Completed 0)" in status.reason, status
    infra.down(handle)
    assert labelled(admin, "auto") == []


def test_simulated_containers_evicted_pod_is_reported_as_evicted(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    handle = infra.launch(launch("evict"))
    admin.patch_namespaced_pod_status(handle.pod, NS, {"status": {
        "phase": "Failed", "reason": "Evicted",
        "message": "The node was low on resource: memory."}})  # fmt: skip
    wait_for(lambda: not infra.is_alive(handle), 20, "the evicted pod to be noticed")
    status = infra.status(handle)
    assert status.state is State.PREEMPTED, status
    assert status.reason == "its pod was evicted (The node was low on resource: memory.)"
    infra.down(handle)
    assert labelled(admin, "evict") == []


def test_simulated_containers_orphans_are_found_by_label_and_ended(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    handle = infra.launch(launch("lost"))
    mine = [o for o in infra.orphans() if o.cluster == "lost"]
    assert [(o.kind, o.where, o.state) for o in mine] == [("k8s", f"k8s/skyk8s/{NS}", "Running")]
    assert handle.pod in labelled(admin, "lost")
    mine[0].down()
    assert labelled(admin, "lost") == []
    assert [o for o in infra.orphans() if o.cluster == "lost"] == []
