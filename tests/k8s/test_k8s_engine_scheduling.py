"""The engine's real kube-scheduler places GPU pods and explains Pending ones.

Simulated containers; API server, scheduler, events, RBAC, port-forward are real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client, config

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import gone, pod_body, running_pod, unique, wait_for

NS = USER_NAMESPACE
SLEEP = ["python3", "-c", "import time; time.sleep(600)"]


@pytest.fixture(scope="module")
def core(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def _scheduling_event(core: client.CoreV1Api, name: str) -> str | None:
    events = core.list_namespaced_event(
        NS, field_selector=f"involvedObject.name={name},reason=FailedScheduling"
    )
    return events.items[0].message if events.items else None


def _scheduled_condition(core: client.CoreV1Api, name: str) -> client.V1PodCondition | None:
    conditions = core.read_namespaced_pod(name, NS).status.conditions or []
    return next((c for c in conditions if c.type == "PodScheduled"), None)


def test_simulated_containers_gpu_pods_land_on_the_node_with_their_gpu_type(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    h100, a100 = unique("h100"), unique("a100")
    core.create_namespaced_pod(
        NS, pod_body(h100, IMAGE_KERNEL, SLEEP, gpus=1, product="NVIDIA-H100-80GB-HBM3")
    )
    core.create_namespaced_pod(
        NS, pod_body(a100, IMAGE_KERNEL, SLEEP, gpus=4, product="NVIDIA-A100-SXM4-80GB")
    )
    try:
        assert running_pod(core, h100, NS).spec.node_name == "skyk8s-h100"
        pod = running_pod(core, a100, NS)
        assert pod.spec.node_name == "skyk8s-a100"
        assert pod.status.pod_ip.startswith("10.213.17.")
    finally:
        core.delete_namespaced_pod(h100, NS)
        core.delete_namespaced_pod(a100, NS)
    gone(core, h100, NS)
    gone(core, a100, NS)


def test_simulated_containers_pending_pod_gets_failed_scheduling_event_insufficient_gpu(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    name = unique("huge")
    core.create_namespaced_pod(NS, pod_body(name, IMAGE_KERNEL, SLEEP, gpus=16))
    try:
        message = wait_for(lambda: _scheduling_event(core, name), 20, "a FailedScheduling event")
        assert "Insufficient nvidia.com/gpu" in message
        assert message.startswith("0/3 nodes are available")
        # The scheduler sends the event and writes the pod's condition separately; either may
        # come first, so the condition is waited for too.
        scheduled = wait_for(lambda: _scheduled_condition(core, name), 20, "a PodScheduled condition")
        assert scheduled.status == "False" and scheduled.reason == "Unschedulable"
        assert core.read_namespaced_pod(name, NS).status.phase == "Pending"
    finally:
        core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)


def test_simulated_containers_untolerated_gpu_taint_is_reported_in_the_event(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    name = unique("taint")
    body = pod_body(name, IMAGE_KERNEL, SLEEP)
    body["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}  # type: ignore[index]
    core.create_namespaced_pod(NS, body)
    try:
        message = wait_for(lambda: _scheduling_event(core, name), 20, "a FailedScheduling event")
        # The scheduler counts the tainted nodes but does not name the taint's key.
        assert "2 node(s) had untolerated taint(s)" in message
    finally:
        core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)
