"""What each infra kind can honour beyond hardware: nodes, ports, disks, images, network tier.

The optimizer stays pure: it receives these as data (``kind -> Capability``), built by the
caller from the registered infras. A row whose infra cannot honour a field of the request is
kept in the table with the reason and never chosen; a field is never dropped to get a cheaper
row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources


@dataclass(frozen=True)
class Capability:
    """What one infra kind can do; the defaults are what a kind nobody described can do."""

    max_nodes: int = 1
    ports: bool = False
    disk: bool = False  # disk_size / disk_tier
    image: bool = False  # image_id (a container or machine image)
    network_tier: bool = False


NONE = Capability()


def unmet(res: Resources, cap: Capability) -> str:
    """Return why an infra with ``cap`` cannot honour ``res`` (one clause), or ``""``."""
    if res.num_nodes > cap.max_nodes:
        return f"cannot span {res.num_nodes} nodes yet (num_nodes)"
    if res.ports and not cap.ports:
        return f"cannot open ports {', '.join(res.ports)} yet (ports)"
    if (res.disk_size or res.disk_tier) and not cap.disk:
        return "cannot set the disk size or tier yet (disk_size, disk_tier)"
    if res.image_id and not cap.image:
        return "cannot run a given image yet (image_id)"
    if res.network_tier == "best" and not cap.network_tier:
        return "has no high-bandwidth network tier yet (network_tier: best)"
    return ""


def capability_reasons(
    requests: Iterable[Resources], kinds: Iterable[str], caps: Mapping[str, Capability] | None
) -> dict[str, str]:
    """Kind -> why it cannot honour every request (``""`` when it can); ``caps=None``: no check."""
    if caps is None:
        return {}
    requests = list(requests)
    out = {}
    for kind in kinds:
        cap = caps.get(kind, NONE)
        why = next((w for w in (unmet(r, cap) for r in requests) if w), "")
        if why:
            out[kind] = why
    return out
