"""Small helpers for tests on the Kubernetes test engine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client

T = TypeVar("T")

ECHO_SERVER = """
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
"""


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Call ``probe`` until it returns something other than None/False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pod_body(
    name: str,
    image: str,
    command: list[str],
    gpus: int = 0,
    product: str | None = None,
    ports: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
) -> dict[str, object]:
    """A one-container pod; GPU pods tolerate the GPU taint and may select a product."""
    resources: dict[str, dict[str, str]] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    spec: dict[str, object] = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
        spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    if product:
        spec["nodeSelector"] = {"nvidia.com/gpu.product": product}
    container: dict[str, object] = {
        "name": "main",
        "image": image,
        "command": command,
        "resources": resources,
        "ports": [{"containerPort": p} for p in ports],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    spec["containers"] = [container]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def running_pod(
    core: client.CoreV1Api, name: str, namespace: str, timeout: float = 60.0
) -> client.V1Pod:
    def probe() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase == "Running" else None

    return wait_for(probe, timeout, f"pod {namespace}/{name} Running")


def gone(core: client.CoreV1Api, name: str, namespace: str, timeout: float = 60.0) -> bool:
    def probe() -> bool:
        return not core.list_namespaced_pod(namespace, field_selector=f"metadata.name={name}").items

    return wait_for(probe, timeout, f"pod {namespace}/{name} deleted")
