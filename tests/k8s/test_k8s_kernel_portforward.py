"""An IPython kernel in a pod, driven by jupyter_client through the API server's port-forward.

Simulated containers; API server, scheduler, events, RBAC, port-forward are real.  The
kernel binds the pod's own 127.0.0.1; :func:`jupyter_sky.infra.kubernetes.pod_forward.pod_opener`
gives every ZMQ connection its own port-forward stream (as kubectl does).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import zmq
from jupyter_client import BlockingKernelClient
from kubernetes import client, config

from jupyter_sky.infra.kubernetes.pod_forward import pod_opener
from jupyter_sky.transport.forward import ForwardSet

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import gone, pod_body, running_pod, unique, wait_for

NS = USER_NAMESPACE
NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
PORTS = (50001, 50002, 50003, 50004, 50005)
START = f"""
import json, os, sys
NAMES = {NAMES!r}
conn = dict(zip(NAMES, [int(p) for p in sys.argv[1].split(",")]))
conn.update(ip="127.0.0.1", key=sys.argv[2], transport="tcp", signature_scheme="hmac-sha256")
path = os.path.join(os.environ["HOME"], "kernel.json")
open(path, "w").write(json.dumps(conn))
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", path])
"""


@pytest.fixture(scope="module")
def user_core(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.user_kubeconfig), context="skyk8s")
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture(scope="module")
def kernel(user_core: client.CoreV1Api) -> Iterator[tuple[BlockingKernelClient, ForwardSet, str]]:
    name, key = unique("kernel"), secrets.token_hex(16)
    command = ["python3", "-c", START, ",".join(map(str, PORTS)), key]
    user_core.create_namespaced_pod(NS, pod_body(name, IMAGE_KERNEL, command, ports=PORTS))
    running_pod(user_core, name, NS)
    opener = pod_opener(user_core.api_client.configuration, name, NS)
    forwards = ForwardSet(opener, "127.0.0.1", dict(zip(NAMES, PORTS, strict=True)))
    wait_for(lambda: _heartbeat(forwards.local_ports()["hb_port"]), 60, "the kernel's heartbeat")
    kc = BlockingKernelClient()
    kc.load_connection_info(
        {
            **forwards.local_ports(),
            "ip": "127.0.0.1",
            "key": key,
            "transport": "tcp",
            "signature_scheme": "hmac-sha256",
        }
    )
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc, forwards, name
    finally:
        kc.stop_channels()
        forwards.close()
        user_core.delete_namespaced_pod(name, NS)
        gone(user_core, name, NS)


def _heartbeat(port: int) -> bool:
    """One ping on the kernel's heartbeat port (through the forward)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send(b"ping")
        return sock.poll(1000) != 0 and sock.recv() == b"ping"
    finally:
        sock.close()


def _run(kc: BlockingKernelClient, code: str) -> str:
    out: list[str] = []

    def hook(msg: dict[str, object]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream" and isinstance(content, dict):
            out.append(str(content["text"]))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=30)
    assert reply["content"]["status"] == "ok"
    return "".join(out)


def test_simulated_containers_kernel_in_a_pod_runs_cells_over_port_forward(
    kernel: tuple[BlockingKernelClient, ForwardSet, str],
) -> None:
    kc, forwards, pod = kernel
    assert _run(kc, "import os; print(os.environ['HOSTNAME'])").strip() == pod
    assert _run(kc, "x = 21\nprint(x * 2)").strip() == "42"
    # Every ZMQ socket the client connected is its own forwarded stream.
    counts = forwards.connections()
    assert all(counts[n] >= 1 for n in ("shell_port", "iopub_port", "control_port", "hb_port"))


def test_simulated_containers_large_output_arrives_whole_over_port_forward(
    kernel: tuple[BlockingKernelClient, ForwardSet, str],
) -> None:
    kc, _, _ = kernel
    text = _run(kc, "for i in range(2000): print(i, 'x' * 100)")
    lines = text.splitlines()
    assert len(lines) == 2000 and lines[-1].startswith("1999 ")
