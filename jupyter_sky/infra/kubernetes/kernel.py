"""This process's view of the kernel in a pod: port-forwards, cached liveness, readiness.

The five kernel ports are local listeners here; each ZMQ connection gets its own
port-forward stream through the API server (:mod:`~jupyter_sky.infra.kubernetes.pod_forward`),
so a broken stream costs one connection, which ZMQ re-opens (and the relay's numbered output
replay fills in what was missed). Liveness is the pod's phase, read once a second by a
background thread, so ``is_alive`` never touches the network.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_sky.infra.kubernetes.pod_forward import pod_opener
from jupyter_sky.infra.kubernetes.pods import PORTS
from jupyter_sky.transport.forward import ForwardSet

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

WATCH_SECONDS = 1.0


@dataclass
class PodKernel:
    """The forwards to one pod's kernel and what is known of the pod."""

    api: ApiClient
    pod: str
    namespace: str
    key: str
    alive: bool = True
    reason: str = ""  # why the pod ended (Evicted, OOMKilled, ...), once it has
    forwards: ForwardSet | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def local_info(self) -> dict[str, Any]:
        """Connection info through local forwards (opened on first use)."""
        if self.forwards is None:
            opener = pod_opener(self.api.configuration, self.pod, self.namespace)
            self.forwards = ForwardSet(opener, "127.0.0.1", dict(PORTS))
        info: dict[str, Any] = {"ip": "127.0.0.1", "transport": "tcp", "key": self.key,
                                "signature_scheme": "hmac-sha256"}  # fmt: skip
        info.update(self.forwards.local_ports())
        return info

    def ping(self, timeout: float = 1.0) -> bool:
        """One heartbeat through the forward: does the kernel answer?"""
        import zmq

        port = self.local_info()["hb_port"]
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
        sock.linger = 0
        try:
            sock.connect(f"tcp://127.0.0.1:{port}")
            sock.send(b"ping")
            return bool(sock.poll(int(timeout * 1000)) != 0 and sock.recv() == b"ping")
        finally:
            sock.close()

    def wait_ready(self, timeout: float, still_running: Any) -> None:
        """Until the kernel answers a heartbeat; ``still_running()`` raises if the pod ended."""
        deadline = time.monotonic() + timeout
        while not self.ping(0.2):
            still_running()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel in pod {self.namespace}/{self.pod} did not "
                                   f"answer within {timeout:g} s")  # fmt: skip

    def check(self) -> bool:
        """One API call: is the pod still running? Sets :attr:`reason` when it ended."""
        from kubernetes.client import CoreV1Api
        from kubernetes.client.exceptions import ApiException

        try:
            pod = CoreV1Api(self.api).read_namespaced_pod(self.pod, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                self.reason = "its pod was deleted"
                return False
            raise
        if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
            self.reason = "its pod is being deleted"
            return False
        status = pod.status
        if status is not None and status.phase in ("Failed", "Succeeded"):
            self.reason = describe_end(status)
            return False
        return True

    def watch(self) -> None:
        if self._thread is None:
            name = f"jupyter-sky-pod-{self.pod}"
            self._thread = threading.Thread(target=self._watch, name=name, daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            try:
                self.alive = self.check()
            except Exception:  # noqa: BLE001 - API unreachable: unknown, keep the last answer
                continue
            if not self.alive:
                return

    def close(self) -> None:
        self._stop.set()
        if self.forwards is not None:
            self.forwards.close()
            self.forwards = None


def describe_end(status: Any) -> str:
    """Why a pod ended, in words: evicted, preempted, OOM-killed, or its exit."""
    reason = status.reason or ""
    if reason == "Evicted":
        return f"its pod was evicted ({status.message or 'node pressure'})"
    if reason in ("Preempted", "Preempting") or "preempt" in (status.message or "").lower():
        return f"its pod was preempted ({status.message or reason})"
    for cs in status.container_statuses or []:
        term = cs.state.terminated if cs.state else None
        if term is not None:
            return f"its pod ended ({term.reason or 'exit'} {term.exit_code})"
    return f"its pod ended ({status.phase}{': ' + reason if reason else ''})"
