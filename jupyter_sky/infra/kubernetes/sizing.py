"""Requests no node could ever hold (refused before a pod is created), and node choice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_sky.infra.base import LaunchError

if TYPE_CHECKING:
    from jupyter_sky.infra.kubernetes.nodes import NodeRoom
    from jupyter_sky.spec.task import Resources


def _gpus(resources: Resources) -> int:
    return resources.accelerator_count or (1 if resources.accelerator else 0)


def too_large(resources: Resources, rooms: list[NodeRoom], context: str) -> str:
    """``""`` if some node of the context could hold the request when empty, else why not."""
    if not rooms:
        return f"context {context} has no usable nodes (all cordoned, tainted or not Ready)."
    gpus, name = _gpus(resources), (resources.accelerator or "").upper()
    if gpus and name and not any(r.gpu == name for r in rooms):
        types = sorted({r.gpu for r in rooms if r.gpu})
        have = ", ".join(types) if types else "no GPUs"
        return f"no node of context {context} has {name} GPUs (it has {have}); choose another GPU type."
    fitting = [r for r in rooms if not name or r.gpu == name or not gpus]
    if gpus and max(r.gpus for r in fitting) < gpus:
        most = max(r.gpus for r in fitting)
        return (f"no node of context {context} has {gpus} {name or 'GPUs'} (the most on one "
                f"node is {most}); lower the count in --gpus.")  # fmt: skip
    if resources.cpus and max(r.cpus for r in fitting) < resources.cpus:
        most_cpus = max(r.cpus for r in fitting)
        return f"no node of context {context} has {resources.cpus:g} CPUs (the most is {most_cpus:g}); lower --cpus."
    if resources.memory_gb and max(r.memory_gb for r in fitting) < resources.memory_gb:
        most_gb = max(r.memory_gb for r in fitting)
        return (f"no node of context {context} has {resources.memory_gb:g} GB of memory "
                f"(the most is {most_gb:g}); lower --memory.")  # fmt: skip
    return ""


def node_for(resources: Resources, rooms: list[NodeRoom], node: str, context: str) -> NodeRoom:
    """The plan's node, else the node with the most free room of the requested kind."""
    problem = too_large(resources, rooms, context)
    if problem:
        raise LaunchError(problem, "region")
    for room in rooms:
        if room.name == node:
            return room
    gpus, name = _gpus(resources), (resources.accelerator or "").upper()
    if gpus:
        candidates = [r for r in rooms if r.gpus and (not name or r.gpu == name)]
        return max(candidates, key=lambda r: (r.free_gpus, r.free_cpus))
    plain = [r for r in rooms if not r.gpus] or rooms
    return max(plain, key=lambda r: (r.free_cpus, r.free_memory_gb))
