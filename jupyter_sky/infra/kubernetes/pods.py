"""What a cluster is made of on Kubernetes: a Secret with the kernel's key and a pod — with
``--num-nodes N``, N pods (the kernel on the first, the others ready for the cell's own
distributed processes) and a headless Service that names them.

Everything carries the labels ``jupyter-sky/cluster`` and ``jupyter-sky/user``, so down and
the orphan search find it by label. The kernel listens on the pod's own 127.0.0.1 at fixed
ports (the pod has its own network namespace); its HMAC key comes from the Secret through
``env[].valueFrom.secretKeyRef``, never from the pod spec.
"""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import dataclass, field

LABEL_CLUSTER = "jupyter-sky/cluster"
LABEL_USER = "jupyter-sky/user"
ANNOTATION_CLUSTER = "jupyter-sky/cluster-name"
ANNOTATION_STOPPED = "jupyter-sky/stopped"  # on the Secret of a cluster %sky stop stopped
KEY_ENV = "JUPYTER_SKY_KERNEL_KEY"
PORTS: dict[str, int] = {
    "shell_port": 50001,
    "iopub_port": 50002,
    "stdin_port": 50003,
    "control_port": 50004,
    "hb_port": 50005,
}
GPU_TOLERATIONS = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
]

RDZV_PORT = 29500  # MASTER_PORT: where torch.distributed and its kin meet
# A worker pod waits for the cell's own processes (torchrun, ssh-less launchers, ...).
WORKER = "import signal; signal.pause()"

# Writes the connection file (fixed ports, key from the Secret) and becomes the kernel.
START = f"""
import json, os, sys
path = os.path.join(os.environ.get("HOME") or "/tmp", ".jupyter_sky_kernel.json")
conn = dict({json.dumps(PORTS)}, ip="127.0.0.1", transport="tcp",
            signature_scheme="hmac-sha256", key=os.environ.pop("{KEY_ENV}"))
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(conn).encode()); os.close(fd)
os.execv(sys.executable, [sys.executable, "-m", "jupyter_sky.remote.kernel", "-f", path,
                          *sys.argv[1:]])
"""


def label_value(text: str) -> str:
    """``text`` as a label value: at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("-._")
    return value or "x"


def dns_name(text: str) -> str:
    """``text`` as an object name (RFC 1123 label, lower case, at most 63)."""
    value = re.sub(r"[^a-z0-9-]", "-", text.lower())[:63].strip("-")
    return value or "x"


def user_label() -> str:
    return label_value(getpass.getuser())


def cluster_labels(cluster: str) -> dict[str, str]:
    return {LABEL_CLUSTER: label_value(cluster), LABEL_USER: user_label()}


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class PodPlan:
    """Everything one pod of a cluster needs."""

    name: str
    cluster: str
    image: str
    secret: str
    cpus: float | None = None
    memory_gb: float | None = None
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    worker: bool = False  # a node of a multi-node cluster other than the kernel's
    boot: bool = False  # the kernel's packages may come from this notebook (bootstrap.py)
    subdomain: str = ""  # the headless Service that names the cluster's pods (several nodes)

    @property
    def labels(self) -> dict[str, str]:
        return cluster_labels(self.cluster)


def secret_body(plan: PodPlan, key: str) -> dict[str, object]:
    meta = {"name": plan.secret, "labels": plan.labels,
            "annotations": {ANNOTATION_CLUSTER: plan.cluster}}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "stringData": {"key": key}}  # fmt: skip


def _resources(plan: PodPlan) -> dict[str, dict[str, str]]:
    requests = {"cpu": f"{plan.cpus:g}" if plan.cpus else "250m",
                "memory": f"{int((plan.memory_gb or 0.5) * 1024)}Mi"}  # fmt: skip
    limits: dict[str, str] = {}
    if plan.memory_gb:
        limits["memory"] = requests["memory"]
    if plan.gpus:
        requests[plan.gpu_resource] = limits[plan.gpu_resource] = str(plan.gpus)
    return {"requests": requests, "limits": limits} if limits else {"requests": requests}


def _command(plan: PodPlan) -> list[str]:
    if plan.worker:
        return ["python3", "-c", WORKER]
    if plan.boot:
        from jupyter_sky.infra.kubernetes.bootstrap import boot_source

        return ["python3", "-c", boot_source(START), *plan.args]
    return ["python3", "-c", START, *plan.args]


def _ports(plan: PodPlan) -> dict[str, int]:
    if plan.worker:
        return {}
    if plan.boot:
        from jupyter_sky.infra.kubernetes.bootstrap import BOOT_PORT

        return {**PORTS, "boot_port": BOOT_PORT}
    return dict(PORTS)


def pod_body(plan: PodPlan) -> dict[str, object]:
    env: list[dict[str, object]] = [{"name": k, "value": v} for k, v in plan.env.items()]
    if not plan.worker:  # only the kernel's pod holds the kernel's key
        env.append({"name": KEY_ENV,
                    "valueFrom": {"secretKeyRef": {"name": plan.secret, "key": "key"}}})  # fmt: skip
    container = {
        "name": "kernel",
        "image": plan.image,
        "command": _command(plan),
        "env": env,
        "resources": _resources(plan),
        "ports": [{"containerPort": p, "name": n.split("_")[0]} for n, p in _ports(plan).items()],
    }
    spec: dict[str, object] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "automountServiceAccountToken": False,
        "containers": [container],
    }
    if plan.gpus:
        spec["tolerations"] = GPU_TOLERATIONS
    if plan.node_selector:
        spec["nodeSelector"] = plan.node_selector
    if plan.subdomain:  # <pod>.<service> resolves to the pod inside the cluster
        spec["hostname"], spec["subdomain"] = plan.name, plan.subdomain
    meta = {"name": plan.name, "labels": plan.labels,
            "annotations": {ANNOTATION_CLUSTER: plan.cluster}}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def service_body(plan: PodPlan) -> dict[str, object]:
    """The headless Service that gives each pod of a multi-node cluster a DNS name."""
    meta = {"name": plan.subdomain, "labels": plan.labels,
            "annotations": {ANNOTATION_CLUSTER: plan.cluster}}  # fmt: skip
    spec = {"clusterIP": "None", "selector": plan.labels, "publishNotReadyAddresses": True,
            "ports": [{"name": "rdzv", "port": RDZV_PORT}]}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def nodes_env(names: list[str], service: str, rank: int) -> dict[str, str]:
    """What a pod of a multi-node cluster is told, as Slurm's nodes are: the first pod is
    ``MASTER_ADDR``, ``WORLD_SIZE``/``NNODES`` the pods, ``NODE_RANK`` its own place."""
    hosts = [f"{name}.{service}" for name in names]
    return {"MASTER_ADDR": hosts[0], "MASTER_PORT": str(RDZV_PORT), "WORLD_SIZE": str(len(hosts)),
            "NNODES": str(len(hosts)), "NODE_RANK": str(rank), "JUPYTER_SKY_NODES": ",".join(hosts)}  # fmt: skip
