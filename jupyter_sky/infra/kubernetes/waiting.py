"""Waiting for a new pod: Running, or why not (from its events and container status).

A Pending pod explains itself within a second or two: every new warning event
(``FailedScheduling: 0/3 nodes are available: 2 Insufficient nvidia.com/gpu ...``) is
reported through ``notify``. After ``pending_timeout`` seconds it counts as no capacity
(:class:`CapacityError`, so failover tries the next placement). An image that cannot be
pulled is a :class:`LaunchError` at once: it would fail the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import CapacityError, LaunchError

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api, V1Pod

POLL = 0.1
PULL_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


class Cancelled(InfraError):
    """The notebook gave up on the launch (the kernel was interrupted)."""


def warnings(core: CoreV1Api, name: str, namespace: str) -> list[str]:
    """The pod's warning events, oldest first, as ``Reason: message``."""
    events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}"
    ).items
    out = []
    for event in events:
        if event.type == "Warning":
            out.append(f"{event.reason}: {(event.message or '').strip()}")
    return out


def _pull_error(pod: V1Pod) -> str:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in PULL_ERRORS:
            return f"{waiting.reason}: {waiting.message or status.image}"
    return ""


def _ended(pod: V1Pod) -> str:
    status = pod.status
    if status is None or status.phase not in ("Failed", "Succeeded"):
        return ""
    return f"the pod ended ({status.phase}{': ' + status.reason if status.reason else ''}" + (
        f", {status.message})" if status.message else ")"
    )


def wait_running(
    core: CoreV1Api,
    name: str,
    namespace: str,
    timeout: float,
    notify: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> V1Pod:
    """The pod once it runs with an IP; see the module docstring for what raises."""
    started = time.monotonic()
    seen: set[str] = set()
    last = ""
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        status = pod.status
        if status is not None and status.phase == "Running" and status.pod_ip:
            return pod
        ended = _ended(pod)
        if ended:
            raise LaunchError(f"pod {namespace}/{name}: {ended}")
        pulled = _pull_error(pod)
        if pulled:
            image = pod.spec.containers[0].image if pod.spec else name
            raise LaunchError(
                f"the image {image} cannot be pulled ({pulled}); set kubernetes.image to an "
                "image with Python that the cluster can pull",
                "infra",
            )
        for text in warnings(core, name, namespace):
            if text not in seen:
                seen.add(text)
                last = text
                notify(f"k8s: pod {name} is Pending — {text}")
        if cancelled():
            raise Cancelled(f"the launch of pod {namespace}/{name} was cancelled.")
        if time.monotonic() - started > timeout:
            why = f" ({last})" if last else ""
            raise CapacityError(
                f"pod {namespace}/{name} stayed Pending for {timeout:g} s{why}; no node has room now"
            )
        time.sleep(POLL)
