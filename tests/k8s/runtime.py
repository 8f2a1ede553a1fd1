"""The test engine's container runtime: simulated containers for pods on KWOK nodes.

API server, scheduler, events, RBAC and port-forward are real; only the containers
are simulated.  For every pod the real kube-scheduler binds to a KWOK node, this
runtime does the kubelet's share on this machine:

- the image name picks a directory of programs (``images``), put first on ``PATH``;
  an image it does not know fails the way a registry would (``ErrImagePull`` in the
  container status and a ``Failed`` event), and the pod stays Pending;
- the container's command runs in the pod's own network namespace at the pod IP
  (:mod:`podnet`), with the pod's env (``value``, the usual ``fieldRef`` paths, and
  ``secretKeyRef`` / ``configMapKeyRef`` read from the API as the kubelet does),
  ``HOME`` and the working directory in a fresh per-pod directory;
- a KWOK ``PortForward`` object named after the pod maps each declared
  ``containerPort`` to ``nsenter --net=<pod netns> skyk8s-relay 127.0.0.1:<port>``, so
  the API server's port-forward reaches the pod's own loopback as a kubelet would;
- the pod status goes Running when the process starts, Succeeded/Failed when it ends;
  a pod deleted (or set Failed by someone else, e.g. an eviction) has its process
  group killed and its namespace removed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .podnet import PodNet, PodNetwork, netns_path

KWOK_GROUP, KWOK_VERSION = "kwok.x-k8s.io", "v1alpha1"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Container:
    """One running simulated container."""

    pod: client.V1Pod
    net: PodNet
    process: subprocess.Popen[bytes]
    root: Path
    stopping: bool = field(default=False)


class PodRuntime:
    """Runs the containers of pods bound to ``nodes``; see the module docstring."""

    def __init__(
        self,
        api: client.ApiClient,
        nodes: set[str],
        images: dict[str, Path],
        relay: Path,
        root: Path,
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.nodes = nodes
        self.images = images
        self.relay = relay
        self.root = root
        self.network = PodNetwork()
        self.running: dict[str, Container] = {}
        self.refused: set[str] = set()
        self._lock = threading.Lock()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._loop, name="skyk8s-runtime", daemon=True)
        self._closed = threading.Event()

    def start(self) -> None:
        self.network.open()
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._watch.stop()
        for uid in list(self.running):
            self._stop(uid)
        self.network.close()

    # --- watching -------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                for event in self._watch.stream(
                    self.core.list_pod_for_all_namespaces, timeout_seconds=60
                ):
                    self._on_event(event["type"], event["object"])
            except Exception:  # the watch broke (engine stopping, or a timeout): list again
                if self._closed.wait(0.2):
                    return

    def _on_event(self, kind: str, pod: client.V1Pod) -> None:
        uid = pod.metadata.uid
        phase = pod.status.phase if pod.status else None
        if kind == "DELETED" or pod.metadata.deletion_timestamp is not None:
            self._stop(uid)
        elif uid in self.running:
            if phase in ("Failed", "Succeeded") and not self.running[uid].stopping:
                self._stop(uid)  # set terminal by someone else (an eviction, a test)
        elif pod.spec.node_name in self.nodes and phase == "Pending" and uid not in self.refused:
            try:
                self._start(pod)
            except Exception as err:  # report it on the pod like a kubelet, and go on
                self.refused.add(uid)
                self._event(
                    pod, "Failed", f"simulated runtime could not start the container: {err}"
                )

    # --- starting -------------------------------------------------------------------

    def _start(self, pod: client.V1Pod) -> None:
        spec = pod.spec.containers[0]
        image_dir = self.images.get(spec.image)
        if image_dir is None:
            self.refused.add(pod.metadata.uid)
            self._refuse_image(pod, spec)
            return
        command = list(spec.command or []) + list(spec.args or [])
        if not command:
            raise RuntimeError(f"image {spec.image} has no entrypoint here; give a command")
        net = self.network.add(pod.metadata.uid)
        root = self.root / f"{pod.metadata.namespace}.{pod.metadata.name}.{pod.metadata.uid[:8]}"
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self._write_forwards(pod, net)
        env = self._env(pod, spec, net, image_dir, root)
        log = (root / "container.log").open("wb")
        process = subprocess.Popen(
            ["nsenter", f"--net={netns_path(net.netns)}", *command],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        container = Container(pod, net, process, root)
        with self._lock:
            self.running[pod.metadata.uid] = container
        self._patch_running(pod, net)
        threading.Thread(target=self._reap, args=(container,), daemon=True).start()

    def _env(
        self, pod: client.V1Pod, spec: client.V1Container, net: PodNet, image_dir: Path, root: Path
    ) -> dict[str, str]:
        env = {
            "PATH": f"{image_dir}:{BASE_PATH}",
            "HOME": str(root),
            "TMPDIR": str(root / "tmp"),  # a container's /tmp is its own; it goes with the test's
            "HOSTNAME": pod.metadata.name,
            "LANG": "C.UTF-8",
        }
        fields = {
            "metadata.name": pod.metadata.name,
            "metadata.namespace": pod.metadata.namespace,
            "metadata.uid": pod.metadata.uid,
            "spec.nodeName": pod.spec.node_name,
            "status.podIP": net.address,
            "status.hostIP": "127.0.0.1",
        }
        for item in spec.env or []:
            if item.value is not None:
                env[item.name] = item.value
            elif item.value_from is not None and item.value_from.field_ref is not None:
                env[item.name] = fields.get(item.value_from.field_ref.field_path, "")
            elif item.value_from is not None:
                env[item.name] = self._ref(pod.metadata.namespace, item.value_from)
        return env

    def _ref(self, namespace: str, source: client.V1EnvVarSource) -> str:
        """A ``secretKeyRef`` or ``configMapKeyRef`` value, read as the kubelet would; a
        missing object or key fails the start (the kubelet's CreateContainerConfigError)."""
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            data = self.core.read_namespaced_secret(ref.name, namespace).data or {}
            if ref.key not in data:
                raise RuntimeError(f"secret {ref.name} has no key {ref.key}")
            return base64.b64decode(data[ref.key]).decode()
        if source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            values = self.core.read_namespaced_config_map(ref.name, namespace).data or {}
            if ref.key not in values:
                raise RuntimeError(f"configmap {ref.name} has no key {ref.key}")
            return str(values[ref.key])
        raise RuntimeError("unsupported env valueFrom (only fieldRef, secretKeyRef, configMapKeyRef)")

    def _write_forwards(self, pod: client.V1Pod, net: PodNet) -> None:
        ports = [p.container_port for c in pod.spec.containers for p in (c.ports or [])]
        forwards = [
            {
                "ports": [port],
                "command": [
                    "nsenter",
                    f"--net={netns_path(net.netns)}",
                    str(self.relay),
                    f"127.0.0.1:{port}",
                ],
            }
            for port in ports
        ]
        body = {
            "apiVersion": f"{KWOK_GROUP}/{KWOK_VERSION}",
            "kind": "PortForward",
            "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace},
            "spec": {"forwards": forwards},
        }
        self._delete_forwards(pod)
        self.custom.create_namespaced_custom_object(
            KWOK_GROUP, KWOK_VERSION, pod.metadata.namespace, "portforwards", body
        )

    def _delete_forwards(self, pod: client.V1Pod) -> None:
        with contextlib.suppress(ApiException):
            self.custom.delete_namespaced_custom_object(
                KWOK_GROUP, KWOK_VERSION, pod.metadata.namespace, "portforwards", pod.metadata.name
            )

    # --- status ---------------------------------------------------------------------

    def _patch_status(self, pod: client.V1Pod, status: dict[str, object]) -> None:
        with contextlib.suppress(ApiException):  # the pod may be gone already
            self.core.patch_namespaced_pod_status(
                pod.metadata.name, pod.metadata.namespace, {"status": status}
            )

    def _patch_running(self, pod: client.V1Pod, net: PodNet) -> None:
        now = _now()
        conditions = [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in ("Initialized", "ContainersReady", "Ready")
        ]
        statuses = [
            {
                "name": c.name,
                "image": c.image,
                "imageID": f"simulated://{c.image}",
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": now}},
            }
            for c in pod.spec.containers
        ]
        self._patch_status(
            pod,
            {
                "phase": "Running",
                "podIP": net.address,
                "podIPs": [{"ip": net.address}],
                "hostIP": "127.0.0.1",
                "hostIPs": [{"ip": "127.0.0.1"}],
                "startTime": now,
                "conditions": conditions,
                "containerStatuses": statuses,
            },
        )

    def _refuse_image(self, pod: client.V1Pod, spec: client.V1Container) -> None:
        message = (
            f'Failed to pull image "{spec.image}": rpc error: code = NotFound desc = '
            f"failed to resolve reference {spec.image!r}: not found (simulated registry)"
        )
        waiting = {"waiting": {"reason": "ErrImagePull", "message": message}}
        status = {
            "name": spec.name,
            "image": spec.image,
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": waiting,
        }
        self._patch_status(pod, {"containerStatuses": [status]})
        self._event(pod, "Failed", message)

    def _event(self, pod: client.V1Pod, reason: str, message: str) -> None:
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{pod.metadata.name}."),
            involved_object=client.V1ObjectReference(
                kind="Pod",
                name=pod.metadata.name,
                namespace=pod.metadata.namespace,
                uid=pod.metadata.uid,
                api_version="v1",
            ),
            reason=reason,
            message=message,
            type="Warning",
            source=client.V1EventSource(component="kubelet", host=pod.spec.node_name),
            first_timestamp=_now(),
            last_timestamp=_now(),
            count=1,
        )
        with contextlib.suppress(ApiException):
            self.core.create_namespaced_event(pod.metadata.namespace, body)

    # --- stopping -------------------------------------------------------------------

    def _reap(self, container: Container) -> None:
        code = container.process.wait()
        if container.stopping:
            return
        container.stopping = True
        now = _now()
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": now,
            "finishedAt": now,
        }
        spec = container.pod.spec.containers[0]
        self._patch_status(
            container.pod,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [
                    {
                        "name": spec.name,
                        "image": spec.image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"terminated": terminated},
                    }
                ],
            },
        )
        self._teardown(container)

    def _stop(self, uid: str) -> None:
        with self._lock:
            container = self.running.get(uid)
            if container is None:
                return
            container.stopping = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(container.process.pid, signal.SIGTERM)
        try:
            container.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(container.process.pid, signal.SIGKILL)
            container.process.wait()
        self._teardown(container)

    def _teardown(self, container: Container) -> None:
        with contextlib.suppress(ProcessLookupError):  # leftovers of the process group
            os.killpg(container.process.pid, signal.SIGKILL)
        self._delete_forwards(container.pod)
        self.network.remove(container.pod.metadata.uid)
        with self._lock:
            self.running.pop(container.pod.metadata.uid, None)
