"""Start and stop the Kubernetes test engine: etcd, kube-apiserver, kube-scheduler, KWOK.

All four are the real programs, built by ``scripts/k8s_engine_build.sh`` into
``~/.cache/jupyter-sky/k8s/``, listening on 127.0.0.1 at free ports, stopped by PID
(clients first, etcd last).  The API server runs with RBAC; certificates are made at
every start (:mod:`pki`).  Two kubeconfig files are written: ``admin.yaml``
(``system:masters``) and ``user.yaml`` for the non-admin user ``skyk8s-user`` with
contexts ``skyk8s`` (namespace ``sky-team``, where RBAC lets it run pods),
``skyk8s-locked`` (namespace ``sky-locked``, where it may do nothing) and
``skyk8s-unreachable`` (a port nothing listens on).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .pki import Pki, make_pki

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "k8s_engine_build.sh"
USER_NAMESPACE, LOCKED_NAMESPACE = "sky-team", "sky-locked"


def engine_dir() -> Path:
    """Where the build script puts (or finds) the binaries."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class FakeNode:
    """A KWOK node: name, labels, allocatable resources, taints as (key, value, effect)."""

    name: str
    labels: dict[str, str]
    resources: dict[str, str]
    taints: tuple[tuple[str, str, str], ...] = ()

    def body(self) -> dict[str, object]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "type": "kwok",
            **self.labels,
        }
        taints = [{"key": k, "value": v, "effect": e} for k, v, e in self.taints]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            "spec": {"taints": taints},
            "status": {"capacity": self.resources, "allocatable": self.resources},
        }


