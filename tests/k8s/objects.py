"""What the engine's cluster holds before a test runs: CRDs, namespaces, RBAC, nodes.

``skyk8s-user`` (group ``skyk8s-users``) may read nodes and pods cluster-wide (to
count free capacity and to find orphans) and manage pods, services and secrets in
``sky-team`` only; in ``sky-locked`` it may do nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from kubernetes import client

from .engine import LOCKED_NAMESPACE, USER_NAMESPACE, FakeNode

USER = "skyk8s-user"
USER_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "services", "secrets", "configmaps"],
        "verbs": [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
        ],
    },
    {"apiGroups": [""], "resources": ["pods/portforward", "pods/exec"], "verbs": ["get", "create"]},
    {"apiGroups": [""], "resources": ["pods/log", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]
CLUSTER_RULES = [
    {
        "apiGroups": [""],
        "resources": ["nodes", "pods", "namespaces"],
        "verbs": ["get", "list", "watch"],
    },
]


def install_crds(api: client.ApiClient, crd_dir: Path, timeout: float = 30.0) -> None:
    """Create kwok's PortForward and Logs CRDs and wait until they are served."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        ext.create_custom_resource_definition(body)
        names.append(body["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(ext.read_custom_resource_definition(name)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not established in {timeout:.0f} s")
            time.sleep(0.05)


def _established(crd: client.V1CustomResourceDefinition) -> bool:
    conditions = crd.status.conditions if crd.status else None
    return any(c.type == "Established" and c.status == "True" for c in conditions or [])


def create_namespaces(api: client.ApiClient) -> None:
    """``sky-team`` and ``sky-locked``, each with the ``default`` service account.

    No kube-controller-manager runs, so the service account the ServiceAccount
    admission plugin wants is created here (``default`` exists in ``default`` too).
    """
    core = client.CoreV1Api(api)
    for namespace in (USER_NAMESPACE, LOCKED_NAMESPACE):
        core.create_namespace({"metadata": {"name": namespace}})
    for namespace in ("default", USER_NAMESPACE, LOCKED_NAMESPACE):
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "default"}})


def grant_user(api: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    subject = [{"kind": "User", "name": USER, "apiGroup": "rbac.authorization.k8s.io"}]
    rbac.create_namespaced_role(
        USER_NAMESPACE, {"metadata": {"name": "sky-user"}, "rules": USER_RULES}
    )
    rbac.create_namespaced_role_binding(
        USER_NAMESPACE,
        {
            "metadata": {"name": "sky-user"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "sky-user",
            },
            "subjects": subject,
        },
    )
    rbac.create_cluster_role({"metadata": {"name": "sky-user-read"}, "rules": CLUSTER_RULES})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "sky-user-read"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "sky-user-read",
            },
            "subjects": subject,
        }
    )


def create_nodes(api: client.ApiClient, nodes: tuple[FakeNode, ...], timeout: float = 30.0) -> None:
    """Create the KWOK nodes and wait until kwok reports each Ready."""
    core = client.CoreV1Api(api)
    for node in nodes:
        core.create_node(node.body())
    deadline = time.monotonic() + timeout
    for node in nodes:
        while not _ready(core.read_node(node.name)):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"node {node.name} not Ready in {timeout:.0f} s (is kwok running?)"
                )
            time.sleep(0.05)


def _ready(node: client.V1Node) -> bool:
    conditions = node.status.conditions if node.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])
