"""The engine's simulated container runtime behaves like a kubelet where it matters.

Simulated containers; API server, scheduler, events, RBAC, port-forward are real.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from .conftest import IMAGE_BARE, IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import ECHO_SERVER, gone, pod_body, running_pod, unique, wait_for
from .runtime import PodRuntime

NS = USER_NAMESPACE

REPORT = """
import json, os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect(("10.213.16.1", 9))
try:
    import ipykernel
    kernel = True
except ImportError:
    kernel = False
info = {"ip": probe.getsockname()[0], "env": dict(os.environ), "ipykernel": kernel}
open(os.path.join(os.environ["HOME"], "report.json"), "w").write(json.dumps(info))
"""

REACH = """
import os, socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((os.environ["PEER"], int(sys.argv[1])), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"hello")
open(os.path.join(os.environ["HOME"], "reply"), "wb").write(s.recv(5))
"""


@pytest.fixture(scope="module")
def core(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def _runtime(k8s: K8sEngine) -> PodRuntime:
    assert isinstance(k8s.runtime, PodRuntime)
    return k8s.runtime


def _home(k8s: K8sEngine, pod: client.V1Pod) -> Path:
    return next((_runtime(k8s).root).glob(f"{NS}.{pod.metadata.name}.*"))


def _phase(core: client.CoreV1Api, name: str, phase: str) -> client.V1Pod | None:
    pod = core.read_namespaced_pod(name, NS)
    return pod if pod.status.phase == phase else None


@pytest.mark.parametrize("image, has_kernel", [(IMAGE_KERNEL, True), (IMAGE_BARE, False)])
def test_simulated_containers_command_runs_at_the_pod_ip_with_the_pod_env(
    k8s: K8sEngine, core: client.CoreV1Api, image: str, has_kernel: bool
) -> None:
    name = unique("report")
    body = pod_body(name, image, ["python3", "-c", REPORT], env={"WORLD_SIZE": "2"})
    body["spec"]["containers"][0]["env"].append(  # type: ignore[index]
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    )
    core.create_namespaced_pod(NS, body)
    pod = wait_for(lambda: _phase(core, name, "Succeeded"), 20, "the pod to succeed")
    report = json.loads((_home(k8s, pod) / "report.json").read_text())
    assert report["ip"] == pod.status.pod_ip == report["env"]["MY_IP"]
    assert report["env"]["WORLD_SIZE"] == "2" and report["env"]["HOSTNAME"] == name
    assert report["ipykernel"] is has_kernel
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0
    core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)


def test_simulated_containers_failing_command_marks_the_pod_failed(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    name = unique("fail")
    core.create_namespaced_pod(
        NS, pod_body(name, IMAGE_KERNEL, ["python3", "-c", "raise SystemExit(3)"])
    )
    pod = wait_for(lambda: _phase(core, name, "Failed"), 20, "the pod to fail")
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 3 and terminated.reason == "Error"
    core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)


def test_simulated_containers_deleting_the_pod_kills_its_process_and_namespace(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    name = unique("victim")
    core.create_namespaced_pod(NS, pod_body(name, IMAGE_KERNEL, ["sleep", "600"]))
    pod = running_pod(core, name, NS)
    container = _runtime(k8s).running[pod.metadata.uid]
    netns = Path("/run/netns") / container.net.netns
    assert netns.exists()
    pid = container.process.pid
    core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)
    wait_for(lambda: not netns.exists(), 10, "the pod's network namespace to go")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_simulated_containers_unknown_image_is_a_pull_error_with_an_event(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    name = unique("nopull")
    core.create_namespaced_pod(NS, pod_body(name, "skyk8s.test/no-such-image:1", ["true"]))

    def waiting() -> client.V1ContainerStateWaiting | None:
        statuses = core.read_namespaced_pod(name, NS).status.container_statuses
        return statuses[0].state.waiting if statuses and statuses[0].state.waiting else None

    state = wait_for(waiting, 20, "ErrImagePull")
    assert state.reason == "ErrImagePull" and "no-such-image" in state.message

    def event() -> str | None:
        found = core.list_namespaced_event(
            NS, field_selector=f"involvedObject.name={name},reason=Failed"
        )
        return found.items[0].message if found.items else None

    assert "Failed to pull image" in wait_for(event, 10, "the Failed event")
    assert core.read_namespaced_pod(name, NS).status.phase == "Pending"
    core.delete_namespaced_pod(name, NS)
    gone(core, name, NS)


def test_simulated_containers_pods_reach_each_other_at_their_pod_ips(
    k8s: K8sEngine, core: client.CoreV1Api
) -> None:
    server, talker = unique("server"), unique("talker")
    port = 7101
    served = ECHO_SERVER.replace('"127.0.0.1"', '"0.0.0.0"')
    core.create_namespaced_pod(
        NS, pod_body(server, IMAGE_KERNEL, ["python3", "-c", served, str(port)])
    )
    address = running_pod(core, server, NS).status.pod_ip
    core.create_namespaced_pod(
        NS,
        pod_body(talker, IMAGE_KERNEL, ["python3", "-c", REACH, str(port)], env={"PEER": address}),
    )
    pod = wait_for(lambda: _phase(core, talker, "Succeeded"), 20, "the talker to finish")
    assert (_home(k8s, pod) / "reply").read_bytes() == b"hello"
    for name in (server, talker):
        core.delete_namespaced_pod(name, NS)
        gone(core, name, NS)