GPU_TAINT = (("nvidia.com/gpu", "present", "NoSchedule"),)
DEFAULT_NODES = (
    FakeNode(
        "skyk8s-h100",
        {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8"},
        {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"},
        GPU_TAINT,
    ),
    FakeNode(
        "skyk8s-a100",
        {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "4"},
        {"cpu": "16", "memory": "128Gi", "pods": "110", "nvidia.com/gpu": "4"},
        GPU_TAINT,
    ),
    FakeNode("skyk8s-cpu", {}, {"cpu": "8", "memory": "32Gi", "pods": "110"}),
)


@dataclass
class Engine:
    """The running engine: ports, files and processes."""

    bin_dir: Path
    crd_dir: Path
    workdir: Path
    nodes: tuple[FakeNode, ...] = DEFAULT_NODES
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pki: Pki | None = None

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['api']}"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.yaml"

    @property
    def user_kubeconfig(self) -> Path:
        return self.workdir / "user.yaml"

    # --- start ----------------------------------------------------------------------

    def start(self) -> None:
        """Certificates, kubeconfigs, etcd and the API server (ready on return)."""
        for name in ("etcd", "peer", "api", "scheduler", "kwok"):
            self.ports[name] = free_port()
        self.pki = make_pki(self.workdir / "pki")
        self._write_kubeconfigs()
        (self.workdir / "kwok.yaml").write_text(KWOK_CONFIG)
        self._spawn("etcd", self._etcd_args())
        self._spawn("apiserver", self._apiserver_args())
        self._wait_ready()

    def start_clients(self) -> None:
        """The scheduler and kwok, once the API server is ready and kwok's CRDs exist
        (kwok watches them from its start; created later, they are seen only after its
        back-off, seconds later)."""
        self._spawn("scheduler", self._scheduler_args())
        self._spawn("kwok", self._kwok_args())

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log_tail(self, name: str, lines: int = 20) -> str:
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _etcd_args(self) -> list[str]:
        client_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['peer']}"
        return [
            str(self.bin_dir / "etcd"),
            "--name=skyk8s",
            f"--data-dir={self.workdir / 'etcd'}",
            "--unsafe-no-fsync",
            "--log-level=warn",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=skyk8s={peer_url}",
        ]

    def _apiserver_args(self) -> list[str]:
        assert self.pki is not None
        p = self.pki
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['api']}",
            f"--tls-cert-file={p.apiserver.cert}",
            f"--tls-private-key-file={p.apiserver.key}",
            f"--client-ca-file={p.ca.cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p.sa_pub}",
            f"--service-account-signing-key-file={p.sa_key}",
            "--service-cluster-ip-range=10.213.31.0/24",
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC",
            # No kube-controller-manager runs, so nothing would lift the not-ready taint.
            "--disable-admission-plugins=TaintNodesByCondition",
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _scheduler_args(self) -> list[str]:
        return [
            str(self.bin_dir / "kube-scheduler"),
            f"--kubeconfig={self.admin_kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports['scheduler']}",
        ]

    def _kwok_args(self) -> list[str]:
        assert self.pki is not None
        port = self.ports["kwok"]
        return [
            str(self.bin_dir / "kwok"),
            f"--kubeconfig={self.admin_kubeconfig}",
            f"--config={self.workdir / 'kwok.yaml'}",
            "--enable-crds=PortForward,Logs",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1",
            "--node-name=localhost",
            f"--node-port={port}",
            f"--server-address=127.0.0.1:{port}",
            f"--tls-cert-file={self.pki.kwok.cert}",
            f"--tls-private-key-file={self.pki.kwok.key}",
        ]

    def _ssl(self) -> ssl.SSLContext:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return context

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        context = self._ssl()
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited {proc.returncode}:\n{self.log_tail(name)}")
            url = f"{self.server}/readyz"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(url, context=context, timeout=2) as reply,
            ):
                if reply.read() == b"ok":
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"kube-apiserver not ready in {timeout:.0f} s:\n{self.log_tail('apiserver')}"
        )

    # --- kubeconfigs ----------------------------------------------------------------

    def _write_kubeconfigs(self) -> None:
        assert self.pki is not None
        cluster = {"server": self.server, "certificate-authority": str(self.pki.ca.cert)}
        down = {
            "server": f"https://127.0.0.1:{free_port()}",
            "certificate-authority": str(self.pki.ca.cert),
        }
        admin = {
            "client-certificate": str(self.pki.admin.cert),
            "client-key": str(self.pki.admin.key),
        }
        user = {"client-certificate": str(self.pki.user.cert), "client-key": str(self.pki.user.key)}
        self.admin_kubeconfig.write_text(
            yaml.safe_dump(
                _kubeconfig(
                    {"skyk8s": cluster},
                    {"skyk8s-admin": admin},
                    {"skyk8s-admin": ("skyk8s", "skyk8s-admin", "default")},
                )
            )
        )
        contexts = {
            "skyk8s": ("skyk8s", "skyk8s-user", USER_NAMESPACE),
            "skyk8s-locked": ("skyk8s", "skyk8s-user", LOCKED_NAMESPACE),
            "skyk8s-unreachable": ("skyk8s-down", "skyk8s-user", USER_NAMESPACE),
        }
        self.user_kubeconfig.write_text(
            yaml.safe_dump(
                _kubeconfig(
                    {"skyk8s": cluster, "skyk8s-down": down}, {"skyk8s-user": user}, contexts
                )
            )
        )

    # --- stop -----------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM by PID: kwok and the scheduler, then the API server, etcd last."""
        for name in ("kwok", "scheduler", "apiserver", "etcd"):
            proc = self.processes.pop(name, None)
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _kubeconfig(
    clusters: dict[str, dict[str, str]],
    users: dict[str, dict[str, str]],
    contexts: dict[str, tuple[str, str, str]],
) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": k, "cluster": v} for k, v in clusters.items()],
        "users": [{"name": k, "user": v} for k, v in users.items()],
        "contexts": [
            {"name": k, "context": {"cluster": c, "user": u, "namespace": ns}}
            for k, (c, u, ns) in contexts.items()
        ],
        "current-context": next(iter(contexts)),
    }


# kwok has no built-in stages: nodes go Ready at once and keep the resources they were
# created with; pods are left to the simulated runtime, except that a pod marked for
# deletion is removed (the runtime has killed its process by then, or does so on DELETED).
KWOK_CONFIG = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: skyk8s-node-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - type: Ready
        status: "True"
        reason: KubeletReady
        message: simulated kubelet (kwok) is ready
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ .metadata.name | Quote }}}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ NodePort }}
      allocatable:
      {{ YAML .status.allocatable 1 }}
      capacity:
      {{ YAML .status.capacity 1 }}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: v1.36.3-kwok
        kubeProxyVersion: v1.36.3-kwok
        containerRuntimeVersion: simulated://skyk8s
        kernelVersion: ""
        osImage: ""
        machineID: ""
        systemUUID: ""
        bootID: ""
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: skyk8s-pod-delete}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
"""
