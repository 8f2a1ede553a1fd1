"""RBAC on the engine's real API server: what the non-admin user may and may not do.

Simulated containers; API server, scheduler, events, RBAC, port-forward are real.
"""

from __future__ import annotations

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import LOCKED_NAMESPACE, USER_NAMESPACE
from .helpers import pod_body, unique


def _user(k8s: K8sEngine, context: str) -> client.ApiClient:
    return config.new_client_from_config(str(k8s.user_kubeconfig), context=context)


def _may_create_pods(api: client.ApiClient, namespace: str) -> bool:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb="create", resource="pods"
            )
        )
    )
    answer = client.AuthorizationV1Api(api).create_self_subject_access_review(review)
    return bool(answer.status.allowed)


def test_simulated_containers_self_subject_access_review_tells_the_user_where_pods_may_go(
    k8s: K8sEngine,
) -> None:
    api = _user(k8s, "skyk8s")
    assert _may_create_pods(api, USER_NAMESPACE) is True
    assert _may_create_pods(api, LOCKED_NAMESPACE) is False


def test_simulated_containers_pod_in_a_forbidden_namespace_is_refused_with_403(
    k8s: K8sEngine,
) -> None:
    core = client.CoreV1Api(_user(k8s, "skyk8s-locked"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(LOCKED_NAMESPACE, pod_body(unique("no"), IMAGE_KERNEL, ["true"]))
    assert caught.value.status == 403
    assert "skyk8s-user" in str(caught.value.body)


def test_simulated_containers_user_reads_nodes_with_their_gpu_labels(k8s: K8sEngine) -> None:
    nodes = client.CoreV1Api(_user(k8s, "skyk8s")).list_node().items
    products = {n.metadata.name: n.metadata.labels.get("nvidia.com/gpu.product") for n in nodes}
    assert products == {
        "skyk8s-h100": "NVIDIA-H100-80GB-HBM3",
        "skyk8s-a100": "NVIDIA-A100-SXM4-80GB",
        "skyk8s-cpu": None,
    }
    gpus = {n.metadata.name: n.status.allocatable.get("nvidia.com/gpu") for n in nodes}
    assert gpus == {"skyk8s-h100": "8", "skyk8s-a100": "4", "skyk8s-cpu": None}


def test_simulated_containers_unreachable_context_fails_to_connect(k8s: K8sEngine) -> None:
    core = client.CoreV1Api(_user(k8s, "skyk8s-unreachable"))
    core.api_client.configuration.retries = 0
    with pytest.raises(Exception) as caught:
        core.list_namespaced_pod(USER_NAMESPACE, _request_timeout=5)
    assert "Connection refused" in str(caught.value) or "Max retries" in str(caught.value)
