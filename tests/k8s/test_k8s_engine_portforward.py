"""Port-forward through the engine's real API server to a pod's own loopback.

Simulated containers; API server, scheduler, events, RBAC, port-forward are real: the
python ``kubernetes`` client opens a websocket to kube-apiserver, which proxies it to
kwok's kubelet endpoint, which runs the relay inside the pod's network namespace.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from kubernetes.stream import portforward

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import ECHO_SERVER, gone, pod_body, running_pod, unique, wait_for

NS = USER_NAMESPACE
PORT = 7001


@pytest.fixture(scope="module")
def user_core(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    """The non-admin user: port-forward is allowed to it by RBAC in ``sky-team``."""
    api = config.new_client_from_config(str(k8s.user_kubeconfig), context="skyk8s")
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture(scope="module")
def echo_pod(user_core: client.CoreV1Api) -> Iterator[client.V1Pod]:
    name = unique("echo")
    command = ["python3", "-c", ECHO_SERVER, str(PORT)]
    user_core.create_namespaced_pod(NS, pod_body(name, IMAGE_KERNEL, command, ports=(PORT,)))
    yield running_pod(user_core, name, NS)
    user_core.delete_namespaced_pod(name, NS)
    gone(user_core, name, NS)


def _round_trip(core: client.CoreV1Api, pod: str, payload: bytes) -> bytes | None:
    """One port-forward connection: send, read the echo back; None if nothing listens yet."""
    forward = portforward(core.connect_get_namespaced_pod_portforward, pod, NS, ports=str(PORT))
    sock = forward.socket(PORT)
    sock.settimeout(10)
    try:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                return None
            received += chunk
        return received
    except OSError:
        return None
    finally:
        sock.close()
        forward.close()


def test_simulated_containers_port_forward_round_trip_through_the_api_server(
    user_core: client.CoreV1Api, echo_pod: client.V1Pod
) -> None:
    first = wait_for(
        lambda: _round_trip(user_core, echo_pod.metadata.name, b"ping"), 20, "the echo server"
    )
    assert first == b"ping"
    payload = os.urandom(1 << 20)
    assert _round_trip(user_core, echo_pod.metadata.name, payload) == payload


def test_simulated_containers_the_forwarded_port_is_on_the_pods_own_loopback(
    user_core: client.CoreV1Api, echo_pod: client.V1Pod
) -> None:
    wait_for(lambda: _round_trip(user_core, echo_pod.metadata.name, b"up"), 20, "the echo server")
    for address in ("127.0.0.1", echo_pod.status.pod_ip):  # neither this machine's nor the pod IP
        with pytest.raises(OSError), socket.create_connection((address, PORT), timeout=2):
            pass


def test_simulated_containers_port_forward_to_an_undeclared_port_is_refused(
    user_core: client.CoreV1Api, echo_pod: client.V1Pod
) -> None:
    forward = portforward(
        user_core.connect_get_namespaced_pod_portforward, echo_pod.metadata.name, NS, ports="7999"
    )
    sock = forward.socket(7999)
    sock.settimeout(10)
    try:
        sock.sendall(b"x")
        assert sock.recv(10) == b""
    except OSError:
        pass
    finally:
        sock.close()
    error = wait_for(lambda: forward.error(7999), 10, "the port-forward error")
    forward.close()
    assert "7999" in error and "forward" in error
