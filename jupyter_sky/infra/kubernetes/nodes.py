"""Live offerings from a context's nodes: what is free now, and of how much.

Free = allocatable minus what the pods bound to the node request (pods that have not ended).
The GPU type comes from the first of these node labels that is set (the priority order):

1. ``skypilot.co/accelerator``
2. ``nvidia.com/gpu.product``
3. ``cloud.google.com/gke-accelerator``
4. ``karpenter.k8s.aws/instance-gpu-name``
5. ``amd.com/gpu.product``

GPUs are the ``nvidia.com/gpu`` or ``amd.com/gpu`` resources. Nodes that are cordoned or not
Ready offer nothing; GPU taints (``nvidia.com/gpu``, ``amd.com/gpu``) are tolerated, other
NoSchedule taints make a node unusable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api, V1Node

GPU_LABELS = (
    "skypilot.co/accelerator",
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "amd.com/gpu.product",
)
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
TOLERATED = {"nvidia.com/gpu", "amd.com/gpu"}
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9,
          "T": 1e12, "m": 1e-3}  # fmt: skip


def quantity(text: str | None) -> float:
    """A Kubernetes quantity (``500m``, ``64Gi``, ``8``) as a number."""
    if not text:
        return 0.0
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _UNITS[suffix]
    return float(text)


@dataclass(frozen=True)
class NodeRoom:
    """One node: its GPU type and label, total and free CPUs, memory (GB) and GPUs."""

    name: str
    gpu: str | None
    gpu_label: tuple[str, str] | None
    gpu_resource: str
    cpus: float
    memory_gb: float
    gpus: int
    free_cpus: float
    free_memory_gb: float
    free_gpus: int


_VENDOR = {"nvidia", "tesla", "amd", "instinct", "geforce"}


def short_gpu(value: str) -> str:
    """``NVIDIA-H100-80GB-HBM3`` / ``nvidia-tesla-t4`` / ``a100`` -> ``H100`` / ``T4`` / ``A100``."""
    words = [w for w in re.split(r"[-_ ]+", value) if w and w.lower() not in _VENDOR]
    return words[0].upper() if words else value.upper()


def gpu_label(node: V1Node) -> tuple[str, str] | None:
    labels = (node.metadata.labels if node.metadata else None) or {}
    for key in GPU_LABELS:
        if labels.get(key):
            return key, labels[key]
    return None


def _usable(node: V1Node) -> bool:
    if node.spec and node.spec.unschedulable:
        return False
    for taint in (node.spec.taints or []) if node.spec else []:
        if taint.effect in ("NoSchedule", "NoExecute") and taint.key not in TOLERATED:
            return False
    conditions = node.status.conditions if node.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


def _requested(core: CoreV1Api) -> dict[str, dict[str, float]]:
    """Node -> resource -> what its live pods request."""
    used: dict[str, dict[str, float]] = {}
    pods = core.list_pod_for_all_namespaces(
        field_selector="status.phase!=Succeeded,status.phase!=Failed"
    ).items
    for pod in pods:
        node = pod.spec.node_name if pod.spec else None
        if not node or pod.spec is None:
            continue
        room = used.setdefault(node, {})
        for container in pod.spec.containers:
            requests = (container.resources.requests if container.resources else None) or {}
            for name, value in requests.items():
                room[name] = room.get(name, 0.0) + quantity(value)
    return used


def rooms(core: CoreV1Api) -> list[NodeRoom]:
    """Every usable node of the context, with what is free on it now."""
    used = _requested(core)
    found = []
    for node in core.list_node().items:
        if not _usable(node):
            continue
        name = str(node.metadata.name if node.metadata else "")
        have = (node.status.allocatable if node.status else None) or {}
        taken = used.get(name, {})
        resource = next((r for r in GPU_RESOURCES if quantity(have.get(r)) > 0), GPU_RESOURCES[0])
        label = gpu_label(node)
        gpus = int(quantity(have.get(resource)))
        found.append(NodeRoom(
            name=name,
            gpu=short_gpu(label[1]) if label and gpus else None,
            gpu_label=label if gpus else None, gpu_resource=resource,
            cpus=quantity(have.get("cpu")), memory_gb=quantity(have.get("memory")) / 2**30,
            gpus=gpus,
            free_cpus=max(0.0, quantity(have.get("cpu")) - taken.get("cpu", 0.0)),
            free_memory_gb=max(0.0, (quantity(have.get("memory")) - taken.get("memory", 0.0)) / 2**30),
            free_gpus=max(0, gpus - int(taken.get(resource, 0.0))),
        ))  # fmt: skip
    return found


def offering(context: str, room: NodeRoom) -> Offering:
    """A node as a plan row: what is free now, and "n of m free" beside it."""
    if room.gpus:
        note = f"{room.free_gpus} of {room.gpus} {room.gpu} free"
    else:
        note = f"{room.free_cpus:g} of {room.cpus:g} CPUs free"
    return Offering(
        infra="k8s",
        region=context,
        instance_type=room.name,
        vcpus=round(room.free_cpus, 2),
        memory_gb=round(room.free_memory_gb, 1),
        accelerator=room.gpu,
        accelerator_count=room.free_gpus,
        note=note,
    )
